import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RedisServer, startRedis } from '@gopherkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * README examples are programs users paste: each runs here against the built packages under
 * plain node (no transpiler), and its output must equal what the README shows for it.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

async function runExample(code: string, env: Record<string, string> = {}): Promise<string> {
  // inside the repo so '@gopherkit/*' resolves through node_modules to the built packages
  const dir = mkdtempSync(`${root}/test/.readme-`);
  try {
    writeFileSync(`${dir}/example.mjs`, code);
    const { stdout } = await run(process.execPath, [`${dir}/example.mjs`], { cwd: root, env: { ...process.env, ...env }, timeout: 20_000 });
    return stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('README example runs against the built packages under plain node and prints what it promises', async () => {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Example'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  expect((await runExample(code as string)).trim()).toBe('gave up after 50 ms');
});

/** Every ```ts block of a package README, each followed by the ```text block it must print. */
function examples(file: string): { title: string; code: string; output: string }[] {
  const md = readFileSync(`${root}/${file}`, 'utf8');
  const blocks = [...md.matchAll(/```ts\n([\s\S]*?)```(?:\s*\n```text\n([\s\S]*?)```)?/g)];
  return blocks.map((m) => {
    const title = [...md.slice(0, m.index).matchAll(/^## (.+)$/gm)].at(-1)?.[1] ?? `block at offset ${m.index}`;
    if (m[2] === undefined) throw new Error(`${file}: the example under "${title}" has no \`\`\`text block with its output`);
    return { title, code: m[1] as string, output: m[2] };
  });
}

describe.each(['packages/primitives/README.md'])('%s examples', (file) => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const list = examples(file);
  it('has examples, each with its output', () => {
    expect(list.length).toBeGreaterThan(0);
  });
  it.each(list.map((e) => [e.title, e] as const))('%s', async (_title, example) => {
    expect((await runExample(example.code, { REDIS_URL: redis.url })).trim()).toBe(example.output.trim());
  });
});
