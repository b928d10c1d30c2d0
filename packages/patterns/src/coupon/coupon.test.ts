import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { createTestDatabase, startRedis } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { CouponIssuer, CouponLimitReachedError, CouponNotInitialisedError, CouponSoldOutError, CouponStore } from './index.js';

const server = await startRedis();
const redis = server.client();
const clients = Array.from({ length: 6 }, () => server.client());
const db = await createTestDatabase({ connectionLimit: 8 });
afterAll(async () => {
  await db?.drop();
  await server.stop();
});

let n = 0;
const tpl = () => `t${n++}`;
const prefix = `cp${process.pid}:`;

describe('CouponIssuer', () => {
  it('100 coupons, 400 users + 20 users clicking 5 times at once → exactly 100 issued, nobody over the limit', async () => {
    const t = tpl();
    const issuers = clients.map((c) => new CouponIssuer(c, { prefix }));
    await (issuers[0] as CouponIssuer).init(t, 100);
    const clicks: { user: string }[] = [];
    for (let u = 0; u < 400; u++) clicks.push({ user: `u${u}` });
    for (let u = 0; u < 20; u++) for (let k = 0; k < 5; k++) clicks.push({ user: `eager${u}` });
    const perUser = new Map<string, number>();
    const outcomes = await Promise.allSettled(
      clicks.map((c, i) =>
        (issuers[i % issuers.length] as CouponIssuer).issueCoupon(t, c.user, 1).then((x) => {
          perUser.set(c.user, (perUser.get(c.user) ?? 0) + 1);
          return x;
        }),
      ),
    );
    const issued = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(issued).toBe(100);
    for (const o of outcomes)
      if (o.status === 'rejected') expect(o.reason.constructor).toSatisfy((c) => c === CouponSoldOutError || c === CouponLimitReachedError);
    expect(Math.max(...perUser.values())).toBe(1);
    expect(await (issuers[0] as CouponIssuer).remaining(t)).toBe(0);
  });

  it('per-user limit > 1 is exact under parallel clicks', async () => {
    const t = tpl();
    const issuer = new CouponIssuer(redis, { prefix });
    await issuer.init(t, 1000);
    const r = await Promise.allSettled(Array.from({ length: 10 }, () => issuer.issueCoupon(t, 'alice', 3)));
    const ok = r.filter((x) => x.status === 'fulfilled').map((x) => (x as PromiseFulfilledResult<{ userSeq: number }>).value.userSeq);
    expect(ok.sort()).toEqual([1, 2, 3]);
    await expect(issuer.issueCoupon(t, 'alice', 3)).rejects.toThrow(CouponLimitReachedError);
    expect(await issuer.issuedTo(t, 'alice')).toBe(3);
    expect(await issuer.remaining(t)).toBe(997);
  });

  it('uninitialised stock: initialised once with SET NX, then every issue decrements (seed L11322: issues without decrementing)', async () => {
    const t = tpl();
    let loads = 0;
    const issuers = clients.map(
      (c) =>
        new CouponIssuer(c, {
          prefix,
          initialStock: async () => {
            loads++;
            await new Promise((r) => setTimeout(r, 5)); // a DB round trip: concurrent initialisers overlap
            return 3;
          },
        }),
    );
    const r = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => (issuers[i % 6] as CouponIssuer).issueCoupon(t, `u${i}`, 1)));
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(3);
    expect(loads).toBeGreaterThanOrEqual(1); // one load per process (6 issuers share nothing: up to 6)…
    expect(loads).toBeLessThanOrEqual(6);
    expect(await (issuers[0] as CouponIssuer).remaining(t)).toBe(0); // …yet exactly 3 were issued and counted
  });

  it('checks the per-user limit before the stock: a user at the limit of a sold-out template is told the limit', async () => {
    const t = tpl();
    const issuer = new CouponIssuer(redis, { prefix });
    await issuer.init(t, 1);
    await issuer.issueCoupon(t, 'alice', 1);
    await expect(issuer.issueCoupon(t, 'alice', 1)).rejects.toThrow(CouponLimitReachedError);
    await expect(issuer.issueCoupon(t, 'bob', 1)).rejects.toThrow(CouponSoldOutError);
    expect(await issuer.remaining(t)).toBe(0);
    expect(await issuer.issuedTo(t, 'alice')).toBe(1);
    expect(await issuer.issuedTo(t, 'bob')).toBe(0);
  });

  it('without a loader, missing stock is a typed error; bad input is rejected', async () => {
    const issuer = new CouponIssuer(redis, { prefix });
    await expect(issuer.issueCoupon(tpl(), 'u', 1)).rejects.toThrow(CouponNotInitialisedError);
    await expect(issuer.issueCoupon('t', 'u', 0)).rejects.toThrow('perUserLimit must be an integer >= 1, got 0');
    await expect(issuer.issueCoupon('t', '', 1)).rejects.toThrow(InvalidArgumentError);
    await expect(issuer.issueCoupon('a{b', 'u', 1)).rejects.toThrow(/braces/);
    const t = tpl();
    await issuer.init(t, 5);
    expect(await issuer.init(t, 100)).toBe(false);
    expect(await issuer.remaining(t)).toBe(5);
  });
});

describe.skipIf(!db)('CouponStore', () => {
  it('records issued coupons with issued_count in the same transaction, idempotently, never past total', async () => {
    if (!db) return;
    const store = new CouponStore(db.pool);
    const t = tpl();
    await store.createTemplate({ id: t, discountCents: 500, totalCount: 20, perUserLimit: 1 });
    const issuer = new CouponIssuer(redis, { prefix, initialStock: (id) => store.remaining(id) });
    const r = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => issuer.issueCoupon(t, `u${i}`, 1).then((c) => store.recordIssued(c))));
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(20);
    const [rows] = await db.pool.query<RowDataPacket[]>(
      'SELECT (SELECT COUNT(*) FROM user_coupons WHERE template_id = ?) AS n, (SELECT issued_count FROM coupon_templates WHERE id = ?) AS c',
      [t, t],
    );
    expect(Number(rows[0]?.n)).toBe(20);
    expect(Number(rows[0]?.c)).toBe(20);
    // a retried insert is a no-op
    expect(await store.recordIssued({ templateId: t, userId: 'u0', userSeq: 1, remaining: 0, couponNo: `${t}:u0:1` })).toBe(false);
    // the DB unique key holds the per-user limit even if Redis is bypassed
    await expect(store.recordIssued({ templateId: t, userId: 'u0', userSeq: 1, remaining: 0, couponNo: 'forged' })).resolves.toBe(false);
  });

  it('UNUSED → LOCKED(order) → USED; unlock only by the locking order, never after use (seed updates by id)', async () => {
    if (!db) return;
    const store = new CouponStore(db.pool);
    const t = tpl();
    await store.createTemplate({ id: t, discountCents: 100, totalCount: 5, perUserLimit: 1 });
    const c = { templateId: t, userId: 'bob', userSeq: 1, remaining: 4, couponNo: `${t}:bob:1` };
    await store.recordIssued(c);
    // two orders race to lock the same coupon: exactly one wins
    const locks = await Promise.all([store.lock(c.couponNo, 'o1'), store.lock(c.couponNo, 'o2')]);
    expect(locks.filter(Boolean)).toHaveLength(1);
    const winner = locks[0] ? 'o1' : 'o2';
    const loser = winner === 'o1' ? 'o2' : 'o1';
    expect(await store.unlock(c.couponNo, loser)).toBe(false);
    expect(await store.use(c.couponNo, loser)).toBe(false);
    // payment and cancel race: one applies, the coupon never comes back after use
    const [used, unlocked] = await Promise.all([store.use(c.couponNo, winner), store.unlock(c.couponNo, winner)]);
    expect(Number(used) + Number(unlocked)).toBe(1);
    const after = await store.get(c.couponNo);
    if (used) {
      expect(after).toEqual({ status: 'USED', orderId: winner });
      expect(await store.unlock(c.couponNo, winner)).toBe(false);
    } else {
      expect(after).toEqual({ status: 'UNUSED', orderId: null });
    }
  });

  it('a used coupon is never unlocked, not even by the order that used it (deterministic order)', async () => {
    if (!db) return;
    const store = new CouponStore(db.pool);
    const t = tpl();
    await store.createTemplate({ id: t, discountCents: 100, totalCount: 5, perUserLimit: 1 });
    const c = { templateId: t, userId: 'carol', userSeq: 1, remaining: 4, couponNo: `${t}:carol:1` };
    await store.recordIssued(c);
    expect(await store.use(c.couponNo, 'o1')).toBe(false); // not locked yet
    expect(await store.lock(c.couponNo, 'o1')).toBe(true);
    expect(await store.lock(c.couponNo, 'o1')).toBe(false);
    expect(await store.use(c.couponNo, 'o1')).toBe(true);
    expect(await store.unlock(c.couponNo, 'o1')).toBe(false);
    expect(await store.lock(c.couponNo, 'o2')).toBe(false);
    expect(await store.get(c.couponNo)).toEqual({ status: 'USED', orderId: 'o1' });
    // the cancel path: LOCKED → UNUSED by the locking order, then lockable again
    const d = { templateId: t, userId: 'dave', userSeq: 1, remaining: 3, couponNo: `${t}:dave:1` };
    await store.recordIssued(d);
    expect(await store.lock(d.couponNo, 'o3')).toBe(true);
    expect(await store.unlock(d.couponNo, 'o3')).toBe(true);
    expect(await store.unlock(d.couponNo, 'o3')).toBe(false);
    expect(await store.get(d.couponNo)).toEqual({ status: 'UNUSED', orderId: null });
    expect(await store.lock(d.couponNo, 'o4')).toBe(true);
  });

  it('recordIssued past the template total is a CouponSoldOutError and leaves no row behind', async () => {
    if (!db) return;
    const store = new CouponStore(db.pool);
    const t = tpl();
    await store.createTemplate({ id: t, discountCents: 100, totalCount: 1, perUserLimit: 1 });
    expect(await store.recordIssued({ templateId: t, userId: 'u1', userSeq: 1, remaining: 0, couponNo: `${t}:u1:1` })).toBe(true);
    await expect(store.recordIssued({ templateId: t, userId: 'u2', userSeq: 1, remaining: 0, couponNo: `${t}:u2:1` })).rejects.toThrow(CouponSoldOutError);
    expect(await store.get(`${t}:u2:1`)).toBeNull();
    expect(await store.remaining(t)).toBe(0);
  });
});
