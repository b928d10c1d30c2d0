import { ManualClock } from '@gopherkit/primitives/clock';
import { createTestDatabase } from '@gopherkit/testkit';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { exponentialBackoff, KeyedQueue, KeyedQueueClosedError, type ParkInfo, STALE } from './index.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('is serial per key and parallel across keys, never above the concurrency bound', async () => {
    let running = 0;
    let peak = 0;
    const perKey = new Map<string, number>();
    const applied: string[] = [];
    let overlapSameKey = 0;
    const q = new KeyedQueue<{ key: string; n: number }>({
      concurrency: 4,
      park: () => {},
      handler: async (item) => {
        running++;
        peak = Math.max(peak, running);
        perKey.set(item.key, (perKey.get(item.key) ?? 0) + 1);
        if ((perKey.get(item.key) ?? 0) > 1) overlapSameKey++;
        await new Promise((r) => setTimeout(r, (item.n * 7) % 5));
        applied.push(`${item.key}:${item.n}`);
        perKey.set(item.key, (perKey.get(item.key) ?? 1) - 1);
        running--;
      },
    });
    const all: Promise<unknown>[] = [];
    for (let n = 0; n < 10; n++) for (let k = 0; k < 10; k++) all.push(q.push(`k${k}`, { key: `k${k}`, n }));
    expect(new Set(await Promise.all(all))).toEqual(new Set(['done']));
    expect(overlapSameKey).toBe(0);
    expect(peak).toBe(4);
    for (let k = 0; k < 10; k++) {
      expect(applied.filter((a) => a.startsWith(`k${k}:`)).map((a) => Number(a.split(':')[1]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    expect(q.size).toBe(0);
  });

  it('retries in place with backoff on the clock: the key waits, other keys do not', async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    let failures = 2;
    const q = new KeyedQueue<string>({
      clock,
      random: () => 0,
      retry: { maxAttempts: 5, backoff: { baseMs: 100, maxMs: 1000, jitter: 0 } },
      park: () => {},
      handler: (item, { attempt }) => {
        if (item === 'a1' && failures-- > 0) throw new Error(`fail ${attempt}`);
        order.push(`${item}@${attempt}`);
      },
    });
    const a1 = q.push('a', 'a1');
    const a2 = q.push('a', 'a2');
    const b1 = q.push('b', 'b1');
    expect(await b1).toBe('done');
    await tick();
    expect(order).toEqual(['b1@1']);
    await clock.advance(100);
    await tick();
    expect(order).toEqual(['b1@1']); // second attempt failed too; next wait is 200
    await clock.advance(200);
    expect(await a1).toBe('done');
    expect(await a2).toBe('done');
    expect(order).toEqual(['b1@1', 'a1@3', 'a2@1']);
  });

  it('parks after maxAttempts and parks every later item of that key (no overtaking) until unpark', async () => {
    const clock = new ManualClock();
    const parked: [string, ParkInfo['reason'], number][] = [];
    const applied: string[] = [];
    const q = new KeyedQueue<string>({
      clock,
      retry: { maxAttempts: 2, backoff: { baseMs: 10, maxMs: 10, jitter: 0 } },
      park: (item, info) => void parked.push([item, info.reason, info.attempts]),
      handler: (item) => {
        if (item === 'a2') throw new Error('poison');
        applied.push(item);
      },
    });
    const outcomes = ['a1', 'a2', 'a3', 'b1'].map((i) => q.push(i[0] as string, i));
    await tick();
    await clock.advance(10);
    expect(await Promise.all(outcomes)).toEqual(['done', 'parked', 'parked', 'done']);
    expect(parked).toEqual([
      ['a2', 'failed', 2],
      ['a3', 'blocked', 0],
    ]);
    expect(applied).toEqual(['a1', 'b1']);
    expect([...q.parkedKeys().keys()]).toEqual(['a']);
    expect(q.unpark('a')).toBe(true);
    expect(q.unpark('a')).toBe(false);
    expect(await q.push('a', 'a4')).toBe('done');
  });

  it('the version gate drops events not newer than the last applied one for the key', async () => {
    const applied: number[] = [];
    const q = new KeyedQueue<{ v: number }>({ park: () => {}, versionOf: (e) => e.v, handler: (e) => void applied.push(e.v) });
    const r = await Promise.all([3, 1, 4, 4, 2, 5].map((v) => q.push('order-1', { v })));
    expect(r).toEqual(['done', 'stale', 'done', 'stale', 'stale', 'done']);
    expect(applied).toEqual([3, 4, 5]);
  });

  it('the version memory is a bounded LRU: an applied key is refreshed, the least recently applied key is forgotten first', async () => {
    const q = new KeyedQueue<{ v: number }>({ park: () => {}, versionOf: (e) => e.v, handler: () => {}, maxTrackedKeys: 2 });
    expect(await q.push('a', { v: 1 })).toBe('done');
    expect(await q.push('b', { v: 1 })).toBe('done');
    expect(await q.push('a', { v: 2 })).toBe('done'); // a is now the most recently applied
    expect(await q.push('c', { v: 1 })).toBe('done'); // three keys > 2: b goes
    expect(await q.push('a', { v: 2 })).toBe('stale'); // a is still remembered
    expect(await q.push('c', { v: 1 })).toBe('stale'); // and so is c
    expect(await q.push('b', { v: 1 })).toBe('done'); // b was forgotten (the durable gate is the handler's job)
  });

  it('a handler returning STALE counts as stale and never lowers the remembered version', async () => {
    const q = new KeyedQueue<{ v: number }>({ park: () => {}, versionOf: (e) => e.v, handler: (e) => (e.v === 2 ? STALE : undefined) });
    expect(await q.push('k', { v: 3 })).toBe('done');
    expect(await q.push('k', { v: 5 })).toBe('done');
    const fresh = new KeyedQueue<{ v: number }>({ park: () => {}, versionOf: (e) => e.v, handler: (e) => (e.v === 2 ? STALE : undefined) });
    expect(await fresh.push('k', { v: 2 })).toBe('stale'); // the handler's own check said so
    expect(await fresh.push('k', { v: 4 })).toBe('done'); // 2 was not remembered as applied
  });

  it.skipIf(!db)('the durable gate (real MySQL): after a restart (empty memory) replayed events are refused by the conditional write', async () => {
    const pool = db?.pool as NonNullable<typeof db>['pool'];
    await pool.query('CREATE TABLE kq_orders (id VARCHAR(32) PRIMARY KEY, status VARCHAR(16) NOT NULL, version INT NOT NULL)');
    await pool.query("INSERT INTO kq_orders VALUES ('o1', 'CREATED', 0), ('o2', 'CREATED', 0)");
    type Ev = { id: string; status: string; version: number };
    const apply = async (e: Ev) => {
      const [r] = await pool.query<ResultSetHeader>('UPDATE kq_orders SET status = ?, version = ? WHERE id = ? AND version < ?', [
        e.status,
        e.version,
        e.id,
        e.version,
      ]);
      return r.affectedRows === 1 ? undefined : STALE;
    };
    const events: Ev[] = ['PAID', 'SHIPPED', 'DONE'].flatMap((status, i) => ['o1', 'o2'].map((id) => ({ id, status, version: i + 1 })));
    const first = new KeyedQueue<Ev>({ park: () => {}, versionOf: (e) => e.version, handler: apply });
    expect(await Promise.all(events.map((e) => first.push(e.id, e)))).toEqual(events.map(() => 'done'));
    await first.close();
    // a restarted consumer replays the whole stream: its memory is empty, the database is not
    const restarted = new KeyedQueue<Ev>({ park: () => {}, versionOf: (e) => e.version, handler: apply });
    expect(await Promise.all(events.map((e) => restarted.push(e.id, e)))).toEqual(events.map(() => 'stale'));
    const [rows] = await pool.query<RowDataPacket[]>('SELECT id, status, version FROM kq_orders ORDER BY id');
    expect(rows.map((r) => `${r.id}:${r.status}:${r.version}`)).toEqual(['o1:DONE:3', 'o2:DONE:3']);
  });

  it('a park that throws rejects the push; close() drains then refuses new items', async () => {
    const q = new KeyedQueue<string>({
      retry: { maxAttempts: 1 },
      park: () => {
        throw new Error('dead-letter store down');
      },
      handler: () => {
        throw new Error('bad');
      },
    });
    await expect(q.push('k', 'x')).rejects.toThrow('dead-letter store down');
    const slow = new KeyedQueue<string>({ park: () => {}, handler: () => new Promise((r) => setTimeout(r, 20)) });
    const p = slow.push('k', 'x');
    await slow.close();
    expect(await p).toBe('done');
    await expect(slow.push('k', 'y')).rejects.toThrow(KeyedQueueClosedError);
  });

  it('rejects bad options and keys with typed errors', () => {
    expect(() => new KeyedQueue({ handler: () => {}, park: undefined as never })).toThrow('park must be a function');
    expect(() => new KeyedQueue({ handler: () => {}, park: () => {}, concurrency: 0 })).toThrow('concurrency must be an integer >= 1, got 0');
    const q = new KeyedQueue({ handler: () => {}, park: () => {} });
    expect(() => q.push('', 1)).toThrow('key must be a non-empty string');
    expect(() => exponentialBackoff({ baseMs: 10, maxMs: 5 })).toThrow('backoff.maxMs must be >= baseMs (10), got 5');
  });

  it('backoff grows exponentially, is capped, and jitter stays within [d·(1-jitter), d]', () => {
    const b = exponentialBackoff({ baseMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 });
    expect([1, 2, 3, 4, 5].map((n) => b.delay(n, () => 0))).toEqual([100, 200, 400, 800, 1000]);
    expect(b.delay(3, () => 0.999)).toBeGreaterThanOrEqual(200);
  });
});
