import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisTokenBucket } from '@gopherkit/primitives/ratelimit';
import { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * Four processes share one RedisTokenBucket (one Lua script, time from Redis TIME) and hammer
 * it as fast as they can. Together they must get exactly what one bucket allows —
 * burst + rate × T — not 4× that, as four in-process buckets would. This file is also the child:
 * with GK_DRL_CHILD=1 it runs the load loop and prints its counts as JSON.
 */
const BURST = 100;
const RATE = 200;
const SECONDS = 10;
const CHILDREN = 4;
const LOOPS_PER_CHILD = 4;

interface ChildReport {
  admitted: number;
  refused: number;
  first: number;
  last: number;
}

if (process.env.GK_DRL_CHILD === '1') {
  const redis = new Redis(Number(process.env.GK_DRL_PORT), process.env.GK_DRL_HOST ?? '127.0.0.1', { maxRetriesPerRequest: 1 });
  const bucket = new RedisTokenBucket({
    redis,
    prefix: process.env.GK_DRL_PREFIX,
    key: 'shared',
    ratePerSec: RATE,
    burst: BURST,
    failPolicy: 'failClosed', // a timeout must not admit anything here: the count is the point
    timeoutMs: 10_000,
  });
  // warm up (connection, script cache, JIT) on another key, then report ready and wait for "go"
  const warm = new RedisTokenBucket({ redis, prefix: process.env.GK_DRL_PREFIX, key: `warm-${process.pid}`, ratePerSec: 1, burst: 1 });
  for (let i = 0; i < 200; i++) await warm.allow();
  await redis.incr(`${process.env.GK_DRL_PREFIX}ready`);
  let end = 0;
  for (;;) {
    end = Number(await redis.get(`${process.env.GK_DRL_PREFIX}go`));
    if (end > 0) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const report: ChildReport = { admitted: 0, refused: 0, first: Number.POSITIVE_INFINITY, last: 0 };
  await Promise.all(
    Array.from({ length: LOOPS_PER_CHILD }, async () => {
      while (Date.now() < end) {
        const at = Date.now();
        const r = await bucket.allow();
        report.first = Math.min(report.first, at);
        report.last = Math.max(report.last, at);
        if (r.allowed) report.admitted++;
        else report.refused++;
      }
    }),
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
  redis.disconnect();
  process.exit(0);
}

function runChild(env: Record<string, string>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, ...env, GK_DRL_CHILD: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() as string) as ChildReport);
    });
  });
}

export default defineDemo({
  description: 'Distributed rate limit: 4 processes share one Redis token bucket; together they admit burst + rate×T (±1%), not 4×',
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const prefix = `gk:demo:drl:${process.pid}:`;
    const { host, port } = redis.options;
    const children = Array.from({ length: CHILDREN }, () => runChild({ GK_DRL_HOST: String(host), GK_DRL_PORT: String(port), GK_DRL_PREFIX: prefix }));
    // start the clock only once every child is loaded, connected and warm
    const deadline = Date.now() + 60_000;
    while (Number(await redis.get(`${prefix}ready`)) < CHILDREN) {
      if (Date.now() > deadline) throw new Error('children did not get ready within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const startAt = Date.now() + 50;
    await redis.set(`${prefix}go`, startAt + SECONDS * 1000);
    const reports = await Promise.all(children);

    const admitted = reports.reduce((s, r) => s + r.admitted, 0);
    const calls = reports.reduce((s, r) => s + r.admitted + r.refused, 0);
    const elapsedSec = (Math.max(...reports.map((r) => r.last)) - Math.min(...reports.map((r) => r.first))) / 1000;
    const expected = BURST + RATE * elapsedSec;
    const error = (admitted - expected) / expected;
    d.table(reports.map((r, i) => ({ process: i + 1, calls: r.admitted + r.refused, admitted: r.admitted })));
    d.table([
      { '': 'total admitted', value: admitted },
      { '': `expected burst + rate×T (T=${elapsedSec.toFixed(3)} s)`, value: Math.round(expected) },
      { '': 'error', value: `${(error * 100).toFixed(2)}%` },
      { '': '4 separate in-process buckets would admit', value: Math.round(CHILDREN * expected) },
    ]);
    d.check(calls > 2 * expected, `the processes must offer more load than the bucket admits (offered ${calls}, expected ${Math.round(expected)})`);
    d.check(Math.abs(error) <= 0.01, `total admitted must be burst + rate×T ± 1%: ${admitted} vs ${expected.toFixed(0)} (${(error * 100).toFixed(2)}%)`);
    d.record('admitted', { reports, admitted, expected, elapsedSec });
    return `${CHILDREN} processes, ${calls} calls: admitted=${admitted}, expected≈${expected.toFixed(0)} (${(error * 100).toFixed(2)}%)`;
  },
});
