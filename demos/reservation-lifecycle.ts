import { OrderStockStateError, RedisStock, ReservationSweeper, type StockLevels } from '@gopherkit/patterns/stock';
import { ManualClock } from '@gopherkit/primitives/clock';
import type { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * A reservation's life: reserve (available → locked), then exactly one of confirm (locked → sold)
 * or release (locked → available), or the sweeper after the deadline. The invariant
 * `available + locked + sold == total`, `available >= 0`, `locked >= 0` is checked after every step.
 *
 * Then the seed's scripts (seed L10513–10627), whose confirm and release read the reservation
 * OUTSIDE the script: a payment and a timeout at the same moment both read the quantity, both
 * apply, locked goes negative and the same units are both sold and back on sale. The race is
 * forced (both reads before either script) so it happens on every run; the script version runs
 * the same race with no forcing needed, because the read is inside the script.
 */

// The seed's scripts, verbatim in behaviour (separate string keys, quantity passed in from outside).
const SEED_RESERVE = `local a = redis.call('GET', KEYS[1])
if not a or tonumber(a) < tonumber(ARGV[1]) then return -1 end
redis.call('DECRBY', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('SETEX', KEYS[3], ARGV[2], ARGV[1]); return 1`;
const SEED_CONFIRM = `redis.call('DECRBY', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], ARGV[1]); redis.call('DEL', KEYS[3]); return 1`;
const SEED_RELEASE = `redis.call('INCRBY', KEYS[1], ARGV[1]); redis.call('DECRBY', KEYS[2], ARGV[1]); redis.call('DEL', KEYS[3]); return 1`;

class SeedStock {
  constructor(
    private readonly r: Redis,
    private readonly p: string,
  ) {}
  k = (sku: string) => ({ a: `${this.p}stock:available:${sku}`, l: `${this.p}stock:locked:${sku}`, s: `${this.p}stock:sold:${sku}` });
  rec = (order: string) => `${this.p}stock:order:${order}`;
  async init(sku: string, n: number) {
    const k = this.k(sku);
    await this.r.mset(k.a, n, k.l, 0, k.s, 0);
  }
  async levels(sku: string, total: number): Promise<StockLevels> {
    const k = this.k(sku);
    const [a, l, s] = (await this.r.mget(k.a, k.l, k.s)).map(Number) as [number, number, number];
    return { available: a, locked: l, sold: s, total, ops: 0 };
  }
  reserve(order: string, sku: string, qty: number, ttlSec: number) {
    const k = this.k(sku);
    return this.r.eval(SEED_RESERVE, 3, k.a, k.l, this.rec(order), qty, ttlSec);
  }
  /** The seed's wrappers: GET the reservation in the app, then run the script with that quantity. */
  readQty(order: string) {
    return this.r.get(this.rec(order));
  }
  confirmWith(order: string, sku: string, qty: string | null) {
    if (qty === null) return Promise.resolve('预扣记录不存在'); // seed L4: error when missing
    const k = this.k(sku);
    return this.r.eval(SEED_CONFIRM, 3, k.l, k.s, this.rec(order), qty);
  }
  releaseWith(order: string, sku: string, qty: string | null) {
    if (qty === null) return Promise.resolve(null); // seed L5: "expired, treat as ok"
    const k = this.k(sku);
    return this.r.eval(SEED_RELEASE, 3, k.a, k.l, this.rec(order), qty);
  }
}

const ok = (l: StockLevels | null) => !!l && l.available + l.locked + l.sold === l.total && l.available >= 0 && l.locked >= 0;
const fmt = (l: StockLevels | null) => (l ? `available=${l.available} locked=${l.locked} sold=${l.sold} total=${l.total}` : 'missing');

export default defineDemo({
  description:
    "Reservation lifecycle: reserve/confirm/release/timeout with the invariant at every step; the seed's confirm-vs-release race inflates stock, the script never does",
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const prefix = `demo:resv:${process.pid}:`;
    const clock = new ManualClock(Date.now());
    const stock = new RedisStock(redis, { prefix, clock });
    const steps: Record<string, unknown>[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      let result: string;
      try {
        result = JSON.stringify(await fn());
      } catch (e) {
        result = e instanceof OrderStockStateError ? `refused (${e.code}): already ${e.state}` : `${(e as Error).name}: ${(e as Error).message}`;
      }
      const a = await stock.levels('A');
      const b = await stock.levels('B');
      const good = ok(a) && ok(b);
      d.check(good, `invariant after "${what}"`);
      steps.push({ step: what, result: result.slice(0, 58), A: fmt(a), B: fmt(b), invariant: good ? 'ok' : 'BROKEN' });
    };

    // --- the lifecycle, step by step ---------------------------------------------------------------
    await stock.init('A', 10);
    await stock.init('B', 10);
    const timeoutMs = 15 * 60_000;
    const ttlMs = timeoutMs + 60_000; // order timeout + grace: the sweeper is the backstop, not the first line
    const sweeper = new ReservationSweeper(stock, { clock, intervalMs: 10_000 });
    d.defer(() => sweeper.close());
    await step('reserve o1: A×2 B×5', () =>
      stock.reserve(
        'o1',
        [
          { sku: 'A', qty: 2 },
          { sku: 'B', qty: 5 },
        ],
        ttlMs,
      ),
    );
    await step('reserve o1 again (client retry)', () =>
      stock.reserve(
        'o1',
        [
          { sku: 'A', qty: 2 },
          { sku: 'B', qty: 5 },
        ],
        ttlMs,
      ),
    );
    await step('confirm o1 (paid)', () => stock.confirm('o1'));
    await step('release o1 (late cancel)', () => stock.release('o1'));
    await step('reserve o2: A×3', () => stock.reserve('o2', [{ sku: 'A', qty: 3 }], ttlMs));
    await step('release o2 (user cancels)', () => stock.release('o2'));
    await step('confirm o2 (late payment)', () => stock.confirm('o2'));
    await step('reserve o3: B×4, nobody settles', () => stock.reserve('o3', [{ sku: 'B', qty: 4 }], ttlMs));
    await clock.advance(ttlMs + 10_000);
    await sweeper.sweepNow();
    await step('…timeout + grace later: swept', async () => stock.orderState('o3'));
    await step('confirm o3 (payment after sweep)', () => stock.confirm('o3'));
    d.table(steps);

    // --- confirm racing release, 200 orders: seed vs script -----------------------------------------
    const N = 200;
    const seed = new SeedStock(redis, `${prefix}seed:`);
    await seed.init('X', 1000);
    for (let i = 0; i < N; i++) await seed.reserve(`r${i}`, 'X', 5, 900);
    let seedBoth = 0;
    for (let i = 0; i < N; i++) {
      const o = `r${i}`;
      // payment callback and timeout cancel arrive together: both read the record first (forced)
      const [q1, q2] = await Promise.all([seed.readQty(o), seed.readQty(o)]);
      const [c, r] = await Promise.all([seed.confirmWith(o, 'X', q1), seed.releaseWith(o, 'X', q2)]);
      if (c === 1 && r === 1) seedBoth++;
    }
    const seedLevels = await seed.levels('X', 1000);

    const ours = new RedisStock(redis, { prefix: `${prefix}ours:` });
    const racers = Array.from({ length: 8 }, () => new RedisStock(server.client(), { prefix: `${prefix}ours:` }));
    await ours.init('X', 1000);
    for (let i = 0; i < N; i++) await ours.reserve(`r${i}`, [{ sku: 'X', qty: 5 }], ttlMs);
    let oursBoth = 0;
    let confirmed = 0;
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const o = `r${i}`;
        const [c, r] = await Promise.allSettled([(racers[i % 8] as RedisStock).confirm(o), (racers[(i + 1) % 8] as RedisStock).release(o)]);
        const cApplied = c.status === 'fulfilled' && c.value.applied;
        const rApplied = r.status === 'fulfilled' && r.value.applied;
        if (cApplied && rApplied) oursBoth++;
        if (cApplied) confirmed++;
        for (const x of [c, r]) if (x.status === 'rejected' && !(x.reason instanceof OrderStockStateError)) throw x.reason;
      }),
    );
    const oursLevels = await ours.levels('X');
    const inflated = (l: StockLevels) => l.available + l.sold - (l.total - Math.max(0, l.locked));
    const cols = (l: StockLevels) => ({ available: l.available, locked: l.locked, sold: l.sold, total: l.total });
    d.table([
      { version: 'seed (read outside the script)', orders: N, 'both applied': seedBoth, ...cols(seedLevels), 'units sold twice': inflated(seedLevels) },
      {
        version: 'gopherkit (read inside, terminal marker)',
        orders: N,
        'both applied': oursBoth,
        ...cols(oursLevels as StockLevels),
        'units sold twice': oursLevels ? inflated(oursLevels) : -1,
      },
    ]);
    d.check(seedBoth > 0 && seedLevels.locked < 0, "the seed's confirm/release race must apply both (forced interleaving)");
    d.check(oursBoth === 0, 'the script version must never apply both confirm and release');
    d.check(ok(oursLevels) && oursLevels?.sold === confirmed * 5, 'script version: invariant holds and sold == 5 × confirmed');

    // --- the seed's multi-SKU record and TTL = timeout ------------------------------------------------
    await seed.init('P', 10);
    await seed.init('Q', 10);
    await seed.reserve('m1', 'P', 2, 900);
    await seed.reserve('m1', 'Q', 5, 900); // same record key: overwrites P's quantity
    await seed.releaseWith('m1', 'P', await seed.readQty('m1'));
    const p = await seed.levels('P', 10);
    d.check(p.locked < 0, "the seed's one-record-per-order must put back the wrong quantity");
    await seed.init('T', 10);
    await seed.reserve('t1', 'T', 3, 1); // record TTL = order timeout (1 s here)
    await new Promise((r) => setTimeout(r, 1100)); // the cancel runs at the timeout, a moment late
    const released = await seed.releaseWith('t1', 'T', await seed.readQty('t1'));
    const leaked = await seed.levels('T', 10);
    d.check(released === null && leaked.locked === 3, "the seed's cancel must find the record expired and leave the stock locked");
    d.log(`\nseed multi-SKU: reserve m1 P×2 then Q×5 under one record, release P → P ${fmt(p)} (got back 5, not 2)`);
    d.log(`seed TTL = timeout: the 1 s record expired before the cancel ran → release returned ${released}; T ${fmt(leaked)} — 3 units locked forever`);
    d.log('gopherkit: one field per (order, sku), no TTL while reserved, sweeper at timeout + grace (steps above)');

    return `lifecycle steps=${steps.length} invariant ok, seed race both-applied=${seedBoth}/${N} (locked=${seedLevels.locked}), script both-applied=${oursBoth}/${N}`;
  },
});
