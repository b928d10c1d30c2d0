import { FencedStore, LockLostError, RedisLock, StaleFenceError } from '@gopherkit/primitives/lock';
import { defineDemo } from './harness/demo.js';

/** Blocks the event loop: a stop-the-world GC pause or a frozen VM. Not even timers run. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* paused */
  }
}

/**
 * Kleppmann's counter-example to "the lock protects the write": A holds the lock, pauses past
 * its TTL (here a 400 ms event-loop stall — even a watchdog cannot renew during it), B takes the
 * lock and writes, then A wakes up and writes its stale value. A plain store keeps A's stale
 * write (B's update is lost); a store that checks fencing tokens rejects it. No timeout, TTL or
 * watchdog can close this gap (seed L3135–3144 offers only those); only the resource can.
 */
export default defineDemo({
  description: "Fencing tokens: a holder paused past its TTL writes after the next owner; a plain store loses B's update, FencedStore rejects A",
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const prefix = `gk:demo:fencing:${process.pid}:`;
    const lock = new RedisLock(redis, { prefix });
    const store = new FencedStore(redis, { prefix });
    const plainKey = `${prefix}plain:balance`;
    const rows: Record<string, unknown>[] = [];
    const log = (who: string, what: string, result: unknown) => rows.push({ step: rows.length + 1, who, what, result: String(result) });

    const a = await lock.acquire('balance', { ttlMs: 200, watchdog: true });
    log('A', 'acquire (ttl 200 ms, watchdog on)', `fence ${a.fence}`);
    const aValue = 'A: balance=100 (read before the pause)';
    stall(400);
    log('A', 'stop-the-world pause, 400 ms', 'lock expired in Redis; A has not noticed yet');
    const b = await lock.acquire('balance', { ttlMs: 5000, retry: 'none' });
    log('B', 'acquire', `fence ${b.fence}`);
    await redis.set(plainKey, 'B: balance=70');
    await store.write('balance', 'B: balance=70', b.fence);
    log('B', 'write balance=70 to both stores', 'ok');
    // A resumes. A careful holder checks its signal first — shown here — but the write below is
    // what a holder that does not look (or that paused between the check and the write) sends.
    log('A', 'resumes; lease.signal.aborted?', `${a.signal.aborted} (${(a.signal.reason as LockLostError | undefined)?.message ?? '-'})`);
    await redis.set(plainKey, aValue);
    log('A', 'stale write to plain store (SET)', 'accepted');
    const fenced = await store.write('balance', aValue, a.fence).then(
      () => 'accepted (!)',
      (e) => (e instanceof StaleFenceError ? `StaleFenceError: ${a.fence} < ${e.highest}` : `error ${e}`),
    );
    log('A', `stale write to FencedStore (fence ${a.fence})`, fenced);
    const release = await a.release().then(
      () => 'released',
      (e) => (e as Error).name,
    );
    log('A', 'release', release);
    await b.release();
    d.table(rows);

    const plainFinal = await redis.get(plainKey);
    const fencedFinal = await store.read('balance');
    d.table([
      { store: 'plain SET', 'final value': plainFinal, "B's update": plainFinal === 'B: balance=70' ? 'kept' : 'LOST' },
      { store: 'FencedStore', 'final value': fencedFinal?.value, "B's update": fencedFinal?.value === 'B: balance=70' ? 'kept' : 'LOST' },
    ]);
    d.check(plainFinal === aValue, "the plain store must end with A's stale value (the failure this demo shows)");
    d.check(fenced.startsWith('StaleFenceError'), "FencedStore must reject A's write with the older token");
    d.check(fencedFinal?.value === 'B: balance=70' && fencedFinal.fence === b.fence, "FencedStore must keep B's write");
    d.check(a.signal.reason instanceof LockLostError, "A's signal must report the loss once A runs again");
    d.check(release === 'LockNotHeldError', "A's release must report that it no longer held the lock");
    await redis.del(plainKey, `${prefix}fenced:balance`, `${prefix}fence:{balance}`);
    return `plain store lost B's update (stale A write accepted); FencedStore rejected A (fence ${a.fence} < ${b.fence}) and kept B's write`;
  },
});
