import { ManualClock } from '@gopherkit/primitives/clock';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type DelayedJob, DelayQueue } from './index.js';

const server = await startRedis();
const redis = server.client();
const clients = Array.from({ length: 6 }, () => server.client());
afterAll(() => server.stop());

let n = 0;
const name = () => `q${process.pid}-${n++}`;

/** Resolves when `count` reaches `target` (polled on the event loop, no wall-clock assertion). */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (check()) {
        clearInterval(t);
        resolve();
      }
    }, 2);
  });
}

describe('DelayQueue claim/ack (ManualClock)', () => {
  it('claims only due items, in due order, and acks them', async () => {
    const clock = new ManualClock(10_000);
    const q = new DelayQueue(redis, { name: name(), clock });
    await q.schedule('b', 10_200);
    await q.schedule('a', 10_100);
    await q.schedule('c', new Date(99_999));
    expect(await q.claim(10)).toEqual([]);
    clock.setTime(10_200);
    const jobs = await q.claim(10);
    expect(jobs.map((j) => [j.id, j.dueAt, j.attempt])).toEqual([
      ['a', 10_100, 1],
      ['b', 10_200, 1],
    ]);
    expect(await q.size()).toEqual({ waiting: 1, processing: 2 });
    for (const j of jobs) expect(await q.ack(j)).toBe(true);
    expect(await q.size()).toEqual({ waiting: 1, processing: 0 });
    expect(await q.cancel('c')).toBe(true);
    expect(await q.cancel('c')).toBe(false);
  });

  it("a crashed worker's item comes back after the visibility timeout; its late ack is refused", async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock, visibilityTimeoutMs: 1000 });
    await q.schedule('x', 0);
    const [first] = await q.claim(1);
    expect(first?.attempt).toBe(1);
    clock.setTime(999);
    expect(await q.claim(1)).toEqual([]); // still leased
    clock.setTime(1000);
    const [second] = await q.claim(1);
    expect(second).toMatchObject({ id: 'x', attempt: 2, dueAt: 0 });
    expect(await q.ack(first as DelayedJob)).toBe(false); // the crashed worker woke up: no effect
    expect(await q.size()).toEqual({ waiting: 0, processing: 1 });
    expect(await q.ack(second as DelayedJob)).toBe(true);
    expect(await q.size()).toEqual({ waiting: 0, processing: 0 });
  });

  it('extend keeps a long-running item leased; a lost lease cannot be extended', async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock, visibilityTimeoutMs: 1000 });
    await q.schedule('x', 0);
    const [job] = await q.claim(1);
    clock.setTime(900);
    const longer = await q.extend(job as DelayedJob, 1000);
    expect(longer?.lease).toBe(1900);
    clock.setTime(1500);
    expect(await q.claim(1)).toEqual([]); // the old lease would have expired at 1000
    // the worker acks the job it claimed: the renewed lease is used
    expect(await q.ack(job as DelayedJob)).toBe(true);
    expect(await q.size()).toEqual({ waiting: 0, processing: 0 });
    // an expired lease cannot be extended
    await q.schedule('y', 0);
    const [y] = await q.claim(1);
    clock.setTime(clock.now() + 1000);
    const [y2] = await q.claim(1);
    expect(y2?.attempt).toBe(2);
    expect(await q.extend(y as DelayedJob)).toBeNull();
    expect(await q.ack(y as DelayedJob)).toBe(false);
    expect(await q.ack(y2 as DelayedJob)).toBe(true);
  });

  it('retry puts an item back with a delay', async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock });
    await q.schedule('x', 0);
    const [job] = await q.claim(1);
    expect(await q.retry(job as DelayedJob, 500)).toBe(true);
    expect(await q.claim(1)).toEqual([]);
    clock.setTime(500);
    expect((await q.claim(1))[0]?.attempt).toBe(2);
  });

  it('a claim never returns more than `limit` items: expired leases first, then due items, together bounded', async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock, visibilityTimeoutMs: 1000 });
    await q.schedule('a', 0);
    await q.schedule('b', 0);
    expect((await q.claim(2)).map((j) => j.id)).toEqual(['a', 'b']);
    await q.schedule('c', 0);
    await q.schedule('d', 0);
    clock.setTime(1000); // a and b's leases expired; c and d are due
    const jobs = await q.claim(3);
    expect(jobs.map((j) => [j.id, j.attempt])).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
    expect(await q.size()).toEqual({ waiting: 1, processing: 3 });
  });

  it('rescheduling a waiting item moves it; an acked id scheduled again starts over at attempt 1', async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock });
    expect(await q.schedule('x', 500)).toBe(true);
    expect(await q.schedule('x', 2000)).toBe(false); // moved, still one entry
    expect(await q.size()).toEqual({ waiting: 1, processing: 0 });
    clock.setTime(500);
    expect(await q.claim(1)).toEqual([]);
    clock.setTime(2000);
    const [first] = await q.claim(1);
    expect(first).toMatchObject({ id: 'x', dueAt: 2000, attempt: 1 });
    expect(await q.ack(first as DelayedJob)).toBe(true);
    await q.schedule('x', 3000);
    clock.setTime(3000);
    expect((await q.claim(1))[0]).toMatchObject({ id: 'x', dueAt: 3000, attempt: 1 });
  });

  it('two workers never take the same item: 6 clients race to claim 600 items', async () => {
    const clock = new ManualClock(0);
    const qn = name();
    await Promise.all(Array.from({ length: 600 }, (_, i) => new DelayQueue(redis, { name: qn, clock }).schedule(`i${i}`, i)));
    clock.setTime(10_000);
    const queues = clients.map((c) => new DelayQueue(c, { name: qn, clock }));
    const seen: string[] = [];
    await Promise.all(
      queues.map(async (q) => {
        for (;;) {
          const jobs = await q.claim(7);
          if (jobs.length === 0) return;
          seen.push(...jobs.map((j) => j.id));
        }
      }),
    );
    expect(seen).toHaveLength(600);
    expect(new Set(seen).size).toBe(600);
  });

  it('validates input', async () => {
    expect(() => new DelayQueue(redis, { name: '' })).toThrow(InvalidArgumentError);
    expect(() => new DelayQueue(redis, { name: 'a{b' })).toThrow(/braces/);
    const q = new DelayQueue(redis, { name: name() });
    await expect(q.schedule('', 1)).rejects.toThrow('id must be a non-empty string');
    await expect(q.schedule('a', Number.NaN)).rejects.toThrow('dueAt must be a finite number >= 0, got NaN');
    await expect(q.claim(0)).rejects.toThrow(InvalidArgumentError);
    expect(() => q.process(undefined as never)).toThrow('handler must be a function');
  });
});

describe('DelayQueueWorker', () => {
  it('runs every item once across 3 workers, at most `concurrency` at a time each', async () => {
    const qn = name();
    const producer = new DelayQueue(redis, { name: qn });
    const now = Date.now();
    for (let i = 0; i < 300; i++) await producer.schedule(`o${i}`, now - 1);
    const runs = new Map<string, number>();
    let active = 0;
    let maxActive = 0;
    const workers = clients.slice(0, 3).map((c) =>
      new DelayQueue(c, { name: qn }).process(
        async (job) => {
          active++;
          maxActive = Math.max(maxActive, active);
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          await new Promise((r) => setImmediate(r));
          active--;
        },
        { concurrency: 4, pollIntervalMs: 5 },
      ),
    );
    let done = 0;
    for (const w of workers) w.on('done', () => done++);
    await until(() => done === 300);
    await Promise.all(workers.map((w) => w.close()));
    expect(runs.size).toBe(300);
    expect([...runs.values()].every((v) => v === 1)).toBe(true);
    expect(maxActive).toBeLessThanOrEqual(12);
    expect(await producer.size()).toEqual({ waiting: 0, processing: 0 });
  });

  it('a failing handler is retried; close() waits for running handlers and stops claiming', async () => {
    const q = new DelayQueue(redis, { name: name() });
    await q.schedule('flaky', 0);
    let calls = 0;
    const failures: unknown[] = [];
    const w = q.process(
      async () => {
        calls++;
        if (calls === 1) throw new Error('db down');
      },
      { pollIntervalMs: 5, retryDelayMs: 0 },
    );
    w.on('failed', (_, e) => failures.push(e));
    const done: DelayedJob[] = [];
    w.on('done', (j) => done.push(j));
    await until(() => done.length === 1);
    expect(done[0]?.attempt).toBe(2);
    expect(failures).toHaveLength(1);
    await w.close();
    expect(w.running).toBe(false);
    // close() resolved only after the claim loop exited: nothing can claim this item any more
    await q.schedule('after-close', 0);
    expect(await q.size()).toEqual({ waiting: 1, processing: 0 });
    expect(calls).toBe(2);
  });

  it('never claims past `concurrency`: with every handler busy, the other items stay waiting', async () => {
    const clock = new ManualClock(0);
    const q = new DelayQueue(redis, { name: name(), clock });
    for (let i = 0; i < 10; i++) await q.schedule(`o${i}`, 0);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    let done = 0;
    const w = q.process(
      async () => {
        started++;
        await gate;
      },
      { concurrency: 3, pollIntervalMs: 5 },
    );
    w.on('done', () => done++);
    await until(() => started >= 3);
    // same connection as the worker: a claim it sent before this call is counted
    expect(await q.size()).toEqual({ waiting: 7, processing: 3 });
    expect(started).toBe(3);
    release();
    await until(() => done === 10);
    await w.close();
    expect(await q.size()).toEqual({ waiting: 0, processing: 0 });
  });

  it('close() resolves only after a running handler has finished, even one that ignores the signal', async () => {
    const q = new DelayQueue(redis, { name: name() });
    await q.schedule('slow', 0);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = false;
    const order: string[] = [];
    const w = q.process(
      async () => {
        started = true;
        await gate;
        order.push('handler finished');
      },
      { pollIntervalMs: 5 },
    );
    await until(() => started);
    const closing = w.close().then(() => order.push('closed'));
    await q.size(); // a round trip: time for the claim loop to exit
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    release();
    await closing;
    expect(order).toEqual(['handler finished', 'closed']);
  });

  it('stops when its wait signal aborts, aborting the handlers it waits for', async () => {
    const q = new DelayQueue(redis, { name: name() });
    await q.schedule('slow', 0);
    const ac = new AbortController();
    let started = false;
    let sawAbort = false;
    const w = q.process(
      (_, signal) =>
        new Promise<void>((resolve) => {
          started = true;
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          });
        }),
      { pollIntervalMs: 5, wait: { signal: ac.signal } },
    );
    await until(() => started);
    ac.abort();
    await w.close();
    expect(sawAbort).toBe(true);
  });
});
