import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BalancerOptions, type BalancerStrategy, createBalancer } from '@gopherkit/primitives/balancer';
import { defineDemo } from './harness/demo.js';

interface Instance {
  id: string;
  port: number;
}

const TOTAL = 2000;
const CONCURRENCY = 16;
const DOWN_FROM = 300; // the dying instance crashes when request #300 starts…
const DOWN_UNTIL = 900; // …and is back from request #900
const SLOW_MS = 100;
const FAST_MS = 2;
const HEALTH = { maxFailures: 3, cooldownMs: 100 };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Five in-process HTTP instances: three fast, one slow (100 ms), one that dies for a stretch of
 * requests (its connections are reset) and comes back. Every strategy serves the same 2000
 * requests, 16 at a time. Without health checks the seed's round robin keeps sending a fifth of
 * the traffic into the dead instance, and least-in-flight sends it even more (failures are
 * instant, so the dead instance always looks least busy); with passive health it is ejected after
 * 3 failures, probed every 100 ms, and back in rotation once a probe succeeds.
 */
export default defineDemo({
  description: 'Load balancing: 5 HTTP instances (one slow, one dying) — request share, p99, ejection and recovery per strategy',
  async run(d) {
    let down = false;
    const servers: http.Server[] = [];
    const instances: Instance[] = [];
    for (const id of ['fast-1', 'fast-2', 'fast-3', 'slow', 'dying']) {
      const server = http.createServer((req, res) => {
        if (id === 'dying' && down) {
          req.socket.destroy(); // a crashed process: connection reset
          return;
        }
        setTimeout(() => res.end(id), id === 'slow' ? SLOW_MS : FAST_MS);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      instances.push({ id, port: (server.address() as AddressInfo).port });
    }
    d.defer(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

    const runs: [string, BalancerStrategy, BalancerOptions['health']][] = [
      ['round-robin, no health (the seed)', 'round-robin', false],
      ['least-in-flight, no health', 'least-in-flight', false],
      ['round-robin', 'round-robin', HEALTH],
      ['random', 'random', HEALTH],
      ['weighted-round-robin (all 1)', 'weighted-round-robin', HEALTH],
      ['least-in-flight', 'least-in-flight', HEALTH],
      ['power-of-two', 'power-of-two', HEALTH],
      ['consistent-hash (500 users)', 'consistent-hash', HEALTH],
    ];
    const rows: Record<string, unknown>[] = [];
    const results = new Map<string, { errors: number; share: Record<string, number>; ejections: number; recoveries: number; failedProbes: number }>();
    for (const [label, strategy, health] of runs) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const lb = createBalancer(instances, { strategy, health, random: d.random(42) });
      let ejections = 0;
      let recoveries = 0;
      let failedProbes = 0;
      let recovered = false;
      lb.on('eject', (e) => {
        if (e.id === 'dying') ejections++;
      });
      lb.on('recover', (e) => {
        if (e.id !== 'dying') return;
        recoveries++;
        recovered = true;
      });
      const get = (port: number) =>
        new Promise<boolean>((resolve) => {
          http
            .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode === 200));
              res.on('error', () => resolve(false));
            })
            .on('error', () => resolve(false));
        });
      const latencies: number[] = [];
      const picks: Record<string, number> = {};
      let started = 0;
      let errors = 0;
      const deadline = performance.now() + 20_000;
      const worker = async () => {
        // keep going past TOTAL until the dying instance is back (health runs), so recovery is always observed
        while (started < TOTAL || (health !== false && !recovered && performance.now() < deadline)) {
          const i = started++;
          if (i === DOWN_FROM) down = true;
          if (i === DOWN_UNTIL) down = false;
          const lease = lb.pick(`user:${i % 500}`);
          const t0 = performance.now();
          const ok = await get(lease.endpoint.port);
          const ms = performance.now() - t0;
          if (!ok && lease.probe) failedProbes++;
          lease.done({ ok, latencyMs: ms });
          latencies.push(ms);
          picks[lease.endpoint.id] = (picks[lease.endpoint.id] ?? 0) + 1;
          if (!ok) errors++;
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const wallMs = performance.now() - t0;
      down = false;
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const share = Object.fromEntries(instances.map((x) => [x.id, (picks[x.id] ?? 0) / started]));
      results.set(label, { errors, share, ejections, recoveries, failedProbes });
      rows.push({
        strategy: label,
        requests: started,
        ...Object.fromEntries(instances.map((x) => [x.id, `${((share[x.id] as number) * 100).toFixed(1)}%`])),
        errors,
        'p50 ms': percentile(latencies, 50),
        'p95 ms': percentile(latencies, 95),
        'p99 ms': percentile(latencies, 99),
        'ejections (incl. failed probes)': health === false ? '-' : ejections,
        recovered: health === false ? '-' : recoveries > 0 ? 'yes' : 'NO',
        'req/s': Math.round(started / (wallMs / 1000)),
      });
    }
    d.log(
      `${CONCURRENCY} concurrent clients; 'slow' answers in ${SLOW_MS} ms, the others in ${FAST_MS} ms; 'dying' resets connections for requests #${DOWN_FROM}–#${DOWN_UNTIL - 1}.`,
    );
    d.log(`Passive health: eject after ${HEALTH.maxFailures} consecutive failures, one probe every ${HEALTH.cooldownMs} ms while ejected.\n`);
    d.table(rows);
    d.log('\np99 latency per strategy:');
    d.bars(
      rows.map((r) => ({ label: r.strategy as string, value: r['p99 ms'] as number })),
      { unit: ' ms' },
    );
    d.record(
      'share',
      [...results].flatMap(([label, r]) => instances.map((x) => ({ label, value: (r.share[x.id] as number) * 100, group: x.id }))),
    );
    d.record(
      'p99',
      rows.map((r) => ({ label: r.strategy as string, value: r['p99 ms'] as number })),
    );

    const naive = results.get('round-robin, no health (the seed)') as NonNullable<ReturnType<typeof results.get>>;
    const naiveLeast = results.get('least-in-flight, no health') as NonNullable<ReturnType<typeof results.get>>;
    d.check(naive.errors > 50, `without health checks round robin should keep hitting the dead instance (${naive.errors} errors)`);
    d.check(naiveLeast.errors > naive.errors, 'least-in-flight without health should send even more into the dead instance (failures look "least busy")');
    let worstHealthErrors = 0;
    for (const [label, , health] of runs) {
      if (health === false) continue;
      const r = results.get(label) as NonNullable<ReturnType<typeof results.get>>;
      worstHealthErrors = Math.max(worstHealthErrors, r.errors);
      // failures the design allows: the streak that ejects, requests already in flight then, failed probes
      d.check(
        r.errors <= HEALTH.maxFailures + CONCURRENCY + r.failedProbes,
        `${label}: ${r.errors} errors > ${HEALTH.maxFailures} + ${CONCURRENCY} in flight + ${r.failedProbes} failed probes`,
      );
      d.check(r.ejections >= 1 && r.recoveries >= 1, `${label}: the dying instance must be ejected and then recover`);
    }
    const rrSlow = (results.get('round-robin') as NonNullable<ReturnType<typeof results.get>>).share.slow as number;
    const leastSlow = (results.get('least-in-flight') as NonNullable<ReturnType<typeof results.get>>).share.slow as number;
    const p2cSlow = (results.get('power-of-two') as NonNullable<ReturnType<typeof results.get>>).share.slow as number;
    d.check(
      leastSlow < rrSlow / 2,
      `least-in-flight should starve the slow instance (${(leastSlow * 100).toFixed(1)}% vs round robin ${(rrSlow * 100).toFixed(1)}%)`,
    );
    d.check(p2cSlow < rrSlow, 'power-of-two should send the slow instance less than round robin');
    return `errors: seed round robin ${naive.errors}, least-in-flight w/o health ${naiveLeast.errors}, with passive health ≤ ${worstHealthErrors}; slow share RR ${(rrSlow * 100).toFixed(1)}% vs least-in-flight ${(leastSlow * 100).toFixed(1)}% vs P2C ${(p2cSlow * 100).toFixed(1)}%`;
  },
});
