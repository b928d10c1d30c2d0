import { background } from '@gopherkit/primitives/context';
import { ErrGroup } from '@gopherkit/primitives/errgroup';
import { defineDemo } from './harness/demo.js';

/**
 * An order request runs three steps at once (seed L598–624: checkInventory, validatePayment,
 * loadRecommendations). Payment fails after 20 ms; the other two steps are 10 sequential 10 ms
 * queries each (≥ 100 ms), so they are guaranteed to be mid-way when the failure lands.
 *
 * - Promise.all rejects at the failure and walks away: the siblings keep running queries for a
 *   caller that already returned an error, and nothing tells them to stop.
 * - Promise.allSettled waits for everything but cancels nothing: all the wasted work runs first.
 * - ErrGroup.withContext cancels the group context with the error as cause, the siblings stop at
 *   their next query, and wait() returns only once every task has settled: nothing runs on.
 */
export default defineDemo({
  description: 'ErrGroup vs Promise.all: the first failure cancels the siblings and wait() returns after all settled; Promise.all leaves work running',
  async run(d) {
    const QUERY_MS = 10;
    const QUERIES = 10;
    const FAIL_AT_MS = 20;

    type Run = { running: number; queriesAfterReturn: number; returned: boolean; queries: number };
    const query = (signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, QUERY_MS);
        const onAbort = () => {
          clearTimeout(t);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    const step = (run: Run) => async (signal?: AbortSignal) => {
      run.running++;
      try {
        for (let i = 0; i < QUERIES; i++) {
          await query(signal);
          run.queries++;
          if (run.returned) run.queriesAfterReturn++;
        }
      } finally {
        run.running--;
      }
    };
    const payment = (run: Run) => async () => {
      run.running++;
      try {
        await new Promise((r) => setTimeout(r, FAIL_AT_MS));
        throw new Error('validatePayment: card declined');
      } finally {
        run.running--;
      }
    };
    const fresh = (): Run => ({ running: 0, queriesAfterReturn: 0, returned: false, queries: 0 });
    const rows: Record<string, unknown>[] = [];
    const settle = async (run: Run) => {
      while (run.running > 0) await new Promise((r) => setTimeout(r, QUERY_MS));
    };

    // --- Promise.all ------------------------------------------------------------------------
    const all = fresh();
    let t0 = performance.now();
    const allErr = await Promise.all([step(all)(), payment(all)(), step(all)()]).catch((e: Error) => e);
    const allMs = performance.now() - t0;
    const allRunningAtReturn = all.running;
    all.returned = true;
    await settle(all);
    rows.push({
      approach: 'Promise.all',
      'returned after ms': Math.round(allMs),
      'tasks running when it returned': allRunningAtReturn,
      'queries run after it returned': all.queriesAfterReturn,
      'total queries': all.queries,
      error: (allErr as Error).message,
    });

    // --- Promise.allSettled -----------------------------------------------------------------
    const settled = fresh();
    t0 = performance.now();
    const outcomes = await Promise.allSettled([step(settled)(), payment(settled)(), step(settled)()]);
    const settledMs = performance.now() - t0;
    const settledRunning = settled.running;
    settled.returned = true;
    rows.push({
      approach: 'Promise.allSettled',
      'returned after ms': Math.round(settledMs),
      'tasks running when it returned': settledRunning,
      'queries run after it returned': settled.queriesAfterReturn,
      'total queries': settled.queries,
      error: (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason.message,
    });

    // --- ErrGroup.withContext ---------------------------------------------------------------
    const eg = fresh();
    const [g, ctx] = ErrGroup.withContext(background());
    t0 = performance.now();
    g.go((c) => step(eg)(c.signal));
    g.go(() => payment(eg)());
    g.go((c) => step(eg)(c.signal));
    const egErr = await g.wait().catch((e: Error) => e);
    const egMs = performance.now() - t0;
    const egRunning = eg.running;
    eg.returned = true;
    await settle(eg);
    rows.push({
      approach: 'ErrGroup.withContext',
      'returned after ms': Math.round(egMs),
      'tasks running when it returned': egRunning,
      'queries run after it returned': eg.queriesAfterReturn,
      'total queries': eg.queries,
      error: (egErr as Error).message,
    });

    d.table(rows);
    d.log(`\nErrGroup context: err()=${ctx.err()?.message}, signal.reason="${(ctx.signal.reason as Error).message}" (the first error is the cause)`);
    d.record('outcomes', rows);

    d.check(allRunningAtReturn > 0, 'Promise.all should return while sibling tasks are still running (the failure this demo shows)');
    d.check(all.queriesAfterReturn > 0, 'Promise.all siblings should keep querying after it returned');
    d.check(settled.queries === 2 * QUERIES, 'Promise.allSettled waits, but every wasted query still runs');
    d.check(egRunning === 0, 'ErrGroup.wait() must return only after every task settled');
    d.check(eg.queriesAfterReturn === 0, 'no query may run after ErrGroup.wait() returned');
    d.check(eg.queries < settled.queries, 'the group context must stop the siblings early');
    d.check((egErr as Error).message === 'validatePayment: card declined', 'wait() must reject with the first error');
    d.check(ctx.signal.reason === egErr, 'the group context must be cancelled with the first error as cause');
    return `Promise.all: ${allRunningAtReturn} tasks left running, ${all.queriesAfterReturn} queries after return; allSettled: ${settled.queries} queries; ErrGroup: 0 running, ${eg.queries} queries total, ${eg.queriesAfterReturn} after return`;
  },
});
