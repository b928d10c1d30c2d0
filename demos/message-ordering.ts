import { StreamConsumer } from '@gopherkit/patterns/inbox';
import { KeyedQueue } from '@gopherkit/patterns/keyedqueue';
import { ManualClock, sleep } from '@gopherkit/primitives/clock';
import { defineDemo } from './harness/demo.js';

/**
 * 100 orders × 5 steps (created → paid → packed → shipped → delivered), consumed by 8 workers.
 *
 * - **unkeyed competing consumers** (any worker takes the next event): a slow "paid" lets
 *   "packed" of the same order finish first → out-of-order applications.
 * - **keyed, serial per key** ({@link KeyedQueue}, key = order id): 0 out of order, still parallel
 *   across orders.
 * - **a failing step**: retried in place, then parked with every later step of that order behind
 *   it — nothing overtakes it (the seed's `continue` on error skips it, seed L4814–4818).
 * - **version gate**: a replay of old events is dropped as stale instead of rolling state back.
 *
 * Handler times are seeded and run on a ManualClock, so every count is the same on every run; a
 * last round runs the keyed consumer for real on Redis Streams.
 */

const ORDERS = 100;
const STEPS = ['created', 'paid', 'packed', 'shipped', 'delivered'] as const;
const WORKERS = 8;

interface Event {
  order: string;
  step: number; // 1..5, also the version
}

/** Applies events and counts the ones that arrive out of step order. */
class Projection {
  readonly state = new Map<string, number>();
  outOfOrder = 0;
  apply(e: Event): void {
    const last = this.state.get(e.order) ?? 0;
    if (e.step !== last + 1) this.outOfOrder++;
    this.state.set(e.order, Math.max(last, e.step));
  }
  completed(): number {
    return [...this.state.values()].filter((s) => s === STEPS.length).length;
  }
}

/** The broker log: each order's steps in order, orders interleaved (seeded). */
function eventLog(random: () => number): Event[] {
  const next = Array.from({ length: ORDERS }, () => 1);
  const log: Event[] = [];
  while (log.length < ORDERS * STEPS.length) {
    const o = Math.floor(random() * ORDERS);
    if ((next[o] as number) > STEPS.length) continue;
    log.push({ order: `order-${o}`, step: next[o] as number });
    next[o] = (next[o] as number) + 1;
  }
  return log;
}

/** Advances the manual clock 1 ms at a time until `done` settles; returns the simulated makespan. */
async function drive(clock: ManualClock, done: Promise<unknown>): Promise<number> {
  const start = clock.now();
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) await clock.advance(1);
  await done;
  return clock.now() - start;
}

export default defineDemo({
  description:
    'Message ordering: 100 orders x 5 steps; unkeyed parallel consumers reorder, a keyed serial-per-key queue never does, parks a failing step without overtaking, drops stale replays',
  async run(d) {
    const random = d.random(4657);
    const log = eventLog(random);
    const cost = new Map(log.map((e) => [e, 1 + Math.floor(random() * 20)])); // ms of work per event

    // 1. Unkeyed: 8 competing consumers pull the next event, whatever its order.
    const unkeyed = new Projection();
    let unkeyedMs = 0;
    {
      const clock = new ManualClock();
      const queue = [...log];
      const workers = Array.from({ length: WORKERS }, async () => {
        for (let e = queue.shift(); e; e = queue.shift()) {
          await sleep(cost.get(e) as number, { clock });
          unkeyed.apply(e);
        }
      });
      unkeyedMs = await drive(clock, Promise.all(workers));
    }

    // 2. Keyed: serial per order, 8 orders at a time.
    const keyed = new Projection();
    const clock = new ManualClock();
    const q = new KeyedQueue<Event>({
      concurrency: WORKERS,
      clock,
      park: () => {},
      handler: async (e) => {
        await sleep(cost.get(e) as number, { clock });
        keyed.apply(e);
      },
    });
    const keyedMs = await drive(clock, Promise.all(log.map((e) => q.push(e.order, e))));

    // 3. A failing step: order-7's "packed" always fails. It is retried, then parked with the rest of order-7.
    const withFailure = new Projection();
    const parked: string[] = [];
    const clock3 = new ManualClock();
    const q3 = new KeyedQueue<Event>({
      concurrency: WORKERS,
      clock: clock3,
      random: () => 0.5,
      retry: { maxAttempts: 3, backoff: { baseMs: 10, maxMs: 100 } },
      park: (e, info) => void parked.push(`${e.order}:${STEPS[e.step - 1]}(${info.reason})`),
      handler: async (e) => {
        await sleep(cost.get(e) as number, { clock: clock3 });
        if (e.order === 'order-7' && e.step === 3) throw new Error('warehouse API rejected the parcel');
        withFailure.apply(e);
      },
    });
    await drive(clock3, Promise.all(log.map((e) => q3.push(e.order, e))));

    // 4. Version gate: after everything is applied, an old batch is replayed (a consumer-group reset).
    const gated = new Projection();
    const q4 = new KeyedQueue<Event>({ concurrency: WORKERS, park: () => {}, versionOf: (e) => e.step, handler: (e) => gated.apply(e) });
    await Promise.all(log.map((e) => q4.push(e.order, e)));
    const replay = log.slice(0, 200);
    const replayOutcomes = await Promise.all(replay.map((e) => q4.push(e.order, e)));
    const stale = replayOutcomes.filter((o) => o === 'stale').length;

    // 5. The keyed consumer for real: Redis Streams consumer group → KeyedQueue → XACK.
    const redis = (await d.redis()).client();
    const stream = `demo:ordering:${Date.now()}`;
    const pipeline = redis.pipeline();
    for (const e of log) pipeline.xadd(stream, '*', 'aggregateId', e.order, 'seq', String(e.step));
    await pipeline.exec();
    const real = new Projection();
    const consumer = new StreamConsumer({
      redis,
      stream,
      group: 'shipping',
      consumer: 'c1',
      blockMs: 50,
      concurrency: WORKERS,
      handler: async (m) => {
        await new Promise((r) => setTimeout(r, Number(m.fields.seq) % 3));
        real.apply({ order: m.fields.aggregateId as string, step: Number(m.fields.seq) });
      },
    });
    await consumer.start();
    const deadline = Date.now() + 30_000;
    while (real.completed() < ORDERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await consumer.stop();
    await redis.del(stream);

    d.table([
      { consumer: 'unkeyed, 8 workers', 'out of order': unkeyed.outOfOrder, 'orders completed': unkeyed.completed(), 'simulated ms': unkeyedMs },
      { consumer: 'keyed, 8 workers', 'out of order': keyed.outOfOrder, 'orders completed': keyed.completed(), 'simulated ms': keyedMs },
      { consumer: 'keyed + failing step', 'out of order': withFailure.outOfOrder, 'orders completed': withFailure.completed(), 'simulated ms': '-' },
      { consumer: 'keyed on Redis Streams', 'out of order': real.outOfOrder, 'orders completed': real.completed(), 'simulated ms': '-' },
    ]);
    d.log(`parked: ${parked.join(', ')}`);
    d.log(`version gate: replayed ${replay.length} old events → ${stale} dropped as stale, out of order after replay = ${gated.outOfOrder}`);

    d.check(unkeyed.outOfOrder > 0, 'unkeyed parallel consumers should apply some steps out of order');
    d.check(keyed.outOfOrder === 0 && keyed.completed() === ORDERS, 'the keyed queue must apply every step in order');
    d.check(
      withFailure.outOfOrder === 0 && withFailure.completed() === ORDERS - 1 && withFailure.state.get('order-7') === 2,
      'a parked step must hold back the later steps of its order (and only those)',
    );
    d.check(
      parked.join() === 'order-7:packed(failed),order-7:shipped(blocked),order-7:delivered(blocked)',
      'order-7 must park packed, then shipped and delivered behind it',
    );
    d.check(stale === replay.length && gated.outOfOrder === 0, 'the version gate must drop every replayed event');
    d.check(real.outOfOrder === 0 && real.completed() === ORDERS, 'the Redis Streams keyed consumer must apply every step in order');
    return `unkeyed out-of-order=${unkeyed.outOfOrder}, keyed=${keyed.outOfOrder} (makespan ${keyedMs} vs ${unkeyedMs} ms), failing step parked ${parked.length} without reordering, stale dropped=${stale}/${replay.length}, Redis Streams keyed=${real.outOfOrder}`;
  },
});
