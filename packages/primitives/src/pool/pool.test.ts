import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, DeadlineExceeded, withTimeout } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { createPool, PoolClosedError, PoolCreateError, type PoolLease, PoolLeaseReleasedError, type PoolOptions, PoolTimeoutError } from './index.js';

interface Res {
  id: number;
  destroyed: boolean;
}

/** A fake resource factory that records everything and checks the max invariant itself. */
function factory(max: number) {
  let next = 0;
  let live = 0; // creating + open, counted by the resource itself
  let peak = 0;
  const log: string[] = [];
  return {
    log,
    get live() {
      return live;
    },
    get peak() {
      return peak;
    },
    get created() {
      return next;
    },
    async create(): Promise<Res> {
      live++;
      peak = Math.max(peak, live);
      if (live > max) throw new Error(`invariant broken: ${live} > ${max}`);
      const id = ++next;
      log.push(`create ${id}`);
      return { id, destroyed: false };
    },
    destroy(r: Res) {
      if (r.destroyed) throw new Error(`double destroy of ${r.id}`);
      r.destroyed = true;
      live--;
      log.push(`destroy ${r.id}`);
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Pool basics', () => {
  it('reuses a released resource instead of creating another', async () => {
    const f = factory(2);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 2 });
    for (let i = 0; i < 5; i++) await pool.use((r) => r.id);
    expect(f.created).toBe(1);
    expect(pool.stats()).toMatchObject({ open: 1, idle: 1, inUse: 0, maxOpen: 2 });
    await pool.close();
    expect(f.live).toBe(0);
  });

  it('use() releases even when fn throws, and fn can destroy a resource it broke', async () => {
    const f = factory(1);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1 });
    await expect(pool.use(() => Promise.reject(new Error('query failed')))).rejects.toThrow('query failed');
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
    await pool.use((_, lease) => lease.destroy());
    expect(pool.stats()).toMatchObject({ idle: 0, open: 0 });
    expect(f.log).toEqual(['create 1', 'destroy 1']);
  });

  it('await using releases at the end of the block', async () => {
    const pool = createPool({ create: async () => ({}), max: 1 });
    {
      await using lease = await pool.acquire();
      expect(pool.stats().inUse).toBe(1);
      void lease;
    }
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it('a double release, or a destroy after release, throws', async () => {
    const pool = createPool({ create: async () => ({}), max: 1 });
    const lease = await pool.acquire();
    lease.release();
    expect(() => lease.release()).toThrow(PoolLeaseReleasedError);
    expect(() => lease.destroy()).toThrow('pool lease was already released; a lease can be given back once');
    await lease[Symbol.asyncDispose](); // disposing after an explicit release is fine
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
  });
});

describe('Pool invariants under concurrency', () => {
  it('idle + inUse + creating <= max while 300 callers hammer a flaky resource', async () => {
    const max = 5;
    let next = 0;
    let live = 0;
    let peak = 0;
    let rnd = 42;
    const random = () => {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      return rnd / 2 ** 31;
    };
    const pool = createPool<{ id: number }>({
      max,
      createBackoffMs: 1,
      createAttempts: 1_000,
      async create() {
        live++;
        peak = Math.max(peak, live);
        for (let i = 0; i < Math.floor(random() * 3); i++) await flush();
        if (random() < 0.2) {
          live--;
          throw new Error('connect refused');
        }
        return { id: ++next };
      },
      destroy() {
        live--;
      },
    });
    let violations = 0;
    const check = () => {
      const s = pool.stats();
      if (s.idle + s.inUse + s.creating > max || live > max) violations++;
    };
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, () =>
        pool.use(async (_, lease) => {
          check();
          for (let i = 0; i < Math.floor(random() * 4); i++) await flush();
          check();
          if (random() < 0.15) lease.destroy();
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(violations).toBe(0);
    expect(peak).toBeLessThanOrEqual(max);
    expect(pool.stats().createErrors).toBeGreaterThan(0);
    await pool.close();
    expect(live).toBe(0);
  });

  it('serves waiters strictly FIFO', async () => {
    const pool = createPool({ create: async () => ({}), max: 1 });
    const first = await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3, 4, 5].map((i) =>
      pool.acquire().then((l) => {
        order.push(i);
        return l;
      }),
    );
    await flush();
    first.release();
    for (const w of waiters) (await w).release();
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(pool.stats()).toMatchObject({ waitCount: 5, waiting: 0 });
  });

  it('a newcomer never overtakes a waiter, even when a resource is idle at that instant', async () => {
    const pool = createPool({ create: async () => ({}), max: 1 });
    const a = await pool.acquire();
    const order: string[] = [];
    const w = pool.acquire().then((l) => {
      order.push('waiter');
      return l;
    });
    a.release(); // handed straight to the waiter
    const n = pool.acquire().then((l) => {
      order.push('newcomer');
      return l;
    });
    (await w).release();
    (await n).release();
    expect(order).toEqual(['waiter', 'newcomer']);
  });

  it('creates run concurrently, outside any critical section', async () => {
    const gates: (() => void)[] = [];
    const pool = createPool({ create: () => new Promise<object>((r) => gates.push(() => r({}))), max: 3 });
    const leases = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
    await flush();
    expect(gates).toHaveLength(3); // three creates in flight at once, the fourth caller waits
    expect(pool.stats()).toMatchObject({ creating: 3, waiting: 4 });
    gates[2]?.();
    gates[0]?.();
    gates[1]?.();
    const [a, b, c] = await Promise.all(leases.slice(0, 3));
    expect(pool.stats()).toMatchObject({ inUse: 3, waiting: 1, creating: 0 });
    a?.release();
    (await leases[3])?.release();
    b?.release();
    c?.release();
  });

  it('a destroyed resource wakes the next waiter, who gets a fresh one (no lost wake-up)', async () => {
    const f = factory(1);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1 });
    const a = await pool.acquire();
    const waiting = pool.acquire();
    await flush();
    a.destroy();
    const b = await waiting;
    expect(b.value.id).toBe(2);
    expect(f.log).toEqual(['create 1', 'destroy 1', 'create 2']);
    b.release();
  });
});

describe('Pool create failures', () => {
  it('a failed create frees its slot and is retried after a backoff', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const pool = createPool({
      clock,
      max: 1,
      createBackoffMs: 100,
      create: async () => {
        if (++calls === 1) throw new Error('refused');
        return { calls };
      },
    });
    const p = pool.acquire();
    await flush();
    expect(pool.stats()).toMatchObject({ creating: 0, open: 0, createErrors: 1, waiting: 1 });
    await clock.advance(99);
    expect(calls).toBe(1);
    await clock.advance(1);
    expect((await p).value).toEqual({ calls: 2 });
  });

  it('create that always fails: waiters get PoolCreateError after createAttempts, never hang (generic-pool#175)', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const boom = new Error('ECONNREFUSED');
    const pool = createPool({
      clock,
      max: 2,
      createAttempts: 3,
      createBackoffMs: 100,
      create: () => {
        calls++;
        return Promise.reject(boom);
      },
    });
    const attempts: number[] = [];
    pool.on('createError', (e) => attempts.push(e.attempt));
    const outcomes = [pool.acquire(), pool.acquire(), pool.acquire()].map((p) => p.catch((e: unknown) => e));
    await clock.advance(100); // attempts 1-2 failed at t=0, backoff 100 ms
    await clock.advance(200);
    const errors = await Promise.all(outcomes);
    for (const e of errors) {
      expect(e).toBeInstanceOf(PoolCreateError);
      expect((e as PoolCreateError).cause).toBe(boom);
      expect((e as PoolCreateError).message).toBe('pool: create failed 3 time(s) in a row: ECONNREFUSED');
    }
    expect(calls).toBeLessThanOrEqual(4);
    expect(pool.stats()).toMatchObject({ waiting: 0, creating: 0, open: 0 });
    // a later caller starts a fresh series (after the backoff) and fails the same bounded way
    const later = pool.acquire().catch((e: unknown) => e);
    await clock.runAll();
    expect(await later).toBeInstanceOf(PoolCreateError);
    expect(Math.max(...attempts)).toBe(3);
    await pool.close();
  });

  it('a failed create frees its slot before the retry: with no backoff and max 1, the retry runs at once and serves the caller', async () => {
    let calls = 0;
    const pool = createPool({
      max: 1,
      createBackoffMs: 0,
      create: async () => {
        if (++calls === 1) throw new Error('refused');
        return { calls };
      },
    });
    const p = pool.acquire();
    await flush();
    await flush();
    expect(calls).toBe(2);
    expect(pool.stats()).toMatchObject({ creating: 0, inUse: 1, createErrors: 1, waiting: 0 });
    expect((await p).value).toEqual({ calls: 2 });
  });

  it('when creates give up, the latest callers fail; the earliest stays covered by the idle resource being validated', async () => {
    let calls = 0;
    let pass!: () => void;
    let validating = false;
    const pool = createPool({
      max: 2,
      createAttempts: 1,
      createBackoffMs: 0,
      create: async () => {
        if (++calls > 1) throw new Error('refused');
        return { id: calls };
      },
      validate: () => (validating ? new Promise<boolean>((r) => (pass = () => r(true))) : true),
    });
    (await pool.acquire()).release(); // resource 1 is idle
    validating = true;
    const first = pool.acquire().catch((e: unknown) => e); // takes resource 1, whose validation is pending
    const second = pool.acquire().catch((e: unknown) => e); // needs a create, which fails
    await flush();
    expect(calls).toBe(2);
    pass();
    const [a, b] = await Promise.all([first, second]);
    expect(b).toBeInstanceOf(PoolCreateError);
    expect((a as PoolLease<{ id: number }>).value).toEqual({ id: 1 });
    expect(pool.stats()).toMatchObject({ waiting: 0, inUse: 1 });
  });
});

describe('Pool waiting: timeouts, signals, deadlines', () => {
  async function busyPool(extra: Partial<PoolOptions<object>> = {}) {
    const clock = new ManualClock();
    const pool = createPool<object>({ create: async () => ({}), max: 1, clock, ...extra });
    const held = await pool.acquire();
    return { clock, pool, held };
  }

  it('acquireTimeoutMs rejects with PoolTimeoutError and leaves the queue', async () => {
    const { clock, pool, held } = await busyPool({ acquireTimeoutMs: 500 });
    const p = pool.acquire().catch((e: unknown) => e);
    await clock.advance(499);
    expect(pool.stats().waiting).toBe(1);
    await clock.advance(1);
    const e = await p;
    expect(e).toBeInstanceOf(PoolTimeoutError);
    expect((e as Error).message).toBe('pool: no resource within 500 ms (max 1, 1 in use, 0 creating, 0 other waiting)');
    expect(pool.stats().waiting).toBe(0);
    held.release();
    expect(pool.stats().idle).toBe(1); // the timed-out caller did not swallow the resource
  });

  it('an aborted signal rejects with its reason; a deadline with DeadlineExceeded', async () => {
    const { clock, pool, held } = await busyPool();
    const ac = new AbortController();
    const a = pool.acquire({ signal: ac.signal }).catch((e: unknown) => e);
    const d = pool.acquire({ deadline: clock.now() + 100 }).catch((e: unknown) => e);
    ac.abort(new Error('client gone'));
    expect(((await a) as Error).message).toBe('client gone');
    await clock.advance(100);
    expect(await d).toBe(DeadlineExceeded);
    expect(pool.stats().waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    held.release();
  });

  it('accepts a Context: its deadline ends the wait with DeadlineExceeded', async () => {
    const { clock, pool, held } = await busyPool();
    const [ctx, cancel] = withTimeout(background(), 300, { clock });
    const p = pool.acquire(ctx).catch((e: unknown) => e);
    await clock.advance(300);
    expect(await p).toBe(DeadlineExceeded);
    expect(pool.stats().waiting).toBe(0);
    cancel();
    held.release();
  });

  it('counts waits and wait time like database/sql', async () => {
    const { clock, pool, held } = await busyPool();
    const p = pool.acquire();
    await clock.advance(250);
    held.release();
    (await p).release();
    expect(pool.stats()).toMatchObject({ waitCount: 1, waitDurationMs: 250 });
  });

  it('counts waits that end without a resource too (timeout, abort, close), as database/sql does', async () => {
    const { clock, pool, held } = await busyPool({ acquireTimeoutMs: 100 });
    const timedOut = pool.acquire().catch((e: unknown) => e);
    expect(pool.stats()).toMatchObject({ waitCount: 1, waitDurationMs: 0 }); // counted when the wait starts
    await clock.advance(100);
    expect(await timedOut).toBeInstanceOf(PoolTimeoutError);
    const ac = new AbortController();
    const aborted = pool.acquire({ signal: ac.signal }).catch((e: unknown) => e);
    await clock.advance(30);
    ac.abort(new Error('caller left'));
    expect(((await aborted) as Error).message).toBe('caller left');
    expect(pool.stats()).toMatchObject({ waitCount: 2, waitDurationMs: 130, waiting: 0 });
    const served = pool.acquire();
    await clock.advance(20);
    held.release(); // hands the resource to the waiter: a served wait of 20 ms
    (await served).release();
    expect(pool.stats()).toMatchObject({ waitCount: 3, waitDurationMs: 150 });
    const holder = await pool.acquire(); // the idle resource: no wait
    const stuck = pool.acquire().catch((e: unknown) => e);
    await clock.advance(10);
    const closing = pool.close();
    expect(await stuck).toBeInstanceOf(PoolClosedError);
    holder.release();
    await closing;
    expect(pool.stats()).toMatchObject({ waitCount: 4, waitDurationMs: 160 });
  });
});

describe('Pool lifetimes, idle limits, validation', () => {
  it('maxIdle destroys releases beyond it (maxIdleClosed)', async () => {
    const f = factory(3);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 3, maxIdle: 1 });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const l of leases) l.release();
    expect(pool.stats()).toMatchObject({ idle: 1, open: 1, maxIdleClosed: 2 });
  });

  it('maxLifetimeMs, idleTimeoutMs and maxUses retire resources and count why', async () => {
    const clock = new ManualClock();
    const f = factory(2);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 2, clock, maxLifetimeMs: 10_000, idleTimeoutMs: 1_000, maxUses: 3 });
    for (let i = 0; i < 3; i++) await pool.use(() => {});
    expect(pool.stats()).toMatchObject({ maxUsesClosed: 1, open: 0 });
    await pool.use(() => {});
    await clock.advance(1_000); // the reaper retires the idle one
    expect(pool.stats()).toMatchObject({ maxIdleTimeClosed: 1, idle: 0 });
    const l = await pool.acquire();
    await clock.advance(10_000);
    l.release(); // too old to go back to idle
    expect(pool.stats()).toMatchObject({ maxLifetimeClosed: 1, idle: 0 });
    await pool.close();
    expect(clock.pendingTimers).toBe(0);
    expect(f.live).toBe(0);
  });

  it('minIdle keeps resources warm and the idle timeout spares them', async () => {
    const clock = new ManualClock();
    const f = factory(3);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 3, minIdle: 2, idleTimeoutMs: 1_000, clock });
    await flush();
    expect(pool.stats().idle).toBe(2);
    await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]).then((ls) => {
      for (const l of ls) l.release();
    });
    expect(pool.stats().idle).toBe(3);
    await clock.advance(2_000);
    expect(pool.stats()).toMatchObject({ idle: 2, maxIdleTimeClosed: 1 });
    await pool.close();
  });

  it('validate false (or throwing) destroys the idle resource and the caller gets another', async () => {
    const f = factory(2);
    let healthy = true;
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 2, validate: (r) => healthy || r.id > 1 });
    await pool.use(() => {});
    healthy = false;
    const lease = await pool.acquire();
    expect(lease.value.id).toBe(2);
    expect(f.log).toEqual(['create 1', 'destroy 1', 'create 2']);
    lease.release();
  });

  it('a validate that throws destroys the idle resource, reports destroyError, and the caller gets another', async () => {
    const f = factory(2);
    const boom = new Error('ping failed');
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 2,
      validate: (r) => {
        if (r.id === 1) throw boom;
        return true;
      },
    });
    const errors: unknown[] = [];
    pool.on('destroyError', (e) => errors.push(e.error));
    (await pool.acquire()).release(); // a fresh resource is not validated
    const lease = await pool.acquire();
    expect(lease.value.id).toBe(2);
    expect(f.log).toEqual(['create 1', 'destroy 1', 'create 2']);
    expect(errors).toEqual([boom]);
    lease.release();
  });

  it('an idle resource past maxLifetimeMs or idleTimeoutMs is never handed out, even before the reaper runs', async () => {
    for (const limit of [{ maxLifetimeMs: 1_000 }, { idleTimeoutMs: 1_000 }]) {
      const clock = new ManualClock();
      const f = factory(1);
      const pool = createPool({ create: f.create, destroy: f.destroy, max: 1, clock, ...limit });
      await pool.use(() => {});
      clock.setTime(1_000); // time moves on, but no timer fires: the reaper has not run
      expect(pool.stats().idle).toBe(1);
      const lease = await pool.acquire();
      expect(lease.value.id).toBe(2);
      expect(f.log).toEqual(['create 1', 'destroy 1', 'create 2']);
      expect(pool.stats()).toMatchObject('maxLifetimeMs' in limit ? { maxLifetimeClosed: 1 } : { maxIdleTimeClosed: 1 });
      lease.release();
      await pool.close();
    }
  });

  it('with validate set, waiters are still served FIFO while idle resources are validated', async () => {
    const f = factory(2);
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 2,
      minIdle: 2,
      validate: async () => {
        await flush();
        return true;
      },
    });
    await flush();
    expect(pool.stats().idle).toBe(2);
    const order: string[] = [];
    const leases: PoolLease<Res>[] = [];
    const acquires = ['a', 'b', 'c'].map((name) =>
      pool.acquire().then((l) => {
        order.push(name);
        leases.push(l);
      }),
    );
    for (let i = 0; i < 10 && order.length < 2; i++) await flush();
    expect(order).toEqual(['a', 'b']); // both idle resources validated and handed to the first two callers
    leases[0]?.release(); // straight to the third
    await Promise.all(acquires);
    expect(order).toEqual(['a', 'b', 'c']);
    for (const l of leases.slice(1)) l.release();
  });
});

describe('Pool close', () => {
  it('rejects pending and later acquirers, destroys idle, destroys leases on release; idempotent', async () => {
    const f = factory(2);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1 });
    const held = await pool.acquire();
    const pending = pool.acquire().catch((e: unknown) => e);
    const closing = pool.close();
    expect(pool.close()).toBe(closing);
    expect(await pending).toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toThrow('pool is closed');
    let closed = false;
    void closing.then(() => (closed = true));
    await flush();
    expect(closed).toBe(false); // waits for the leased resource
    held.release();
    await closing;
    expect(f.log).toEqual(['create 1', 'destroy 1']);
  });

  it('with a deadline, takes leased resources back from their holders; their release is then a no-op', async () => {
    const clock = new ManualClock();
    const f = factory(1);
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1, clock });
    const held: PoolLease<Res> = await pool.acquire();
    const closing = pool.close({ deadline: clock.now() + 1_000 });
    await clock.advance(1_000);
    await closing;
    expect(held.value.destroyed).toBe(true);
    expect(() => held.release()).not.toThrow();
    expect(f.live).toBe(0);
  });

  it('a resource created after close is destroyed, and create sees an aborted signal', async () => {
    let release!: () => void;
    let seen: AbortSignal | undefined;
    let destroyed = 0;
    const pool = createPool({
      max: 1,
      create: (signal) => {
        seen = signal;
        return new Promise<object>((r) => (release = () => r({})));
      },
      destroy: () => void destroyed++,
    });
    const p = pool.acquire().catch((e: unknown) => e);
    await flush();
    const closing = pool.close();
    expect(seen?.aborted).toBe(true);
    expect(await p).toBeInstanceOf(PoolClosedError);
    release();
    await closing;
    expect(destroyed).toBe(1);
  });

  it('close() cancels a pending create backoff timer, leaving no timer behind', async () => {
    const clock = new ManualClock();
    const pool = createPool({ clock, max: 1, createBackoffMs: 100, create: () => Promise.reject(new Error('refused')) });
    const p = pool.acquire().catch((e: unknown) => e);
    await flush();
    expect(pool.stats().createErrors).toBe(1);
    expect(clock.pendingTimers).toBe(1); // the backoff before the retry
    await pool.close();
    expect(await p).toBeInstanceOf(PoolClosedError);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Pool options', () => {
  it('rejects bad options with typed errors that say what is allowed', () => {
    const create = async () => ({});
    expect(() => createPool({ create, max: 0 })).toThrow('max must be an integer >= 1, got 0');
    expect(() => createPool({ create, max: 2, minIdle: 3 })).toThrow('minIdle must be an integer in [0, 2], got 3');
    expect(() => createPool({ create, max: 4, maxIdle: 1, minIdle: 2 })).toThrow('minIdle must be an integer <= maxIdle (1), got 2');
    expect(() => createPool({ create: undefined as unknown as typeof create, max: 1 })).toThrow(InvalidArgumentError);
    expect(() => createPool({ create, max: 1, acquireTimeoutMs: 0 })).toThrow('acquireTimeoutMs must be a finite number >= 1, got 0');
    expect(() => createPool({ create, max: 1, maxUses: 0 })).toThrow(InvalidArgumentError);
    expect(() => createPool({ create, max: 1, createAttempts: 0 })).toThrow(InvalidArgumentError);
  });
});
