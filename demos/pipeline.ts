import { Channel, ChannelClosedError, doneCase, type ReceiveChannel, recvCase, select, sendCase, timer } from '@gopherkit/primitives/channel';
import { sleep } from '@gopherkit/primitives/clock';
import { background, type Context, withCancel } from '@gopherkit/primitives/context';
import { WaitGroup } from '@gopherkit/primitives/sync';
import { defineDemo } from './harness/demo.js';

const N = 10_000; // numbers the generator would produce
const WORKERS = 4; // fan-out width
const TAKE = 50; // the consumer needs only this many results
const WORK_MS = 1;

interface Counters {
  live: number;
  tasks: Promise<void>[];
  channels: Channel<number>[];
  generated: number;
  squared: number;
  merged: number;
  /** Work started after the consumer left (cancel, or stopped reading). */
  startedAfterStop: number;
  stopped: boolean;
}

const counters = (): Counters => ({
  live: 0,
  tasks: [],
  channels: [],
  generated: 0,
  squared: 0,
  merged: 0,
  startedAfterStop: 0,
  stopped: false,
});

/** Starts a stage task and keeps count of the live ones. */
function spawn(c: Counters, fn: () => Promise<void>, expected: (e: unknown) => boolean): void {
  c.live++;
  c.tasks.push(
    fn()
      .catch((e) => {
        if (!expected(e)) throw e;
      })
      .finally(() => c.live--),
  );
}

function channel(c: Counters): Channel<number> {
  const ch = new Channel<number>();
  c.channels.push(ch);
  return ch;
}

// --- naive pipeline: channels, no cancellation ------------------------------------------------

function naivePipeline(c: Counters): ReceiveChannel<number> {
  const closedByCleanup = (e: unknown) => e instanceof ChannelClosedError;
  const source = channel(c);
  spawn(
    c,
    async () => {
      for (let i = 0; i < N; i++) {
        await source.send(i);
        c.generated++;
      }
      source.close();
    },
    closedByCleanup,
  );
  const squares = Array.from({ length: WORKERS }, () => {
    const out = channel(c);
    spawn(
      c,
      async () => {
        for await (const v of source) {
          if (c.stopped) c.startedAfterStop++;
          await sleep(WORK_MS);
          c.squared++;
          await out.send(v * v);
        }
        out.close();
      },
      closedByCleanup,
    );
    return out;
  });
  const merged = channel(c);
  for (const input of squares) {
    spawn(
      c,
      async () => {
        for await (const v of input) {
          await merged.send(v);
          c.merged++;
        }
      },
      closedByCleanup,
    );
  }
  return merged;
}

// --- the same pipeline with a Context ------------------------------------------------------

function pipeline(ctx: Context, c: Counters): ReceiveChannel<number> {
  const cancelled = (e: unknown) => e === ctx.err() && e !== null;
  const source = channel(c);
  spawn(
    c,
    async () => {
      try {
        for (let i = 0; i < N; i++) {
          await source.send(i, ctx); // rejects with Canceled once ctx is done
          c.generated++;
        }
      } finally {
        source.close();
      }
    },
    cancelled,
  );
  // Fan-out: WORKERS tasks read the same channel.
  const squares = Array.from({ length: WORKERS }, () => {
    const out = channel(c);
    spawn(
      c,
      async () => {
        try {
          for await (const v of source.values(ctx)) {
            if (ctx.err()) break;
            if (c.stopped) c.startedAfterStop++;
            await sleep(WORK_MS, { signal: ctx.signal }); // in-flight work is cancelled too
            c.squared++;
            await out.send(v * v, ctx);
          }
        } finally {
          out.close();
        }
      },
      cancelled,
    );
    return out;
  });
  // Fan-in: one forwarder per input, each selecting between its input, the output and ctx.
  const merged = channel(c);
  const wg = new WaitGroup();
  for (const input of squares) {
    wg.add(1);
    spawn(
      c,
      async () => {
        try {
          for (;;) {
            const r = await select([recvCase(input), doneCase(ctx, () => null)]);
            if (r === null || !r.ok) return;
            const sent = await select([sendCase(merged, r.value, () => true), doneCase(ctx, () => false)]);
            if (!sent) return;
            c.merged++;
          }
        } finally {
          wg.done();
        }
      },
      () => false,
    );
  }
  spawn(
    c,
    async () => {
      await wg.wait();
      merged.close();
    },
    () => false,
  );
  return merged;
}

/**
 * Go's pipeline pattern: generate → square (fan-out to 4 workers) → merge (fan-in). The
 * consumer needs only the first 50 results. Without cancellation, every stage stays blocked on
 * a send nobody will ever receive (a goroutine leak in Go; promises pending forever here). With a
 * Context, one cancel() stops every stage: no work starts afterwards and every
 * task ends.
 */
export default defineDemo({
  description: 'Pipeline fan-out/fan-in: consumer stops early; without a context stages stay blocked forever, with one cancel() ends every stage',
  async run(d) {
    // --- naive ---------------------------------------------------------------------------------
    const naive = counters();
    const naiveOut = naivePipeline(naive);
    let naiveReceived = 0;
    for (let i = 0; i < TAKE; i++) {
      await naiveOut.recv();
      naiveReceived++;
    }
    naive.stopped = true; // the consumer walks away
    await sleep(100);
    const naiveLiveAfter = naive.live;
    const naiveSnapshot = { generated: naive.generated, squared: naive.squared, merged: naive.merged };
    await sleep(100);
    const naiveStillStuck = naive.live === naiveLiveAfter && naive.squared === naiveSnapshot.squared; // no progress: blocked for good
    // Cleanup for the demo only: closing the channels rejects the blocked senders.
    for (const ch of naive.channels) {
      try {
        ch.close();
      } catch {
        // already closed by its stage
      }
    }
    await Promise.all(naive.tasks);

    // --- with a context --------------------------------------------------------------------------
    const withCtx = counters();
    const [ctx, cancel] = withCancel(background());
    const out = pipeline(ctx, withCtx);
    let received = 0;
    for (let i = 0; i < TAKE; i++) {
      const r = await out.recv();
      if (r.ok) received++;
    }
    const liveBeforeCancel = withCtx.live;
    withCtx.stopped = true;
    const t0 = performance.now();
    cancel();
    const deadline = timer(2000);
    const finished = await Promise.race([Promise.all(withCtx.tasks).then(() => true), deadline.c.recv().then(() => false)]);
    deadline.stop();
    const stopMs = performance.now() - t0;

    d.table([
      {
        version: 'channels, no cancellation',
        received: naiveReceived,
        generated: naiveSnapshot.generated,
        squared: naiveSnapshot.squared,
        'started after consumer left': naive.startedAfterStop,
        'tasks still running': naiveLiveAfter,
      },
      {
        version: 'channels + Context, cancel()',
        received,
        generated: withCtx.generated,
        squared: withCtx.squared,
        'started after consumer left': withCtx.startedAfterStop,
        'tasks still running': withCtx.live,
      },
    ]);
    d.log(
      `\nwithout a context: ${naiveLiveAfter} of ${1 + 2 * WORKERS} stage tasks are blocked on sends nobody will receive (${naiveStillStuck ? 'no progress in 100 ms: stuck for good' : 'still moving'}); ` +
        `they ended only because the demo closed their channels`,
    );
    d.log(`with a context: ${liveBeforeCancel} live tasks at cancel(), all ended ${stopMs.toFixed(1)} ms later`);

    d.check(naiveLiveAfter > 0 && naiveStillStuck, 'without cancellation, stages stay blocked after the consumer leaves (the leak this demo shows)');
    d.check(received === TAKE, `the consumer gets its ${TAKE} results`);
    d.check(finished === true && withCtx.live === 0, 'after cancel(), every stage task ends');
    d.check(withCtx.startedAfterStop === 0, 'no work starts after cancel()');
    return `no context: ${naiveLiveAfter} tasks stuck after the consumer left; context: ${withCtx.live} running after cancel() (ended in ${stopMs.toFixed(1)} ms), work started after cancel ${withCtx.startedAfterStop} (no context: ${naive.startedAfterStop})`;
  },
});
