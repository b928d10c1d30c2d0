import { EventEmitter } from 'node:events';
import { type Clock, type ClockTimer, systemClock } from '@gopherkit/primitives/clock';
import { type WaitOptions, waitSignal } from '@gopherkit/primitives/context';
import { assertFinite, assertInteger, assertNonEmptyString, GopherkitError, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { hashTag, loadScript, type RedisClient, type RedisKeyOptions } from '@gopherkit/primitives/redis';

/** Options of {@link DelayQueue}. */
export interface DelayQueueOptions extends RedisKeyOptions {
  /** Queue name; also the Redis Cluster hash tag of its keys. */
  name: string;
  /**
   * How long a claimed item stays invisible to other workers (default 30 s). A worker that does
   * not ack within it is presumed dead and the item is claimed again, so handlers must be
   * idempotent and finish well within it.
   */
  visibilityTimeoutMs?: number;
  clock?: Clock;
}

/** A claimed item. */
export interface DelayedJob {
  readonly id: string;
  /** When it was scheduled to run (ms since the epoch). */
  readonly dueAt: number;
  /** 1 on the first claim, 2+ when redelivered (a previous worker crashed, stalled or failed). */
  readonly attempt: number;
  /** Lease deadline; {@link DelayQueue.ack} succeeds only while this lease is the current one. */
  readonly lease: number;
}

/** Options of {@link DelayQueue.process}. */
export interface ProcessOptions {
  /** Most handlers running at once in this worker (default 10). */
  concurrency?: number;
  /** Pause between claims when nothing is due (default 100 ms). */
  pollIntervalMs?: number;
  /** Delay before a failed item is retried (default 1000 ms). */
  retryDelayMs?: number;
  /** Stops the worker when aborted or past its deadline (as {@link DelayQueueWorker.close}). */
  wait?: WaitOptions;
}

/** Events of {@link DelayQueueWorker}. */
export interface DelayQueueWorkerEvents {
  /** A handler finished and the item was acked; `latenessMs` = start − dueAt. */
  done: [job: DelayedJob, latenessMs: number];
  /** A handler threw; the item is rescheduled after `retryDelayMs`. */
  failed: [job: DelayedJob, error: unknown];
  /** The ack came after the lease expired: another worker may have run the item too. */
  leaseLost: [job: DelayedJob];
  /** Claiming failed (e.g. Redis unavailable); the worker retries after the poll interval. */
  error: [error: unknown];
}

/** What a worker runs per item; `signal` aborts when the worker is closed. */
export type DelayedJobHandler = (job: DelayedJob, signal: AbortSignal) => Promise<unknown>;

const scripts = {
  schedule: loadScript<number>(new URL('./schedule.lua', import.meta.url), 2, 'delayqueue-schedule'),
  claim: loadScript<(string | number)[]>(new URL('./claim.lua', import.meta.url), 3, 'delayqueue-claim'),
  settle: loadScript<number>(new URL('./settle.lua', import.meta.url), 3, 'delayqueue-settle'),
  cancel: loadScript<number>(new URL('./cancel.lua', import.meta.url), 2, 'delayqueue-cancel'),
  extend: loadScript<number>(new URL('./extend.lua', import.meta.url), 1, 'delayqueue-extend'),
};

/**
 * A Redis sorted-set delay queue for timeouts (e.g. cancel an unpaid order 15 minutes after it
 * was placed). Delivery is at least once: a claim moves due items into a processing set with a
 * visibility timeout in one Lua script, so two workers never take the same item, and an item
 * whose worker crashed is claimed again when its lease runs out. Handlers must therefore be
 * idempotent (a guarded `UPDATE … WHERE status = 'PENDING'`).
 *
 * @example
 * ```ts
 * const q = new DelayQueue(redis, { name: 'order-timeout' });
 * await q.schedule(orderId, Date.now() + 15 * 60_000);
 * const worker = q.process(async (job) => cancelIfUnpaid(job.id), { concurrency: 20 });
 * // … on shutdown
 * await worker.close();
 * ```
 */
export class DelayQueue {
  readonly name: string;
  private readonly keys: [ready: string, processing: string, meta: string];
  private readonly visibilityMs: number;
  private readonly clock: Clock;
  /** Leases renewed through this instance, so an ack/retry with the claimed job uses the newest one. */
  private readonly renewed = new Map<string, { from: number; to: number }>();

  constructor(
    private readonly redis: RedisClient,
    options: DelayQueueOptions,
  ) {
    this.name = assertNonEmptyString('name', options?.name);
    const prefix = options.prefix ?? 'gk:';
    const base = `${prefix}dq:${hashTag(this.name)}:`;
    this.keys = [`${base}ready`, `${base}processing`, `${base}meta`];
    this.visibilityMs = assertInteger('visibilityTimeoutMs', options.visibilityTimeoutMs ?? 30_000, 1);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Schedules `id` to run at `dueAt` (a Date or ms since the epoch); a past time means now.
   * Scheduling an id that is already waiting moves it (one entry per id). Returns true when new.
   */
  async schedule(id: string, dueAt: Date | number): Promise<boolean> {
    assertNonEmptyString('id', id);
    const at = assertFinite('dueAt', dueAt instanceof Date ? dueAt.getTime() : dueAt, 0);
    return (await scripts.schedule.run(this.redis, [this.keys[0], this.keys[2]], [id, Math.round(at)])) === 1;
  }

  /** Removes a waiting item (e.g. the order was paid); false when it is unknown or already claimed. */
  async cancel(id: string): Promise<boolean> {
    assertNonEmptyString('id', id);
    return (await scripts.cancel.run(this.redis, [this.keys[0], this.keys[2]], [id])) === 1;
  }

  /** Claims up to `limit` due items (expired leases first). Most callers use {@link DelayQueue.process}. */
  async claim(limit: number): Promise<DelayedJob[]> {
    assertInteger('limit', limit, 1, 10_000);
    const r = await scripts.claim.run(this.redis, this.keys, [Math.floor(this.clock.now()), this.visibilityMs, limit]);
    const lease = Number(r[0]);
    const jobs: DelayedJob[] = [];
    for (let i = 1; i + 2 < r.length; i += 3) jobs.push({ id: String(r[i]), dueAt: Number(r[i + 1]), attempt: Number(r[i + 2]), lease });
    return jobs;
  }

  /** Marks a claimed item done. False when the lease expired and the item was claimed again. */
  async ack(job: DelayedJob): Promise<boolean> {
    const lease = this.leaseOf(job);
    this.renewed.delete(job.id);
    return (await scripts.settle.run(this.redis, this.keys, [job.id, lease, 'ack', 0])) === 1;
  }

  /** The newest lease of a claim: the job's own, or the one an extend() through this instance gave it. */
  private leaseOf(job: DelayedJob): number {
    const r = this.renewed.get(job.id);
    return r && (r.from === job.lease || r.to === job.lease) ? r.to : job.lease;
  }

  /** Puts a claimed item back to run again `delayMs` from now. False when the lease was lost. */
  async retry(job: DelayedJob, delayMs: number): Promise<boolean> {
    assertInteger('delayMs', delayMs);
    const lease = this.leaseOf(job);
    this.renewed.delete(job.id);
    return (await scripts.settle.run(this.redis, this.keys, [job.id, lease, 'retry', Math.floor(this.clock.now() + delayMs)])) === 1;
  }

  /**
   * Keeps a claimed item invisible for another `ms` from now (a handler that knows it will run
   * long). Returns the job with its new lease, or null when the lease was already lost (another
   * worker may be running the item). Acking the originally claimed job through this same instance
   * uses the renewed lease, so a handler run by {@link DelayQueue.process} may just call
   * `queue.extend(job)`.
   */
  async extend(job: DelayedJob, ms: number = this.visibilityMs): Promise<DelayedJob | null> {
    assertInteger('ms', ms, 1);
    const current = this.leaseOf(job);
    const lease = Math.floor(this.clock.now() + ms);
    const ok = await scripts.extend.run(this.redis, [this.keys[1]], [job.id, current, lease]);
    if (ok !== 1) return null;
    this.renewed.set(job.id, { from: job.lease, to: lease });
    return { ...job, lease };
  }

  /** Items waiting and items claimed but not yet acked. */
  async size(): Promise<{ waiting: number; processing: number }> {
    const [waiting, processing] = await Promise.all([this.redis.zcard(this.keys[0]), this.redis.zcard(this.keys[1])]);
    return { waiting, processing };
  }

  /** Starts a worker that runs `handler` for due items, at most `concurrency` at once. */
  process(handler: DelayedJobHandler, options: ProcessOptions = {}): DelayQueueWorker {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler);
    return new DelayQueueWorker(this, handler, options, this.clock);
  }
}

/** Raised inside handlers' signals when their worker closes. */
export class WorkerClosedError extends GopherkitError {
  constructor() {
    super('ERR_WORKER_CLOSED', 'the delay-queue worker was closed');
  }
}

/**
 * A running consumer of a {@link DelayQueue}, from {@link DelayQueue.process}. `close()` stops
 * claiming, aborts the handlers' signal and waits for them; items they do not ack come back to
 * another worker after the visibility timeout.
 */
export class DelayQueueWorker extends EventEmitter<DelayQueueWorkerEvents> {
  private readonly stop = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loop: Promise<void>;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly retryDelayMs: number;
  private wake: (() => void) | undefined;
  private timer: ClockTimer | undefined;
  private readonly scope;

  /** @internal Use {@link DelayQueue.process}. */
  constructor(
    private readonly queue: DelayQueue,
    private readonly handler: DelayedJobHandler,
    options: ProcessOptions,
    private readonly clock: Clock,
  ) {
    super();
    this.concurrency = assertInteger('concurrency', options.concurrency ?? 10, 1, 10_000);
    this.pollMs = assertInteger('pollIntervalMs', options.pollIntervalMs ?? 100, 1);
    this.retryDelayMs = assertInteger('retryDelayMs', options.retryDelayMs ?? 1000);
    this.scope = waitSignal(options.wait, clock);
    this.scope.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.loop = this.run();
  }

  /** True until {@link DelayQueueWorker.close} (or the `wait` option) stops it. */
  get running(): boolean {
    return !this.stop.signal.aborted;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = this.clock.setTimeout(resolve, ms).unref();
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inFlight.size;
      if (free === 0) {
        await Promise.race(this.inFlight);
        continue;
      }
      let jobs: DelayedJob[] = [];
      try {
        jobs = await this.queue.claim(free);
      } catch (e) {
        if (this.listenerCount('error') > 0) this.emit('error', e);
      }
      for (const job of jobs) {
        const p = this.handle(job).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      if (jobs.length < free && this.running) await this.pause(this.pollMs);
    }
  }

  private async handle(job: DelayedJob): Promise<void> {
    const startedAt = this.clock.now();
    try {
      await this.handler(job, this.stop.signal);
    } catch (e) {
      this.emit('failed', job, e);
      await this.queue.retry(job, this.retryDelayMs).catch((err) => this.listenerCount('error') > 0 && this.emit('error', err));
      return;
    }
    let acked = false;
    try {
      acked = await this.queue.ack(job);
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e);
      return;
    }
    if (acked) this.emit('done', job, startedAt - job.dueAt);
    else this.emit('leaseLost', job);
  }

  /** Stops claiming, aborts the handlers' signal and waits for running handlers. Idempotent. */
  async close(): Promise<void> {
    if (this.running) this.stop.abort(new WorkerClosedError());
    this.clock.clearTimeout(this.timer);
    this.wake?.();
    this.scope.dispose();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
