import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { beginRefusal, httpContract, idempotencyKeyOf, problemBody, replayHeaders, storedHeaders } from './http-contract.js';
import type { IdempotencyHttpOptions } from './http-middleware.js';
import { type IdempotencyKeyStore, requestFingerprint } from './key-store.js';

// The few parts of Fastify's request, reply and instance this plugin touches, typed structurally:
// @gopherkit/patterns does not depend on fastify (a real FastifyInstance satisfies these).

/** The parts of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: IncomingMessage;
}

/** The parts of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  statusCode: number;
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  getHeaders(): Record<string, number | string | string[] | undefined>;
  send(payload?: unknown): FastifyReplyLike;
}

/** The hook registration of a Fastify instance, as the plugin uses it. */
export interface FastifyInstanceLike {
  addHook(name: 'preParsing', hook: (req: FastifyRequestLike, reply: FastifyReplyLike, payload: NodeJS.ReadableStream) => Promise<unknown>): unknown;
  addHook(name: 'preHandler', hook: (req: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown;
  addHook(name: 'onSend', hook: (req: FastifyRequestLike, reply: FastifyReplyLike, payload: unknown) => Promise<unknown>): unknown;
  addHook(name: 'onResponse' | 'onRequestAbort', hook: (req: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}

/** Options of {@link fastifyIdempotency}: those of the `node:http` middleware, minus `onError` (Fastify's error handler answers). */
export type IdempotencyFastifyOptions = Omit<IdempotencyHttpOptions, 'onError'>;

/** A Fastify plugin function (registered without encapsulation, so its hooks cover the routes of the scope it is registered in). */
export type FastifyIdempotencyPlugin = ((instance: FastifyInstanceLike, options: unknown) => Promise<void>) & { [key: symbol]: unknown };

/** What the plugin keeps per request between its hooks. */
interface KeyState {
  scope: string;
  key: string;
  attempt: string;
  settled?: boolean;
}

/**
 * The Idempotency-Key pattern of {@link withIdempotency} for Fastify: register it with
 * `app.register(fastifyIdempotency({ store, scope }))` and every route of that scope gets the
 * same contract — the first request with a key runs and its response (status, headers, body
 * bytes) is stored; a retry with the same key and request gets it back with
 * `Idempotent-Replayed: true`; the same key with another request → 422; a duplicate while the first
 * still runs → 409 with `Retry-After`; a handler that throws or answers 5xx is not stored.
 *
 * The fingerprint hashes the raw body bytes, read in `preParsing` and handed on to Fastify's
 * parser unchanged. The response is stored in `onSend`, before it goes out, so a client that
 * retries the moment it got it finds it stored. A response sent as a stream is passed through
 * but not stored (the key is released, so a retry runs again): reply with a string, Buffer or
 * object on idempotent routes. If the client disconnects first, the key is released as well.
 */
export function fastifyIdempotency(options: IdempotencyFastifyOptions): FastifyIdempotencyPlugin {
  const { store, methods, required, maxRequestBytes } = httpContract(options);
  const state = new WeakMap<FastifyRequestLike, KeyState>();
  const rawBodies = new WeakMap<FastifyRequestLike, Buffer>();
  const applies = (req: FastifyRequestLike) => methods.includes(req.method.toUpperCase()) && idempotencyKeyOf(req.headers) !== undefined;

  const release = async (s: KeyState) => {
    if (s.settled) return;
    s.settled = true;
    await store.abort(s.scope, s.key, s.attempt).catch(() => {});
  };

  const plugin = async (app: FastifyInstanceLike): Promise<void> => {
    // Keep the exact body bytes for the fingerprint, then give the parser the same bytes.
    app.addHook('preParsing', async (req, _reply, payload) => {
      if (!applies(req)) return payload;
      const body = await readAll(payload, maxRequestBytes);
      if (body === null) throw Object.assign(new Error(`request body is larger than ${maxRequestBytes} bytes`), { statusCode: 413 });
      rawBodies.set(req, body);
      return Readable.from([body]);
    });

    app.addHook('preHandler', async (req, reply) => {
      const method = req.method.toUpperCase();
      if (!methods.includes(method)) return;
      const key = idempotencyKeyOf(req.headers);
      if (key === undefined) {
        if (required) return problem(reply, 400, `${method} requires an Idempotency-Key header`);
        return;
      }
      const scope = options.scope(req.raw);
      if (!scope) return problem(reply, 401, 'Idempotency-Key requires an authenticated caller');
      const body = rawBodies.get(req) ?? Buffer.alloc(0); // preParsing read it
      const path = req.url.split('?')[0] as string;
      let outcome: Awaited<ReturnType<IdempotencyKeyStore['begin']>>;
      try {
        outcome = await store.begin(scope, key, requestFingerprint({ method, path, body }));
      } catch (e) {
        const refusal = beginRefusal(e);
        if (refusal === undefined) throw e;
        return problem(reply, refusal.status, refusal.detail, refusal.headers);
      }
      if (outcome.kind === 'replay') {
        reply.code(outcome.response.status);
        for (const [k, v] of Object.entries(replayHeaders(outcome.response))) reply.header(k, v);
        reply.send(outcome.response.body);
        return reply;
      }
      state.set(req, { scope, key, attempt: outcome.attempt });
    });

    // The serialized payload is what the client receives. Store it here, before it is sent: a
    // client that got the response and retries at once must find it stored, never a 409.
    app.addHook('onSend', async (req, reply, payload) => {
      const s = state.get(req);
      if (!s || s.settled) return payload;
      const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : payload == null ? Buffer.alloc(0) : null;
      if (body === null || reply.statusCode >= 500) {
        await release(s); // a stream cannot be stored; a failure must not be
        return payload;
      }
      const headers = storedHeaders(reply.getHeaders());
      s.settled = true;
      try {
        await store.complete(s.scope, s.key, s.attempt, { status: reply.statusCode, headers, body });
      } catch {
        // The work is done and the answer goes out; only the record failed. Free the key rather
        // than leave it "in progress" until its TTL.
        await store.abort(s.scope, s.key, s.attempt).catch(() => {});
      }
      return payload;
    });

    // Safety net: a request that ended without passing onSend with its attempt open.
    app.addHook('onResponse', async (req) => {
      const s = state.get(req);
      if (s) await release(s);
    });

    app.addHook('onRequestAbort', async (req) => {
      const s = state.get(req);
      if (s) await release(s);
    });
  };
  // What fastify-plugin sets: the hooks apply to the scope the plugin is registered in, not to a child.
  const named = plugin as unknown as FastifyIdempotencyPlugin;
  named[Symbol.for('skip-override')] = true;
  named[Symbol.for('fastify.display-name')] = 'gopherkit-idempotency';
  return named;
}

/** Reads a stream to the end; `null` when it is longer than `limit` (the rest is drained). */
async function readAll(payload: NodeJS.ReadableStream, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const c of payload as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > limit) tooLarge = true;
    else chunks.push(b);
  }
  return tooLarge ? null : Buffer.concat(chunks);
}

function problem(reply: FastifyReplyLike, status: number, detail: string, headers: Record<string, string> = {}): FastifyReplyLike {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  reply.code(status).header('content-type', 'application/problem+json').send(problemBody({ status, detail }));
  return reply;
}
