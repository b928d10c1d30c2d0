import { Channel } from '@gopherkit/primitives/channel';
import { sleep } from '@gopherkit/primitives/clock';
import { WaitGroup } from '@gopherkit/primitives/sync';
import { defineDemo } from './harness/demo.js';

interface Stats {
  processed: Set<number>;
  duplicates: number;
  inFlight: number;
  peakInFlight: number;
}

const newStats = (): Stats => ({ processed: new Set(), duplicates: 0, inFlight: 0, peakInFlight: 0 });

/** One order: ~1 ms of I/O (a DB write). */
async function processOrder(id: number, s: Stats): Promise<void> {
  s.inFlight++;
  s.peakInFlight = Math.max(s.peakInFlight, s.inFlight);
  await sleep(1);
  if (s.processed.has(id)) s.duplicates++;
  s.processed.add(id);
  s.inFlight--;
}

/**
 * The seed's order pipeline (seed L120–139): a producer feeds a buffered channel, 10 consumers
 * `range` over it, the producer closes it. Its defect: nothing waits for the consumers, so the
 * function returns (and in Go, `main` exits) while orders are still queued. The fix is a
 * WaitGroup; the bounded channel gives backpressure that `Promise.all(orders.map(…))` lacks.
 */
export default defineDemo({
  description: 'Worker pool: producer -> buffered channel -> N consumers; backpressure, graceful close, WaitGroup (seed L120 returns early)',
  async run(d) {
    const ORDERS = 2000;
    const WORKERS = 10;
    const CAP = 100;
    const orders = Array.from({ length: ORDERS }, (_, i) => i);

    // --- seed version: no WaitGroup -------------------------------------------------------
    const seed = newStats();
    const seedTasks: Promise<void>[] = [];
    function seedHandle(): void {
      const orderChan = new Channel<number>(CAP);
      seedTasks.push(
        (async () => {
          for (const o of orders) await orderChan.send(o);
          orderChan.close();
        })(),
      );
      for (let i = 0; i < WORKERS; i++) {
        seedTasks.push(
          (async () => {
            for await (const o of orderChan) await processOrder(o, seed);
          })(),
        );
      }
    } // returns here: the caller believes the orders are handled
    seedHandle();
    const seedDoneAtReturn = seed.processed.size;
    await Promise.all(seedTasks); // in Go, main would have exited already; we let them finish to clean up

    // --- fixed: WaitGroup + graceful close ------------------------------------------------
    const pool = newStats();
    let sendsThatBlocked = 0;
    let blockedMs = 0;
    let maxLen = 0;
    let processedWhenProducerDone = 0;
    let bufferedAtClose = 0;
    const t0 = performance.now();
    async function handle(): Promise<void> {
      const orderChan = new Channel<number>(CAP);
      const wg = new WaitGroup();
      wg.add(WORKERS);
      for (let i = 0; i < WORKERS; i++) {
        void (async () => {
          try {
            for await (const o of orderChan) await processOrder(o, pool);
          } finally {
            wg.done();
          }
        })();
      }
      for (const o of orders) {
        if (!orderChan.trySend(o)) {
          // Buffer full: this is backpressure. The producer waits for a consumer to take one.
          sendsThatBlocked++;
          const s = performance.now();
          await orderChan.send(o);
          blockedMs += performance.now() - s;
        }
        maxLen = Math.max(maxLen, orderChan.len);
      }
      processedWhenProducerDone = pool.processed.size;
      bufferedAtClose = orderChan.len;
      orderChan.close(); // graceful: consumers drain what is buffered, then their loops end
      await wg.wait();
    }
    await handle();
    const poolMs = performance.now() - t0;

    // --- no backpressure: everything at once ------------------------------------------------
    const unbounded = newStats();
    const t1 = performance.now();
    await Promise.all(orders.map((o) => processOrder(o, unbounded)));
    const unboundedMs = performance.now() - t1;

    d.table([
      {
        version: 'seed L120: no WaitGroup',
        'processed when it returned': seedDoneAtReturn,
        'peak in flight': seed.peakInFlight,
        'max queued': '-',
        duplicates: seed.duplicates,
      },
      {
        version: `Channel(${CAP}) + ${WORKERS} workers + WaitGroup`,
        'processed when it returned': pool.processed.size,
        'peak in flight': pool.peakInFlight,
        'max queued': maxLen,
        duplicates: pool.duplicates,
      },
      {
        version: 'Promise.all(orders.map(process))',
        'processed when it returned': unbounded.processed.size,
        'peak in flight': unbounded.peakInFlight,
        'max queued': '-',
        duplicates: unbounded.duplicates,
      },
    ]);
    const versions = [
      ['seed L120: no WaitGroup', seedDoneAtReturn, seed.peakInFlight],
      [`Channel(${CAP}) + ${WORKERS} workers + WaitGroup`, pool.processed.size, pool.peakInFlight],
      ['Promise.all(orders.map(process))', unbounded.processed.size, unbounded.peakInFlight],
    ] as const;
    d.log(`\norders in flight at the peak (of ${ORDERS}):`);
    d.bars(versions.map(([label, , peak]) => ({ label, value: peak })));
    d.record(
      'processed-at-return',
      versions.map(([label, done]) => ({ label, value: done })),
    );
    d.record(
      'peak-in-flight',
      versions.map(([label, , peak]) => ({ label, value: peak })),
    );
    d.log(
      `\nbackpressure: ${sendsThatBlocked} of ${ORDERS} sends found the buffer full and waited (${blockedMs.toFixed(0)} ms in total); ` +
        `the producer finished when ${processedWhenProducerDone} orders were done, so it ran at most ${ORDERS - processedWhenProducerDone} ahead (cap ${CAP} + ${WORKERS} workers)`,
    );
    d.log(
      `graceful close: ${bufferedAtClose} orders were still buffered at close(); all drained before wg.wait() returned (${poolMs.toFixed(0)} ms; unbounded ${unboundedMs.toFixed(0)} ms)`,
    );

    // Throughput scales with workers while the channel bounds memory.
    const sweep: Record<string, unknown>[] = [];
    for (const workers of [1, 5, 25]) {
      const s = newStats();
      const ch = new Channel<number>(CAP);
      const wg = new WaitGroup();
      const start = performance.now();
      for (let i = 0; i < workers; i++) {
        void wg.go(async () => {
          for await (const o of ch) await processOrder(o, s);
        });
      }
      for (let o = 0; o < 250; o++) await ch.send(o);
      ch.close();
      await wg.wait();
      const ms = performance.now() - start;
      sweep.push({ workers, orders: 250, ms: Math.round(ms), 'orders/s': Math.round((250 / ms) * 1000), 'peak in flight': s.peakInFlight });
      d.check(s.processed.size === 250 && s.peakInFlight <= workers, `sweep with ${workers} workers: all processed, at most ${workers} in flight`);
    }
    d.log('');
    d.table(sweep);

    d.check(seedDoneAtReturn < ORDERS, 'the seed version returns before its orders are processed (the defect this demo shows)');
    d.check(pool.processed.size === ORDERS && pool.duplicates === 0, 'with the WaitGroup, every order is processed exactly once before handle() returns');
    d.check(pool.peakInFlight <= WORKERS, `at most ${WORKERS} orders in flight`);
    d.check(maxLen <= CAP, `the queue never exceeds its capacity ${CAP}`);
    d.check(sendsThatBlocked > 0 && ORDERS - processedWhenProducerDone <= CAP + WORKERS, 'the producer is held back by the full buffer (backpressure)');
    d.check(bufferedAtClose > 0, 'close() with orders still buffered loses none of them');
    d.check(unbounded.peakInFlight === ORDERS, 'without a pool, every order is in flight at once');
    return `seed returned with ${seedDoneAtReturn}/${ORDERS} processed; pool: ${pool.processed.size}/${ORDERS} processed, peak in flight ${pool.peakInFlight} (unbounded ${unbounded.peakInFlight}), ${sendsThatBlocked} sends held back, max queued ${maxLen}/${CAP}`;
  },
});
