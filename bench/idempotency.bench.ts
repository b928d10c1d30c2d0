import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  hmacSha256Verifier,
  IdempotencyTokens,
  MysqlIdempotencyKeyStore,
  PaymentCallbackHandler,
  RedisIdempotencyKeyStore,
  withIdempotency,
} from '@gopherkit/patterns/idempotency';
import { createTestDatabase } from '@gopherkit/testkit';
import { defineSuite } from './harness/suite.js';

/**
 * Idempotency costs, measured end to end on real servers:
 * - tokens: issue + begin + complete per submit (3 Redis round trips, two of them Lua);
 * - Idempotency-Key over node:http (keep-alive fetch, one request per iteration): a first request
 *   (begin + complete) and a replay (one begin), Redis and MySQL stores, against the same handler
 *   without the middleware (the reference);
 * - payment callback: p50/p99 of a first delivery (verify, delivery log, one transaction, outcome
 *   update) over a run of fresh orders, next to the seed's target of < 50 ms (seed L7536); and the
 *   rate of verified duplicates.
 */
const CALLBACK_SAMPLES = 400;

export default defineSuite({
  reference: 'bare handler (node:http POST, no Idempotency-Key)',
  inProcess: false,
  async setup(b) {
    const db = await createTestDatabase({ prefix: 'gk_bench', connectionLimit: 12 });
    if (!db) throw new Error('the idempotency suite needs MySQL: set MYSQL_URL or run MariaDB/MySQL on 127.0.0.1:3306');
    b.defer(() => db.drop());
    const pool = db.pool;
    const redis = (await b.redis()).client();
    const prefix = `bench:idem:${process.pid}:`;

    // --- tokens
    const tokens = new IdempotencyTokens<{ orderNo: string }>(redis, { prefix });
    b.add('token issue + begin + complete', async () => {
      const t = await tokens.issueToken('u1');
      const o = await tokens.begin('u1', t);
      if (o.kind === 'started') await tokens.complete('u1', t, { orderNo: '42' }, { attempt: o.attempt });
    });
    const doneToken = await tokens.issueToken('u1');
    await tokens.run('u1', doneToken, async () => ({ orderNo: '42' }));
    b.add('token duplicate after DONE (begin → original result)', () => tokens.begin('u1', doneToken));

    // --- Idempotency-Key over HTTP
    const body = JSON.stringify({ sku: 'A', qty: 1, address: 'x'.repeat(200) });
    const handler = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"orderNo":"913102870839062528","status":"PENDING"}');
    };
    const listen = async (fn: (req: IncomingMessage, res: ServerResponse) => unknown) => {
      const server = createServer((req, res) => {
        // the bare handler must consume the body too, like any real POST handler
        if (fn === handler) req.resume().once('end', () => handler(req, res));
        else void fn(req, res);
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      b.defer(() => server.close());
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
    };
    const post = async (url: string, key?: string) => {
      const r = await fetch(url, { method: 'POST', body, headers: { 'x-user': 'u1', ...(key ? { 'idempotency-key': key } : {}) } });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`unexpected status ${r.status}`);
    };
    const bare = await listen(handler);
    // warm the keep-alive connection and the JIT first, so the reference is not the cold task
    for (let i = 0; i < 300; i++) await post(bare);
    b.add('bare handler (node:http POST, no Idempotency-Key)', () => post(bare));
    const scope = (req: IncomingMessage) => req.headers['x-user'] as string;
    for (const [name, store] of [
      ['Redis', new RedisIdempotencyKeyStore(redis, { prefix })],
      ['MySQL', new MysqlIdempotencyKeyStore(pool)],
    ] as const) {
      const url = await listen(withIdempotency(handler, { store, scope }));
      const replayKey = randomUUID();
      await post(url, replayKey);
      for (let i = 0; i < 100; i++) await post(url, randomUUID());
      b.add(`Idempotency-Key first request (${name} store)`, () => post(url, randomUUID()));
      b.add(`Idempotency-Key replay (${name} store)`, () => post(url, replayKey));
    }

    // --- payment callback
    const verifier = hmacSha256Verifier('bench-provider-secret-0123456789');
    const callbacks = new PaymentCallbackHandler({ pool, verifier });
    let seq = 0;
    const newPayment = async () => {
      const id = `B${process.pid}-${++seq}`;
      await pool.query("INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, 'u', 1999, 'PENDING', 0, 0)", [id]);
      await pool.query("INSERT INTO gk_payments (payment_no, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, 'PAYING', 0, 0)", [
        `P${id}`,
        id,
      ]);
      const b2 = JSON.stringify({ payment_no: `P${id}`, trade_no: `T${id}`, amount: '19.99', status: 'SUCCESS' });
      return { body: b2, signature: verifier.sign(b2) };
    };
    const samples = b.short ? 50 : CALLBACK_SAMPLES;
    const deliveries = [];
    for (let i = 0; i < samples; i++) deliveries.push(await newPayment());
    const lat: number[] = [];
    for (const dl of deliveries) {
      const t0 = performance.now();
      const r = await callbacks.handlePaymentCallback(dl);
      lat.push(performance.now() - t0);
      if (r.outcome !== 'paid') throw new Error(`callback outcome ${r.outcome}`);
    }
    lat.sort((x, y) => x - y);
    const pct = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] as number).toFixed(2));
    const dup = deliveries[0] as { body: string; signature: string };
    b.add('payment callback: verified duplicate (ACK, nothing written)', () => callbacks.handlePaymentCallback(dup));
    b.extra('payment callback: verified duplicate (ACK, nothing written)', {
      firstDeliveryP50Ms: pct(50),
      firstDeliveryP99Ms: pct(99),
      firstDeliverySamples: lat.length,
      seedTargetMs: 50,
    });
  },
});
