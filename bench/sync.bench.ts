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
    b.add(
      'async-mutex: Semaphore(4) acquire+release',
      async () => {
        for (let i = 0; i < SEQ; i++) {
          const [, release] = await as4.acquire();
          release();
        }
      },
      { peer: 'async-mutex', batch: SEQ },
    );
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
    b.add(
      'Semaphore(4): acquire+release',
      async () => {
        for (let i = 0; i < SEQ; i++) {
          const permit = await s4.acquire();
          permit.release();
        }
      },
      { batch: SEQ },
    );

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
    b.add(
      `async-mutex: Semaphore(4), ${CONTENDERS} contending (per acquire)`,
      async () => {
        const s = new AsyncSemaphore(4);
        await Promise.all(
          Array.from({ length: CONTENDERS }, async () => {
            const [, release] = await s.acquire();
            await null;
            release();
          }),
        );
      },
      { peer: 'async-mutex', batch: CONTENDERS },
    );
    b.add(
      `ceiling: no lock logic, ${CONTENDERS} tasks awaiting a fresh permit (per task)`,
      async () => {
        await Promise.all(
          Array.from({ length: CONTENDERS }, async () => {
            held++;
            const permit = await Promise.resolve(freePermit());
            await null;
            permit.release();
          }),
        );
      },
      { batch: CONTENDERS, unguarded: 'harness ceiling: measures no gopherkit code' },
    );
    b.add(
      `Semaphore(4): ${CONTENDERS} contending (per acquire)`,
      async () => {
        const s = new Semaphore(4);
        await Promise.all(
          Array.from({ length: CONTENDERS }, async () => {
            const permit = await s.acquire();
            await null;
            permit.release();
          }),
        );
      },
      { batch: CONTENDERS },
    );

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
