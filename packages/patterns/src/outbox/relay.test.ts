import { ManualClock } from '@gopherkit/primitives/clock';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { createTestDatabase } from '@gopherkit/testkit';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, type OutboxPublisher, type OutboxRecord, OutboxRelay, OutboxStatus, type PublishOutcome } from './index.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

/** Records every publish in arrival order; `fail` decides per record whether the broker rejects it. */
class RecordingPublisher implements OutboxPublisher {
  readonly seen: OutboxRecord[] = [];
  fail: (r: OutboxRecord) => Error | undefined = () => undefined;
  delay: () => Promise<void> = async () => {};
  async publish(records: readonly OutboxRecord[]): Promise<PublishOutcome> {
    await this.delay();
    return records.map((r) => {
      const err = this.fail(r);
      if (!err) this.seen.push(r);
      return err;
    });
  }
}

async function enqueueMany(outbox: Outbox, aggregates: number, perAggregate: number, conn: PoolConnection): Promise<void> {
  // Interleave aggregates so the id order is not the per-aggregate order's only source.
  for (let s = 0; s < perAggregate; s++) {
    await conn.beginTransaction();
    for (let a = 0; a < aggregates; a++) {
      await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: `o${a}`, topic: 'orders', payload: `o${a}#${s + 1}` });
    }
    await conn.commit();
  }
}

function orderViolations(records: readonly OutboxRecord[]): number {
  const last = new Map<string, number>();
  let bad = 0;
  for (const r of records) {
    const prev = last.get(r.aggregateId) ?? 0;
    if (r.seq <= prev) bad++;
    last.set(r.aggregateId, Math.max(prev, r.seq));
  }
  return bad;
}

describe.skipIf(!db)('OutboxRelay (real MySQL)', () => {
  const pool = db!.pool;
  const outbox = new Outbox();
  beforeEach(async () => {
    await pool.query('DELETE FROM gk_outbox');
    await pool.query('DELETE FROM gk_outbox_aggregate');
  });
  async function seed(aggregates: number, perAggregate: number) {
    const conn = await pool.getConnection();
    try {
      await enqueueMany(outbox, aggregates, perAggregate, conn);
    } finally {
      conn.release();
    }
  }

  it('three relays (1, 2 and 3 batches in flight) never double-claim and keep every aggregate in order', async () => {
    await seed(40, 8); // 320 messages
    const publisher = new RecordingPublisher();
    let n = 0;
    publisher.delay = () => new Promise((r) => setTimeout(r, n++ % 3)); // shuffle the relays' interleaving
    // relay i keeps i batches in flight: ordering must hold within one relay as well as across relays
    const relays = [1, 2, 3].map(
      (i) => new OutboxRelay({ pool, publisher, batchSize: 16, concurrency: i, pollIntervalMs: 1, maxPollIntervalMs: 5, relayId: `r${i}` }),
    );
    const perRelay = new Map<string, number>();
    for (const r of relays) r.on('published', (recs) => perRelay.set(r.relayId, (perRelay.get(r.relayId) ?? 0) + recs.length));
    for (const r of relays) r.start();
    while ((await outbox.stats(pool)).pending > 0) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(relays.map((r) => r.stop()));
    expect(publisher.seen).toHaveLength(320);
    expect(new Set(publisher.seen.map((r) => r.id)).size).toBe(320); // no duplicates: no double claim
    expect(orderViolations(publisher.seen)).toBe(0);
    expect([...perRelay.values()].filter((c) => c > 0).length).toBeGreaterThan(1); // the work was actually shared
    expect(await outbox.stats(pool)).toMatchObject({ pending: 0, published: 320 });
  });

  it('a batch holds at most one row per aggregate: the head', async () => {
    await seed(3, 4);
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay({ pool, publisher, batchSize: 100 });
    const first = await relay.runOnce();
    expect(first.claimed).toBe(3);
    expect(publisher.seen.map((r) => r.seq)).toEqual([1, 1, 1]);
  });

  it('a relay that dies mid-batch loses nothing: its lease expires and another relay republishes (at-least-once)', async () => {
    await seed(5, 2);
    const clock = new ManualClock(Date.now());
    let releaseCrashed!: () => void;
    const crashed = new RecordingPublisher();
    crashed.delay = () => new Promise<void>((r) => (releaseCrashed = r)); // "published", then the process hangs/dies
    const a = new OutboxRelay({ pool, publisher: crashed, batchSize: 100, claimTtlMs: 5_000, clock, relayId: 'dying' });
    const aBatch = a.runOnce();
    await new Promise((r) => setTimeout(r, 200));
    while (!releaseCrashed) await new Promise((r) => setTimeout(r, 10));

    const healthy = new RecordingPublisher();
    const b = new OutboxRelay({ pool, publisher: healthy, batchSize: 100, claimTtlMs: 5_000, clock, relayId: 'healthy' });
    expect((await b.runOnce()).claimed).toBe(0); // lease still live: no double claim
    await clock.advance(5_001);
    let total = 0;
    for (let i = 0; i < 3; i++) total += (await b.runOnce()).published;
    expect(total).toBe(10);
    expect(healthy.seen.filter((r) => r.seq === 1)).toHaveLength(5);

    releaseCrashed(); // the stuck relay wakes up after losing its lease: its late marks must not apply
    const late = await aBatch;
    expect(late.lostLease).toBe(5);
    expect(orderViolations(healthy.seen)).toBe(0);
    expect(await outbox.stats(pool)).toMatchObject({ pending: 0, published: 10 });
  });

  it('marks are fenced by the claim owner: a relay whose lease was taken over marks nothing, published or failed, while the new owner holds the rows', async () => {
    await seed(4, 1);
    const clock = new ManualClock(Date.now());
    let releaseOld!: () => void;
    const old = new RecordingPublisher();
    old.delay = () => new Promise<void>((r) => (releaseOld = r));
    old.fail = (r) => (r.aggregateId === 'o2' || r.aggregateId === 'o3' ? new Error('broker said no') : undefined);
    const a = new OutboxRelay({ pool, publisher: old, batchSize: 100, claimTtlMs: 5_000, clock, relayId: 'old', retry: { maxAttempts: 1 } });
    const oldEvents: string[] = [];
    a.on('dead', (r) => oldEvents.push(`dead ${r.aggregateId}`));
    a.on('retrying', (r) => oldEvents.push(`retrying ${r.aggregateId}`));
    const aBatch = a.runOnce();
    while (!releaseOld) await new Promise((r) => setTimeout(r, 10));
    await clock.advance(5_001); // the old lease runs out while its publish hangs

    let releaseNew!: () => void;
    const heir = new RecordingPublisher();
    heir.delay = () => new Promise<void>((r) => (releaseNew = r));
    const b = new OutboxRelay({ pool, publisher: heir, batchSize: 100, claimTtlMs: 5_000, clock, relayId: 'new' });
    const bBatch = b.runOnce();
    while (!releaseNew) await new Promise((r) => setTimeout(r, 10));

    releaseOld(); // the old owner wakes up while the new owner's publish is still in flight
    // 2 published and 2 failed rows, none of them marked: no dead letter or retry is reported either
    expect(await aBatch).toMatchObject({ claimed: 4, published: 0, lostLease: 4, retrying: 0, dead: 0 });
    expect(oldEvents).toEqual([]);
    const [rows] = await pool.query<RowDataPacket[]>('SELECT status, attempts, claimed_by FROM gk_outbox ORDER BY id');
    // neither a "published" nor a "failed → dead" mark of the old owner landed: the rows are still the heir's
    expect(rows.map((r) => [Number(r.status), Number(r.attempts), r.claimed_by])).toEqual(Array.from({ length: 4 }, () => [OutboxStatus.pending, 0, 'new']));
    releaseNew();
    expect((await bBatch).published).toBe(4);
    expect(await outbox.stats(pool)).toMatchObject({ pending: 0, published: 4, dead: 0 });
  });

  it('a claim skips rows another transaction holds locked (SKIP LOCKED) instead of waiting for them', async () => {
    await seed(2, 1);
    const locker = await pool.getConnection();
    try {
      const [[head]] = await pool.query<RowDataPacket[]>("SELECT id FROM gk_outbox WHERE aggregate_id = 'o0'");
      await locker.beginTransaction();
      await locker.query('SELECT id FROM gk_outbox WHERE id = ? FOR UPDATE', [head?.id]); // e.g. another relay mid-claim
      const publisher = new RecordingPublisher();
      const relay = new OutboxRelay({ pool, publisher, batchSize: 100 });
      const blocked = new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 2_000).unref());
      const result = await Promise.race([relay.runOnce(), blocked]);
      expect(result).not.toBe('blocked');
      expect(publisher.seen.map((r) => r.aggregateId)).toEqual(['o1']);
    } finally {
      await locker.rollback();
      locker.release();
    }
  });

  it('backs off with jitter while the publisher is down, holds later events of the aggregate, and recovers', async () => {
    await seed(2, 3);
    const clock = new ManualClock(Date.now());
    const publisher = new RecordingPublisher();
    let down = true;
    publisher.fail = () => (down ? new Error('broker unavailable') : undefined);
    const retries: number[] = [];
    const relay = new OutboxRelay({ pool, publisher, clock, retry: { maxAttempts: 10, backoff: { baseMs: 1000, maxMs: 8000, jitter: 0.5 } } });
    relay.on('retrying', (_r, _e, at) => retries.push(at - clock.now()));
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await relay.runOnce()).retrying).toBe(2);
      expect((await relay.runOnce()).claimed).toBe(0); // not due yet, and seq 2/3 wait behind seq 1
      await clock.advance(1000 * 2 ** (attempt - 1));
    }
    // delays: attempt n in [base·2^(n-1)/2, base·2^(n-1)]
    expect(retries.slice(0, 2).every((d) => d >= 500 && d <= 1000)).toBe(true);
    expect(retries.slice(4, 6).every((d) => d >= 2000 && d <= 4000)).toBe(true);
    const row = (await pool.query('SELECT attempts, last_error FROM gk_outbox WHERE seq = 1 LIMIT 1'))[0] as { attempts: number; last_error: string }[];
    expect(row[0]).toMatchObject({ attempts: 3, last_error: 'broker unavailable' });
    down = false;
    await clock.advance(8000);
    for (let i = 0; i < 3; i++) await relay.runOnce();
    expect(publisher.seen.map((r) => `${r.aggregateId}#${r.seq}`).sort()).toEqual(['o0#1', 'o0#2', 'o0#3', 'o1#1', 'o1#2', 'o1#3']);
    expect(orderViolations(publisher.seen)).toBe(0);
  });

  it('a poison message is dead-lettered after maxAttempts, blocks only its aggregate, and the operator can retry or skip it', async () => {
    await seed(2, 2);
    const clock = new ManualClock(Date.now());
    const publisher = new RecordingPublisher();
    publisher.fail = (r) => (r.aggregateId === 'o0' && r.seq === 1 ? new Error('message too large') : undefined);
    const dead: string[] = [];
    const relay = new OutboxRelay({ pool, publisher, clock, retry: { maxAttempts: 3, backoff: { baseMs: 10, maxMs: 10, jitter: 0 } } });
    relay.on('dead', (r, e) => dead.push(`${r.aggregateId}#${r.seq}: ${e.message}`));
    for (let i = 0; i < 6; i++) {
      await relay.runOnce();
      await clock.advance(10);
    }
    expect(dead).toEqual(['o0#1: message too large']);
    expect(publisher.seen.map((r) => `${r.aggregateId}#${r.seq}`)).toEqual(['o1#1', 'o1#2']); // o0#2 must not overtake o0#1
    const [letter] = await outbox.deadLetters(pool);
    expect(letter).toMatchObject({ aggregateId: 'o0', seq: 1, attempts: 3, lastError: 'message too large', status: OutboxStatus.dead });

    await outbox.retry(pool, letter!.id); // still poison: dead again after 3 more attempts
    for (let i = 0; i < 4; i++) {
      await relay.runOnce();
      await clock.advance(10);
    }
    expect(dead).toHaveLength(2);
    expect(publisher.seen).toHaveLength(2);

    await outbox.skip(pool, letter!.id);
    await relay.runOnce();
    expect(publisher.seen.map((r) => `${r.aggregateId}#${r.seq}`)).toEqual(['o1#1', 'o1#2', 'o0#2']);
  });

  it('a publisher that throws fails the whole batch; one returning the wrong number of outcomes too', async () => {
    await seed(2, 1);
    const clock = new ManualClock(Date.now());
    const relay = new OutboxRelay({
      pool,
      clock,
      publisher: {
        publish: async () => {
          throw new Error('connection reset');
        },
      },
    });
    expect(await relay.runOnce()).toMatchObject({ claimed: 2, retrying: 2, published: 0 });
    await clock.advance(60_000);
    const short = new OutboxRelay({ pool, clock, publisher: { publish: async () => [] } });
    expect(await short.runOnce()).toMatchObject({ claimed: 2, retrying: 2 });
    const [rows] = await pool.query('SELECT last_error FROM gk_outbox');
    expect((rows as { last_error: string }[])[0]?.last_error).toBe('publisher returned 0 outcomes for 2 records');
  });

  it('stop() is graceful: it waits for the in-flight batch to be published and marked', async () => {
    await seed(4, 1);
    const publisher = new RecordingPublisher();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    publisher.delay = async () => {
      entered();
      await gate;
    };
    const relay = new OutboxRelay({ pool, publisher, pollIntervalMs: 5 }).start();
    await inFlight;
    let stopped = false;
    const stopping = relay.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(relay.running).toBe(false);
    expect(await outbox.stats(pool)).toMatchObject({ pending: 0, published: 4 });
    expect(() => relay.start()).toThrow(InvalidArgumentError);
  });

  it('an idle relay sleeps on the clock and nudge() wakes it at once', async () => {
    const clock = new ManualClock(Date.now());
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay({ pool, publisher, clock, pollIntervalMs: 60_000, maxPollIntervalMs: 60_000 });
    const published = new Promise<readonly OutboxRecord[]>((r) => relay.on('published', r));
    relay.start();
    await new Promise((r) => setTimeout(r, 100)); // first (empty) poll done; now asleep for 60 s of clock time
    await seed(1, 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(publisher.seen).toHaveLength(0); // not woken by time: the clock did not move
    relay.nudge();
    expect((await published).map((r) => r.aggregateId)).toEqual(['o0']);
    await relay.stop();
  });

  it('adaptive polling: an idle relay doubles its wait up to maxPollIntervalMs', async () => {
    const clock = new ManualClock(1_000_000);
    const pollTimes: number[] = [];
    const counting = {
      getConnection: () => {
        pollTimes.push(clock.now());
        return pool.getConnection();
      },
      query: pool.query.bind(pool),
    } as unknown as typeof pool;
    const relay = new OutboxRelay({ pool: counting, publisher: new RecordingPublisher(), clock, pollIntervalMs: 100, maxPollIntervalMs: 400 });
    const asleep = async () => {
      for (let i = 0; i < 500 && clock.pendingTimers === 0; i++) await new Promise((r) => setTimeout(r, 5));
    };
    relay.start();
    while (pollTimes.length < 5) {
      await asleep(); // the relay finished its poll and set its timer
      await clock.advance(50);
    }
    expect(pollTimes.slice(1).map((t, i) => t - (pollTimes[i] as number))).toEqual([200, 400, 400, 400]);
    await relay.stop();
  });

  it('aborting the signal stops the relay like stop()', async () => {
    const ac = new AbortController();
    const relay = new OutboxRelay({ pool, publisher: new RecordingPublisher(), signal: ac.signal, pollIntervalMs: 5 }).start();
    expect(relay.running).toBe(true);
    ac.abort();
    await relay.stop();
    expect(relay.running).toBe(false);
    expect(() => relay.start()).toThrow(InvalidArgumentError);
  });

  it('the retention sweep deletes old published rows and reports them', async () => {
    await seed(3, 1);
    const clock = new ManualClock(Date.now());
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay({ pool, publisher, clock, retentionMs: 1000, sweepIntervalMs: 1 });
    await relay.runOnce();
    await clock.advance(2000);
    const swept = new Promise<number>((r) => relay.on('swept', r));
    relay.start();
    expect(await swept).toBe(3);
    await relay.stop();
    expect((await outbox.stats(pool)).published).toBe(0);
  });

  it('rejects bad options with typed errors', () => {
    const publisher = new RecordingPublisher();
    expect(() => new OutboxRelay({ pool, publisher, batchSize: 0 })).toThrow('batchSize must be an integer in [1, 10000], got 0');
    expect(() => new OutboxRelay({ pool, publisher: {} as never })).toThrow('publisher must be an OutboxPublisher');
    expect(() => new OutboxRelay({ pool, publisher, pollIntervalMs: 100, maxPollIntervalMs: 50 })).toThrow(/maxPollIntervalMs must be an integer >= 100/);
    expect(() => new OutboxRelay({ pool, publisher, retry: { backoff: { jitter: 2 } } })).toThrow(
      'retry.backoff.jitter must be a finite number in [0, 1], got 2',
    );
  });
});
