import { createRequire } from 'node:module';
import { CircuitBreaker } from '@gopherkit/primitives/breaker';
import { defineSuite } from './harness/suite.js';

/** The part of opossum's API this suite uses (the package ships no types; @types/opossum is not installed). */
interface OpossumBreaker {
  fire(): Promise<unknown>;
  open(): void;
  shutdown(): void;
}
type OpossumCtor = new (fn: () => Promise<unknown>, options: Record<string, unknown>) => OpossumBreaker;
const Opossum = createRequire(import.meta.url)('opossum') as OpossumCtor;

/**
 * What wrapping a call in a breaker costs: a resolved async function called directly, through
 * gopherkit's CircuitBreaker.execute and through opossum's fire(), all closed and healthy (the
 * hot path), plus the open state (refusing without calling). Batches of 100 sequential awaits so
 * tinybench's per-iteration overhead does not dominate.
 */
export default defineSuite({
  reference: 'opossum: fire (closed)',
  inProcess: true,
  setup(b) {
    const BATCH = 100;
    const work = async () => 1;
    const fail = async (): Promise<number> => {
      throw new Error('down');
    };

    b.add(
      'direct call (no breaker)',
      async () => {
        for (let i = 0; i < BATCH; i++) await work();
      },
      { batch: BATCH },
    );

    const breaker = new CircuitBreaker({ name: 'bench' });
    b.add(
      'CircuitBreaker.execute (closed)',
      async () => {
        for (let i = 0; i < BATCH; i++) await breaker.execute(work);
      },
      { batch: BATCH },
    );

    // opossum: no timeout (gopherkit leaves timeouts to the caller's signal), default rolling window
    const opossum = new Opossum(work, { timeout: false });
    b.add(
      'opossum: fire (closed)',
      async () => {
        for (let i = 0; i < BATCH; i++) await opossum.fire();
      },
      { batch: BATCH, peer: 'opossum' },
    );
    b.defer(() => opossum.shutdown());

    const open = new CircuitBreaker({ name: 'open', minRequests: 1, openMs: 3_600_000 });
    void open.execute(fail).catch(() => {});
    b.add(
      'CircuitBreaker.execute (open: refuse)',
      async () => {
        for (let i = 0; i < BATCH; i++) await open.execute(work).catch(() => {});
      },
      { batch: BATCH },
    );

    const opossumOpen = new Opossum(fail, { timeout: false, resetTimeout: 3_600_000 });
    opossumOpen.open();
    b.add(
      'opossum: fire (open: refuse)',
      async () => {
        for (let i = 0; i < BATCH; i++) await opossumOpen.fire().catch(() => {});
      },
      { batch: BATCH, peer: 'opossum' },
    );
    b.defer(() => opossumOpen.shutdown());
  },
});
