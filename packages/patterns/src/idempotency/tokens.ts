import { randomBytes } from 'node:crypto';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { loadScript, type RedisClient } from '@gopherkit/primitives/redis';
import { InProgressError, InvalidTokenError, StaleAttemptError } from './errors.js';

const beginScript = loadScript<[string, string?]>(new URL('./token-begin.lua', import.meta.url), 1);
const settleScript = loadScript<number>(new URL('./token-settle.lua', import.meta.url), 1);

/** Options of {@link IdempotencyTokens}. */
export interface IdempotencyTokensOptions {
  /** Key prefix (default `'gk:'`). */
  prefix?: string;
  /** How long an issued, unused token stays valid (default 30 min). */
  tokenTtlMs?: number;
  /**
   * How long one attempt may hold a token in PENDING (default 30 s). If the process dies
   * mid-request, the token becomes usable again after this, instead of being stranded.
   */
  pendingTtlMs?: number;
  /** How long the result of a DONE token is kept for duplicates (default 24 h). */
  doneTtlMs?: number;
}

/** Options of {@link IdempotencyTokens.complete} and {@link IdempotencyTokens.fail}. */
export interface SettleOptions {
  /** The attempt id from `begin`; when given, only that attempt may settle the token. */
  attempt?: string;
}

/** What {@link IdempotencyTokens.begin} found. */
export type BeginOutcome<T> =
  /** This request owns the token: do the work, then `complete` or `fail` with this `attempt`. */
  | { readonly kind: 'started'; readonly attempt: string }
  /** A previous request already finished: here is its result (send it back, do nothing else). */
  | { readonly kind: 'done'; readonly result: T };

const TOKEN_RE = /^[0-9a-f]{32}$/;

/**
 * Idempotency tokens for form resubmission (重复下单): the server issues a token with the form,
 * and the submit runs at most once per token. Per token, a small state machine in Redis
 * (`NEW → PENDING → DONE(result)`, and `PENDING → NEW` on failure), moved by Lua so two submits
 * can never both start.
 *
 * Fixes the seed's variants (seed L7199–7243, L8788–8845, L9184–9219): the token is not burned
 * before the order exists (a failure lets the user retry with the same token); a duplicate gets
 * **the original result**, not an error; the key is scoped per user, so one user cannot replay
 * another's token; a crash mid-request frees the token after `pendingTtlMs`.
 *
 * @example
 * ```ts
 * const tokens = new IdempotencyTokens(redis);
 * const token = await tokens.issueToken(userId);           // embed in the form
 * // on submit:
 * const order = await tokens.run(userId, token, () => createOrder(...));
 * ```
 */
export class IdempotencyTokens<T = unknown> {
  private readonly prefix: string;
  private readonly tokenTtlMs: number;
  private readonly pendingTtlMs: number;
  private readonly doneTtlMs: number;

  constructor(
    private readonly redis: RedisClient,
    options: IdempotencyTokensOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gk:';
    this.tokenTtlMs = assertInteger('tokenTtlMs', options.tokenTtlMs ?? 30 * 60_000, 1);
    this.pendingTtlMs = assertInteger('pendingTtlMs', options.pendingTtlMs ?? 30_000, 1);
    this.doneTtlMs = assertInteger('doneTtlMs', options.doneTtlMs ?? 24 * 3_600_000, 1);
  }

  private key(scope: string, token: string): string {
    assertNonEmptyString('scope', scope);
    if (typeof token !== 'string' || !TOKEN_RE.test(token))
      throw new InvalidArgumentError('token', 'a token from issueToken() (32 lowercase hex characters)', token);
    return `${this.prefix}idem:tok:${scope}:${token}`;
  }

  /** Issues a new random 128-bit token for `scope` (the user), valid for `tokenTtlMs`. */
  async issueToken(scope: string): Promise<string> {
    const token = randomBytes(16).toString('hex');
    const key = this.key(scope, token);
    // a hash, so the Lua scripts keep state, owner attempt and result together
    await this.redis.multi().hset(key, 's', 'NEW').pexpire(key, this.tokenTtlMs).exec();
    return token;
  }

  /**
   * Moves the token `NEW → PENDING` for this request. Throws {@link InProgressError} while
   * another request holds it, {@link InvalidTokenError} for unknown/expired/foreign tokens;
   * returns the original result when the token is already DONE.
   */
  async begin(scope: string, token: string): Promise<BeginOutcome<T>> {
    const attempt = randomBytes(8).toString('hex');
    const [state, payload] = await beginScript.run(this.redis, [this.key(scope, token)], [attempt, this.pendingTtlMs]);
    switch (state) {
      case 'STARTED':
        return { kind: 'started', attempt };
      case 'DONE':
        return { kind: 'done', result: JSON.parse(payload as string) as T };
      case 'PENDING':
        throw new InProgressError('this token');
      default:
        throw new InvalidTokenError(scope);
    }
  }

  /**
   * Stores `result` and moves the token `PENDING → DONE`; later duplicates receive `result`.
   * Pass the `attempt` that {@link IdempotencyTokens.begin} returned so an attempt whose pending
   * lease expired (and was taken over) cannot overwrite the new owner's outcome.
   */
  async complete(scope: string, token: string, result: T, options: SettleOptions = {}): Promise<void> {
    const json = JSON.stringify(result);
    if (json === undefined) throw new InvalidArgumentError('result', 'a JSON-serialisable value', result);
    await this.settle(scope, token, options.attempt, 'DONE', json);
  }

  /** Returns the token `PENDING → NEW` so the user can retry the same submit (nothing was done). */
  async fail(scope: string, token: string, options: SettleOptions = {}): Promise<void> {
    await this.settle(scope, token, options.attempt, 'NEW', '');
  }

  private async settle(scope: string, token: string, attempt: string | undefined, to: 'DONE' | 'NEW', result: string): Promise<void> {
    if (attempt !== undefined) assertNonEmptyString('attempt', attempt);
    const r = await settleScript.run(this.redis, [this.key(scope, token)], [attempt ?? '', to, result, this.doneTtlMs]);
    if (r === -1) throw new InvalidTokenError(scope);
    if (r === 0) throw new StaleAttemptError('this token');
  }

  /**
   * begin → `fn` → complete (or fail when `fn` throws, so the user may retry). Duplicates of a
   * finished submit get the original result; a concurrent duplicate gets {@link InProgressError}.
   */
  async run(scope: string, token: string, fn: () => Promise<T>): Promise<T> {
    const outcome = await this.begin(scope, token);
    if (outcome.kind === 'done') return outcome.result;
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await this.fail(scope, token, { attempt: outcome.attempt }).catch(() => {});
      throw e;
    }
    await this.complete(scope, token, result, { attempt: outcome.attempt });
    return result;
  }
}
