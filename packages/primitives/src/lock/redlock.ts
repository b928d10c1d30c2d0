import { DeadlineExceededError } from '../context/index.js';
import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { loadScript, type RedisClient } from '../redis/index.js';
import { type InstanceOutcome, LockBusyError, QuorumError } from './errors.js';
import { Lease, type LeaseBackend, type LockLease, type OwnerCheck, runHoldingLease } from './lease.js';
import { checkKey, checkTtl, checkWatchdog, driftMs, type LockAcquireOptions, withTimeout } from './options.js';
import { acquireWithRetry, type LockSettings, lockKeys, lockSettings, newToken, ownerCheck, type RedisLockOptions } from './redis-lock.js';

const releaseScript = loadScript<number>(new URL('./release.lua', import.meta.url), 1, 'lock-release');
const extendScript = loadScript<number>(new URL('./extend.lua', import.meta.url), 1, 'lock-extend');

/** Options of {@link Redlock}. */
export interface RedlockOptions extends Omit<RedisLockOptions, 'fencing'> {
  /**
   * Upper bound of one call to one instance, ms; keep it far below the TTL so a dead or hung
   * instance costs little of the validity. Default `max(50, ttl·0.05)` per acquire.
   */
  instanceTimeoutMs?: number;
  /**
   * The one instance that issues fencing tokens (`INCR <prefix>fence:{key}`), typically a Redis
   * with `appendfsync always`, or not one of the lock instances at all. Without it,
   * `lease.fence` is `undefined`: a counter kept on a majority of the lock instances would not be
   * monotonic across failover (see the guide), so Redlock does not pretend to have one. With it,
   * acquire fails when that instance is down rather than hand out an unfenced lease.
   */
  fencingClient?: RedisClient;
}

type Answer = { outcome: InstanceOutcome['outcome']; error?: unknown };

function addressOf(client: RedisClient, i: number): string {
  const o = (client as { options?: { host?: string; port?: number } }).options;
  return o?.host !== undefined && o.port !== undefined ? `${o.host}:${o.port}` : `instance ${i}`;
}

/**
 * Redlock: one lock over N independent Redis masters (3 or 5, no replication between them).
 * Acquire sends `SET NX PX` to every instance **in parallel**, each bounded by
 * `instanceTimeoutMs`; it succeeds when a majority (⌊N/2⌋+1) said yes and
 * `validity = ttl − elapsed − drift` (drift = ttl·driftFactor + 2 ms) is still positive.
 * Otherwise it deletes its token everywhere (compare-and-delete: never a bare DEL, unlike seed
 * L3190) and retries with jitter. Extend and release need a majority too.
 *
 * Failures are typed: contention → {@link LockBusyError}; too few instances answering in time →
 * {@link QuorumError} with each instance's outcome. The same {@link LockLease} as
 * {@link RedisLock} comes back, watchdog and loss signal included.
 *
 * Limits (read the guide before relying on it): Redlock's safety assumes bounded clock drift and
 * process pauses shorter than the validity; an instance that restarts without persistence
 * within a TTL can grant the lock twice. Fencing needs `fencingClient`.
 */
export class Redlock implements AsyncDisposable {
  /** Instances that must agree: ⌊N/2⌋ + 1. */
  readonly quorum: number;
  private readonly settings: LockSettings;
  private readonly leases = new Set<Lease<number | undefined>>();
  private readonly addresses: string[];
  private readonly fencingClient: RedisClient | undefined;
  private readonly instanceTimeoutMs: number | undefined;

  constructor(
    private readonly clients: readonly RedisClient[],
    options: RedlockOptions = {},
  ) {
    if (!Array.isArray(clients) || clients.length === 0) throw new InvalidArgumentError('clients', 'a non-empty array of Redis clients', clients);
    this.settings = lockSettings(options);
    this.quorum = Math.floor(clients.length / 2) + 1;
    this.addresses = clients.map(addressOf);
    this.fencingClient = options.fencingClient;
    if (options.instanceTimeoutMs !== undefined) this.instanceTimeoutMs = assertInteger('instanceTimeoutMs', options.instanceTimeoutMs, 1);
  }

  /**
   * Takes the lock on a majority. Rejects with {@link LockBusyError} when other owners kept it
   * through every retry, {@link QuorumError} when the last try could not reach a majority in time,
   * or the caller's signal reason / `DeadlineExceeded`.
   */
  async acquire(key: string, options: LockAcquireOptions = {}): Promise<LockLease<number | undefined>> {
    checkKey(key);
    const ttlMs = checkTtl('ttlMs', options.ttlMs ?? this.settings.ttlMs);
    const watchdog = checkWatchdog(options.watchdog, ttlMs);
    const perInstance = this.instanceTimeoutMs ?? Math.max(50, Math.round(ttlMs * 0.05));
    const { clock } = this.settings;
    const keys = lockKeys(this.settings.prefix, key);
    let lastFailure: Error | undefined;
    return acquireWithRetry<Lease<number | undefined>>(options, this.settings, {
      once: async () => {
        const token = newToken();
        const startedAt = clock.now();
        const answers = await this.everywhere(
          perInstance,
          `acquire of lock "${key}"`,
          async (c) => ((await c.set(keys.lock, token, 'PX', ttlMs, 'NX')) === 'OK' ? 'ok' : 'busy'),
          true,
        );
        const acquired = answers.filter((a) => a.outcome === 'ok').length;
        const validity = ttlMs - (clock.now() - startedAt) - driftMs(ttlMs, this.settings.driftFactor);
        if (acquired >= this.quorum && validity > 0) {
          let fence: number | undefined;
          if (this.fencingClient) {
            try {
              fence = await withTimeout(this.fencingClient.incr(keys.fence), perInstance, clock, `fencing token of lock "${key}"`);
            } catch (e) {
              await this.releaseEverywhere(keys.lock, token, perInstance);
              throw e;
            }
          }
          const lease = new Lease<number | undefined>({
            key,
            token,
            fence,
            ttlMs,
            driftFactor: this.settings.driftFactor,
            startedAt,
            clock,
            commandTimeoutMs: this.settings.commandTimeoutMs,
            backend: this.backend(key, keys.lock, token, perInstance),
            watchdog,
            registry: this.leases,
          });
          return lease;
        }
        // No lock: take back whatever we got — including instances that timed out, where the SET
        // may still land — then retry (or report the last reason).
        if (answers.some((a) => a.outcome !== 'busy')) await this.releaseEverywhere(keys.lock, token, perInstance);
        const answered = answers.filter((a) => a.outcome === 'ok' || a.outcome === 'busy').length;
        if (answered >= this.quorum && acquired < this.quorum)
          lastFailure = undefined; // plain contention
        else
          lastFailure = new QuorumError(
            key,
            'acquire',
            this.quorum,
            this.outcomes(answers),
            acquired >= this.quorum ? `, but validity ttl − elapsed − drift = ${Math.round(validity)} ms left nothing` : '',
          );
        return null;
      },
      failure: (n) => lastFailure ?? new LockBusyError(key, n),
    });
  }

  /** Like `RedisLock.using`: runs `fn` with the lease signal, releases afterwards. */
  async using<T>(key: string, options: LockAcquireOptions, fn: (signal: AbortSignal, lease: LockLease<number | undefined>) => Promise<T> | T): Promise<T> {
    return runHoldingLease(await this.acquire(key, options), fn);
  }

  /** Number of leases of this object that are neither released nor lost. */
  get activeLeases(): number {
    return this.leases.size;
  }

  /** Releases every lease this object still holds. Release errors are ignored. */
  async close(): Promise<void> {
    await Promise.all([...this.leases].map((l) => l.release().catch(() => {})));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Runs `op` on every instance at once, each bounded by `timeoutMs`; never rejects. All calls
   * start together, so one timer bounds them all: an instance that has not answered when it fires
   * is recorded as `timeout` (one timer per operation instead of one per instance).
   *
   * With `early` (acquire, extend) it resolves as soon as a majority answered `ok`: the rest
   * cannot change a success, and waiting for the slowest of N would bill every acquire with it;
   * their commands are already sent, and a later release is sent after them on the same
   * connections. A failure waits for every answer (or the timer), so errors report each instance
   * exactly. Release waits for all, so after it resolves every live instance is clear.
   */
  private everywhere(timeoutMs: number, what: string, op: (c: RedisClient) => Promise<InstanceOutcome['outcome']>, early = false): Promise<Answer[]> {
    const { clock } = this.settings;
    const n = this.clients.length;
    return new Promise((resolve) => {
      const answers: (Answer | undefined)[] = new Array(n);
      let waiting = n;
      let ok = 0;
      let done = false;
      const finish = (early: boolean) => {
        done = true;
        clock.clearTimeout(timer);
        const all: Answer[] = [];
        for (let i = 0; i < n; i++) {
          all.push(
            answers[i] ??
              (early
                ? { outcome: 'pending' }
                : {
                    outcome: 'timeout',
                    error: new DeadlineExceededError(`${what} on ${this.addresses[i]}: no answer from Redis within ${timeoutMs} ms`),
                  }),
          );
        }
        resolve(all);
      };
      const timer = clock.setTimeout(() => finish(false), timeoutMs).unref();
      const settle = (i: number, answer: Answer) => {
        if (done) return;
        answers[i] = answer;
        waiting--;
        if (answer.outcome === 'ok' && ++ok >= this.quorum && early) finish(true);
        else if (waiting === 0) finish(false);
      };
      for (let i = 0; i < n; i++) {
        let pending: Promise<InstanceOutcome['outcome']>;
        try {
          pending = op(this.clients[i] as RedisClient);
        } catch (error) {
          pending = Promise.reject(error);
        }
        pending.then(
          (outcome) => settle(i, { outcome }),
          (error: unknown) => settle(i, { outcome: 'error', error }),
        );
      }
    });
  }

  private outcomes(answers: Answer[]): InstanceOutcome[] {
    return answers.map((a, i) => ({ instance: i, address: this.addresses[i] as string, ...a }));
  }

  private async releaseEverywhere(lockKey: string, token: string, timeoutMs: number): Promise<Answer[]> {
    return this.everywhere(timeoutMs, 'release', async (c) => toOutcome(ownerCheck(await releaseScript.run(c, [lockKey], [token]))));
  }

  /** Majority rules for extend and release: ok on a quorum; lost when a quorum became impossible; else QuorumError. */
  private decide(key: string, operation: string, answers: Answer[]): OwnerCheck {
    const count = (o: InstanceOutcome['outcome']) => answers.filter((a) => a.outcome === o).length;
    if (count('ok') >= this.quorum) return 'ok';
    const gone = count('missing') + count('busy');
    if (gone > this.clients.length - this.quorum) return count('busy') > 0 ? 'taken' : 'missing';
    throw new QuorumError(key, operation, this.quorum, this.outcomes(answers));
  }

  private backend(key: string, lockKey: string, token: string, perInstance: number): LeaseBackend {
    return {
      extend: async (ttlMs, timeoutMs) =>
        this.decide(
          key,
          'extend',
          await this.everywhere(
            Math.min(perInstance, timeoutMs),
            `extend of lock "${key}"`,
            async (c) => toOutcome(ownerCheck(await extendScript.run(c, [lockKey], [token, ttlMs]))),
            true,
          ),
        ),
      release: async (timeoutMs) => this.decide(key, 'release', await this.releaseEverywhere(lockKey, token, Math.min(perInstance, timeoutMs))),
    };
  }
}

function toOutcome(check: OwnerCheck): InstanceOutcome['outcome'] {
  return check === 'ok' ? 'ok' : check === 'missing' ? 'missing' : 'busy';
}
