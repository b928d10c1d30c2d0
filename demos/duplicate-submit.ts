import { IdempotencyTokens, InProgressError, InvalidTokenError } from '@gopherkit/patterns/idempotency';
import { Snowflake } from '@gopherkit/primitives/snowflake';
import type { RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * 重复下单: one user double-clicks "submit" (10 concurrent requests carrying one form token).
 *
 * Seed contrast, each forced so it fails the same way every run:
 * - check-then-act (GET the token, create the order, DEL the token — the shape of the seed's
 *   T2/T3 "cache hit → lock → create" without an atomic claim): all 10 read the token before any
 *   deletes it → 10 orders.
 * - burn-first (seed T1, L7199–7243: `DEL` the token, then insert): the insert fails once, the
 *   user retries with the same form and is told "invalid or expired token" — stranded.
 * - unscoped result cache (seed T2, `order:token:{token}`, L8788–8845): another user who learns
 *   the token gets the first user's order number.
 *
 * Fixed (`IdempotencyTokens`, per-user token, NEW → PENDING → DONE by Lua): exactly 1 order; the
 * 9 concurrent duplicates get 409, later duplicates the same order number; a failure after begin
 * lets the same token retry cleanly; another user's request with the token is refused.
 */
const SUBMITS = 10;

export default defineDemo({
  description:
    'Duplicate submit: 10 concurrent submits with one form token; check-then-act makes 10 orders, burn-first strands a retry, the per-user token makes exactly 1',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 12 });
    const redis = (await d.redis()).client();
    const pool = db.pool;
    const prefix = `demo:dup:${process.pid}:`;
    const ids = new Snowflake({ workerId: 7 });
    const createOrder = async (user: string, token: string | null) => {
      const id = ids.nextString();
      await pool.query(
        "INSERT INTO gk_orders (id, user_id, amount_cents, status, request_token, created_at, updated_at) VALUES (?, ?, 1999, 'PENDING', ?, ?, ?)",
        [id, user, token, Date.now(), Date.now()],
      );
      return id;
    };
    const orders = async (user: string) => {
      const [r] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM gk_orders WHERE user_id = ?', [user]);
      return Number(r[0]?.n);
    };

    // 1. check-then-act, with every GET landing before the first DEL (a barrier forces it)
    const naiveKey = `${prefix}order:token:naive-user:t1`;
    await redis.set(naiveKey, '1', 'EX', 300);
    let arrived = 0;
    let open!: () => void;
    const barrier = new Promise<void>((r) => {
      open = r;
    });
    await Promise.all(
      Array.from({ length: SUBMITS }, async () => {
        const ok = (await redis.get(naiveKey)) !== null;
        if (++arrived === SUBMITS) open();
        await barrier;
        if (!ok) return;
        await createOrder('naive-user', null);
        await redis.del(naiveKey);
      }),
    );
    const naive = await orders('naive-user');
    d.check(naive === SUBMITS, `check-then-act creates one order per submit when all checks run first (got ${naive})`);

    // 2. burn-first: DEL, then the insert fails once; the retry is refused
    const burnKey = `${prefix}order:token:burn-user:t2`;
    await redis.set(burnKey, '1', 'EX', 300);
    const seedSubmit = async (failInsert: boolean) => {
      if ((await redis.del(burnKey)) !== 1) return 'invalid or expired token';
      if (failInsert) return 'insert failed (database timeout)';
      return createOrder('burn-user', null);
    };
    const burnFirst = await seedSubmit(true);
    const burnRetry = await seedSubmit(false);
    d.check(
      burnRetry === 'invalid or expired token' && (await orders('burn-user')) === 0,
      'burn-first: after one failed insert the retry is refused and no order exists',
    );

    // 3. unscoped result cache: user B presents user A's token and gets A's order number
    await redis.set(`${prefix}order:token:tok-a`, 'A-ORDER-1', 'EX', 1800);
    const leaked = await redis.get(`${prefix}order:token:tok-a`); // the seed's lookup has no user in the key
    d.check(leaked === 'A-ORDER-1', "unscoped cache: another user's request is answered with user A's order number");

    // 4. fixed: per-user token via IdempotencyTokens, 10 concurrent submits
    const tokens = new IdempotencyTokens<{ orderNo: string }>(redis, { prefix });
    const token = await tokens.issueToken('alice');
    const submit = (user: string) => tokens.run(user, token, async () => ({ orderNo: await createOrder(user, token) }));
    const wave = await Promise.allSettled(Array.from({ length: SUBMITS }, () => submit('alice')));
    const created = wave.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ orderNo: string }>).value.orderNo);
    const conflicts = wave.filter((r) => r.status === 'rejected' && r.reason instanceof InProgressError).length;
    const later = await Promise.all(Array.from({ length: 3 }, () => submit('alice')));
    const orderNo = created[0];
    d.check((await orders('alice')) === 1, 'fixed: exactly 1 order for 10 concurrent submits');
    d.check(created.length + conflicts === SUBMITS && created.every((o) => o === orderNo), 'fixed: every other submit got 409 or the same order number');
    d.check(
      later.every((r) => r.orderNo === orderNo),
      'fixed: submits after the first finished get the original order number',
    );

    // failure after begin: the same token retries cleanly
    const t2 = await tokens.issueToken('bob');
    const failed = await tokens
      .run('bob', t2, async () => {
        throw new Error('insert failed (database timeout)');
      })
      .catch((e: Error) => e.message);
    const retried = await tokens.run('bob', t2, async () => ({ orderNo: await createOrder('bob', t2) }));
    d.check((await orders('bob')) === 1 && typeof retried.orderNo === 'string', 'fixed: a failure after begin lets the same token retry and create the order');

    // scoped: mallory presents alice's token
    const foreign = await tokens.begin('mallory', token).catch((e: unknown) => e);
    d.check(foreign instanceof InvalidTokenError, "fixed: another user's request with alice's token is refused (InvalidTokenError)");

    d.table([
      { variant: 'check-then-act (GET…DEL)', submits: SUBMITS, orders: naive, retry_after_failure: '-', foreign_user: '-' },
      { variant: 'seed T1 burn-first', submits: 2, orders: await orders('burn-user'), retry_after_failure: `${burnFirst} → ${burnRetry}`, foreign_user: '-' },
      { variant: 'seed T2 unscoped cache', submits: 1, orders: '-', retry_after_failure: '-', foreign_user: `got ${leaked}` },
      {
        variant: 'IdempotencyTokens',
        submits: SUBMITS + 3,
        orders: 1,
        retry_after_failure: `${failed} → ${retried.orderNo}`,
        foreign_user: 'InvalidTokenError',
      },
    ]);
    return `check-then-act orders=${naive}, burn-first retry="${burnRetry}", tokens orders=1 (409=${conflicts}, same order=${created.length - 1 + later.length})`;
  },
});
