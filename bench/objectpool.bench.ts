import { PerformanceObserver } from 'node:perf_hooks';
import { ObjectPool } from '@gopherkit/primitives/objectpool';
import { defineSuite } from './harness/suite.js';

/**
 * A 1 KiB scratch buffer per operation: allocated fresh vs taken from an ObjectPool. Each task's
 * GC activity while it runs (PerformanceObserver 'gc' entries: count, total and longest pause) is
 * attached to its row as `extra`, so the GC cost sits next to the throughput it bought.
 */
export default defineSuite({
  reference: 'new Uint8Array(1024) per op',
  inProcess: true,
  setup(b) {
    const SIZE = 1024;
    // Ops per task iteration: large enough that tinybench's own per-iteration bookkeeping does not
    // show up in the GC figures.
    const BATCH = 1000;
    let sink = 0;
    const use = (buf: Uint8Array) => {
      buf[0] = (buf[0] as number) + 1;
      buf[SIZE - 1] = 7;
      sink ^= buf[0] as number;
    };

    /** Collects gc entries between beforeAll and afterAll and reports them as the task's extra. */
    const ops = new Map<string, number>();
    const withGc = (task: string) => {
      let pauses: number[] = [];
      let obs: PerformanceObserver | undefined;
      return {
        beforeAll: () => {
          ops.set(task, 0);
          pauses = [];
          obs = new PerformanceObserver((list) => {
            for (const e of list.getEntries()) pauses.push(e.duration);
          });
          obs.observe({ entryTypes: ['gc'] });
        },
        afterAll: async () => {
          await new Promise((r) => setTimeout(r, 50)); // entries are delivered asynchronously
          obs?.disconnect();
          const total = pauses.reduce((a, p) => a + p, 0);
          const done = ops.get(task) ?? 0;
          b.extra(task, {
            ops: done,
            gcEvents: pauses.length,
            gcMsPerMillionOps: done > 0 ? Number(((total / done) * 1e6).toFixed(1)) : 0,
            gcTotalMs: Number(total.toFixed(1)),
            gcMaxPauseMs: Number(Math.max(0, ...pauses).toFixed(2)),
          });
        },
      };
    };

    const plain = 'new Uint8Array(1024) per op';
    b.add(
      plain,
      () => {
        for (let i = 0; i < BATCH; i++) use(new Uint8Array(SIZE));
        ops.set(plain, (ops.get(plain) ?? 0) + BATCH);
      },
      { batch: BATCH, ...withGc(plain) },
    );

    const slab = 'Buffer.allocUnsafe(1024) per op (Node slab)';
    b.add(
      slab,
      () => {
        for (let i = 0; i < BATCH; i++) use(Buffer.allocUnsafe(SIZE));
        ops.set(slab, (ops.get(slab) ?? 0) + BATCH);
      },
      // Node's own allocator against Node's own allocator: its ratio follows the GC state the
      // earlier work left behind (3.2–7.0 between runs), never gopherkit's code
      { batch: BATCH, unguarded: "Node's Buffer slab, no gopherkit code", ...withGc(slab) },
    );

    const pool = new ObjectPool({ create: () => new Uint8Array(SIZE) });
    const pooled = 'ObjectPool get+put';
    b.add(
      pooled,
      () => {
        for (let i = 0; i < BATCH; i++) {
          const buf = pool.get();
          use(buf);
          pool.put(buf);
        }
        ops.set(pooled, (ops.get(pooled) ?? 0) + BATCH);
      },
      { batch: BATCH, ...withGc(pooled) },
    );

    const resetPool = new ObjectPool({ create: () => new Uint8Array(SIZE), reset: (buf) => buf.fill(0) });
    const reset = 'ObjectPool get+put, reset = fill(0) of 1 KiB';
    b.add(
      reset,
      () => {
        for (let i = 0; i < BATCH; i++) {
          const buf = resetPool.get();
          use(buf);
          resetPool.put(buf);
        }
        ops.set(reset, (ops.get(reset) ?? 0) + BATCH);
      },
      { batch: BATCH, ...withGc(reset) },
    );
    b.defer(() => void sink);
  },
});
