import { ManualClock } from '@gopherkit/primitives/clock';
import { Snowflake } from '@gopherkit/primitives/snowflake';
import { defineDemo } from './harness/demo.js';

/** `yyyyMMddHHmmss` in UTC, as Go's `time.Now().Format("20060102150405")`. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * The seed's order number (seed L8923–8929): `yyyyMMddHHmmss` + `rand.Intn(10000)` as 4 digits +
 * machine ID as 2 digits. Within one second on one machine only the 4 random digits differ, so
 * collisions follow the birthday bound: P(any collision among n) = 1 − ∏(1 − i/10000).
 */
function seedOrderNo(nowMs: number, random: () => number, machineId: number): string {
  return `${stamp(nowMs)}${String(Math.floor(random() * 10_000)).padStart(4, '0')}${String(machineId).padStart(2, '0')}`;
}

function birthday(n: number, space: number): number {
  let pNone = 1;
  for (let i = 1; i < n; i++) pNone *= 1 - i / space;
  return 1 - pNone;
}

/**
 * Order numbers built from time + a 4-digit random + machine ID collide at the birthday bound —
 * ≈39% of seconds at 100 orders/s on one machine — while Snowflake IDs never do. Fixed seed:
 * the same counts every run.
 */
export default defineDemo({
  description: "Order numbers: the seed's timestamp+rand(10000)+machine collide at the birthday bound (~39% of seconds at 100/s); Snowflake never does",
  async run(d) {
    const SECONDS = 2000;
    const rates = [10, 100, 1000];
    const rows: Record<string, unknown>[] = [];
    const measured = new Map<number, { pSecond: number; seedDup: number; sfDup: number }>();
    for (const rate of rates) {
      const random = d.random(0x5eed + rate);
      const clock = new ManualClock(Date.UTC(2026, 10, 24, 0, 0, 0));
      const snowflake = new Snowflake({ workerId: 1, clock });
      let secondsWithCollision = 0;
      let seedDup = 0;
      let sfDup = 0;
      const sfSeen = new Set<bigint>();
      for (let s = 0; s < SECONDS; s++) {
        const seen = new Set<string>();
        let collided = false;
        for (let i = 0; i < rate; i++) {
          // orders spread evenly over the second
          const orderNo = seedOrderNo(clock.now(), random, 1);
          if (seen.has(orderNo)) {
            seedDup++;
            collided = true;
          } else seen.add(orderNo);
          const id = snowflake.next();
          if (sfSeen.has(id)) sfDup++;
          else sfSeen.add(id);
          clock.setTime(clock.now() + 1000 / rate); // no timers pending: moving time directly is exact and fast
        }
        if (collided) secondsWithCollision++;
        if (sfSeen.size > 200_000) sfSeen.clear(); // IDs of old seconds can never recur (time moved on)
      }
      const pSecond = secondsWithCollision / SECONDS;
      measured.set(rate, { pSecond, seedDup, sfDup });
      rows.push({
        'orders/s (1 machine)': rate,
        'P(collision in a second), theory': `${(birthday(rate, 10_000) * 100).toFixed(1)}%`,
        'seed scheme, measured': `${(pSecond * 100).toFixed(1)}%`,
        'seed duplicate order numbers': seedDup,
        'Snowflake duplicates': sfDup,
      });
    }
    d.table(rows);
    d.record(
      'collisions',
      rates.flatMap((rate) => [
        { label: `${rate} orders/s`, value: (measured.get(rate)?.pSecond ?? 0) * 100, group: 'seed order number, measured' },
        { label: `${rate} orders/s`, value: birthday(rate, 10_000) * 100, group: 'birthday bound (theory)' },
        { label: `${rate} orders/s`, value: ((measured.get(rate)?.sfDup ?? 0) / (rate * SECONDS)) * 100, group: 'Snowflake, measured' },
      ]),
    );
    d.log(`${SECONDS} simulated seconds per rate (fixed seed). Duplicate order numbers become unique-key violations, i.e. failed orders.`);

    // A burst: 10,000 orders in one second from one machine.
    const burstClock = new ManualClock(Date.UTC(2026, 10, 24, 0, 0, 0));
    const sf = new Snowflake({ workerId: 1, clock: burstClock });
    const random = d.random(99);
    const seedBurst = new Set<string>();
    const sfBurst = new Set<bigint>();
    for (let i = 0; i < 10_000; i++) {
      seedBurst.add(seedOrderNo(burstClock.now(), random, 1));
      sfBurst.add(sf.next());
      if (i % 10 === 9) burstClock.setTime(burstClock.now() + 1);
    }
    d.log(`burst of 10,000 orders in one second: seed scheme ${10_000 - seedBurst.size} duplicates, Snowflake ${10_000 - sfBurst.size}`);

    const m100 = measured.get(100)!;
    d.check(
      m100.pSecond > 0.33 && m100.pSecond < 0.45,
      `at 100 orders/s about 39% of seconds must see a collision (measured ${(m100.pSecond * 100).toFixed(1)}%)`,
    );
    d.check(measured.get(1000)!.pSecond > 0.99, 'at 1000 orders/s nearly every second collides');
    d.check([...measured.values()].every((m) => m.sfDup === 0) && sfBurst.size === 10_000, 'Snowflake must never produce a duplicate');
    d.check(10_000 - seedBurst.size > 0, 'the seed scheme must collide in a 10k burst (the failure shown)');
    return `collision seconds at 10/100/1000 per s: ${rates.map((r) => `${(measured.get(r)!.pSecond * 100).toFixed(1)}%`).join('/')} (theory ${rates.map((r) => `${(birthday(r, 10_000) * 100).toFixed(1)}%`).join('/')}); Snowflake duplicates 0`;
  },
});
