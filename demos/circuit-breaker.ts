import { BreakerOpenError, CircuitBreaker } from '@gopherkit/primitives/breaker';
import { ManualClock } from '@gopherkit/primitives/clock';
import { defineDemo } from './harness/demo.js';

/**
 * A dependency (a DB, a Redis, a payment API) goes down for 30 s of a 60 s run at 100 req/s.
 * Without a breaker every request still goes to it and waits out a 1 s timeout: 3 000 calls
 * hammer a service that is trying to recover, and callers burn 3 000 s of waiting. With a
 * breaker, about one window's worth of failures trips it (the window length is the detection delay), the rest fail fast (or get a fallback — the seed's 熔断/降级),
 * the dependency sees one probe per open period, and traffic resumes within one open period
 * of the recovery. Virtual time (ManualClock) makes the run exact and instant.
 */
export default defineDemo({
  description:
    'Circuit breaker: a 30 s outage at 100 req/s; without a breaker 3000 calls hit the dead dependency, with one a handful do and traffic resumes right after recovery',
  async run(d) {
    const DOWN_FROM = 10_000;
    const DOWN_UNTIL = 40_000;
    const END = 60_000;
    const STEP = 10; // 100 req/s
    const TIMEOUT_MS = 1_000; // what each call to the dead dependency costs its caller
    const OPEN_MS = 5_000;

    const clock = new ManualClock(0);
    const isDown = () => clock.now() >= DOWN_FROM && clock.now() < DOWN_UNTIL;
    let naiveHitsWhileDown = 0;
    let breakerHitsWhileDown = 0;
    const dependency = (counter: 'naive' | 'breaker') => {
      if (isDown()) {
        if (counter === 'naive') naiveHitsWhileDown++;
        else breakerHitsWhileDown++;
        return Promise.reject(new Error(`timeout after ${TIMEOUT_MS} ms`));
      }
      return Promise.resolve('ok');
    };

    const breaker = new CircuitBreaker({
      name: 'orders-db',
      clock,
      windowMs: 2_000,
      buckets: 10,
      minRequests: 20,
      errorRatio: 0.5,
      openMs: OPEN_MS,
      halfOpenProbes: 1,
    });
    const transitions: { atMs: number; from: string; to: string; reason: string }[] = [];
    breaker.on('stateChange', (e) => transitions.push({ atMs: clock.now(), ...e }));

    let fastFails = 0;
    let naiveFailures = 0;
    let rejectedWhileUp = 0;
    let servedAfterRecovery = 0;
    let firstServedAfterRecovery: number | undefined;
    for (let t = 0; t < END; t += STEP) {
      clock.setTime(t);
      await dependency('naive').catch(() => naiveFailures++);
      try {
        await breaker.execute(() => dependency('breaker'));
        if (t >= DOWN_UNTIL) {
          servedAfterRecovery++;
          firstServedAfterRecovery ??= t;
        }
      } catch (e) {
        if (e instanceof BreakerOpenError) {
          fastFails++;
          if (t < DOWN_FROM) rejectedWhileUp++;
        }
      }
    }

    d.table(transitions.map((x) => ({ 'at (s)': (x.atMs / 1000).toFixed(2), from: x.from, to: x.to, reason: x.reason })));
    const naiveWait = (naiveHitsWhileDown * TIMEOUT_MS) / 1000;
    const breakerWait = (breakerHitsWhileDown * TIMEOUT_MS) / 1000;
    d.table([
      { '': 'calls reaching the dead dependency', 'no breaker': naiveHitsWhileDown, breaker: breakerHitsWhileDown },
      { '': 'caller time lost to timeouts (s)', 'no breaker': naiveWait, breaker: breakerWait },
      { '': 'failed fast (BreakerOpenError)', 'no breaker': 0, breaker: fastFails },
    ]);
    const resumeLagMs = (firstServedAfterRecovery ?? END) - DOWN_UNTIL;
    d.check(naiveHitsWhileDown === (DOWN_UNTIL - DOWN_FROM) / STEP, 'without a breaker every request during the outage hits the dependency');
    // tripping needs the failures to reach 50% of a 2 s window (~1 s of traffic), then one probe per open period
    d.check(
      breakerHitsWhileDown <= naiveHitsWhileDown * 0.05,
      `with the breaker at most 5% of the outage traffic reaches the dead dependency, got ${breakerHitsWhileDown} of ${naiveHitsWhileDown}`,
    );
    d.check(rejectedWhileUp === 0, 'no request is refused while the dependency is healthy');
    d.check(resumeLagMs <= OPEN_MS, `traffic resumes within one open period (${OPEN_MS} ms) of the recovery, took ${resumeLagMs} ms`);
    d.check(breaker.state === 'closed', 'the breaker ends closed');
    d.record('outage', { naiveHitsWhileDown, breakerHitsWhileDown, transitions, resumeLagMs });
    return `dead-dependency calls: no breaker=${naiveHitsWhileDown}, breaker=${breakerHitsWhileDown}; resumed ${resumeLagMs} ms after recovery; served after recovery=${servedAfterRecovery}`;
  },
});
