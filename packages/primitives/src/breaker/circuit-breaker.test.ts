import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { BreakerOpenError, CircuitBreaker, type CircuitBreakerOptions } from './index.js';

const boom = new Error('boom');
const fail = () => Promise.reject(boom);
const ok = () => Promise.resolve('ok');

function make(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock(1_000_000);
  const breaker = new CircuitBreaker({ windowMs: 10_000, buckets: 10, minRequests: 10, errorRatio: 0.5, openMs: 5_000, clock, ...options });
  const changes: string[] = [];
  breaker.on('stateChange', (e) => changes.push(`${e.from}->${e.to}`));
  return { clock, breaker, changes };
}

async function run(b: CircuitBreaker, fn: () => Promise<unknown>, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await b.execute(fn).catch(() => {});
}

describe('CircuitBreaker: closed → open', () => {
  it('does not trip below minRequests even at 100% errors', async () => {
    const { breaker } = make();
    await run(breaker, fail, 9);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ total: 9, failures: 9, errorRatio: 1 });
    await run(breaker, fail, 1);
    expect(breaker.state).toBe('open');
  });

  it('trips exactly when the error ratio reaches the threshold', async () => {
    const { breaker, changes } = make();
    await run(breaker, ok, 6);
    await run(breaker, fail, 5); // 5/11 < 0.5
    expect(breaker.state).toBe('closed');
    await run(breaker, fail, 1); // 6/12 = 0.5
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['closed->open']);
  });

  it('forgets outcomes older than the window, one bucket at a time', async () => {
    const { breaker, clock } = make();
    await run(breaker, fail, 4); // bucket 0
    await clock.advance(5_000);
    await run(breaker, ok, 5); // bucket 5
    expect(breaker.stats()).toMatchObject({ total: 9, failures: 4 });
    await clock.advance(5_000); // bucket 0 aged out, bucket 5 still in
    expect(breaker.stats()).toMatchObject({ total: 5, failures: 0 });
    await run(breaker, fail, 5); // 5 ok + 5 fail in the window = 0.5
    expect(breaker.state).toBe('open');
  });

  it('old failures alone cannot trip it after they aged out', async () => {
    const { breaker, clock } = make();
    await run(breaker, fail, 9);
    await clock.advance(10_000);
    await run(breaker, ok, 9);
    await run(breaker, fail, 1); // 1/10
    expect(breaker.state).toBe('closed');
  });

  it('tolerates the clock going backwards', async () => {
    const { breaker, clock } = make();
    await run(breaker, ok, 5);
    clock.setTime(clock.now() - 60_000);
    await run(breaker, fail, 5);
    expect(breaker.stats()).toMatchObject({ total: 10, failures: 5 });
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker: open', () => {
  it('fails fast with BreakerOpenError without calling fn, and refusals are not counted', async () => {
    const { breaker, clock } = make();
    await run(breaker, fail, 10);
    let calls = 0;
    const rejected: BreakerOpenError[] = [];
    breaker.on('rejected', (e) => rejected.push(e));
    await clock.advance(2_000);
    const err = await breaker.execute(() => calls++).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BreakerOpenError);
    expect((err as BreakerOpenError).code).toBe('ERR_BREAKER_OPEN');
    expect((err as BreakerOpenError).retryAfterMs).toBe(3_000);
    expect((err as BreakerOpenError).message).toBe('circuit breaker "breaker" is open; next probe in 3000 ms');
    expect(calls).toBe(0);
    expect(rejected).toHaveLength(1);
    // a refusal carries no stack (cheap to throw thousands of times a second); the global limit is restored
    expect((err as Error).stack).toBe(`BreakerOpenError: ${(err as Error).message}`);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });

  it('moves to half-open after openMs with no timer', async () => {
    const { breaker, clock, changes } = make();
    await run(breaker, fail, 10);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(4_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual(['closed->open', 'open->half-open']);
  });
});

describe('CircuitBreaker: half-open', () => {
  async function halfOpen(options: CircuitBreakerOptions = {}) {
    const m = make(options);
    await run(m.breaker, fail, 10);
    await m.clock.advance(5_000);
    return m;
  }

  it('admits at most halfOpenProbes concurrent probes; the rest are refused, each with a rejected event', async () => {
    const { breaker } = await halfOpen({ halfOpenProbes: 2 });
    const rejected: BreakerOpenError[] = [];
    breaker.on('rejected', (e) => rejected.push(e));
    const gates: (() => void)[] = [];
    const probe = () => new Promise<string>((r) => gates.push(() => r('ok')));
    const a = breaker.execute(probe);
    const b = breaker.execute(probe);
    const c = await breaker.execute(probe).catch((e: unknown) => e);
    const d = await breaker.execute(probe).catch((e: unknown) => e);
    expect(c).toBeInstanceOf(BreakerOpenError);
    expect((c as BreakerOpenError).state).toBe('half-open');
    expect(rejected).toHaveLength(2); // one event per refused call, carrying the error the caller got
    expect(rejected[0]).toBe(c);
    expect(rejected[1]).toBe(d);
    expect(gates).toHaveLength(2);
    for (const g of gates) g();
    await Promise.all([a, b]);
    expect(breaker.state).toBe('closed');
  });

  it('one failed probe re-opens for another full openMs', async () => {
    const { breaker, clock, changes } = await halfOpen();
    await run(breaker, fail, 1);
    expect(breaker.state).toBe('open');
    await clock.advance(4_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open']);
  });

  it('needs halfOpenProbes successes to close, and closing starts a fresh window', async () => {
    const { breaker } = await halfOpen({ halfOpenProbes: 3 });
    await run(breaker, ok, 2);
    expect(breaker.state).toBe('half-open');
    await run(breaker, ok, 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ total: 0, failures: 0 });
    await run(breaker, fail, 9);
    expect(breaker.state).toBe('closed');
  });

  it('a probe the caller aborted frees its slot without deciding anything', async () => {
    const { breaker } = await halfOpen();
    const ac = new AbortController();
    const p = breaker.execute((signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true })), {
      signal: ac.signal,
    });
    ac.abort(new Error('caller left'));
    await expect(p).rejects.toThrow('caller left');
    expect(breaker.state).toBe('half-open');
    await run(breaker, ok, 1);
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker: outcomes and options', () => {
  it('ignores outcomes of calls that started before a state change', async () => {
    const { breaker } = make({ minRequests: 2 });
    let release!: () => void;
    const slow = breaker.execute(() => new Promise<void>((r) => (release = r)));
    await run(breaker, fail, 2); // trips: 2/2... slow is still in flight
    expect(breaker.state).toBe('open');
    release();
    await slow; // succeeded, but it belongs to the old closed period
    expect(breaker.state).toBe('open');
  });

  it('errors isFailure rejects are rethrown but count as successes', async () => {
    const notFound = new Error('404');
    const { breaker } = make({ isFailure: (e) => e !== notFound });
    for (let i = 0; i < 20; i++) await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
    expect(breaker.stats()).toMatchObject({ total: 20, failures: 0, state: 'closed' });
  });

  it('calls the caller aborted are not failures; an already-aborted signal never calls fn', async () => {
    const { breaker } = make({ minRequests: 1 });
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    let calls = 0;
    await expect(breaker.execute(() => calls++, { signal: ac.signal })).rejects.toThrow('gone');
    expect(calls).toBe(0);
    const ac2 = new AbortController();
    const p = breaker.execute(
      () => {
        ac2.abort(new Error('mid-call'));
        throw new Error('fetch aborted');
      },
      { signal: ac2.signal },
    );
    await expect(p).rejects.toThrow('fetch aborted');
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().total).toBe(0);
  });

  it('sync functions and sync throws work; events report durations', async () => {
    const { breaker, clock } = make();
    const seen: string[] = [];
    breaker.on('success', (e) => seen.push(`ok:${e.durationMs}`));
    const off = breaker.on('failure', (e) => seen.push(`fail:${(e.error as Error).message}`));
    expect(await breaker.execute(() => 42)).toBe(42);
    await expect(
      breaker.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    off();
    await run(breaker, fail, 1);
    await breaker.execute(async () => {
      await clock.advance(7);
    });
    expect(seen).toEqual(['ok:0', 'fail:boom', 'ok:7']);
  });

  it('under many concurrent callers the counts add up and the breaker trips once', async () => {
    const { breaker, changes } = make({ minRequests: 100, errorRatio: 0.3 });
    let ran = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 500 }, (_, i) =>
        breaker.execute(async () => {
          ran++;
          await new Promise((r) => setImmediate(r));
          if (i % 2 === 0) throw boom;
        }),
      ),
    );
    // all 500 started while closed, so all ran; the trip happened once, on the first
    // settle that pushed the ratio past 0.3 with >= 100 calls
    expect(ran).toBe(500);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(250);
    expect(changes).toEqual(['closed->open']);
    const refused = await breaker.execute(ok).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BreakerOpenError);
  });

  it('rejects bad options with typed errors that say what is allowed', () => {
    expect(() => new CircuitBreaker({ errorRatio: 0 })).toThrow('errorRatio must be a number in (0, 1], got 0');
    expect(() => new CircuitBreaker({ errorRatio: 1.5 })).toThrow('errorRatio must be a finite number in [0, 1], got 1.5');
    expect(() => new CircuitBreaker({ minRequests: 0 })).toThrow('minRequests must be an integer >= 1, got 0');
    expect(() => new CircuitBreaker({ buckets: 2.5 })).toThrow(InvalidArgumentError);
    expect(() => new CircuitBreaker({ windowMs: 0 })).toThrow('windowMs must be a finite number >= 1, got 0');
    expect(() => new CircuitBreaker({ openMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new CircuitBreaker({ halfOpenProbes: 0 })).toThrow(InvalidArgumentError);
    expect(() => new CircuitBreaker({ name: '' })).toThrow(InvalidArgumentError);
    expect(() => new CircuitBreaker({ isFailure: 1 as unknown as () => boolean })).toThrow('isFailure must be a function, got 1');
  });
});
