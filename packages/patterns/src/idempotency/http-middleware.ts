import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { beginRefusal, type HttpContract, httpContract, idempotencyKeyOf, problemBody, replayHeaders, storedHeaders } from './http-contract.js';
import { type IdempotencyKeyStore, requestFingerprint, type StoredResponse } from './key-store.js';

/** Options of {@link withIdempotency} and {@link idempotencyMiddleware}. */
export interface IdempotencyHttpOptions {
  /** Where keys and responses live (Redis or MySQL store). */
  store: IdempotencyKeyStore;
  /**
   * The caller the key belongs to (tenant, user, API client), e.g. from the authenticated
   * session. Keys are only unique per caller: without a scope, one caller could replay another's
   * response. Return `undefined` to answer 401.
   */
  scope: (req: IncomingMessage) => string | undefined;
  /** Methods the header applies to (default POST and PATCH: the non-idempotent ones). */
  methods?: readonly string[];
  /** Answer 400 when the header is missing on such a method (default false: run without idempotency). */
  required?: boolean;
  /** Largest request body read for the fingerprint (default 1 MiB; larger → 413). */
  maxRequestBytes?: number;
  /**
   * {@link withIdempotency} only: called when the handler or the store throws (after the key was
   * released, so the client's retry runs again). Default: answer 500 if nothing was sent yet.
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

/** A request after the middleware read it: the raw body bytes, for handlers (the stream is consumed). */
export type IdempotentRequest = IncomingMessage & {
  /** The request body as read by the middleware. */
  rawBody?: Buffer;
};

/**
 * Wraps a `node:http` handler with the Idempotency-Key pattern (IETF httpapi draft): the first
 * request with a key runs and its response (status, headers, exact body bytes) is stored; a
 * retry with the same key and the same method, path and body gets that response again with
 * `Idempotent-Replayed: true`; the same key with another request gets 422; a duplicate while the
 * first still runs gets 409 with `Retry-After`. A handler that throws or answers 5xx is not
 * stored, so the client's retry runs it again.
 *
 * The body is read here (for the fingerprint) and handed to the handler as `req.rawBody`.
 */
export function withIdempotency(
  handler: (req: IdempotentRequest, res: ServerResponse) => unknown,
  options: IdempotencyHttpOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const cfg = httpContract(options);
  const onError =
    options.onError ??
    ((_e: unknown, _req: IncomingMessage, res: ServerResponse) => {
      if (!res.headersSent) problem(res, 500, 'internal error');
      else if (!res.writableEnded) res.destroy();
    });
  // node:http ignores the handler's promise: every error must end here, never as an unhandled rejection
  return async (req, res) => {
    try {
      await runIdempotent(req as IdempotentRequest, res, cfg, async () => {
        await handler(req as IdempotentRequest, res);
      });
    } catch (e) {
      onError(e, req, res);
    }
  };
}

/**
 * The same as {@link withIdempotency} as Express-style middleware `(req, res, next)`. Mount it
 * before body parsers: it reads the raw body for the fingerprint without consuming it, so
 * `express.json()` after it parses as usual (and the bytes are on `req.rawBody`). Mounted after
 * a parser, it fingerprints `req.rawBody` if the parser's `verify` saved it, else the parsed
 * `req.body` as JSON. Errors reach `next(err)`. The route's end is only visible as
 * the response finishing: if the client disconnects before the route answered, the key is
 * released (the retry runs again), unlike {@link withIdempotency}, which awaits the handler.
 */
export function idempotencyMiddleware(options: IdempotencyHttpOptions): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const cfg = httpContract(options);
  return (req, res, next) => {
    let called = false;
    runIdempotent(req as IdempotentRequest, res, cfg, () => {
      called = true;
      // the handler chain runs after next(); the response is captured when it ends
      next();
      return new Promise<void>((resolve) => res.once('finish', resolve).once('close', resolve));
    }).catch((e: unknown) => {
      if (!called) next(e);
    });
  };
}

async function runIdempotent(req: IdempotentRequest, res: ServerResponse, cfg: HttpContract, next: () => Promise<void>): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const key = idempotencyKeyOf(req.headers);
  if (!cfg.methods.includes(method) || key === undefined) {
    if (key === undefined && cfg.required && cfg.methods.includes(method)) return problem(res, 400, `${method} requires an Idempotency-Key header`);
    return next();
  }
  const scope = cfg.scope(req);
  if (!scope) return problem(res, 401, 'Idempotency-Key requires an authenticated caller');
  let body: Buffer;
  try {
    body = req.rawBody ?? consumedBody(req) ?? (await readBody(req, cfg.maxRequestBytes));
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    return problem(res, 413, `request body is larger than ${cfg.maxRequestBytes} bytes`);
  }
  req.rawBody = body;
  const path = (req.url ?? '/').split('?')[0] as string;
  let outcome: Awaited<ReturnType<IdempotencyKeyStore['begin']>>;
  try {
    outcome = await cfg.store.begin(scope, key, requestFingerprint({ method, path, body }));
  } catch (e) {
    const refusal = beginRefusal(e);
    if (refusal === undefined) throw e;
    return problem(res, refusal.status, refusal.detail, refusal.headers);
  }
  if (outcome.kind === 'replay') return replay(res, outcome.response);
  const attempt = outcome.attempt;
  // Settle the key when the handler ends the response and before the last bytes go out: a client
  // that got the answer and retries at once must find it stored, not get a 409.
  const captured = capture(res, (response) =>
    response.status >= 500 ? cfg.store.abort(scope, key, attempt) : cfg.store.complete(scope, key, attempt, response),
  );
  try {
    await next();
  } catch (e) {
    if (!captured.ended) await cfg.store.abort(scope, key, attempt).catch(() => {});
    throw e;
  }
  if (!captured.ended) await cfg.store.abort(scope, key, attempt);
  else await captured.settled;
}

/**
 * The body when a parser mounted earlier already read the stream: its parsed `req.body` (as JSON,
 * so the same request gives the same fingerprint), or `undefined` when the stream is unread.
 * A consumed body with nothing left to fingerprint would make every request look alike, so that
 * is refused loudly.
 */
function consumedBody(req: IdempotentRequest): Buffer | undefined {
  if (!req.readableEnded) return undefined;
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined) return Buffer.from(typeof parsed === 'string' ? parsed : JSON.stringify(parsed));
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return Buffer.alloc(0);
  throw new InvalidArgumentError(
    'req',
    'a request whose body is unread (mount the middleware before body parsers) or was read by a parser that left req.rawBody or req.body',
    'a request whose body stream was consumed',
  );
}

/**
 * Reads the whole body **without consuming it**: the bytes are read in paused mode and put back
 * with `unshift` before the stream ends, so a body parser mounted after the middleware
 * (`express.json()`) or the handler itself reads them again as if nobody had looked. The HTTP
 * parser sets `req.complete` once the last body byte was pushed; reading only what is buffered
 * (never an empty `read()`) keeps the stream from emitting `end` meanwhile.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error) => {
      req.off('readable', onReadable);
      req.off('error', onError);
      if (error) return reject(error);
      const body = Buffer.concat(chunks);
      if (body.length > 0) req.unshift(body);
      resolve(body);
    };
    const onError = (e: Error) => done(e);
    const onReadable = () => {
      while (req.readableLength > 0) {
        const c = req.read(req.readableLength) as Buffer | null;
        if (c === null) break;
        size += c.length;
        if (size > limit) {
          req.off('readable', onReadable);
          req.off('error', onError);
          req.resume(); // drain the rest; the caller answers 413
          return reject(new Error('body too large'));
        }
        chunks.push(c);
      }
      if (req.complete) done();
    };
    req.on('readable', onReadable);
    req.on('error', onError);
    if (req.complete && req.readableLength === 0) done();
  });
}

/**
 * Records what the handler sends. When the handler calls `end()`, `settle(response)` runs first
 * and the real `end()` after it — even if the client is already gone: the work is done, and the
 * client's retry must get this response, not run the work again. `settled` rejects with
 * `settle`'s error (after the response was ended anyway).
 */
function capture(res: ServerResponse, settle: (r: StoredResponse) => Promise<void>): { readonly ended: boolean; readonly settled: Promise<void> } {
  const chunks: Buffer[] = [];
  let ended = false;
  let settled: Promise<void> = Promise.resolve();
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  const writeHead = res.writeHead.bind(res);
  const toBuffer = (c: unknown, enc?: unknown) =>
    Buffer.isBuffer(c) ? c : Buffer.from(c as string, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8');
  // headers passed to writeHead() directly never show up in getHeaders(): move them there first
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    const headers = typeof a === 'string' ? b : a;
    if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
      for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v as string);
      return typeof a === 'string' ? writeHead(status, a) : writeHead(status);
    }
    return (writeHead as (...x: unknown[]) => ServerResponse)(status, a, b);
  }) as typeof res.writeHead;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (chunk != null && typeof chunk !== 'function') chunks.push(toBuffer(chunk, rest[0]));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (ended) return (end as (...a: unknown[]) => ServerResponse)(chunk, ...rest);
    ended = true;
    if (chunk != null && typeof chunk !== 'function') chunks.push(toBuffer(chunk, rest[0]));
    const headers = storedHeaders(res.getHeaders());
    const finish = () => (end as (...a: unknown[]) => ServerResponse)(chunk, ...rest);
    settled = settle({ status: res.statusCode, headers, body: Buffer.concat(chunks) }).then(
      () => {
        finish();
      },
      (e: unknown) => {
        finish();
        throw e;
      },
    );
    settled.catch(() => {}); // observed by runIdempotent; never an unhandled rejection meanwhile
    return res;
  }) as typeof res.end;
  return {
    get ended() {
      return ended;
    },
    get settled() {
      return settled;
    },
  };
}

function replay(res: ServerResponse, r: StoredResponse): void {
  res.statusCode = r.status;
  for (const [k, v] of Object.entries(replayHeaders(r))) res.setHeader(k, v);
  res.end(r.body);
}

function problem(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/problem+json');
  res.end(problemBody({ status, detail }));
}
