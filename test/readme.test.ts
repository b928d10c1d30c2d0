import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('README example runs against the built packages under plain node and prints what it promises', () => {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Example'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  // Write it inside the repo so '@gopherkit/*' resolves through node_modules; strip types (none expected).
  const dir = mkdtempSync(`${root}/test/.readme-`);
  try {
    writeFileSync(`${dir}/example.mjs`, code as string);
    const out = execFileSync(process.execPath, [`${dir}/example.mjs`], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('gave up after 50 ms');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
