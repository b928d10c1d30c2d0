import { setMaxListeners } from 'node:events';
import { SingleFlight } from '@gopherkit/primitives/singleflight';
import { defineDemo } from './harness/demo.js';

/**
 * A hot key expires and 1000 requests miss the cache at the same moment (the cache-breakdown
 * stampede, seed L3704+). Without coalescing every request runs the 20 ms database query; with
 * SingleFlight one runs and 999 share its result. Also shown: an error reaches every waiter, and
 * callers that give up leave without cancelling the query the others still wait for.
 */
export default defineDemo({
  description: 'SingleFlight: 1000 concurrent callers for one key run the loader once; errors are shared; callers that abort leave the others alone',
  async run(d) {
    const CALLERS = 1000;
    const QUERY_MS = 20;
    let dbQueries = 0;
    let peakConcurrentQueries = 0;
    let inFlight = 0;
    const loadProduct = async (id: string, signal?: AbortSignal) => {
      dbQueries++;
      inFlight++;
      peakConcurrentQueries = Math.max(peakConcurrentQueries, inFlight);
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, QUERY_MS);
          signal?.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              reject(signal.reason);
            },
            { once: true },
          );
        });
        return { id, price: 1999 };
      } finally {
        inFlight--;
      }
    };
    const rows: Record<string, unknown>[] = [];

    // --- naive: every miss goes to the database ---------------------------------------------
    dbQueries = peakConcurrentQueries = 0;
    let t0 = performance.now();
    await Promise.all(Array.from({ length: CALLERS }, () => loadProduct('p1')));
    const naive = { queries: dbQueries, peak: peakConcurrentQueries, ms: performance.now() - t0 };
    rows.push({
      approach: 'naive (each caller loads)',
      callers: CALLERS,
      'db queries': naive.queries,
      'peak concurrent queries': naive.peak,
      'wall ms': Math.round(naive.ms),
    });

    // --- SingleFlight ---------------------------------------------------------------------------
    const sf = new SingleFlight<string, { id: string; price: number }>();
    dbQueries = peakConcurrentQueries = 0;
    t0 = performance.now();
    const results = await Promise.all(Array.from({ length: CALLERS }, () => sf.do('p1', (signal) => loadProduct('p1', signal))));
    const coalesced = { queries: dbQueries, peak: peakConcurrentQueries, ms: performance.now() - t0 };
    const sameValue = results.every((r) => r.value === results[0]?.value);
    const allShared = results.every((r) => r.shared);
    rows.push({
      approach: 'SingleFlight.do',
      callers: CALLERS,
      'db queries': coalesced.queries,
      'peak concurrent queries': coalesced.peak,
      'wall ms': Math.round(coalesced.ms),
    });

    // --- 1000 callers over 10 keys: one query per key ---------------------------------------
    dbQueries = 0;
    await Promise.all(Array.from({ length: CALLERS }, (_, i) => sf.do(`p${i % 10}`, (s) => loadProduct(`p${i % 10}`, s))));
    const perKey = dbQueries;
    rows.push({ approach: 'SingleFlight.do, 10 keys', callers: CALLERS, 'db queries': perKey, 'peak concurrent queries': 10, 'wall ms': '-' });
    d.table(rows);

    // --- an error reaches every waiter ------------------------------------------------------
    const failing = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        sf.do('p-broken', async () => {
          await new Promise((r) => setTimeout(r, 5));
          throw new Error('db: connection reset');
        }),
      ),
    );
    const errorsShared = failing.every((o) => o.status === 'rejected' && (o.reason as Error).message === 'db: connection reset');

    // --- half the callers give up while the query runs; it keeps running for the others -----
    // The query is held on a gate, so the give-up always lands mid-query (no timing race).
    let releaseQuery!: () => void;
    const gate = new Promise<void>((r) => (releaseQuery = r));
    let p2Queries = 0;
    let p2SignalAborted = false;
    const gatedLoad = async (signal: AbortSignal) => {
      p2Queries++;
      await gate;
      p2SignalAborted = signal.aborted;
      return { id: 'p2', price: 1999 };
    };
    const giveUp = new AbortController();
    setMaxListeners(CALLERS, giveUp.signal);
    const impatient = Array.from({ length: 500 }, () => sf.do('p2', gatedLoad, { signal: giveUp.signal }));
    const patient = Array.from({ length: 500 }, () => sf.do('p2', gatedLoad));
    giveUp.abort(new Error('client timeout'));
    const impatientOutcomes = await Promise.allSettled(impatient);
    releaseQuery();
    const patientResults = await Promise.all(patient);
    const leftAlone = impatientOutcomes.every((o) => o.status === 'rejected') && patientResults.every((r) => r.value.id === 'p2') && !p2SignalAborted;

    // --- every caller gives up: the query itself is aborted ---------------------------------
    const allGiveUp = new AbortController();
    setMaxListeners(CALLERS, allGiveUp.signal);
    let queryAborted = false;
    const all = Array.from({ length: 100 }, () =>
      sf.do(
        'p3',
        (signal) =>
          new Promise<{ id: string; price: number }>((_, reject) =>
            signal.addEventListener('abort', () => {
              queryAborted = true;
              reject(signal.reason);
            }),
          ),
        { signal: allGiveUp.signal },
      ),
    );
    allGiveUp.abort(new Error('client timeout'));
    await Promise.allSettled(all);

    d.log(`\nerror shared by all 100 waiters: ${errorsShared}`);
    d.log(`500 callers gave up mid-query, 500 kept waiting: ${p2Queries} query, not aborted, the patient 500 got the value: ${leftAlone}`);
    d.log(`all 100 callers gave up: the loader's signal aborted = ${queryAborted}`);
    d.record('stampede', rows);

    d.check(naive.queries === CALLERS, 'without coalescing every caller should hit the database (the failure this demo shows)');
    d.check(coalesced.queries === 1, '1000 concurrent callers must run exactly one query');
    d.check(sameValue && allShared, 'every caller must get the same value, marked shared');
    d.check(perKey === 10, '10 keys must run exactly 10 queries');
    d.check(errorsShared, 'an error must reach every waiter');
    d.check(leftAlone && p2Queries === 1, 'callers that give up must not disturb the others');
    d.check(queryAborted, "the loader's signal must abort once every caller has left");
    return `naive db queries=${naive.queries}, singleflight db queries=${coalesced.queries} for ${CALLERS} callers (10 keys → ${perKey}), errors shared=${errorsShared}, abort isolation=${leftAlone}`;
  },
});
