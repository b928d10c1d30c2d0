import { SingleFlight } from '@gopherkit/primitives/singleflight';
import { defineSuite } from './harness/suite.js';

/**
 * 1000 concurrent callers for one key, the cache-stampede shape. The reference is no coalescing
 * at all (every caller runs the loader); the loader is a resolved promise, so the figures are the
 * coalescing overhead itself, not I/O saved (the `singleflight` demo shows the I/O saved). Each
 * flight creates the AbortSignal its loader receives; on Node 20 that is the dominant per-flight
 * cost, which the 100-keys task shows.
 */
export default defineSuite({
  reference: 'no coalescing: 1000 callers each run the loader',
  inProcess: true,
  setup(b) {
    const CALLERS = 1000;
    let loads = 0;
    const loader = async () => {
      loads++;
      await null;
      return 42;
    };

    b.add(
      'no coalescing: 1000 callers each run the loader',
      async () => {
        await Promise.all(Array.from({ length: CALLERS }, () => loader()));
      },
      { batch: CALLERS },
    );

    const sf = new SingleFlight<string, number>();
    let rounds = 0;
    b.add(
      'SingleFlight.do: 1000 concurrent callers, 1 key (per caller)',
      async () => {
        rounds++;
        await Promise.all(Array.from({ length: CALLERS }, () => sf.do('hot', loader)));
      },
      {
        batch: CALLERS,
        beforeAll: () => {
          loads = 0;
          rounds = 0;
        },
        afterAll: () => b.extra('SingleFlight.do: 1000 concurrent callers, 1 key (per caller)', { loaderCallsPerRound: loads / rounds }),
      },
    );

    const keyed = new SingleFlight<number, number>();
    b.add(
      'SingleFlight.do: 1000 concurrent callers over 100 keys (per caller)',
      async () => {
        await Promise.all(Array.from({ length: CALLERS }, (_, i) => keyed.do(i % 100, loader)));
      },
      { batch: CALLERS },
    );

    // Each caller brings its own request signal (made once here: creating an AbortSignal costs
    // ~10 µs on Node 20, which would swamp the figure).
    const withSignal = new SingleFlight<string, number>();
    const signals = Array.from({ length: CALLERS }, () => new AbortController().signal);
    b.add(
      'SingleFlight.do with a per-caller signal: 1000 callers, 1 key (per caller)',
      async () => {
        await Promise.all(signals.map((signal) => withSignal.do('hot', loader, { signal })));
      },
      { batch: CALLERS },
    );
  },
});
