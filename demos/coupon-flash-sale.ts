import { CouponIssuer, CouponLimitReachedError, CouponSoldOutError } from '@gopherkit/patterns/coupon';
import type { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * 100 coupons, 2000 users clicking once plus 50 eager users clicking 5 times in parallel, limit 1
 * per user, stock not yet in Redis when the sale opens.
 *
 * Seed flow (seed L11287–11340): check the user's count, run the issue script (seed L11308), and
 * on "not initialised" (-1) SET the stock to total − issued without NX and issue WITHOUT
 * decrementing. The interleaving is forced: clicks arrive in waves of 50 and every click of a wave
 * does its check and its script before any of them records the coupon — as 50 requests within one
 * round trip would. gopherkit: one script checks the limit, then the stock, then decrements; the
 * missing stock is created with SET NX and the script runs again.
 */
const COUPONS = 100;
const SINGLE_USERS = 2000;
const EAGER_USERS = 50;
const EAGER_CLICKS = 5;
const WAVE = 50;

const SEED_ISSUE = `local stock = redis.call('GET', KEYS[1])
if not stock then return -1 end
stock = tonumber(stock)
if stock <= 0 then return -2 end
redis.call('DECR', KEYS[1]); return stock - 1`;

export default defineDemo({
  description: 'Coupon flash sale: 100 coupons, 2000 users + 50 users clicking 5 times → exactly 100 issued, nobody over the limit (the seed over-issues)',
  async run(d) {
    const server = await d.redis();
    const clients: Redis[] = Array.from({ length: 4 }, () => server.client());
    const prefix = `demo:coupon:${process.pid}:`;
    const rnd = d.random(7);

    // click groups: one click per ordinary user, 5 adjacent clicks per eager user; shuffled (fixed seed)
    const groups: string[][] = [];
    for (let u = 0; u < SINGLE_USERS; u++) groups.push([`user${u}`]);
    for (let u = 0; u < EAGER_USERS; u++) groups.push(Array.from({ length: EAGER_CLICKS }, () => `eager${u}`));
    for (let i = groups.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [groups[i], groups[j]] = [groups[j] as string[], groups[i] as string[]];
    }
    const clicks = groups.flat();

    // --- seed --------------------------------------------------------------------------------------
    const seedStock = `${prefix}seed:coupon:stock:t1`;
    const seedUsers = `${prefix}seed:coupon:users:t1`;
    const seedIssued = `${prefix}seed:coupon:issued:t1`; // stands in for COUNT(user_coupons)
    let seedNoDecrement = 0;
    const seedStarted = performance.now();
    for (let w = 0; w < clicks.length; w += WAVE) {
      const wave = clicks.slice(w, w + WAVE);
      const c = (k: number) => clients[k % clients.length] as Redis;
      // phase 1, step by step for every click of the wave: per-user check, issue script, init path
      const have = await Promise.all(wave.map(async (user, k) => Number((await c(k).hget(seedUsers, user)) ?? 0)));
      const results = await Promise.all(wave.map(async (_, k) => ((have[k] as number) >= 1 ? -3 : Number(await c(k).eval(SEED_ISSUE, 1, seedStock)))));
      const issuedSoFar = await Promise.all(wave.map(async (_, k) => (results[k] === -1 ? Number((await c(k).get(seedIssued)) ?? 0) : 0)));
      const decided = await Promise.all(
        wave.map(async (user, k) => {
          const r = results[k] as number;
          if (r === -3 || r === -2) return null;
          if (r === -1) {
            // seed L11328–11337: SET total − issued (no NX), then issue without decrementing
            const left = COUPONS - (issuedSoFar[k] as number);
            if (left <= 0) return null;
            await c(k).set(seedStock, left);
            seedNoDecrement++;
          }
          return user;
        }),
      );
      // phase 2: record the coupons
      await Promise.all(
        decided.map(async (user, k) => {
          if (!user) return;
          await c(k).hincrby(seedUsers, user, 1);
          await c(k).incr(seedIssued);
        }),
      );
    }
    const seedMs = performance.now() - seedStarted;
    const seedTotal = Number(await clients[0]?.get(seedIssued));
    const seedPerUser = Object.values(await (clients[0] as Redis).hgetall(seedUsers)).map(Number);
    const seedOverLimit = seedPerUser.filter((n) => n > 1).length;

    // --- gopherkit ------------------------------------------------------------------------------------
    let loads = 0;
    const issuers = clients.map(
      (c) =>
        new CouponIssuer(c, {
          prefix,
          initialStock: async () => {
            loads++;
            return COUPONS; // e.g. total_count − issued_count from MySQL
          },
        }),
    );
    const perUser = new Map<string, number>();
    let soldOut = 0;
    let limited = 0;
    const started = performance.now();
    await Promise.all(
      clicks.map(async (user, i) => {
        try {
          const c = await (issuers[i % issuers.length] as CouponIssuer).issueCoupon('t1', user, 1);
          perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + 1);
        } catch (e) {
          if (e instanceof CouponSoldOutError) soldOut++;
          else if (e instanceof CouponLimitReachedError) limited++;
          else throw e;
        }
      }),
    );
    const ms = performance.now() - started;
    const issued = [...perUser.values()].reduce((a, b) => a + b, 0);
    const overLimit = [...perUser.values()].filter((n) => n > 1).length;
    const left = await (issuers[0] as CouponIssuer).remaining('t1');

    d.table([
      {
        version: 'seed (check, script, SET without NX)',
        clicks: clicks.length,
        issued: seedTotal,
        'over-issued': Math.max(0, seedTotal - COUPONS),
        'users over limit': seedOverLimit,
        'issued w/o decrement': seedNoDecrement,
        'issues/s': Math.round((clicks.length / seedMs) * 1000),
      },
      {
        version: 'gopherkit CouponIssuer (one script)',
        clicks: clicks.length,
        issued,
        'over-issued': Math.max(0, issued - COUPONS),
        'users over limit': overLimit,
        'issued w/o decrement': 0,
        'issues/s': Math.round((clicks.length / ms) * 1000),
      },
    ]);
    d.log(`\ngopherkit: ${soldOut} sold out, ${limited} refused by the per-user limit, stock left ${left}, stock loaded ${loads}× (SET NX kept the first)`);
    d.log('seed row: clicks in forced waves of 50 (check + script before any coupon is recorded); gopherkit row: all clicks at once, no forcing.');

    d.check(seedTotal > COUPONS || seedOverLimit > 0, 'the seed flow must over-issue or exceed the per-user limit under the forced interleaving');
    d.check(issued === COUPONS, `exactly ${COUPONS} coupons must be issued (got ${issued})`);
    d.check(overLimit === 0, 'no user may exceed the per-user limit');
    d.check(left === 0, 'the Redis stock must end at 0');
    return `seed issued=${seedTotal} (over limit: ${seedOverLimit} users), gopherkit issued=${issued}, over limit=${overLimit}`;
  },
});
