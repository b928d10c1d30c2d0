import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type RedisServer, startRedis, type TestDatabase } from '@gopherkit/testkit';
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

/** The package READMEs: primitives needs Redis; patterns needs Redis and a MySQL database of its own. */
describe.each([
  { file: 'packages/primitives/README.md', mysql: false },
  { file: 'packages/patterns/README.md', mysql: true },
])('$file examples', ({ file, mysql }) => {
  let redis: RedisServer;
  let db: TestDatabase | null = null;
  beforeAll(async () => {
    redis = await startRedis();
    // a fresh database: the outbox example's relay publishes every pending row it finds
    if (mysql) db = await createTestDatabase({ prefix: 'gk_readme', migrate: false, connectionLimit: 1 });
  });
  afterAll(async () => {
    await db?.drop();
    await redis?.stop();
  });

  const list = examples(file);
  it('has examples, each with its output', () => {
    expect(list.length).toBeGreaterThan(0);
  });
  for (const example of list) {
    it(example.title, async (ctx) => {
      const env: Record<string, string> = { REDIS_URL: redis.url };
      if (mysql && example.code.includes('MYSQL_URL')) {
        if (db === null) return ctx.skip('no MySQL (see the [testkit] line above)');
        env.MYSQL_URL = db.url;
      }
      expect((await runExample(example.code, env)).trim()).toBe(example.output.trim());
    });
  }
});
