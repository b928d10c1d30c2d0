import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { idempotencyMiddleware, withIdempotency } from './http-middleware.js';
import type { IdempotencyKeyStore } from './key-store.js';
import { RedisIdempotencyKeyStore } from './redis-key-store.js';

const redis = await startRedis();
const client = redis.client();
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  await redis.stop();
});
const store = new RedisIdempotencyKeyStore(client, { prefix: `gk:test:mw:${process.pid}:` });
const scope = (req: IncomingMessage) => req.headers['x-user'] as string | undefined;

async function listen(fn: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(fn);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const post = (url: string, key: string | null, body: string, user = 'alice', path = '/orders', signal?: AbortSignal) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    body,
    signal,
    headers: { 'x-user': user, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  });

describe('withIdempotency (node:http)', () => {
  let runs = 0;
  let mode: 'ok' | 'throw' | '500' = 'ok';
  let gate: Promise<void> = Promise.resolve();
  const urlP = listen(
    withIdempotency(
      async (req, res) => {
        runs++;
        await gate;
        if (mode === 'throw') throw new Error('boom');
        const n = runs;
        res.writeHead(mode === '500' ? 500 : 201, { 'content-type': 'application/json', 'x-order': String(n) });
        res.write('{"order":');
        res.end(`${n},"echo":${req.rawBody?.toString() || 'null'}}`);
      },
      { store, scope },
    ),
  );

  it('first request runs; a retry gets the same status, headers and bytes, marked as replayed', async () => {
    const url = await urlP;
    const key = randomUUID();
    const before = runs;
    const a = await post(url, key, '{"sku":"A"}');
    const aBody = await a.text();
    const b = await post(url, key, '{"sku":"A"}');
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(await b.text()).toBe(aBody);
    expect(b.headers.get('x-order')).toBe(a.headers.get('x-order'));
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(runs - before).toBe(1);
  });

  it('the same key with a different body or path gets 422; another user with the same key runs independently', async () => {
    const url = await urlP;
    const key = randomUUID();
    await (await post(url, key, '{"sku":"A"}')).text();
    expect((await post(url, key, '{"sku":"B"}')).status).toBe(422);
    expect((await post(url, key, '{"sku":"A"}', 'alice', '/refunds')).status).toBe(422);
    expect((await post(url, key, '{"sku":"B"}', 'bob')).status).toBe(201);
  });

  it('8 concurrent requests with one key while the first runs: 1 runs, 7 get 409 with Retry-After', async () => {
    const url = await urlP;
    const key = randomUUID();
    let open!: () => void;
    gate = new Promise((r) => {
      open = r;
    });
    const before = runs;
    const first = post(url, key, '{}');
    while (runs === before) await new Promise((r) => setImmediate(r)); // the first is inside the handler
    const dups = await Promise.all(Array.from({ length: 7 }, () => post(url, key, '{}')));
    open();
    expect((await first).status).toBe(201);
    for (const d of dups) {
      expect(d.status).toBe(409);
      expect(d.headers.get('retry-after')).toBe('1');
    }
    expect(runs - before).toBe(1);
    gate = Promise.resolve();
  });

  it('the client disconnects before the answer (lost response): the work is stored anyway and the retry gets it, not a second run', async () => {
    const url = await urlP;
    const key = randomUUID();
    let open!: () => void;
    gate = new Promise((r) => {
      open = r;
    });
    const before = runs;
    const ac = new AbortController();
    const lost = post(url, key, '{"sku":"L"}', 'alice', '/orders', ac.signal).catch((e: Error) => e);
    while (runs === before) await new Promise((r) => setImmediate(r));
    ac.abort(); // the client gives up while the order is being created
    expect(await lost).toBeInstanceOf(Error);
    open();
    let retry = await post(url, key, '{"sku":"L"}');
    while (retry.status === 409) retry = await post(url, key, '{"sku":"L"}'); // until the first finished
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(JSON.parse(await retry.text()).order).toBe(before + 1);
    expect(runs - before).toBe(1);
    gate = Promise.resolve();
  });

  it('a 5xx answer or a thrown handler is not stored: the retry runs the handler again', async () => {
    const url = await urlP;
    const key = randomUUID();
    const before = runs;
    mode = '500';
    expect((await post(url, key, '{}')).status).toBe(500);
    mode = 'throw';
    expect((await post(url, key, '{}')).status).toBe(500); // default onError
    mode = 'ok';
    const ok = await post(url, key, '{}');
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    expect(runs - before).toBe(3);
  });

  it('no header → runs without idempotency; a bad key → 400; no caller → 401', async () => {
    const url = await urlP;
    const before = runs;
    expect((await post(url, null, '{}')).status).toBe(201);
    expect((await post(url, null, '{}')).status).toBe(201);
    expect(runs - before).toBe(2);
    const bad = await post(url, 'has space', '{}');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/visible ASCII/);
    expect((await post(url, randomUUID(), '{}', '')).status).toBe(401);
  });

  it('required: a POST without the header is refused with 400', async () => {
    const url = await listen(withIdempotency((_q, s) => s.end('x'), { store, scope, required: true }));
    const r = await post(url, null, '{}');
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/requires an Idempotency-Key/);
  });
});

describe('idempotencyMiddleware (Express-style (req, res, next))', () => {
  it('replays through next() chains and refuses a reused key with 422', async () => {
    let runs = 0;
    const mw = idempotencyMiddleware({ store, scope });
    const route = (req: IncomingMessage, res: ServerResponse) => {
      runs++;
      res.statusCode = 201;
      res.setHeader('content-type', 'text/plain');
      res.end(`order ${runs} for ${(req as { rawBody?: Buffer }).rawBody?.toString()}`);
    };
    // a two-layer app the way Express runs it: middleware, then the route via next()
    const url = await listen((req, res) =>
      mw(req, res, (err) => {
        if (!err) return route(req, res);
        res.statusCode = 500;
        res.end(String(err));
      }),
    );
    const key = randomUUID();
    const a = await post(url, key, 'A');
    const aText = await a.text();
    const b = await post(url, key, 'A');
    expect(await b.text()).toBe(aText);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect((await post(url, key, 'B')).status).toBe(422);
    expect(runs).toBe(1);
  });
});

describe('the response is stored before it reaches the client', () => {
  it('a retry sent the moment the answer arrived replays it (complete() takes 100 ms here), for withIdempotency and the middleware', async () => {
    const slow: IdempotencyKeyStore = {
      begin: (...a) => store.begin(...a),
      abort: (...a) => store.abort(...a),
      complete: async (...a) => {
        await new Promise((r) => setTimeout(r, 100));
        return store.complete(...a);
      },
    };
    let runs = 0;
    const route = (_req: IncomingMessage, res: ServerResponse) => {
      runs++;
      res.statusCode = 201;
      res.end(`order ${runs}`);
    };
    const mw = idempotencyMiddleware({ store: slow, scope });
    const urls = [await listen(withIdempotency(route, { store: slow, scope })), await listen((req, res) => mw(req, res, () => route(req, res)))];
    for (const url of urls) {
      const key = randomUUID();
      const before = runs;
      const a = await post(url, key, 'A');
      const aText = await a.text();
      const b = await post(url, key, 'A');
      expect(b.status).toBe(201);
      expect(b.headers.get('idempotent-replayed')).toBe('true');
      expect(await b.text()).toBe(aText);
      expect(runs).toBe(before + 1);
    }
  });
});
