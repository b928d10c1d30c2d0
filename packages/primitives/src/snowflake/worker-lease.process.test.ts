import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';

// Real processes: each child leases a worker ID from the same Redis, prints it, then generates IDs
// until killed. Proves the lease holds across processes (not just connections) and that a
// SIGKILLed holder's ID frees itself after the TTL.
const server = await startRedis();
afterAll(() => server.stop());
const packageDir = fileURLToPath(new URL('../../', import.meta.url));
const prefix = `gk:test:${process.pid}:proc:`;

const CHILD = `
import { Redis } from 'ioredis';
import { leaseWorkerId, Snowflake, NoWorkerIdAvailableError } from '@gopherkit/primitives/snowflake';
const redis = new Redis(process.argv[1]);
const retryMs = Number(process.argv[2]);
const started = Date.now();
let lease;
for (;;) {
  try { lease = await leaseWorkerId(redis, { prefix: '${prefix}', workerBits: 2, ttlMs: 1500, heartbeatMs: 300 }); break; }
  catch (e) {
    if (!(e instanceof NoWorkerIdAvailableError)) throw e;
    if (Date.now() - started >= retryMs) { console.log('none'); await redis.quit(); process.exit(0); }
    await new Promise((r) => setTimeout(r, 100));
  }
}
const ids = new Snowflake({ workerId: lease });
console.log('worker ' + lease.workerId + ' ' + ids.decompose(ids.next()).workerId);
setInterval(() => ids.next(), 10); // keeps running (and heartbeating) until killed
`;

function startChild(retryMs: number): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(
    process.execPath,
    ['--conditions=@gopherkit/source', '--import', 'tsx', '--input-type=module', '-e', CHILD, server.url, String(retryMs)],
    {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before printing`)));
  });
  return { child, line };
}

describe('leaseWorkerId across processes', () => {
  it('6 processes for 4 IDs: 4 distinct leases, 2 refused; a SIGKILLed holder frees its ID after the TTL', { timeout: 60_000 }, async () => {
    const children = Array.from({ length: 6 }, () => startChild(0));
    try {
      const lines = await Promise.all(children.map((c) => c.line));
      const held = lines.filter((l) => l.startsWith('worker ')).map((l) => l.split(' '));
      expect(lines.filter((l) => l === 'none')).toHaveLength(2);
      expect(held).toHaveLength(4);
      for (const [, leased, inId] of held) expect(inId).toBe(leased); // the generator embeds the leased ID
      expect(new Set(held.map(([, id]) => id)).size).toBe(4);

      // kill -9 one holder: no close(), no release; its key must expire on its own
      const victimIndex = lines.findIndex((l) => l.startsWith('worker '));
      const victimId = lines[victimIndex]!.split(' ')[1];
      children[victimIndex]!.child.kill('SIGKILL');
      const late = startChild(20_000);
      children.push(late);
      const lateLine = await late.line;
      expect(lateLine).toBe(`worker ${victimId} ${victimId}`);
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
    }
  });
});
