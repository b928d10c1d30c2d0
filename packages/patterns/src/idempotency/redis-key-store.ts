import { randomBytes } from 'node:crypto';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { loadScript, type RedisClient } from '@gopherkit/primitives/redis';
import { InProgressError, KeyReuseError, StaleAttemptError } from './errors.js';
import { decodeResponse, encodeResponse, type IdempotencyKeyStore, type KeyBeginOutcome, type StoredResponse } from './key-store.js';

const beginScript = loadScript<[string, string?]>(new URL('./key-begin.lua', import.meta.url), 1);
const settleScript = loadScript<number>(new URL('./key-settle.lua', import.meta.url), 1);

/** Options of {@link RedisIdempotencyKeyStore}. */
export interface RedisIdempotencyKeyStoreOptions {
  /** Key prefix (default `'gk:'`). */
  prefix?: string;
  /** How long a stored response is kept for replays; Redis expires it afterwards (default 24 h). */
  retentionMs?: number;
  /** How long the first request may run before a crash is assumed and the key is freed (default 60 s). */
  lockTtlMs?: number;
  /** Bodies larger than this are not stored (status and headers are; default 1 MiB). */
  maxResponseBytes?: number;
}

/** Idempotency-Key storage in Redis: one hash per (scope, key), moved by Lua. */
export class RedisIdempotencyKeyStore implements IdempotencyKeyStore {
  private readonly prefix: string;
  private readonly retentionMs: number;
  private readonly lockTtlMs: number;
  private readonly maxResponseBytes: number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisIdempotencyKeyStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gk:';
    this.retentionMs = assertInteger('retentionMs', options.retentionMs ?? 24 * 3_600_000, 1);
    this.lockTtlMs = assertInteger('lockTtlMs', options.lockTtlMs ?? 60_000, 1);
    this.maxResponseBytes = assertInteger('maxResponseBytes', options.maxResponseBytes ?? 1 << 20, 0);
  }

  private redisKey(scope: string, key: string): string {
    assertNonEmptyString('scope', scope);
    validateIdempotencyKey(key);
    return `${this.prefix}idem:key:${scope}:${key}`;
  }

  async begin(scope: string, key: string, fingerprint: string): Promise<KeyBeginOutcome> {
    assertNonEmptyString('fingerprint', fingerprint);
    const attempt = randomBytes(8).toString('hex');
    const [state, payload] = await beginScript.run(this.redis, [this.redisKey(scope, key)], [fingerprint, attempt, this.lockTtlMs]);
    if (state === 'STARTED') return { kind: 'started', attempt };
    if (state === 'DONE') return { kind: 'replay', response: decodeResponse(payload as string) };
    if (state === 'MISMATCH') throw new KeyReuseError(key);
    throw new InProgressError(`Idempotency-Key ${JSON.stringify(key)}`);
  }

  async complete(scope: string, key: string, attempt: string, response: StoredResponse): Promise<void> {
    const r = await settleScript.run(
      this.redis,
      [this.redisKey(scope, key)],
      [attempt, 'DONE', encodeResponse(response, this.maxResponseBytes), this.retentionMs],
    );
    if (r !== 1) throw new StaleAttemptError(`Idempotency-Key ${JSON.stringify(key)}`);
  }

  async abort(scope: string, key: string, attempt: string): Promise<void> {
    await settleScript.run(this.redis, [this.redisKey(scope, key)], [attempt, 'ABORT', '', 0]);
  }
}

/** Keys are opaque client strings; the draft suggests UUIDs. Bound the length and charset so they are safe in any store. */
export function validateIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new InvalidArgumentError('Idempotency-Key', 'a non-empty string of at most 255 visible ASCII characters (e.g. a UUID)', key);
  }
  return key;
}
