import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { startRedis } from '@gopherkit/testkit';
import Fastify from 'fastify';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { fastifyIdempotency } from './fastify-plugin.js';
import type { IdempotencyKeyStore } from './key-store.js';
import { RedisIdempotencyKeyStore } from './redis-key-store.js';

const redis = await startRedis();
const store = new RedisIdempotencyKeyStore(redis.client(), { prefix: `gk:test:fastify:${process.pid}:` });
const scope = (req: IncomingMessage) => req.headers['x-user'] as string | undefined;

let runs = 0;
let mode: 'ok' | 'throw' | '500' | 'stream' = 'ok';
let gate: Promise<void> = Promise.resolve();

const app = Fastify();
await app.register(fastifyIdempotency({ store, scope, maxRequestBytes: 1024 }));
app.post('/orders', async (req, reply) => {
  runs++;
  const n = runs;
  await gate;
  if (mode === 'throw') throw new Error('boom');
  if (mode === '500') return reply.code(503).send({ error: 'down' });
  if (mode === 'stream') return reply.type('text/plain').send(Readable.from([`order ${n}`]));
  return reply.code(201).header('x-order', String(n)).send({ order: n, echo: req.body });
});
app.get('/orders', async () => ({ runs }));
const url = await app.listen({ port: 0, host: '127.0.0.1' });

afterAll(async () => {
  await app.close();
  await redis.stop();
});

beforeEach(() => {
  mode = 'ok';
  gate = Promise.resolve();
});

const post = (key: string | null, body: unknown, user = 'alice') =>
  app.inject({
    method: 'POST',
    url: '/orders',
    payload: body as string,
    headers: { 'x-user': user, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  });

describe('fastifyIdempotency', () => {
  it('first request runs; a retry gets the same status, headers and body, marked as replayed', async () => {
    const key = randomUUID();
    const before = runs;
    const a = await post(key, { sku: 'A' });
    const b = await post(key, { sku: 'A' });
    expect(a.statusCode).toBe(201);
    expect(a.json()).toEqual({ order: before + 1, echo: { sku: 'A' } });
    expect(b.statusCode).toBe(201);
    expect(b.body).toBe(a.body);
    expect(b.headers['x-order']).toBe(a.headers['x-order']);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(a.headers['idempotent-replayed']).toBeUndefined();
    expect(runs).toBe(before + 1);
  });

  it('the same key with another body is 422, under another caller it is a different key', async () => {
    const key = randomUUID();
    await post(key, { sku: 'A' });
    const other = await post(key, { sku: 'B' });
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    const before = runs;
    const bob = await post(key, { sku: 'B' }, 'bob');
    expect(bob.statusCode).toBe(201);
    expect(runs).toBe(before + 1);
  });

  it('the fingerprint is over the raw bytes: the same JSON with other spacing is another request', async () => {
    const key = randomUUID();
    expect((await post(key, '{"sku":"A"}')).statusCode).toBe(201);
    expect((await post(key, '{ "sku": "A" }')).statusCode).toBe(422);
  });

  it('a thrown handler or a 5xx is not stored: the retry runs again', async () => {
    for (const m of ['throw', '500'] as const) {
      const key = randomUUID();
      mode = m;
      const before = runs;
      const a = await post(key, { sku: 'A' });
      expect(a.statusCode).toBeGreaterThanOrEqual(500);
      mode = 'ok';
      const b = await post(key, { sku: 'A' });
      expect(b.statusCode).toBe(201);
      expect(b.headers['idempotent-replayed']).toBeUndefined();
      expect(runs).toBe(before + 2);
    }
  });

  it('a streamed reply passes through but is not stored', async () => {
    const key = randomUUID();
    mode = 'stream';
    const a = await post(key, { sku: 'A' });
    expect(a.body).toMatch(/^order \d+$/);
    const b = await post(key, { sku: 'A' });
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body).not.toBe(a.body);
  });

  it('20 concurrent duplicates over real sockets: one runs, the rest get 409 with Retry-After, later retries replay', async () => {
    const key = randomUUID();
    let open!: () => void;
    gate = new Promise<void>((r) => {
      open = r;
    });
    const before = runs;
    const send = () =>
      fetch(`${url}/orders`, {
        method: 'POST',
        body: '{"sku":"C"}',
        headers: { 'x-user': 'carol', 'content-type': 'application/json', 'idempotency-key': key },
      });
    const first = send();
    while (runs === before) await new Promise((r) => setImmediate(r));
    const dups = await Promise.all(Array.from({ length: 19 }, send));
    for (const d of dups) {
      expect(d.status).toBe(409);
      expect(d.headers.get('retry-after')).toBe('1');
    }
    open();
    const a = await first;
    expect(a.status).toBe(201);
    const body = await a.text();
    const retries = await Promise.all(Array.from({ length: 10 }, send));
    for (const r of retries) {
      expect(r.status).toBe(201);
      expect(r.headers.get('idempotent-replayed')).toBe('true');
      expect(await r.text()).toBe(body);
    }
    expect(runs).toBe(before + 1);
  });

  it('missing header: runs without idempotency; unauthenticated: 401; body over the limit: 413; GET untouched', async () => {
    const before = runs;
    await post(null, { sku: 'A' });
    await post(null, { sku: 'A' });
    expect(runs).toBe(before + 2);
    expect((await post(randomUUID(), { sku: 'A' }, '')).statusCode).toBe(401);
    const big = await post(randomUUID(), JSON.stringify({ pad: 'x'.repeat(2000) }));
    expect(big.statusCode).toBe(413);
    expect(runs).toBe(before + 2);
    expect((await app.inject({ method: 'GET', url: '/orders', headers: { 'idempotency-key': randomUUID() } })).statusCode).toBe(200);
  });

  it('the reply is stored before it is sent: a retry the moment it arrived replays it (complete() takes 100 ms here)', async () => {
    const slow: IdempotencyKeyStore = {
      begin: (...a) => store.begin(...a),
      abort: (...a) => store.abort(...a),
      complete: async (...a) => {
        await new Promise((r) => setTimeout(r, 100));
        return store.complete(...a);
      },
    };
    const slowApp = Fastify();
    await slowApp.register(fastifyIdempotency({ store: slow, scope }));
    let n = 0;
    slowApp.post('/x', async (_req, reply) => reply.code(201).send({ order: ++n }));
    const key = randomUUID();
    const send = () => slowApp.inject({ method: 'POST', url: '/x', payload: { a: 1 }, headers: { 'x-user': 'dave', 'idempotency-key': key } });
    const a = await send();
    const b = await send();
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.body).toBe(a.body);
    expect(n).toBe(1);
    await slowApp.close();
  });

  it('required: a POST without the header is 400; bad options are refused with a clear error', async () => {
    const strict = Fastify();
    await strict.register(fastifyIdempotency({ store, scope, required: true }));
    strict.post('/x', async () => ({ ok: true }));
    const r = await strict.inject({ method: 'POST', url: '/x', payload: {}, headers: { 'x-user': 'a' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().detail).toBe('POST requires an Idempotency-Key header');
    await strict.close();
    expect(() => fastifyIdempotency({ store } as never)).toThrow('options must be an object with `store` and a `scope(req)` function');
    expect(() => fastifyIdempotency({ store, scope, maxRequestBytes: -1 })).toThrow('maxRequestBytes must be a non-negative integer');
  });
});
