import { sleep } from '@gopherkit/primitives/clock';
import { type LockLease, LockLostError, RedisLock } from '@gopherkit/primitives/lock';
import { defineDemo } from './harness/demo.js';

/**
 * A 1.5-second job under a 500 ms lock. Without renewal the lock lapses mid-job and a rival walks
 * in (the seed's lock is never renewed in any example, seed L3118–3130). With the watchdog
 * (owner-checked renewal every ttl/3) the rival stays out for the whole job. When the lease is
 * lost anyway — someone's bare `DEL` hands the lock to a rival, or Redis freezes — the job hears
 * it through `lease.signal` and stops within one renewal interval / at the end of the validity.
 */
export default defineDemo({
  description: 'Watchdog: a 1.5 s job under a 500 ms lock stays exclusive with renewal; lease loss (takeover, frozen Redis) aborts the job signal',
  async run(d) {
    const server = await d.redis();
    const prefix = `gk:demo:watchdog:${process.pid}:`;
    const TTL = 500;
    const STEPS = 15;
    const STEP_MS = 100;
    const holder = new RedisLock(server.client(), { prefix });
    const rival = new RedisLock(server.client(), { prefix });

    /** The job: STEPS steps of STEP_MS; with `signal` it stops when the lease is lost. */
    async function job(signal?: AbortSignal): Promise<{ steps: number; stoppedBy?: string }> {
      let steps = 0;
      try {
        for (; steps < STEPS; steps++) await sleep(STEP_MS, { signal });
        return { steps };
      } catch (e) {
        return { steps, stoppedBy: e instanceof LockLostError ? e.message : String(e) };
      }
    }
    /** Polls like a competing worker; returns when it got the lock (ms after start) or null. */
    async function rivalPoll(key: string, startedAt: number, untilDone: () => boolean) {
      let tries = 0;
      while (!untilDone()) {
        tries++;
        const got = await rival.acquire(key, { ttlMs: 5000, retry: 'none' }).catch(() => null);
        if (got) return { at: Math.round(performance.now() - startedAt), tries, lease: got };
        await sleep(25);
      }
      return { at: null, tries, lease: null };
    }

    const rows: Record<string, unknown>[] = [];
    // 1. no watchdog ----------------------------------------------------------------------------
    {
      const lease = await holder.acquire('report', { ttlMs: TTL });
      const t0 = performance.now();
      let done = false;
      let abortedAt: number | null = null;
      lease.signal.addEventListener('abort', () => {
        abortedAt = Math.round(performance.now() - t0);
      });
      const [r, rv] = await Promise.all([job().finally(() => (done = true)), rivalPoll('report', t0, () => done)]);
      rows.push({
        run: 'no watchdog (seed)',
        'job steps': r.steps,
        'rival got the lock at': rv.at === null ? 'never' : `${rv.at} ms`,
        'holder signal': abortedAt === null ? 'live' : `aborted at ${abortedAt} ms`,
      });
      d.check(rv.at !== null && rv.at < STEPS * STEP_MS, 'without renewal the rival must get in while the job still runs (the failure this demo shows)');
      await lease.release().catch(() => {});
      await rv.lease?.release();
    }
    // 2. watchdog -------------------------------------------------------------------------------
    {
      const lease = await holder.acquire('report', { ttlMs: TTL, watchdog: true });
      const firstExpiry = lease.expiresAt;
      const t0 = performance.now();
      let done = false;
      const [r, rv] = await Promise.all([job(lease.signal).finally(() => (done = true)), rivalPoll('report', t0, () => done)]);
      const extendedBy = Math.round(lease.expiresAt - firstExpiry);
      rows.push({
        run: 'watchdog (ttl/3 renewals)',
        'job steps': r.steps,
        'rival got the lock at': rv.at === null ? `never (${rv.tries} tries)` : `${rv.at} ms`,
        'holder signal': lease.signal.aborted ? 'ABORTED' : `live, expiry pushed +${extendedBy} ms`,
      });
      d.check(rv.at === null, 'with the watchdog the rival must never get in during the job');
      d.check(r.steps === STEPS && lease.held, 'the job must finish with the lease still held');
      await lease.release();
      await rv.lease?.release();
    }
    // 3. takeover: someone's bare DEL, the rival takes it; the next renewal sees another owner ----
    let takeoverDetectMs = Number.NaN;
    {
      const lease = await holder.acquire('report', { ttlMs: TTL, watchdog: true });
      const t0 = performance.now();
      const running = job(lease.signal);
      await sleep(250);
      const admin = server.client();
      await admin.del(`${prefix}lock:{report}`); // business code elsewhere unlocking with DEL (seed L3014)
      const stolenAt = performance.now();
      const rivalLease = await rival.acquire('report', { ttlMs: 5000, retry: 'none' });
      const r = await running;
      takeoverDetectMs = Math.round(performance.now() - stolenAt);
      rows.push({
        run: 'watchdog, lock taken over at 250 ms',
        'job steps': r.steps,
        'rival got the lock at': `${Math.round(stolenAt - t0)} ms`,
        'holder signal': `aborted ${takeoverDetectMs} ms later: ${r.stoppedBy}`,
      });
      d.check(lease.signal.reason instanceof LockLostError, 'a renewal that finds another owner must abort the signal with LockLostError');
      d.check(r.steps < STEPS, 'the job must stop once the lease is lost');
      d.check((await admin.get(`${prefix}lock:{report}`)) === rivalLease.token, "the watchdog must never extend or touch the new owner's key");
      await rivalLease.release();
    }
    // 4. Redis freezes (SIGSTOP): renewals get no answer; loss reported when validity runs out --
    let frozenLease: LockLease | undefined;
    {
      const [frozen] = await d.redisServers(1);
      if (!frozen) throw new Error('no server');
      const lock = new RedisLock(frozen.client(), { prefix });
      const lease = await lock.acquire('report', { ttlMs: TTL, watchdog: true });
      frozenLease = lease;
      const running = job(lease.signal);
      await sleep(150);
      frozen.freeze();
      d.defer(() => frozen.thaw());
      const frozenAt = performance.now();
      const validityLeft = Math.round(lease.expiresAt - Date.now());
      const r = await running;
      const detect = Math.round(performance.now() - frozenAt);
      frozen.thaw();
      rows.push({
        run: 'watchdog, Redis frozen at 150 ms',
        'job steps': r.steps,
        'rival got the lock at': '-',
        'holder signal': `aborted ${detect} ms later (validity left was ${validityLeft} ms)`,
      });
      d.check(
        r.stoppedBy?.includes('no renewal was confirmed before the validity ran out') === true,
        'a frozen Redis must surface as a lost lease once the validity runs out',
      );
      d.check(detect <= validityLeft + 250, 'loss must be reported by the end of the validity (plus scheduling slack on a loaded machine)');
    }
    d.table(rows);
    d.log(
      `\nTTL ${TTL} ms, renew every ${Math.floor(TTL / 3)} ms; job = ${STEPS} × ${STEP_MS} ms. Last loss reason: ${(frozenLease?.signal.reason as Error)?.message}`,
    );
    return `no watchdog: rival got in mid-job; watchdog: rival kept out for ${STEPS * STEP_MS} ms (${((STEPS * STEP_MS) / TTL).toFixed(1)}x TTL); takeover detected in ${takeoverDetectMs} ms; frozen Redis detected at validity end`;
  },
});
