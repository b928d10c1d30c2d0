import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Cache } from '@gopherkit/patterns/cache';
import { SingleFlight } from '@gopherkit/primitives/singleflight';
import { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * Cache breakdown (缓存击穿, seed L3693–3770): a hot key expires while 4 processes × 500 callers
 * ask for it. Loader calls are counted across processes with Redis INCR:
 * - naive cache-aside: every caller misses and loads;
 * - in-process singleflight only: one load per process;
 * - gopherkit `Cache`: singleflight + a cross-process rebuild lock → exactly one load;
 * - gopherkit with stale-while-revalidate: callers get the old value at once, one background rebuild.
 * Children wait for a "go" line on stdin so all 2000 callers start together. This file is also
 * the child (GK_CB_CHILD=1).
 */
const PROCESSES = 4;
const CALLERS = 500;
const LOAD_MS = 500;
type Mode = 'naive' | 'singleflight' | 'gopherkit' | 'swr';
interface ChildReport {
  values: number;
  p50: number;
  p99: number;
}

if (process.env.GK_CB_CHILD === '1') {
  const mode = process.env.GK_CB_MODE as Mode;
  const prefix = process.env.GK_CB_PREFIX as string;
  const redis = new Redis(process.env.GK_CB_URL as string);
  const key = 'product:hot';
  const loader = async () => {
    await redis.incr(`${prefix}loader-calls`);
    await new Promise((r) => setTimeout(r, LOAD_MS));
    return { id: key, price: 2 };
  };
  const flights = new SingleFlight<string, unknown>();
  const cache = new Cache(redis, { prefix, ttlMs: 60_000, loadTimeoutMs: 5000, staleWhileRevalidateMs: mode === 'swr' ? 60_000 : 0, lock: { pollMs: 10 } });
  const raw = `${prefix}raw:${key}`;
  const naive = async () => {
    const hit = await redis.get(raw);
    if (hit !== null) return JSON.parse(hit);
    const v = await loader();
    await redis.set(raw, JSON.stringify(v), 'PX', 60_000);
    return v;
  };
  const local = async () => {
    const hit = await redis.get(raw);
    if (hit !== null) return JSON.parse(hit);
    return (
      await flights.do(key, async () => {
        const v = await loader();
        await redis.set(raw, JSON.stringify(v), 'PX', 60_000);
        return v;
      })
    ).value;
  };
  const take = mode === 'naive' ? naive : mode === 'singleflight' ? local : () => cache.take(key, loader);
  await redis.ping();
  await cache.take('warm-up', async () => 1); // scripts loaded, connection warm
  process.stdout.write('ready\n');
  await new Promise((r) => process.stdin.once('data', r));
  const latencies: number[] = [];
  const values = await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      const t0 = performance.now();
      const v = await take();
      latencies.push(performance.now() - t0);
      return v;
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number) * 10) / 10;
  await new Promise((r) => setTimeout(r, mode === 'swr' ? LOAD_MS + 200 : 0)); // let the background rebuild finish
  const report: ChildReport = { values: values.filter((v) => v !== undefined).length, p50: q(0.5), p99: q(0.99) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await cache.close();
  redis.disconnect();
  process.exit(0);
}

async function runRound(url: string, prefix: string, mode: Mode): Promise<ChildReport[]> {
  const children: ChildProcessByStdio<Writable, Readable, null>[] = [];
  const reports: Promise<ChildReport>[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, GK_CB_CHILD: '1', GK_CB_MODE: mode, GK_CB_PREFIX: prefix, GK_CB_URL: url },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    let signalReady: () => void;
    ready.push(new Promise<void>((r) => (signalReady = r)));
    reports.push(
      new Promise<ChildReport>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (out.startsWith('ready\n')) signalReady();
        });
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice('ready\n'.length))) : reject(new Error(`${mode} child exited with ${code}`))));
      }),
    );
  }
  await Promise.all(ready);
  for (const c of children) c.stdin.write('go\n');
  return Promise.all(reports);
}

export default defineDemo({
  description: 'Cache breakdown: 4 processes x 500 callers on an expired hot key; DB calls naive / singleflight / gopherkit (1); SWR latency',
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const rows: Record<string, unknown>[] = [];
    const calls: Record<Mode, number> = { naive: 0, singleflight: 0, gopherkit: 0, swr: 0 };
    const latency: Record<Mode, { p50: number; p99: number }> = {} as never;
    for (const mode of ['naive', 'singleflight', 'gopherkit', 'swr'] as const) {
      const prefix = `demo:cb:${mode}:${Date.now()}:`;
      if (mode === 'swr') {
        // the hot key exists but is past its logical expiry (written with a 1 ms TTL)
        const writer = new Cache(redis, { prefix, ttlMs: 1, jitter: 0, staleWhileRevalidateMs: 60_000 });
        await writer.set('product:hot', { id: 'product:hot', price: 1 });
        await writer.close();
        await new Promise((r) => setTimeout(r, 5));
      }
      const reports = await runRound(server.url, prefix, mode);
      calls[mode] = Number(await redis.get(`${prefix}loader-calls`));
      const values = reports.reduce((s, r) => s + r.values, 0);
      latency[mode] = { p50: Math.max(...reports.map((r) => r.p50)), p99: Math.max(...reports.map((r) => r.p99)) };
      rows.push({
        mode,
        callers: PROCESSES * CALLERS,
        'db calls': calls[mode],
        'got a value': values,
        'p50 ms': latency[mode].p50,
        'p99 ms': latency[mode].p99,
      });
      d.check(values === PROCESSES * CALLERS, `${mode}: every caller got a value (${values})`);
    }
    d.table(rows);
    d.bars(
      rows.map((r) => ({ label: String(r.mode), value: Number(r['db calls']) })),
      { unit: ' DB calls' },
    );
    d.record('db-calls', { processes: PROCESSES, callersPerProcess: CALLERS, loadMs: LOAD_MS, rows });
    d.check(calls.naive >= 500, `naive cache-aside stampedes the DB (${calls.naive} calls >= 500)`);
    d.check(calls.singleflight === PROCESSES, `in-process singleflight only: one call per process (${calls.singleflight} = ${PROCESSES})`);
    d.check(calls.gopherkit === 1, `gopherkit Cache: exactly one DB call across ${PROCESSES} processes (${calls.gopherkit})`);
    d.check(calls.swr === 1, `stale-while-revalidate: exactly one background rebuild (${calls.swr})`);
    d.check(latency.swr.p99 < LOAD_MS, `SWR callers never wait for the load (p99 ${latency.swr.p99} ms < ${LOAD_MS} ms)`);
    return `DB calls for ${PROCESSES}x${CALLERS} callers: naive=${calls.naive}, singleflight=${calls.singleflight}, gopherkit=${calls.gopherkit}, swr=${calls.swr} (p99 ${latency.swr.p99} ms vs ${latency.gopherkit.p99} ms blocking)`;
  },
});
