import { PerformanceObserver } from 'node:perf_hooks';
import { ObjectPool } from '@gopherkit/primitives/objectpool';
import { defineDemo } from './harness/demo.js';

/**
 * The seed claims sync.Pool took GC pauses from 5 ms to under 1 ms (seed L278). The TS analogue:
 * a request handler that needs a 1 KiB scratch buffer, run 1,000,000 times, allocating a fresh
 * `Uint8Array(1024)` each time vs taking one from an `ObjectPool` (reset on put). GC activity is
 * read from `PerformanceObserver` 'gc' entries, so the numbers are V8's own. Node's
 * `Buffer.allocUnsafe` is shown too: it already carves small buffers out of an 8 KiB slab.
 */
export default defineDemo({
  description: 'ObjectPool: 1 KiB scratch buffers allocated vs pooled, with GC count and pause time from PerformanceObserver gc entries',
  async run(d) {
    const REQUESTS = 1_000_000;
    const CHUNK = 10_000; // requests per event-loop turn, like a busy server
    const SIZE = 1024;

    /** One "request": write a small payload into the scratch buffer and checksum it. */
    const handle = (buf: Uint8Array, i: number) => {
      for (let j = 0; j < 64; j++) buf[j] = (i + j) & 0xff;
      let sum = 0;
      for (let j = 0; j < 64; j++) sum = (sum + (buf[j] as number)) | 0;
      return sum;
    };

    const measure = async (name: string, request: (i: number) => number) => {
      const pauses: number[] = [];
      let major = 0;
      const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          pauses.push(e.duration);
          if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 4) major++; // NODE_PERFORMANCE_GC_MAJOR
        }
      });
      obs.observe({ entryTypes: ['gc'] });
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < REQUESTS; i += CHUNK) {
        for (let k = i; k < i + CHUNK; k++) sink ^= request(k);
        await new Promise<void>((r) => setImmediate(r));
      }
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 100)); // let the observer deliver the last entries
      obs.disconnect();
      const gcMs = pauses.reduce((a, b) => a + b, 0);
      return {
        variant: name,
        'requests/s': Math.round((REQUESTS / ms) * 1000),
        'GC events': pauses.length,
        'major GCs': major,
        'GC total ms': Number(gcMs.toFixed(1)),
        'GC max pause ms': Number(Math.max(0, ...pauses).toFixed(2)),
        'GC share of run': `${((gcMs / ms) * 100).toFixed(1)}%`,
        sink,
      };
    };

    // Pooled first, so it never pays for collecting the garbage an earlier phase left behind.
    const pool = new ObjectPool({ create: () => new Uint8Array(SIZE), reset: (b) => b.fill(0, 0, 64), maxIdle: 64 });
    const pooled = await measure('ObjectPool get/put (reset on put)', (i) => {
      const buf = pool.get();
      try {
        return handle(buf, i);
      } finally {
        pool.put(buf);
      }
    });
    const plain = await measure('new Uint8Array(1024) per request', (i) => handle(new Uint8Array(SIZE), i));
    const slab = await measure('Buffer.allocUnsafe(1024) (Node slab)', (i) => handle(Buffer.allocUnsafe(SIZE), i));

    const rows = [plain, pooled, slab].map(({ sink: _, ...r }) => r);
    d.table(rows);
    const stats = pool.stats();
    d.log(`\npool: created=${stats.created} reused=${stats.reused} dropped=${stats.dropped} idle=${stats.idle}`);
    d.log(
      `pooling removed ${plain['GC events'] - pooled['GC events']} of ${plain['GC events']} GC events and ${(plain['GC total ms'] - pooled['GC total ms']).toFixed(1)} ms of GC time; ` +
        `the longest pause went from ${plain['GC max pause ms']} ms to ${pooled['GC max pause ms']} ms (V8's own figures for this machine and heap, not the seed's Go numbers).`,
    );
    d.record('gc', rows);

    d.check(stats.created <= 1, 'a sequential handler must reuse one pooled buffer');
    d.check(plain['GC events'] > 0, 'allocating 1 GB of 1 KiB buffers should trigger garbage collections (the cost this demo shows)');
    d.check(pooled['GC events'] < plain['GC events'], 'pooling must cause fewer garbage collections than allocating');
    d.check(pooled['GC total ms'] < plain['GC total ms'], 'pooling must spend less total time in GC than allocating');
    return `GC events: allocate=${plain['GC events']} (${plain['GC total ms']} ms), pooled=${pooled['GC events']} (${pooled['GC total ms']} ms), Buffer slab=${slab['GC events']} (${slab['GC total ms']} ms); requests/s allocate=${plain['requests/s']}, pooled=${pooled['requests/s']}`;
  },
});
