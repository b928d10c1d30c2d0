import { ManualClock } from '@gopherkit/primitives/clock';
import { hash32 } from '@gopherkit/primitives/hash';
import { ClockMovedBackwardsError, Snowflake } from '@gopherkit/primitives/snowflake';
import { Snowflake as SapphireSnowflake } from '@sapphire/snowflake';
import { defineDemo } from './harness/demo.js';

const EPOCH = Date.UTC(2020, 0, 1);

/**
 * The seed's generator (seed L2672–2689), transcribed: no clock-rollback check — when `now` is
 * earlier than the last timestamp it falls into the `else`, resets the sequence and re-issues IDs
 * of a millisecond it already used.
 */
function seedSnowflake(now: () => number, workerId: number) {
  let timestamp = 0;
  let sequence = 0;
  return () => {
    let t = now();
    if (t === timestamp) {
      sequence = (sequence + 1) & 4095;
      if (sequence === 0) while (t <= timestamp) t = now();
    } else {
      sequence = 0;
    }
    timestamp = t;
    return (BigInt(t - EPOCH) << 22n) | (BigInt(workerId) << 12n) | BigInt(sequence);
  };
}

const countDuplicates = (ids: bigint[]) => ids.length - new Set(ids).size;

/**
 * Snowflake IDs: layout and decomposition, the per-ms sequence that waits on overflow (where
 * @sapphire/snowflake wraps and repeats), the clock stepping back (where the seed's generator
 * repeats IDs), and the `id % N` sharding trap with its fix.
 */
export default defineDemo({
  description: 'Snowflake: decompose, overflow waits (sapphire wraps and repeats), clock-backwards guard vs the seed, id % N shard skew and its fix',
  async run(d) {
    // --- 1. layout and decomposition ---------------------------------------------------------
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
    const ids = new Snowflake({ workerId: 42, epoch: EPOCH, clock });
    const desc = ids.describe();
    d.log(
      `layout ${desc.timestampBits}|${desc.workerBits}|${desc.sequenceBits}: ${desc.workers} workers × ${desc.idsPerMs} IDs/ms, lifetime ${desc.lifetimeYears.toFixed(1)} years (until ${desc.endsAt.toISOString().slice(0, 10)})`,
    );
    const sample = [ids.next(), ids.next()];
    await clock.advance(1);
    sample.push(ids.next());
    d.table(sample.map((id) => ({ id: id.toString(), ...ids.decompose(id), iso: new Date(ids.decompose(id).timestamp).toISOString() })));
    const roundTrip = sample.every((id) => ids.compose(ids.decompose(id)) === id);
    d.check(roundTrip, 'compose(decompose(id)) must give back the same ID');

    // --- 2. a burst of 5000 IDs inside one millisecond -------------------------------------------
    // The clock is frozen at one ms, so the burst is the same every run. sapphire's 12-bit increment
    // wraps regardless of the timestamp; gopherkit's nextAsync() waits for the next ms instead.
    const BURST = 5000;
    const t0 = clock.now();
    const sapphire = new SapphireSnowflake(EPOCH);
    const sapphireIds = Array.from({ length: BURST }, () => sapphire.generate({ timestamp: t0, workerId: 1n }));
    const burstClock = new ManualClock(t0);
    const ours = new Snowflake({ workerId: 1, epoch: EPOCH, clock: burstClock });
    const oursIds: bigint[] = [];
    const burst = (async () => {
      for (let i = 0; i < BURST; i++) oursIds.push(await ours.nextAsync());
    })();
    await burstClock.advance(0);
    const beforeTick = oursIds.length; // 4096: the sequence is exhausted, the rest wait
    await burstClock.advance(1);
    await burst;
    const sapphireDup = countDuplicates(sapphireIds);
    const oursDup = countDuplicates(oursIds);
    d.table([
      { generator: '@sapphire/snowflake generate()', 'IDs in one ms': BURST, duplicates: sapphireDup, 'what happens at 4096': 'increment wraps to 0' },
      {
        generator: 'gopherkit nextAsync()',
        'IDs in one ms': beforeTick,
        duplicates: oursDup,
        'what happens at 4096': `waits for next ms (${BURST - beforeTick} IDs there)`,
      },
    ]);
    d.check(sapphireDup === BURST - 4096, `sapphire should repeat exactly ${BURST - 4096} IDs in a ${BURST}-ID burst (the failure shown)`);
    d.check(oursDup === 0 && beforeTick === 4096, 'gopherkit must issue at most 4096 IDs per ms and never repeat one');

    // Informational: a real tight loop on this machine (speed varies with load; not asserted).
    const realSapphire = new SapphireSnowflake(EPOCH);
    const realOurs = new Snowflake({ workerId: 1, epoch: EPOCH });
    const N = 500_000;
    let t = performance.now();
    const rs = Array.from({ length: N }, () => realSapphire.generate());
    const sapphireMs = performance.now() - t;
    t = performance.now();
    const ro = Array.from({ length: N }, () => realOurs.next());
    const oursMs = performance.now() - t;
    const realSapphireDup = countDuplicates(rs);
    const realOursDup = countDuplicates(ro);
    d.log(
      `tight loop, ${N} IDs on the real clock: sapphire ${(N / sapphireMs / 1000).toFixed(2)}M IDs/s with ${realSapphireDup} duplicates; gopherkit ${(N / oursMs / 1000).toFixed(2)}M IDs/s with ${realOursDup} duplicates`,
    );
    d.check(realOursDup === 0, 'gopherkit must never repeat an ID on the real clock');

    // --- 3. the clock steps back 5 ms (NTP correction) -----------------------------------------
    // Same timeline for both: 2 IDs per ms for 10 ms, the clock steps back 5 ms, 2 IDs per ms for 10 ms more.
    const seedClock = new ManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
    const seedGen = seedSnowflake(() => seedClock.now(), 7);
    const seedIds: bigint[] = [];
    for (let phase = 0; phase < 2; phase++) {
      for (let ms = 0; ms < 10; ms++) {
        seedIds.push(seedGen(), seedGen());
        await seedClock.advance(1);
      }
      if (phase === 0) seedClock.setTime(seedClock.now() - 5);
    }
    const back = new ManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
    const guarded = new Snowflake({ workerId: 7, epoch: EPOCH, clock: back, maxBackwardsMs: 10 });
    const guardedIds: bigint[] = [];
    let waitedMs = 0;
    /** nextAsync(), moving the clock 1 ms at a time while it waits (as real time would). */
    const take = async () => {
      let done = false;
      const p = guarded.nextAsync().then((id) => {
        done = true;
        return id;
      });
      await back.advance(0);
      while (!done) {
        await back.advance(1);
        waitedMs++;
      }
      return p;
    };
    for (let phase = 0; phase < 2; phase++) {
      for (let ms = 0; ms < 10; ms++) {
        guardedIds.push(await take(), await take());
        await back.advance(1);
      }
      if (phase === 0) back.setTime(back.now() - 5);
    }
    const seedDup = countDuplicates(seedIds);
    const guardedDup = countDuplicates(guardedIds);
    back.setTime(back.now() - 50); // a 50 ms step: beyond maxBackwardsMs
    let bigStep = 'no error';
    try {
      guarded.next();
    } catch (e) {
      if (e instanceof ClockMovedBackwardsError) bigStep = e.message;
      else throw e;
    }
    const strict = new Snowflake({ workerId: 7, epoch: EPOCH, clock: back, onClockBackwards: 'throw' });
    strict.next();
    back.setTime(back.now() - 1);
    let strictStep = 'no error';
    try {
      strict.next();
    } catch (e) {
      if (e instanceof ClockMovedBackwardsError) strictStep = e.message;
      else throw e;
    }
    d.table([
      { generator: "seed's NextID (no rollback check)", 'IDs issued': seedIds.length, duplicates: seedDup, 'waited (ms)': 0 },
      { generator: "gopherkit (onClockBackwards: 'wait', 10 ms)", 'IDs issued': guardedIds.length, duplicates: guardedDup, 'waited (ms)': waitedMs },
    ]);
    d.log(`50 ms step back with 'wait' (max 10 ms): ${bigStep}`);
    d.log(`1 ms step back with 'throw': ${strictStep}`);
    d.check(seedDup === 10, "the seed's generator should repeat the 10 IDs of the 5 replayed ms (the failure shown)");
    d.check(guardedDup === 0, 'gopherkit must not repeat IDs when the clock steps back');
    d.check(bigStep.includes('more than maxBackwardsMs'), 'a step beyond maxBackwardsMs must throw ClockMovedBackwardsError');
    d.check(strictStep.includes('policy is "throw"'), "'throw' must refuse any backwards step");

    // --- 4. sharding by id % 4 at low traffic ----------------------------------------------------
    const shardClock = new ManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
    const orders = new Snowflake({ workerId: 3, epoch: EPOCH, clock: shardClock });
    const rnd = d.random(2024);
    const byId = [0, 0, 0, 0];
    const byHash = [0, 0, 0, 0];
    const byUser = [0, 0, 0, 0];
    const ORDERS = 2000;
    for (let i = 0; i < ORDERS; i++) {
      const id = orders.next();
      byId[Number(id % 4n)]!++;
      byHash[hash32(id.toString()) % 4]!++;
      byUser[Math.floor(rnd() * 100_000) % 4]!++;
      await shardClock.advance(1 + Math.floor(rnd() * 20)); // ~100 orders/s: one every 1–20 ms
    }
    d.table([
      { 'shard key': 'id % 4 (seed L2622)', shard0: byId[0], shard1: byId[1], shard2: byId[2], shard3: byId[3] },
      { 'shard key': 'hash32(id) % 4', shard0: byHash[0], shard1: byHash[1], shard2: byHash[2], shard3: byHash[3] },
      { 'shard key': 'userId % 4', shard0: byUser[0], shard1: byUser[1], shard2: byUser[2], shard3: byUser[3] },
    ]);
    d.log('id % 4 === sequence % 4 (time and worker fields are multiples of 4096); at low traffic the sequence is 0.');
    const maxShare = (s: number[]) => Math.max(...s) / ORDERS;
    d.check(maxShare(byId) > 0.95, 'id % 4 should pile (nearly) everything onto one shard at low traffic (the failure shown)');
    d.check(maxShare(byHash) < 0.3, 'hashing the ID must spread orders evenly (no shard above 30%)');

    return `burst dup: sapphire=${sapphireDup} gopherkit=${oursDup}; 5 ms step back dup: seed=${seedDup} gopherkit=${guardedDup}; id%4 shard0=${(maxShare(byId) * 100).toFixed(0)}% vs hashed max ${(maxShare(byHash) * 100).toFixed(0)}%`;
  },
});
