import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedis } from '@gopherkit/testkit';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { idempotencyMiddleware } from './http-middleware.js';
import { RedisIdempotencyKeyStore } from './redis-key-store.js';

// idempotencyMiddleware inside a real Express 5 app, next to the body parser users mount.

const redis = await startRedis();
const store = new RedisIdempotencyKeyStore(redis.client(), { prefix: `gk:test:express:${process.pid}:` });
const scope = (req: IncomingMessage) => req.headers['x-user'] as string | undefined;
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  await redis.stop();
});

type Order = { order: number; got: unknown };

async function app(mount: (a: express.Express) => void): Promise<{ url: string; runs: () => number }> {
  let runs = 0;
  const a = express();
  mount(a);
  a.post('/orders', (req, res) => {
    runs++;
    res.status(201).json({ order: runs, got: req.body });
  });
  a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  const server = a.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, runs: () => runs };
}

const post = (url: string, key: string, body: string) =>
  fetch(`${url}/orders`, { method: 'POST', body, headers: { 'x-user': 'erin', 'content-type': 'application/json', 'idempotency-key': key } });

async function contract(url: string, runs: () => number) {
  const key = randomUUID();
  const before = runs();
  const a = await post(url, key, '{"sku":"A","qty":2}');
  expect(a.status).toBe(201);
  const aBody = (await a.json()) as Order;
  expect(aBody.got).toEqual({ sku: 'A', qty: 2 }); // the route still sees the parsed body
  const b = await post(url, key, '{"sku":"A","qty":2}');
  expect(b.status).toBe(201);
  expect(b.headers.get('idempotent-replayed')).toBe('true');
  expect(await b.json()).toEqual(aBody);
  expect((await post(url, key, '{"sku":"B","qty":2}')).status).toBe(422);
  expect(runs()).toBe(before + 1);
}

describe('idempotencyMiddleware in Express', () => {
  it('mounted before express.json(): the body parser still gets the body (it is read without being consumed)', async () => {
    const { url, runs } = await app((a) => {
      a.use(idempotencyMiddleware({ store, scope }));
      a.use(express.json());
    });
    await contract(url, runs);
  });

  it('mounted after express.json() whose verify saved req.rawBody: the raw bytes are the fingerprint', async () => {
    const { url, runs } = await app((a) => {
      a.use(
        express.json({
          verify: (req, _res, buf) => {
            (req as { rawBody?: Buffer }).rawBody = Buffer.from(buf);
          },
        }),
      );
      a.use(idempotencyMiddleware({ store, scope }));
    });
    await contract(url, runs);
  });

  it('mounted after a plain express.json(): the parsed body is the fingerprint', async () => {
    const { url, runs } = await app((a) => {
      a.use(express.json());
      a.use(idempotencyMiddleware({ store, scope }));
    });
    await contract(url, runs);
  });

  it('a consumed body with nothing left to fingerprint is refused loudly, not treated as empty', async () => {
    const { url, runs } = await app((a) => {
      a.use(express.text({ type: () => true }));
      a.use((req, _res, next) => {
        delete (req as { body?: unknown }).body; // a parser that read the stream and kept nothing
        next();
      });
      a.use(idempotencyMiddleware({ store, scope }));
    });
    const r = await post(url, randomUUID(), '{"sku":"A"}');
    expect(r.status).toBe(500);
    expect(((await r.json()) as { error: string }).error).toMatch(/^req must be a request whose body is unread/);
    expect(runs()).toBe(0);
  });
});
