import { Cache } from '@gopherkit/patterns/cache';
import type { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * The cache-aside race behind go-zero#3000: a reader misses, reads the row (old value) and
 * stalls; meanwhile a writer updates the row and deletes the cache key; the reader then writes
 * the old value back, and the cache serves it until the TTL. We force exactly that interleaving
 * and sample what readers get for 800 ms afterwards, for three write paths:
 * - naive: update row, DEL key;
 * - delayed double delete (classic): DEL, and DEL again 300 ms later;
 * - gopherkit `Cache`: `delete` leaves a versioned tombstone and fills are versioned, so the
 *   stalled reader's fill is refused.
 * Then 200 keys race with seeded random delays, counting keys left stale.
 */
const DOUBLE_DELETE_MS = 300;

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Mode = 'naive' | 'double-delete' | 'gopherkit';
/** Hooks a reader calls: `onRead` right after reading the row, then it waits for `resume`. */
interface Stall {
  onRead(): void;
  resume: Promise<void>;
}

/** A tiny "database" and the three write/read paths over one Redis. */
function paths(redis: Redis, cache: Cache, prefix: string, db: Map<string, string>, mode: Mode) {
  const naiveRead = async (key: string, stall?: Stall) => {
    const hit = await redis.get(prefix + key);
    if (hit !== null) return hit;
    const value = db.get(key) as string;
    stall?.onRead();
    await stall?.resume;
    await redis.set(prefix + key, value, 'PX', 60_000);
    return value;
  };
  const read =
    mode === 'gopherkit'
      ? (key: string, stall?: Stall) =>
          cache.take(key, async () => {
            const value = db.get(key);
            stall?.onRead();
            await stall?.resume;
            return value;
          }) as Promise<string>
      : naiveRead;
  const write = async (key: string, value: string) => {
    db.set(key, value);
    if (mode === 'gopherkit') return cache.delete(key);
    await redis.del(prefix + key);
    if (mode === 'double-delete') {
      setTimeout(() => {
        void redis.del(prefix + key);
      }, DOUBLE_DELETE_MS);
    }
  };
  return { read, write };
}

async function forced(redis: Redis, mode: Mode) {
  const prefix = `demo:cons:${mode}:${Date.now()}:`;
  const cache = new Cache(redis, { prefix });
  const db = new Map([['row', 'v1']]);
  const { read, write } = paths(redis, cache, mode === 'gopherkit' ? `${prefix}cache:` : prefix, db, mode);
  const readDone = gate();
  const resume = gate();
  const reader = read('row', { onRead: readDone.open, resume: resume.opened }); // misses, reads v1 from the "database", stalls
  await readDone.opened;
  await write('row', 'v2'); // the update commits and the key is deleted
  resume.open(); // the stalled reader now writes v1 back (or tries to)
  const firstRead = await reader;
  let stale = 0;
  let samples = 0;
  let lastStaleAt = -1;
  const t0 = performance.now();
  while (performance.now() - t0 < 800) {
    samples++;
    if ((await read('row')) !== 'v2') {
      stale++;
      lastStaleAt = performance.now() - t0;
    }
    await sleep(20);
  }
  const finalValue = await read('row');
  await cache.close();
  return { mode, 'stalled reader returned': firstRead, 'stale reads': stale, samples, 'stale for ms': Math.round(lastStaleAt), 'final value': finalValue };
}

async function raced(redis: Redis, mode: Mode, rnd: () => number) {
  const prefix = `demo:cons:race:${mode}:${Date.now()}:`;
  const cache = new Cache(redis, { prefix });
  const KEYS = 200;
  const db = new Map(Array.from({ length: KEYS }, (_, i) => [`k${i}`, 'old']));
  const { read, write } = paths(redis, cache, mode === 'gopherkit' ? `${prefix}cache:` : prefix, db, mode);
  const delays = Array.from({ length: KEYS }, () => [Math.floor(rnd() * 40), Math.floor(rnd() * 40)] as const);
  await Promise.all(
    delays.map(async ([readerStall, writerDelay], i) => {
      const key = `k${i}`;
      await Promise.all([read(key, { onRead() {}, resume: sleep(readerStall) }), sleep(writerDelay).then(() => write(key, 'new'))]);
    }),
  );
  await sleep(DOUBLE_DELETE_MS + 300);
  let stale = 0;
  for (let i = 0; i < KEYS; i++) if ((await read(`k${i}`)) !== 'new') stale++;
  await cache.close();
  return stale;
}

export default defineDemo({
  description: 'Cache consistency: update + read race (go-zero#3000); naive cache-aside stays stale, delayed double delete and versioned writes do not',
  async run(d) {
    const redis = (await d.redis()).client();
    const rows = [];
    for (const mode of ['naive', 'double-delete', 'gopherkit'] as const) rows.push(await forced(redis, mode));
    d.table(rows);
    const [naive, dd, kit] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    d.check(
      naive['final value'] === 'v1' && naive['stale reads'] === naive.samples,
      'naive cache-aside: the stalled reader put v1 back and every read after the update is stale',
    );
    d.check(
      dd['final value'] === 'v2' && dd['stale for ms'] < DOUBLE_DELETE_MS + 400,
      `delayed double delete: stale only until the second delete (${dd['stale for ms']} ms)`,
    );
    d.check(kit['stale reads'] === 0 && kit['final value'] === 'v2', 'gopherkit versioned fill: the stale fill is refused, no read is stale');

    const race = { naive: 0, 'double-delete': 0, gopherkit: 0 };
    for (const mode of ['naive', 'double-delete', 'gopherkit'] as const) race[mode] = await raced(redis, mode, d.random(42));
    d.table([{ keys: 200, ...Object.fromEntries(Object.entries(race).map(([k, v]) => [`stale (${k})`, v])) }]);
    d.bars(
      Object.entries(race).map(([label, value]) => ({ label, value })),
      { unit: ' stale keys of 200' },
    );
    d.record('race', { keys: 200, staleKeys: race, forced: rows });
    d.check(race['double-delete'] === 0, `delayed double delete: no key stale after the second delete (${race['double-delete']})`);
    d.check(race.gopherkit === 0, `gopherkit: no key stale (${race.gopherkit})`);
    return `forced race: naive stale reads ${naive['stale reads']}/${naive.samples}, double delete stale for ${dd['stale for ms']} ms, versioned 0; random race stale keys naive=${race.naive} double-delete=${race['double-delete']} gopherkit=${race.gopherkit}`;
  },
});
