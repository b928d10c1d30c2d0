import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type IdempotencyKeyStore,
  type IdempotentRequest,
  MysqlIdempotencyKeyStore,
  RedisIdempotencyKeyStore,
  withIdempotency,
} from '@gopherkit/patterns/idempotency';
import { Snowflake } from '@gopherkit/primitives/snowflake';
import type { RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * The Idempotency-Key pattern (IETF httpapi draft) over a real HTTP server and MySQL orders.
 *
 * The failure: a client creates an order, the response is lost (the client times out while the
 * server commits), the client retries. Without a key that is two orders, every time (forced: the
 * client aborts exactly when the order has committed). With `withIdempotency` (Redis store, then
 * the MySQL store): one order; every retry gets the stored response byte-for-byte with
 * `Idempotent-Replayed: true`; the same key with another body → 422; 10 concurrent duplicates
 * while the first runs → 1 runs, 9 get 409.
 */
const CONCURRENT = 10;

export default defineDemo({
  description:
    'Idempotency-Key over HTTP: a lost response + retry makes 2 orders without a key; with it 1 order, byte-identical replays, 422 for a different body, 409 while running',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 10 });
    const redis = (await d.redis()).client();
    const pool = db.pool;
    const ids = new Snowflake({ workerId: 9 });
    let committed!: () => void;
    let gate: Promise<void> = Promise.resolve();
    const route = async (req: IdempotentRequest | IncomingMessage, res: ServerResponse, body: Buffer) => {
      const { sku } = JSON.parse(body.toString()) as { sku: string };
      const id = ids.nextString();
      await pool.query("INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, 'PENDING', ?, ?)", [
        id,
        req.headers['x-user'],
        Date.now(),
        Date.now(),
      ]);
      committed?.();
      await gate;
      res.writeHead(201, { 'content-type': 'application/json', location: `/orders/${id}` });
      res.end(JSON.stringify({ orderNo: id, sku, status: 'PENDING', createdAt: new Date().toISOString() }));
    };
    const listen = async (fn: (req: IncomingMessage, res: ServerResponse) => unknown) => {
      const server = createServer((req, res) => void fn(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      d.defer(() => server.close());
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
    };
    const readAll = (req: IncomingMessage) =>
      new Promise<Buffer>((resolve) => {
        const c: Buffer[] = [];
        req.on('data', (x: Buffer) => c.push(x)).on('end', () => resolve(Buffer.concat(c)));
      });
    const countOrders = async (user: string) => {
      const [r] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM gk_orders WHERE user_id = ?', [user]);
      return Number(r[0]?.n);
    };
    const post = (url: string, user: string, body: string, key?: string, signal?: AbortSignal) =>
      fetch(url, { method: 'POST', body, signal, headers: { 'x-user': user, ...(key ? { 'idempotency-key': key } : {}) } });
    /** Sends, aborts the moment the order committed (the response is lost), retries. */
    const lostResponseThenRetry = async (url: string, user: string, key?: string) => {
      const ac = new AbortController();
      const done = new Promise<void>((r) => {
        committed = r;
      });
      let release!: () => void;
      gate = new Promise((r) => {
        release = r;
      });
      const first = post(url, user, '{"sku":"A"}', key, ac.signal).catch(() => null);
      await done;
      ac.abort();
      await first;
      release();
      let retry = await post(url, user, '{"sku":"A"}', key);
      while (retry.status === 409) retry = await post(url, user, '{"sku":"A"}', key); // the first is still finishing
      return retry;
    };

    const rows: Record<string, unknown>[] = [];
    // 1. no key
    const bare = await listen(async (req, res) => route(req, res, await readAll(req)));
    await (await lostResponseThenRetry(bare, 'no-key')).text();
    const bareOrders = await countOrders('no-key');
    d.check(bareOrders === 2, `without a key, a lost response + retry creates 2 orders (got ${bareOrders})`);
    rows.push({ variant: 'no Idempotency-Key', orders_after_lost_response: bareOrders, replay_identical: '-', different_body: '-', concurrent_409: '-' });

    const stores: [string, IdempotencyKeyStore][] = [
      ['Redis store', new RedisIdempotencyKeyStore(redis, { prefix: `demo:idk:${process.pid}:` })],
      ['MySQL store', new MysqlIdempotencyKeyStore(pool)],
    ];
    for (const [name, store] of stores) {
      const user = `u-${name.split(' ')[0]}`;
      const url = await listen(
        withIdempotency((req, res) => route(req, res, (req as IdempotentRequest).rawBody as Buffer), {
          store,
          scope: (req) => req.headers['x-user'] as string,
        }),
      );
      // lost response, then two retries
      const key = `order-${process.pid}-${user}`;
      const retry1 = await lostResponseThenRetry(url, user, key);
      const body1 = Buffer.from(await retry1.arrayBuffer());
      const retry2 = await post(url, user, '{"sku":"A"}', key);
      const body2 = Buffer.from(await retry2.arrayBuffer());
      const orders = await countOrders(user);
      const identical = body1.equals(body2) && retry2.headers.get('location') === retry1.headers.get('location');
      d.check(orders === 1, `${name}: one order after a lost response and 2 retries (got ${orders})`);
      d.check(identical && retry2.headers.get('idempotent-replayed') === 'true', `${name}: replays are byte-for-byte identical and marked Idempotent-Replayed`);
      // same key, different body
      const other = await post(url, user, '{"sku":"B"}', key);
      d.check(other.status === 422, `${name}: the same key with a different body gets 422 (got ${other.status})`);
      // 10 concurrent duplicates of a fresh key while the first runs
      const key2 = `${key}-burst`;
      let release!: () => void;
      gate = new Promise((r) => {
        release = r;
      });
      const started = new Promise<void>((r) => {
        committed = r;
      });
      const firstP = post(url, user, '{"sku":"C"}', key2);
      await started;
      const dups = await Promise.all(Array.from({ length: CONCURRENT - 1 }, () => post(url, user, '{"sku":"C"}', key2)));
      release();
      const first = await firstP;
      const firstBody = Buffer.from(await first.arrayBuffer());
      const replay = Buffer.from(await (await post(url, user, '{"sku":"C"}', key2)).arrayBuffer());
      d.check(replay.equals(firstBody), `${name}: a replay equals the original response byte-for-byte (${firstBody.length} B)`);
      const conflicts = dups.filter((r) => r.status === 409).length;
      d.check(
        first.status === 201 && conflicts === CONCURRENT - 1,
        `${name}: ${CONCURRENT} concurrent requests → 1 runs, ${CONCURRENT - 1} get 409 (got ${conflicts})`,
      );
      d.check((await countOrders(user)) === 2, `${name}: the burst created exactly one more order`);
      rows.push({
        variant: `withIdempotency (${name})`,
        orders_after_lost_response: orders,
        replay_identical: identical ? `yes (${body1.length} B)` : 'NO',
        different_body: other.status,
        concurrent_409: `${conflicts}/${CONCURRENT - 1}`,
      });
    }
    gate = Promise.resolve();
    d.table(rows);
    return `no key: ${bareOrders} orders after a lost response; Redis and MySQL stores: 1 order, identical replays, 422 on a different body, ${CONCURRENT - 1}×409 in a burst`;
  },
});
