import { ErrGroup } from '@gopherkit/primitives/errgroup';
import { Mutex, Semaphore } from '@gopherkit/primitives/sync';
import { Mutex as AsyncMutex, Semaphore as AsyncSemaphore } from 'async-mutex';
import pLimit from 'p-limit';
import { defineSuite } from './harness/suite.js';

/**
 * Mutex and Semaphore vs async-mutex, ErrGroup with a limit vs p-limit. Every task awaits as a
 * user would; "contending" tasks hold the lock across an `await` so waiters really queue. Both
 * sides release explicitly (`using` adds the transpiler's disposal helpers, the same for any lock).
 * The two `ceiling` rows run the same loops with no lock logic at all (one await of a fresh
 * permit where the acquire was): the most a permit-returning lock can reach in this harness.
 * After the runs, alternating blocks of Semaphore (and of the contended ceiling) against
 * async-mutex's Semaphore report their paired ratio as `pairedVsAsyncMutex`.
 */
export default defineSuite({
  reference: 'async-mutex: Semaphore(4) acquire+release',
  inProcess: true,
  setup(b) {
    const CONTENDERS = 100;
    const TASKS = 1000;
    const LIMIT = 8;

    // --- uncontended lock + release, 100 in a row per iteration (a lock on a hot path) ---------
    const SEQ = 100;
    const am = new AsyncMutex();
    b.add(
      'async-mutex: Mutex acquire+release',
      async () => {
        for (let i = 0; i < SEQ; i++) {
          const release = await am.acquire();
          release();
        }
      },
      { peer: 'async-mutex', batch: SEQ },
    );
    const mu = new Mutex();
    b.add(
      'Mutex: lock+release',
      async () => {
        for (let i = 0; i < SEQ; i++) {
          const guard = await mu.lock();
          guard.release();
        }
      },
      { batch: SEQ },
    );
    const as4 = new AsyncSemaphore(4);
    const asyncMutexSemaphore = async () => {
      for (let i = 0; i < SEQ; i++) {
        const [, release] = await as4.acquire();
        release();
      }
    };
    b.add('async-mutex: Semaphore(4) acquire+release', asyncMutexSemaphore, { peer: 'async-mutex', batch: SEQ });
    // No lock logic at all, only what any acquire returning a fresh permit costs: one object and
    // one awaited promise. No such lock can run faster than this row, so it bounds the ratio any
    // permit-returning lock (async-mutex's returns a fresh [value, releaser] too) can reach here.
    let held = 0;
    function releaseFree(this: { released: boolean }) {
      this.released = true;
      held--;
    }
    // the cheapest permit there is: a plain object, a shared release function
    const freePermit = () => ({ released: false, release: releaseFree });
    b.add(
      'ceiling: no lock logic, await Promise.resolve(fresh permit)',
      async () => {
        for (let i = 0; i < SEQ; i++) {
          held++;
          const permit = await Promise.resolve(freePermit());
          permit.release();
        }
      },
      { batch: SEQ, unguarded: 'harness ceiling: measures no gopherkit code' },
    );
    b.defer(() => {
      if (held !== 0) throw new Error(`ceiling rows: ${held} permits never released`);
    });
    const s4 = new Semaphore(4);
    const semaphore = async () => {
      for (let i = 0; i < SEQ; i++) {
        const permit = await s4.acquire();
        permit.release();
      }
    };
    b.add('Semaphore(4): acquire+release', semaphore, { batch: SEQ });

    // --- 100 tasks contending for one lock, each holding it across an await -------------------
    b.add(
      `async-mutex: Mutex, ${CONTENDERS} contending (per acquire)`,
      async () => {
        const m = new AsyncMutex();
        await Promise.all(
          Array.from({ length: CONTENDERS }, async () => {
            const release = await m.acquire();
            await null;
            release();
          }),
        );
      },
      { peer: 'async-mutex', batch: CONTENDERS },
    );
    b.add(
      `Mutex: ${CONTENDERS} contending (per lock)`,
      async () => {
        const m = new Mutex();
        await Promise.all(
          Array.from({ length: CONTENDERS }, async () => {
            const guard = await m.lock();
            await null;
            guard.release();
          }),
        );
      },
      { batch: CONTENDERS },
    );

    // --- weighted semaphore, 4 permits, 100 contenders ----------------------------------------
    const asyncMutexSemaphoreContended = async () => {
      const s = new AsyncSemaphore(4);
      await Promise.all(
        Array.from({ length: CONTENDERS }, async () => {
          const [, release] = await s.acquire();
          await null;
          release();
        }),
      );
    };
    b.add(`async-mutex: Semaphore(4), ${CONTENDERS} contending (per acquire)`, asyncMutexSemaphoreContended, {
      peer: 'async-mutex',
      batch: CONTENDERS,
    });
    const ceilingContended = async () => {
      await Promise.all(
        Array.from({ length: CONTENDERS }, async () => {
          held++;
          const permit = await Promise.resolve(freePermit());
          await null;
          permit.release();
        }),
      );
    };
    b.add(`ceiling: no lock logic, ${CONTENDERS} tasks awaiting a fresh permit (per task)`, ceilingContended, {
      batch: CONTENDERS,
      unguarded: 'harness ceiling: measures no gopherkit code',
    });
    const semaphoreContended = async () => {
      const s = new Semaphore(4);
      await Promise.all(
        Array.from({ length: CONTENDERS }, async () => {
          const permit = await s.acquire();
          await null;
          permit.release();
        }),
      );
    };
    b.add(`Semaphore(4): ${CONTENDERS} contending (per acquire)`, semaphoreContended, { batch: CONTENDERS });

    b.defer(async () => {
      // paired: alternate blocks of the two semaphores so both see the same machine load (the
      // tasks above run one after another, and this machine's speed drifts between them)
      const paired = async (ours: () => Promise<void>, peer: () => Promise<void>, iterations: number) => {
        const block = async (fn: () => Promise<void>) => {
          const t = performance.now();
          for (let i = 0; i < iterations; i++) await fn();
          return performance.now() - t;
        };
        await block(ours);
        await block(peer);
        let oursMs = 0;
        let peerMs = 0;
        for (let round = 0; round < (b.short ? 4 : 20); round++) {
          // swap the order every round so neither side always runs right after the other
          if (round % 2 === 0) {
            oursMs += await block(ours);
            peerMs += await block(peer);
          } else {
            peerMs += await block(peer);
            oursMs += await block(ours);
          }
        }
        return Number((peerMs / oursMs).toFixed(2));
      };
      b.extra('Semaphore(4): acquire+release', { pairedVsAsyncMutex: await paired(semaphore, asyncMutexSemaphore, 1000) });
      b.extra(`Semaphore(4): ${CONTENDERS} contending (per acquire)`, {
        pairedVsAsyncMutex: await paired(semaphoreContended, asyncMutexSemaphoreContended, 300),
      });
      b.extra(`ceiling: no lock logic, ${CONTENDERS} tasks awaiting a fresh permit (per task)`, {
        pairedVsAsyncMutex: await paired(ceilingContended, asyncMutexSemaphoreContended, 300),
      });
    });

    // --- bounded fan-out: 1000 async tasks, at most 8 at once, wait for all --------------------
    const task = async () => {
      await null;
    };
    b.add(
      `p-limit(${LIMIT}): ${TASKS} tasks (per task)`,
      async () => {
        const limit = pLimit(LIMIT);
        await Promise.all(Array.from({ length: TASKS }, () => limit(task)));
      },
      { peer: 'p-limit', batch: TASKS },
    );
    b.add(
      `ErrGroup setLimit(${LIMIT}): ${TASKS} tasks (per task)`,
      async () => {
        const g = new ErrGroup();
        g.setLimit(LIMIT);
        for (let i = 0; i < TASKS; i++) void g.go(task);
        await g.wait();
      },
      { batch: TASKS },
    );
    b.add(
      `ErrGroup setLimit(${LIMIT}), awaiting each go(): ${TASKS} tasks (per task)`,
      async () => {
        const g = new ErrGroup();
        g.setLimit(LIMIT);
        for (let i = 0; i < TASKS; i++) await g.go(task);
        await g.wait();
      },
      { batch: TASKS },
    );
  },
});
