import { createHash } from 'node:crypto';

/** A response as it is stored for replay: status, headers and the exact body bytes. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** True when the body exceeded the store's size limit and was not kept (status and headers were). */
  readonly bodyOmitted?: boolean;
}

/** What a store found when a request with an Idempotency-Key arrived. */
export type KeyBeginOutcome =
  /** First time: run the handler, then `complete` (or `abort` on failure) with this attempt. */
  | { readonly kind: 'started'; readonly attempt: string }
  /** Finished before with the same request: send this response back byte-for-byte. */
  | { readonly kind: 'replay'; readonly response: StoredResponse };

/**
 * Storage behind the Idempotency-Key pattern (IETF httpapi Idempotency-Key draft). `begin`
 * throws `InProgressError` (409) while the first request runs and `KeyReuseError` (422) when the
 * key was used with a different request fingerprint. Keys are scoped per caller.
 */
export interface IdempotencyKeyStore {
  begin(scope: string, key: string, fingerprint: string): Promise<KeyBeginOutcome>;
  /** Stores the response; only the attempt that began may complete. */
  complete(scope: string, key: string, attempt: string, response: StoredResponse): Promise<void>;
  /** Forgets a failed execution so the client can retry (a failure is never stored as success). */
  abort(scope: string, key: string, attempt: string): Promise<void>;
}

/**
 * The request fingerprint the draft asks for: method, path and a hash of the body, so the same
 * key with another request is detected (422) instead of answered with the wrong response.
 */
export function requestFingerprint(request: { method: string; path: string; body?: Buffer | string }): string {
  const bodyHash = createHash('sha256')
    .update(request.body ?? '')
    .digest('hex');
  return createHash('sha256').update(`${request.method.toUpperCase()}\n${request.path}\n${bodyHash}`).digest('hex');
}

/** Serialises a response for a text store (body as base64, so every byte survives). */
export function encodeResponse(r: StoredResponse, maxBodyBytes: number): string {
  const omit = r.body.length > maxBodyBytes;
  return JSON.stringify({ s: r.status, h: r.headers, b: omit ? '' : r.body.toString('base64'), o: omit || undefined });
}

/** Inverse of {@link encodeResponse}. */
export function decodeResponse(text: string): StoredResponse {
  const j = JSON.parse(text) as { s: number; h: Record<string, string>; b: string; o?: boolean };
  return { status: j.s, headers: j.h, body: Buffer.from(j.b, 'base64'), ...(j.o ? { bodyOmitted: true } : {}) };
}
