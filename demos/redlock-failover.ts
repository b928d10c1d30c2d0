import { FencedStore, QuorumError, Redlock, StaleFenceError } from '@gopherkit/primitives/lock';
import type { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * Redlock over 5 real Redis processes, killed and restarted live. Shows the quorum math
 * (⌊N/2⌋+1 = 3: two instances may die), the validity each acquire leaves
 * (ttl − elapsed − drift), that parallel acquisition returns as soon as a majority said yes (hung
 * instances cost nothing) where the seed's sequential loop (seed L3170–3195) pays a timeout per
 * hung instance, a `QuorumError` naming each
 * instance's outcome when a third dies — and Redlock's documented limit: an instance that
 * restarts without persistence inside a TTL lets a second owner in. Fencing tokens from one
 * designated counter instance still reject the stale owner.
 */
export default defineDemo({
  description:
    'Redlock on 5 live Redis processes: survives 2 kills, QuorumError at 3, parallel vs sequential timing, restart-without-persistence double grant caught by fencing',
  async run(d) {
    const servers = await d.redisServers(6);
    const lockServers = servers.slice(0, 5);
    const fencer = servers[5];
    if (!fencer) throw new Error('need 6 servers');
    // No offline queue: a command to a dead instance fails at once instead of waiting in ioredis
    // and landing when the server is back (a SET from an acquire that already returned on a
    // majority would then take the restarted instance too). What Redlock clients should use.
    const clients = lockServers.map((s) => s.client({ retryStrategy: () => 50, enableOfflineQueue: false }));
    const prefix = `gk:demo:redlock:${process.pid}:`;
    const TTL = 10_000;
    const TIMEOUT = 300;
    const rl = new Redlock(clients, { prefix, instanceTimeoutMs: TIMEOUT, fencingClient: fencer.client(), retry: 'none' });
    const N = clients.length;
    d.log(
      `N = ${N} instances → quorum ⌊N/2⌋+1 = ${rl.quorum}, tolerates ${N - rl.quorum} down; drift = ttl·0.01 + 2 = ${TTL * 0.01 + 2} ms for ttl ${TTL} ms; per-instance timeout ${TIMEOUT} ms\n`,
    );
    const waitUp = async (cs: Redis[]) => {
      for (let i = 0; i < 200; i++) {
        const ok = await Promise.all(
          cs.map((c) =>
            c.ping().then(
              () => true,
              () => false,
            ),
          ),
        );
        if (ok.every(Boolean)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('servers did not come back');
    };

    const rows: Record<string, unknown>[] = [];
    let up = N;
    const attempt = async (label: string) => {
      const t0 = performance.now();
      try {
        const lease = await rl.acquire('payout', { ttlMs: TTL });
        const elapsed = performance.now() - t0;
        rows.push({ stage: label, up, result: 'acquired', 'elapsed ms': Math.round(elapsed), 'validity ms': Math.round(lease.validityMs), fence: lease.fence });
        await lease.release();
        return 'acquired';
      } catch (e) {
        const outcomes = e instanceof QuorumError ? e.outcomes.map((o) => `#${o.instance}:${o.outcome}`).join(' ') : (e as Error).message;
        rows.push({
          stage: label,
          up,
          result: e instanceof QuorumError ? `QuorumError ${outcomes}` : `error ${outcomes}`,
          'elapsed ms': Math.round(performance.now() - t0),
          'validity ms': '-',
          fence: '-',
        });
        return e instanceof QuorumError ? 'QuorumError' : 'error';
      }
    };

    await waitUp([...clients, fencer.client()]); // connections established before anything is timed
    const allUp = await attempt('all up');
    await lockServers[0]?.kill();
    up--;
    const oneDown = await attempt('kill #0');
    await lockServers[1]?.kill();
    up--;
    const twoDown = await attempt('kill #1');
    await lockServers[2]?.kill();
    up--;
    const threeDownQuorumError = await attempt('kill #2');
    await Promise.all(lockServers.slice(0, 3).map((s) => s.restart()));
    up = N;
    await waitUp(clients);
    const backUp = await attempt('restart #0-#2');
    d.table(rows);

    // parallel vs sequential with two hung (SIGSTOPped) instances ----------------------------
    lockServers[3]?.freeze();
    lockServers[4]?.freeze();
    d.defer(() => {
      lockServers[3]?.thaw();
      lockServers[4]?.thaw();
    });
    const t1 = performance.now();
    const par = await rl.acquire('parallel', { ttlMs: TTL });
    const parallelMs = performance.now() - t1;
    const parValidity = par.validityMs;
    await par.release(); // waits for every instance: the two hung ones time out
    // the seed's loop: one instance after another, each bounded by the same timeout
    const t2 = performance.now();
    let got = 0;
    for (const c of clients) {
      const r = await Promise.race([c.set(`${prefix}seq`, 'x', 'PX', TTL, 'NX'), new Promise((res) => setTimeout(() => res('timeout'), TIMEOUT))]);
      if (r === 'OK') got++;
    }
    const sequentialMs = performance.now() - t2;
    lockServers[3]?.thaw();
    lockServers[4]?.thaw();
    await waitUp(clients);
    await Promise.all(clients.map((c) => c.del(`${prefix}seq`)));
    d.log('\nTwo instances hung (SIGSTOP):');
    d.table([
      { acquisition: 'Redlock, parallel', 'elapsed ms': Math.round(parallelMs), 'validity left ms': Math.round(parValidity), got: '3/5' },
      { acquisition: 'seed loop, sequential', 'elapsed ms': Math.round(sequentialMs), 'validity left ms': Math.round(TTL - sequentialMs), got: `${got}/5` },
    ]);

    // the limit: restart without persistence inside a TTL → two owners ------------------------
    await lockServers[3]?.kill();
    await lockServers[4]?.kill();
    const a = await rl.acquire('ledger', { ttlMs: TTL }); // A holds #0 #1 #2
    await Promise.all([lockServers[3]?.restart(), lockServers[4]?.restart()]);
    await lockServers[2]?.kill(); // #2 crashes and comes straight back, empty (no AOF, no delayed restart)
    await lockServers[2]?.restart();
    await waitUp(clients);
    const b = await rl.acquire('ledger', { ttlMs: TTL }); // #2 #3 #4 are free: a second majority
    const doubleGrant = a.held && b.held;
    const store = new FencedStore(fencer.client(), { prefix });
    await store.write('ledger', 'B', b.fence as number);
    const stale = await store.write('ledger', 'A', a.fence as number).then(
      () => 'accepted (!)',
      (e) => (e instanceof StaleFenceError ? 'StaleFenceError' : String(e)),
    );
    d.log('\nRestart without persistence inside the TTL (violates Redlock\'s "delayed restart" rule):');
    d.table([
      { owner: 'A', 'holds per its lease': a.held, fence: a.fence, 'write to FencedStore': stale },
      { owner: 'B', 'holds per its lease': b.held, fence: b.fence, 'write to FencedStore': 'ok' },
    ]);
    await a.release().catch(() => {});
    await b.release().catch(() => {});

    d.check(
      [allUp, oneDown, twoDown].every((r) => r === 'acquired'),
      'Redlock must acquire and release with up to 2 of 5 instances dead',
    );
    d.check(threeDownQuorumError === 'QuorumError', 'with 3 of 5 dead acquire must fail with QuorumError');
    d.check(backUp === 'acquired', 'after the restart Redlock must work again');
    d.check(parallelMs < TIMEOUT, 'parallel acquisition must return once a majority answered, without waiting for the hung instances');
    d.check(sequentialMs >= 2 * TIMEOUT, 'the sequential loop pays a timeout per hung instance');
    d.check(doubleGrant, 'a restart without persistence must let a second owner in (the documented limit this demo shows)');
    d.check(stale === 'StaleFenceError', "the designated counter's fencing token must reject the stale owner");
    return `quorum 3/5: acquired with 5,4,3 up, QuorumError with 2 up, OK after restart; parallel ${Math.round(parallelMs)} ms vs sequential ${Math.round(sequentialMs)} ms with 2 hung; double grant after unpersisted restart caught by fencing (${a.fence} < ${b.fence})`;
  },
});
