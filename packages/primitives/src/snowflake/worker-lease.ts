import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { type Clock, type ClockTimer, systemClock } from '../clock/index.js';
import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { hashTag, loadScript, type RedisClient } from '../redis/index.js';
import { NoWorkerIdAvailableError } from './errors.js';
import type { WorkerIdSource } from './snowflake.js';

const renewScript = loadScript<number>(new URL('./worker-lease-renew.lua', import.meta.url), 1);
const releaseScript = loadScript<number>(new URL('./worker-lease-release.lua', import.meta.url), 1);

/** Options of {@link leaseWorkerId}. */
export interface WorkerIdLeaseOptions {
  /** Worker-ID space: IDs 0 … 2^workerBits − 1 (match your Snowflake layout). Default 10. */
  workerBits?: number;
  /** Generators sharing an epoch and layout share a namespace. Default `"default"`. */
  namespace?: string;
  /** Key prefix. Default `"gk:"`. Keys are `<prefix>snowflake:{<namespace>}:worker:<id>`. */
  prefix?: string;
  /**
   * Lease TTL in ms: how long a crashed process keeps its ID reserved. Default 30 000. Must
   * comfortably exceed the longest event-loop stall you expect, or the lease lapses under load.
   */
  ttlMs?: number;
  /** Heartbeat interval in ms. Default ttlMs / 3, so two heartbeats can fail before expiry. */
  heartbeatMs?: number;
  /** Clock for the heartbeat timer and lease-age bookkeeping. Default the system clock. */
  clock?: Clock;
}

/** Events of a {@link WorkerIdLease}. */
export interface WorkerIdLeaseEvents {
  /** A heartbeat extended the lease. */
  renewed: [];
  /** A heartbeat failed with a Redis error (the lease may still be valid until its TTL ends). */
  error: [error: unknown];
  /** The lease is gone: the key belongs to someone else, or no heartbeat succeeded for a whole TTL. */
  lost: [reason: Error];
}

/**
 * An exclusively held worker ID, kept alive by a heartbeat. Pass it as `workerId` to
 * {@link Snowflake} so generation stops (rather than risk duplicates) once the lease is lost.
 * `close()` (or `await using`) stops the heartbeat and releases the ID at once.
 */
export class WorkerIdLease extends EventEmitter<WorkerIdLeaseEvents> implements WorkerIdSource {
  /** The leased worker ID. */
  readonly workerId: number;
  /** The Redis key holding the lease. */
  readonly key: string;
  private readonly controller = new AbortController();
  private timer: ClockTimer | undefined;
  private closed = false;
  private lastRenewedAt: number;
  private inFlight: Promise<void> | undefined;

  /** @internal use {@link leaseWorkerId}. */
  constructor(
    private readonly redis: RedisClient,
    workerId: number,
    key: string,
    private readonly token: string,
    private readonly ttlMs: number,
    private readonly heartbeatMs: number,
    private readonly clock: Clock,
  ) {
    super();
    this.workerId = workerId;
    this.key = key;
    this.lastRenewedAt = clock.now();
    this.schedule();
  }

  /** Aborted (with the reason as an Error) when the lease is lost or closed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once the lease was lost (not merely closed). */
  get lost(): boolean {
    return this.controller.signal.aborted && !this.closed;
  }

  /** Extends the lease now (the heartbeat calls this); resolves false if it was lost. */
  async renew(): Promise<boolean> {
    if (this.controller.signal.aborted) return false;
    try {
      const ok = await renewScript.run(this.redis, [this.key], [this.token, this.ttlMs]);
      if (this.controller.signal.aborted) return false;
      if (ok === 1) {
        this.lastRenewedAt = this.clock.now();
        this.emit('renewed');
        return true;
      }
      this.lose(new Error(`key ${this.key} expired or is held by another process`));
      return false;
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e);
      if (this.clock.now() - this.lastRenewedAt >= this.ttlMs) {
        this.lose(new Error(`no successful heartbeat for ${this.ttlMs} ms (last error: ${e instanceof Error ? e.message : String(e)})`));
      }
      return false;
    }
  }

  /** Stops the heartbeat and deletes the key if it is still ours, freeing the ID for others. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    const wasLost = this.controller.signal.aborted;
    if (!wasLost) this.controller.abort(new Error('lease closed'));
    await this.inFlight;
    if (!wasLost) await releaseScript.run(this.redis, [this.key], [this.token]).catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private schedule(): void {
    this.timer = this.clock
      .setTimeout(() => {
        this.inFlight = this.renew().then(() => {
          this.inFlight = undefined;
          if (!this.controller.signal.aborted) this.schedule();
        });
      }, this.heartbeatMs)
      .unref();
  }

  private lose(reason: Error): void {
    if (this.controller.signal.aborted) return;
    this.clock.clearTimeout(this.timer);
    this.controller.abort(reason);
    this.emit('lost', reason);
  }
}

/**
 * Leases a worker ID no other live process holds: tries `SET key token NX PX ttl` on IDs starting
 * at a random one, so concurrent starters rarely contend. Redis's atomic `SET NX` guarantees two
 * leasers never get the same ID while the lease lives; a heartbeat keeps it alive and a crashed
 * process's ID frees itself after `ttlMs`.
 *
 * @throws {@link NoWorkerIdAvailableError} when every ID is taken.
 *
 * @example
 * ```ts
 * await using lease = await leaseWorkerId(redis, { namespace: 'orders' });
 * const ids = new Snowflake({ workerId: lease });
 * ```
 */
export async function leaseWorkerId(redis: RedisClient, options: WorkerIdLeaseOptions = {}): Promise<WorkerIdLease> {
  const workerBits = assertInteger('workerBits', options.workerBits ?? 10, 0, 20);
  const namespace = assertNonEmptyString('namespace', options.namespace ?? 'default');
  const prefix = options.prefix ?? 'gk:';
  if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix', 'a string', prefix);
  const ttlMs = Math.ceil(assertFinite('ttlMs', options.ttlMs ?? 30_000, 10));
  const heartbeatMs = assertFinite('heartbeatMs', options.heartbeatMs ?? ttlMs / 3, 1, ttlMs - 1);
  const clock = options.clock ?? systemClock;
  const count = 2 ** workerBits;
  const token = `${hostname()}:${process.pid}:${randomUUID()}`;
  const base = `${prefix}snowflake:${hashTag(namespace)}:worker:`;
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const id = (start + i) % count;
    const ok = await redis.set(base + id, token, 'PX', ttlMs, 'NX');
    if (ok === 'OK') return new WorkerIdLease(redis, id, base + id, token, ttlMs, heartbeatMs, clock);
  }
  throw new NoWorkerIdAvailableError(count, namespace);
}
