import { createPool } from '@gopherkit/primitives/pool';
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { defineSuite } from './harness/suite.js';

/**
 * Acquire + release of an already-open resource (the hot path of every query through a pool),
 * sequentially and with 64 callers contending for 8 resources (the waiter queue), for gopherkit's
 * createPool, tarn and generic-pool. Resources are plain objects, so only pool overhead is measured.
 */
export default defineSuite({
  reference: 'tarn: acquire + release',
  inProcess: true,
  async setup(b) {
    const MAX = 8;
    const CONTENDERS = 64;
    let id = 0;
    const create = async () => ({ id: ++id });

    const gk = createPool({ create, max: MAX });
    const tarn = new TarnPool({ create: (cb: (err: Error | null, r: { id: number }) => void) => cb(null, { id: ++id }), destroy: () => {}, min: 0, max: MAX });
    const gp = genericPool.createPool({ create, destroy: async () => {} }, { max: MAX, min: 0 });
    b.defer(async () => {
      await gk.close();
      await tarn.destroy();
      await gp.drain();
      await gp.clear();
    });

    b.add('createPool: acquire + release', async () => {
      const lease = await gk.acquire();
      lease.release();
    });
    b.add(
      'tarn: acquire + release',
      async () => {
        const r = await tarn.acquire().promise;
        tarn.release(r);
      },
      { peer: 'tarn' },
    );
    b.add(
      'generic-pool: acquire + release',
      async () => {
        const r = await gp.acquire();
        await gp.release(r);
      },
      { peer: 'generic-pool' },
    );

    const contend = (once: () => Promise<void>) => async () => {
      await Promise.all(Array.from({ length: CONTENDERS }, once));
    };
    const tick = () => new Promise<void>((r) => setImmediate(r));
    b.add(
      `createPool: ${CONTENDERS} callers on ${MAX} resources`,
      contend(async () => {
        const lease = await gk.acquire();
        await tick();
        lease.release();
      }),
      { batch: CONTENDERS },
    );
    b.add(
      `tarn: ${CONTENDERS} callers on ${MAX} resources`,
      contend(async () => {
        const r = await tarn.acquire().promise;
        await tick();
        tarn.release(r);
      }),
      { batch: CONTENDERS, peer: 'tarn' },
    );
    b.add(
      `generic-pool: ${CONTENDERS} callers on ${MAX} resources`,
      contend(async () => {
        const r = await gp.acquire();
        await tick();
        await gp.release(r);
      }),
      { batch: CONTENDERS, peer: 'generic-pool' },
    );
  },
});
