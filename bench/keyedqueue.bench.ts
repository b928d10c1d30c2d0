import { KeyedQueue } from '@gopherkit/patterns/keyedqueue';
import pLimit from 'p-limit';
import { defineSuite } from './harness/suite.js';

/**
 * Ordered consumption overhead: the keyed queue (serial per key, parallel across keys) against
 * p-limit (bounded concurrency, no ordering at all) running the same 1000 trivial async handlers.
 * The gap is the price of per-key ordering; a fully serial hot key shows the worst case.
 */
const KEYS = 100;
const PER_KEY = 10;
const ITEMS = KEYS * PER_KEY;
const handler = async () => {
  await Promise.resolve();
};

export default defineSuite({
  reference: 'p-limit(16): 1000 items, no ordering',
  inProcess: true,
  setup(b) {
    const limit = pLimit(16);
    b.add(
      'p-limit(16): 1000 items, no ordering',
      async () => {
        const all: Promise<void>[] = [];
        for (let i = 0; i < ITEMS; i++) all.push(limit(handler));
        await Promise.all(all);
      },
      { peer: 'p-limit', batch: ITEMS },
    );

    const queue = new KeyedQueue<number>({ handler, park: () => {}, concurrency: 16 });
    b.add(
      'KeyedQueue(16): 100 keys x 10 items, serial per key',
      async () => {
        for (let i = 0; i < ITEMS; i++) void queue.push(`k${i % KEYS}`, i);
        await queue.onIdle();
      },
      { batch: ITEMS },
    );

    let version = 0;
    const gated = new KeyedQueue<number>({ handler, park: () => {}, concurrency: 16, versionOf: (v) => v });
    b.add(
      'KeyedQueue(16) + version gate',
      async () => {
        for (let i = 0; i < ITEMS; i++) void gated.push(`k${i % KEYS}`, ++version);
        await gated.onIdle();
      },
      { batch: ITEMS },
    );

    const hot = new KeyedQueue<number>({ handler, park: () => {}, concurrency: 16 });
    b.add(
      'KeyedQueue: one hot key, 1000 items (fully serial)',
      async () => {
        for (let i = 0; i < ITEMS; i++) void hot.push('hot', i);
        await hot.onIdle();
      },
      { batch: ITEMS },
    );
    b.defer(() => Promise.all([queue.close(), gated.close(), hot.close()]));
  },
});
