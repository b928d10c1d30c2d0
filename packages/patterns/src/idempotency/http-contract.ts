import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { IdempotencyError } from './errors.js';
import type { IdempotencyHttpOptions } from './http-middleware.js';
import type { IdempotencyKeyStore, StoredResponse } from './key-store.js';

// The Idempotency-Key HTTP contract shared by the node:http/Express middleware and the Fastify
// plugin: option checks, which requests it applies to, and the answers it gives.

/** Validated options of an HTTP adapter. @internal */
export interface HttpContract {
  store: IdempotencyKeyStore;
  scope: IdempotencyHttpOptions['scope'];
  methods: string[];
  required: boolean;
  maxRequestBytes: number;
}

/** @internal */
export function httpContract(o: Omit<IdempotencyHttpOptions, 'onError'>): HttpContract {
  if (!o?.store || typeof o.scope !== 'function') throw new InvalidArgumentError('options', 'an object with `store` and a `scope(req)` function', o);
  const maxRequestBytes = o.maxRequestBytes ?? 1 << 20;
  if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 0)
    throw new InvalidArgumentError('maxRequestBytes', 'a non-negative integer', maxRequestBytes);
  return {
    store: o.store,
    scope: o.scope,
    methods: (o.methods ?? ['POST', 'PATCH']).map((m) => m.toUpperCase()),
    required: o.required ?? false,
    maxRequestBytes,
  };
}

/** The request's Idempotency-Key header (the first one if repeated). @internal */
export function idempotencyKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const h = headers['idempotency-key'];
  return Array.isArray(h) ? h[0] : h;
}

/** An error answer: status, `application/problem+json` body and any extra headers. @internal */
export interface Problem {
  status: number;
  detail: string;
  headers?: Record<string, string>;
}

/** The JSON body of a {@link Problem}. @internal */
export function problemBody(p: Problem): string {
  return JSON.stringify({ status: p.status, detail: p.detail });
}

/** What `store.begin` threw, as the answer to send; `undefined` for a failure to pass on. @internal */
export function beginRefusal(error: unknown): Problem | undefined {
  if (error instanceof IdempotencyError) {
    return { status: error.httpStatus, detail: error.message, ...(error.httpStatus === 409 ? { headers: { 'retry-after': '1' } } : {}) };
  }
  if (error instanceof InvalidArgumentError) return { status: 400, detail: error.message };
  return undefined;
}

/** The headers a replay is sent with: the stored ones (minus length and date) plus the replay markers. @internal */
export function replayHeaders(r: StoredResponse): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (k !== 'content-length' && k !== 'date') headers[k] = v;
  headers['idempotent-replayed'] = 'true';
  if (r.bodyOmitted) headers['idempotent-body-omitted'] = 'true';
  return headers;
}

/** Response headers as stored: one string per name. @internal */
export function storedHeaders(headers: OutgoingHttpHeaders | Record<string, number | string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}
