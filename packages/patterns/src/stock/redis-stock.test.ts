import { ManualClock } from '@gopherkit/primitives/clock';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { startRedis } from '@gopherkit/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { InsufficientStockError, OrderStockStateError, RedisStock, ReservationNotFoundError, ReservationSweeper, StockNotFoundError } from './index.js';

const server = await startRedis();
const redis = server.client();
const clients: Redis[] = Array.from({ length: 8 }, () => server.client());
afterAll(() => server.stop());

let n = 0;
let prefix = '';
let clock: ManualClock;
let stock: RedisStock;
const skus: string[] = [];

beforeEach(() => {
  prefix = `t${process.pid}:${n++}:`;
  clock = new ManualClock(1_000_000);
  stock = new RedisStock(redis, { prefix, clock });
  skus.length = 0;
});

async function init(sku: string, total: number): Promise<void> {
  skus.push(sku);
  await stock.init(sku, total);
}

/** available + locked + sold == total and available >= 0 for every SKU of the test. */
async function assertInvariant(): Promise<void> {
  for (const sku of skus) {
    const l = await stock.levels(sku);
    expect(l, sku).not.toBeNull();
    if (!l) return;
    expect(l.available + l.locked + l.sold, `${sku} sum`).toBe(l.total);
    expect(l.available, `${sku} available`).toBeGreaterThanOrEqual(0);
    expect(l.locked, `${sku} locked`).toBeGreaterThanOrEqual(0);
  }
}

describe('deduct', () => {
  it('sells, returns the remainder and refuses more than is available', async () => {
    await init('a', 5);
    expect(await stock.deduct('a', 2)).toBe(3);
    await assertInvariant();
    await expect(stock.deduct('a', 4)).rejects.toThrow(InsufficientStockError);
    await expect(stock.deduct('a', 4)).rejects.toThrow('sku "a": requested 4, only 3 available');
    await assertInvariant();
    expect(await stock.levels('a')).toMatchObject({ available: 3, sold: 2, total: 5 });
  });

  it('a missing SKU is a typed StockNotFoundError, not a Lua error (seed L10741: tonumber(nil))', async () => {
    await expect(stock.deduct('ghost', 1)).rejects.toThrow(StockNotFoundError);
    expect(await redis.exists(stock.skuKey('ghost'))).toBe(0);
  });

  it('rejects zero, negative and fractional quantities, in TS and inside the script (seed L10367 adds stock for -5)', async () => {
    await init('a', 5);
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      await expect(stock.deduct('a', bad)).rejects.toThrow(InvalidArgumentError);
    }
    await expect(stock.deduct('', 1)).rejects.toThrow('sku must be a non-empty string, got ""');
    // bypass the TS validation: the script itself refuses
    const lua = (await import('node:fs')).readFileSync(new URL('./deduct.lua', import.meta.url), 'utf8');
    await expect(redis.eval(lua, 1, stock.skuKey('a'), '-5')).rejects.toThrow(/qty must be an integer >= 1/);
    expect(await stock.levels('a')).toMatchObject({ available: 5, total: 5 });
    await assertInvariant();
  });

  it('never oversells: 8 clients, 400 buyers, stock 100 → exactly 100 sold', async () => {
    await init('hot', 100);
    const stores = clients.map((c) => new RedisStock(c, { prefix, clock }));
    let ok = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        (stores[i % stores.length] as RedisStock).deduct('hot', 1).then(
          () => ok++,
          (e) => {
            expect(e).toBeInstanceOf(InsufficientStockError);
            refused++;
          },
        ),
      ),
    );
    expect(ok).toBe(100);
    expect(refused).toBe(300);
    expect(await stock.levels('hot')).toMatchObject({ available: 0, sold: 100, locked: 0, total: 100 });
    await assertInvariant();
  });

  it('init never overwrites live counters', async () => {
    await init('a', 10);
    await stock.deduct('a', 4);
    expect(await stock.init('a', 10)).toBe(false);
    expect((await stock.levels('a'))?.available).toBe(6);
  });
});

describe('deductMany', () => {
  it('is all or nothing across SKUs', async () => {
    await init('a', 10);
    await init('b', 1);
    await expect(
      stock.deductMany(
        [
          { sku: 'a', qty: 3 },
          { sku: 'b', qty: 2 },
        ],
        'o1',
      ),
    ).rejects.toThrow(InsufficientStockError);
    expect((await stock.levels('a'))?.available).toBe(10);
    await assertInvariant();
    await expect(
      stock.deductMany(
        [
          { sku: 'a', qty: 3 },
          { sku: 'zz', qty: 1 },
        ],
        'o1',
      ),
    ).rejects.toThrow(StockNotFoundError);
    expect((await stock.levels('a'))?.available).toBe(10);
  });

  it('is idempotent per order id: a retry returns the first result and changes nothing', async () => {
    await init('a', 10);
    await init('b', 10);
    const items = [
      { sku: 'a', qty: 3 },
      { sku: 'b', qty: 2 },
    ];
    const first = await stock.deductMany(items, 'o1');
    expect(first).toEqual({ remaining: { a: 7, b: 8 }, duplicate: false });
    await stock.deduct('a', 1); // someone else sells in between
    const again = await Promise.all(Array.from({ length: 10 }, () => stock.deductMany(items, 'o1')));
    for (const r of again) expect(r).toEqual({ remaining: { a: 7, b: 8 }, duplicate: true });
    expect(await stock.levels('a')).toMatchObject({ available: 6, sold: 4 });
    await assertInvariant();
    // release compensates the sale (sold → available), once
    expect(await stock.release('o1')).toEqual({ applied: true, undone: 'deducted' });
    expect(await stock.release('o1')).toEqual({ applied: false, undone: null });
    expect(await stock.levels('a')).toMatchObject({ available: 9, sold: 1 });
    await assertInvariant();
    await expect(stock.deductMany(items, 'o1')).rejects.toThrow(OrderStockStateError);
  });

  it('sells the last units: a quantity equal to what is available is accepted, one more is refused', async () => {
    await init('a', 3);
    await init('b', 2);
    expect(
      await stock.deductMany(
        [
          { sku: 'a', qty: 3 },
          { sku: 'b', qty: 2 },
        ],
        'o1',
      ),
    ).toEqual({ remaining: { a: 0, b: 0 }, duplicate: false });
    await expect(stock.deductMany([{ sku: 'a', qty: 1 }], 'o2')).rejects.toThrow(InsufficientStockError);
    expect(await stock.levels('a')).toMatchObject({ available: 0, sold: 3, total: 3 });
    await assertInvariant();
  });

  it('validates items', async () => {
    await expect(stock.deductMany([], 'o')).rejects.toThrow(InvalidArgumentError);
    await expect(
      stock.deductMany(
        [
          { sku: 'a', qty: 1 },
          { sku: 'a', qty: 2 },
        ],
        'o',
      ),
    ).rejects.toThrow('items[1].sku must be unique within the order');
    await expect(stock.deductMany([{ sku: 'a', qty: -1 }], 'o')).rejects.toThrow('items[0].qty must be an integer >= 1, got -1');
    await expect(stock.deductMany([{ sku: 'a', qty: 1 }], '')).rejects.toThrow('orderId must be a non-empty string');
  });
});

describe('reserve / confirm / release', () => {
  const ttlMs = 60_000;

  it('is idempotent: a retried reserve does not double-reserve (seed L10513 does)', async () => {
    await init('a', 10);
    const results = await Promise.all(clients.map((c) => new RedisStock(c, { prefix, clock }).reserve('o1', [{ sku: 'a', qty: 3 }], ttlMs)));
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await stock.levels('a')).toMatchObject({ available: 7, locked: 3, sold: 0 });
    await assertInvariant();
  });

  it('keeps one record per (order, sku): releasing a multi-SKU order returns each SKU its own quantity (seed overwrites)', async () => {
    await init('a', 10);
    await init('b', 10);
    await stock.reserve(
      'o1',
      [
        { sku: 'a', qty: 2 },
        { sku: 'b', qty: 5 },
      ],
      ttlMs,
    );
    await assertInvariant();
    expect(await stock.release('o1')).toEqual({ applied: true, undone: 'reserved' });
    expect(await stock.levels('a')).toMatchObject({ available: 10, locked: 0 });
    expect(await stock.levels('b')).toMatchObject({ available: 10, locked: 0 });
    await assertInvariant();
  });

  it('confirm moves locked → sold once; a repeat is a no-op; confirming nothing is typed', async () => {
    await init('a', 10);
    await stock.reserve('o1', [{ sku: 'a', qty: 4 }], ttlMs);
    expect(await stock.confirm('o1')).toEqual({ applied: true, undone: 'reserved' });
    expect(await stock.confirm('o1')).toEqual({ applied: false, undone: null });
    expect(await stock.levels('a')).toMatchObject({ available: 6, locked: 0, sold: 4 });
    await assertInvariant();
    await expect(stock.release('o1')).rejects.toThrow(OrderStockStateError);
    await expect(stock.confirm('never')).rejects.toThrow(ReservationNotFoundError);
    expect(await stock.orderState('o1')).toBe('confirmed');
    // a late reserve retry for a confirmed order changes nothing
    expect(await stock.reserve('o1', [{ sku: 'a', qty: 4 }], ttlMs)).toEqual({ duplicate: true, state: 'confirmed' });
    await assertInvariant();
  });

  it('confirm racing release: exactly one applies per order, never both (seed L10556/L10596 read outside the script)', async () => {
    await init('a', 1000);
    const orders = Array.from({ length: 200 }, (_, i) => `o${i}`);
    for (const o of orders) await stock.reserve(o, [{ sku: 'a', qty: 5 }], ttlMs);
    await assertInvariant();
    const stores = clients.map((c) => new RedisStock(c, { prefix, clock }));
    let confirmed = 0;
    let released = 0;
    await Promise.all(
      orders.flatMap((o, i) => [
        (stores[i % 8] as RedisStock).confirm(o).then(
          (r) => void (r.applied && confirmed++),
          (e) => expect((e as OrderStockStateError).state).toBe('released'),
        ),
        (stores[(i + 3) % 8] as RedisStock).release(o).then(
          (r) => void (r.applied && released++),
          (e) => expect((e as OrderStockStateError).state).toBe('confirmed'),
        ),
        (stores[(i + 5) % 8] as RedisStock).release(o).then(
          (r) => void (r.applied && released++),
          (e) => expect((e as OrderStockStateError).state).toBe('confirmed'),
        ),
      ]),
    );
    expect(confirmed + released).toBe(orders.length);
    const l = await stock.levels('a');
    expect(l).toMatchObject({ locked: 0, sold: confirmed * 5, available: 1000 - confirmed * 5, total: 1000 });
    await assertInvariant();
  });

  it('a reservation outlives its timeout until settled; the sweeper releases it at the deadline (seed: TTL = timeout, stock leaks)', async () => {
    await init('a', 10);
    await stock.reserve('o1', [{ sku: 'a', qty: 3 }], 15_000);
    await stock.reserve('o2', [{ sku: 'a', qty: 2 }], 60_000);
    // the record has no Redis TTL while reserved: a cancel after the timeout still finds it
    const keys = await redis.keys(`${prefix}stock:*order:*`);
    for (const k of keys) expect(await redis.pttl(k)).toBe(-1);
    clock.setTime(clock.now() + 14_999);
    expect(await stock.sweepExpired()).toEqual([]);
    clock.setTime(clock.now() + 1);
    expect(await stock.sweepExpired()).toEqual(['o1']);
    expect(await stock.levels('a')).toMatchObject({ available: 8, locked: 2 });
    await assertInvariant();
    // payment arriving after the sweep loses, typed, and changes nothing
    await expect(stock.confirm('o1')).rejects.toMatchObject({ state: 'released' });
    // a confirmed order is never swept
    await stock.confirm('o2');
    clock.setTime(clock.now() + 120_000);
    expect(await stock.sweepExpired()).toEqual([]);
    expect(await stock.levels('a')).toMatchObject({ available: 8, locked: 0, sold: 2 });
    // finished records get the retention TTL
    for (const k of await redis.keys(`${prefix}stock:*order:*`)) expect(await redis.pttl(k)).toBeGreaterThan(0);
    await assertInvariant();
  });

  it('ReservationSweeper releases in the background on the injected clock and closes cleanly', async () => {
    await init('a', 10);
    const sweeper = new ReservationSweeper(stock, { intervalMs: 1000, clock });
    const seen: string[] = [];
    sweeper.on('released', (ids) => seen.push(...ids));
    await stock.reserve('o1', [{ sku: 'a', qty: 3 }], 1500);
    await clock.advance(1000);
    expect(seen).toEqual([]);
    await clock.advance(1000);
    await sweeper.sweepNow(); // the timer's sweep may still be in flight; a direct sweep is idempotent
    expect(seen).toEqual(['o1']);
    await sweeper.close();
    expect(clock.pendingTimers).toBe(0);
    await assertInvariant();
  });

  it('each swept reservation leaves the deadline index: batches of 1 drain every expired order, none starves', async () => {
    await init('a', 10);
    for (const o of ['o1', 'o2', 'o3']) await stock.reserve(o, [{ sku: 'a', qty: 1 }], 1000);
    clock.setTime(clock.now() + 1000);
    const swept: string[] = [];
    for (let i = 0; i < 3; i++) swept.push(...(await stock.sweepExpired(1)));
    expect(swept).toEqual(['o1', 'o2', 'o3']);
    expect(await stock.sweepExpired(1)).toEqual([]);
    expect(await redis.zcard(`${prefix}stock:{stock}:deadlines`)).toBe(0);
    expect(await stock.levels('a')).toMatchObject({ available: 10, locked: 0 });
    await assertInvariant();
  });

  it('ReservationSweeper sweeps again at once while batches come back full', async () => {
    await init('a', 10);
    const sweeper = new ReservationSweeper(stock, { intervalMs: 60_000, batch: 2, clock });
    const batches: string[][] = [];
    sweeper.on('released', (ids) => batches.push(ids));
    for (const o of ['o1', 'o2', 'o3', 'o4', 'o5']) await stock.reserve(o, [{ sku: 'a', qty: 1 }], 1000);
    clock.setTime(clock.now() + 1000); // no timer fires: only the direct sweep runs
    expect(await sweeper.sweepNow()).toBe(5);
    expect(batches).toEqual([['o1', 'o2'], ['o3', 'o4'], ['o5']]);
    expect(await stock.levels('a')).toMatchObject({ available: 10, locked: 0 });
    await sweeper.close();
    await assertInvariant();
  });

  it('finished records (deducted, null-release marker) get the retention TTL; a live reservation has none', async () => {
    const s = new RedisStock(redis, { prefix, clock, recordRetentionMs: 5000 });
    const orderKey = (id: string) => `${prefix}stock:{stock}:order:${id}`;
    await init('a', 10);
    await s.deductMany([{ sku: 'a', qty: 1 }], 'd1');
    await s.release('never-reserved');
    await s.reserve('r1', [{ sku: 'a', qty: 1 }], ttlMs);
    for (const id of ['d1', 'never-reserved']) {
      const pttl = await redis.pttl(orderKey(id));
      expect(pttl, id).toBeGreaterThan(0);
      expect(pttl, id).toBeLessThanOrEqual(5000);
    }
    expect(await redis.pttl(orderKey('r1'))).toBe(-1);
    await assertInvariant();
  });

  it('release of an unknown order writes a marker: a late reserve for it is refused (null compensation, hanging)', async () => {
    await init('a', 10);
    expect(await stock.release('late')).toEqual({ applied: false, undone: null });
    await expect(stock.reserve('late', [{ sku: 'a', qty: 1 }], ttlMs)).rejects.toMatchObject({ state: 'released' });
    expect((await stock.levels('a'))?.available).toBe(10);
    await assertInvariant();
  });

  it('all or nothing, typed errors, validated ttl', async () => {
    await init('a', 10);
    await init('b', 0);
    await expect(
      stock.reserve(
        'o1',
        [
          { sku: 'a', qty: 1 },
          { sku: 'b', qty: 1 },
        ],
        ttlMs,
      ),
    ).rejects.toThrow(InsufficientStockError);
    await expect(stock.reserve('o1', [{ sku: 'nope', qty: 1 }], ttlMs)).rejects.toThrow(StockNotFoundError);
    await expect(stock.reserve('o1', [{ sku: 'a', qty: 1 }], 0)).rejects.toThrow('ttlMs must be an integer >= 1, got 0');
    expect((await stock.levels('a'))?.available).toBe(10);
    await assertInvariant();
  });
});

describe('restock', () => {
  it('applies once per operation id', async () => {
    await init('a', 10);
    await stock.deduct('a', 10);
    const results = await Promise.all(Array.from({ length: 5 }, () => stock.restock('a', 4, 'po-1')));
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect(await stock.levels('a')).toMatchObject({ available: 4, sold: 10, total: 14 });
    await assertInvariant();
    await expect(stock.restock('nope', 1, 'po-2')).rejects.toThrow(StockNotFoundError);
    await expect(stock.restock('a', 0, 'po-3')).rejects.toThrow(InvalidArgumentError);
  });
});

describe('keys', () => {
  it('share one hash tag, so multi-SKU scripts are valid on Redis Cluster', () => {
    const s = new RedisStock(redis, { prefix: 'shop:', tag: 'wh1' });
    expect(s.skuKey('x')).toBe('shop:stock:{wh1}:sku:x');
    expect(() => new RedisStock(redis, { prefix: 'a{b' })).toThrow(InvalidArgumentError);
    expect(() => new RedisStock(redis, { tag: 'a}' })).toThrow(/braces/);
  });
});

describe('mixed operations from 8 clients', () => {
  it('keeps available + locked + sold == total and available >= 0 after every operation', async () => {
    for (const s of ['a', 'b', 'c']) await init(s, 60);
    const stores = clients.map((c) => new RedisStock(c, { prefix, clock }));
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
    const plan = Array.from({ length: 600 }, (_, i) => ({
      op: pick(['deduct', 'deductMany', 'reserve', 'confirm', 'release', 'restock'] as const),
      order: `o${Math.floor(rnd() * 80)}`,
      i,
    }));
    const expectedErrors = [InsufficientStockError, OrderStockStateError, ReservationNotFoundError];
    let violations = 0;
    await Promise.all(
      plan.map(async ({ op, order, i }) => {
        const s = stores[i % stores.length] as RedisStock;
        const items = [
          { sku: pick(['a', 'b']), qty: 1 + Math.floor(rnd() * 3) },
          { sku: 'c', qty: 1 },
        ];
        try {
          if (op === 'deduct') await s.deduct(pick(['a', 'b', 'c']), 1 + Math.floor(rnd() * 2));
          else if (op === 'deductMany') await s.deductMany(items, `m${order}`);
          else if (op === 'reserve') await s.reserve(order, items, 60_000);
          else if (op === 'confirm') await s.confirm(order);
          else if (op === 'release') await s.release(pick([order, `m${order}`]));
          else await s.restock(pick(['a', 'b', 'c']), 2, `r${Math.floor(rnd() * 50)}`);
        } catch (e) {
          if (!expectedErrors.some((E) => e instanceof E)) throw e;
        }
        // every read is a consistent snapshot of one SKU: the invariant must hold at any instant
        for (const sku of ['a', 'b', 'c']) {
          const l = await s.levels(sku);
          if (!l || l.available + l.locked + l.sold !== l.total || l.available < 0 || l.locked < 0 || l.sold < 0) violations++;
        }
      }),
    );
    expect(violations).toBe(0);
    await assertInvariant();
    // settle everything still reserved: locked must return to exactly 0
    clock.setTime(clock.now() + 61_000);
    await stock.sweepExpired(10_000);
    for (const sku of ['a', 'b', 'c']) expect((await stock.levels(sku))?.locked).toBe(0);
    await assertInvariant();
  });
});

describe('script cache loss', () => {
  it('after SCRIPT FLUSH (a restarted or failed-over Redis) every operation still runs, through the EVAL fallback', async () => {
    await init('a', 10);
    await init('b', 10);
    await redis.script('FLUSH');
    expect(await stock.deduct('a', 1)).toBe(9);
    await redis.script('FLUSH');
    expect(
      await stock.deductMany(
        [
          { sku: 'a', qty: 1 },
          { sku: 'b', qty: 2 },
        ],
        'm1',
      ),
    ).toEqual({ remaining: { a: 8, b: 8 }, duplicate: false });
    await redis.script('FLUSH');
    expect((await stock.reserve('r1', [{ sku: 'a', qty: 3 }], 60_000)).duplicate).toBe(false);
    await redis.script('FLUSH');
    expect(await stock.confirm('r1')).toEqual({ applied: true, undone: 'reserved' });
    await redis.script('FLUSH');
    expect(await stock.release('m1')).toEqual({ applied: true, undone: 'deducted' });
    await redis.script('FLUSH');
    expect(await stock.restock('a', 5, 'op-1')).toBeDefined();
    expect(await stock.levels('a')).toMatchObject({ available: 11, locked: 0, sold: 4, total: 15 });
    await assertInvariant();
  });
});
