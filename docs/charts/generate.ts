/**
 * Renders every chart of the docs site from committed data of real runs:
 * - `bench/baseline/<suite>.json` (written by `npm run bench -- <suite> --update-baseline`) →
 *   `docs/charts/bench-<suite>.svg`, gopherkit vs its npm peers;
 * - `docs/data/<demo>.<name>.json` (written by `GOPHERKIT_RECORD=1 npm run demo -- <demo>`) →
 *   `docs/charts/<demo>.<name>.svg` through the chart function registered for it below.
 * Nothing here is drawn by hand: a chart exists only when its data file does.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from './render.js';
import { type BenchRow, barsChart, benchChart, columnsChart, groupedBarsChart, metricsChart } from './specs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}/docs/charts`;

interface Recorded<T = unknown> {
  demo: string;
  name: string;
  recordedAt: string;
  machine: string;
  data: T;
}

type ChartFn = (r: Recorded) => TopLevelSpec;
const sub = (r: Recorded) => `npm run demo -- ${r.demo} · ${r.recordedAt.slice(0, 10)} · ${r.machine}`;

/**
 * Chart per recorded data set. Data shapes: a list of `{label, value, group?}` renders as bars;
 * a list of `{x, y, series}` as grouped columns; anything else needs an entry here.
 */
const demoCharts: Record<string, ChartFn> = {
  'context-tree.after-deadline': (r) => {
    const d = r.data as { naive: number; context: number };
    return barsChart(
      'Queries still running after the caller gave up',
      sub(r),
      [
        { label: 'naive Promise fan-out', value: d.naive },
        { label: 'context tree', value: d.context },
      ],
      'queries',
    );
  },
  'oversell.strategies': (r) => barsChart('Oversell: units sold per strategy, stock 100', sub(r), r.data as LabelValue[], 'units sold (past 100 = oversold)'),
  'consistent-hash.load': (r) =>
    groupedBarsChart('Keys per node: the seed CRC32 ring vs a well-mixed ring (200,000 keys)', sub(r), r.data as GroupedValue[], 'keys'),
  'consistent-hash.relocation': (r) =>
    groupedBarsChart('Keys that change owner when the node set changes', sub(r), r.data as GroupedValue[], '% of keys moved'),
  'load-balancing.share': (r) => barsChart('Request share per instance, by strategy (one slow, one dying)', sub(r), r.data as LabelValue[], '% of requests'),
  'load-balancing.p99': (r) => barsChart('p99 latency per load-balancing strategy', sub(r), r.data as LabelValue[], 'p99 ms'),
  'order-id-collisions.collisions': (r) =>
    groupedBarsChart('Seconds with a duplicate order number (timestamp + rand(10000))', sub(r), r.data as GroupedValue[], '% of seconds'),
  'object-pool.gc': (r) =>
    metricsChart('1,000,000 requests needing a 1 KiB buffer: GC cost, allocating vs pooled', sub(r), r.data as Record<string, unknown>[], 'variant', [
      'GC events',
      'GC total ms',
      'requests/s',
    ]),
  'worker-pool.processed-at-return': (r) => barsChart('Orders processed when handle() returned (of 2000)', sub(r), r.data as LabelValue[], 'orders processed'),
  // --- cache (缓存) -----------------------------------------------------------------------------
  'cache-avalanche.expirations': (r) => {
    const d = r.data as { fixed: LabelValue[]; jittered: LabelValue[]; ttlMs: number; keys: number };
    const second = (l: string) => Number.parseInt(l.replace(/[^\d-]/g, ''), 10);
    return columnsChart(
      `Cache avalanche: ${d.keys.toLocaleString('en-US')} keys expiring per second, TTL ${d.ttlMs / 1000} s fixed vs jittered`,
      sub(r),
      [
        ...d.fixed.map((x) => ({ x: second(x.label), y: x.value, series: 'fixed TTL' })),
        ...d.jittered.map((x) => ({ x: second(x.label), y: x.value, series: 'jittered TTL' })),
      ],
      'seconds after the write',
      'keys expiring',
    );
  },
  'cache-avalanche.outage': (r) => {
    const d = r.data as Record<string, { dbCallsWhileDown: number; peakDbConcurrency: number; staleServed: number }>;
    return metricsChart(
      'Redis killed mid-run: load on the database',
      sub(r),
      Object.entries(d).map(([mode, v]) => ({
        mode,
        'DB calls while Redis was down': v.dbCallsWhileDown,
        'peak DB concurrency': v.peakDbConcurrency,
        'stale values served': v.staleServed,
      })),
      'mode',
      ['DB calls while Redis was down', 'peak DB concurrency', 'stale values served'],
    );
  },
  'cache-breakdown.db-calls': (r) => {
    const d = r.data as { processes: number; callersPerProcess: number; rows: Record<string, unknown>[] };
    return metricsChart(`Cache breakdown: ${d.processes} processes × ${d.callersPerProcess} callers on one expired hot key`, sub(r), d.rows, 'mode', [
      'db calls',
      'p99 ms',
    ]);
  },
  'cache-consistency.race': (r) => {
    const d = r.data as { keys: number; staleKeys: Record<string, number> };
    return barsChart(
      `Cache consistency: keys left stale after the update + read race (of ${d.keys})`,
      sub(r),
      Object.entries(d.staleKeys).map(([label, value]) => ({ label, value })),
      'stale keys',
    );
  },
  'cache-penetration.db-qps': (r) => {
    const d = r.data as { rate: number; unknownShare: number; rows: { defence: string; unknown: string; 'db qps': number }[] };
    return barsChart(
      `Cache penetration: database load at ${d.rate} req/s, ${d.unknownShare * 100}% unknown ids`,
      sub(r),
      d.rows.map((x) => ({ label: `${x.defence} (unknown ids: ${x.unknown})`, value: x['db qps'] })),
      'database queries per second',
    );
  },
  // --- idempotency (幂等) ------------------------------------------------------------------------
  'callback-vs-timeout.outcomes': (r) => {
    const d = r.data as { rounds: number; paid: number; cancelled: number; mixed: number };
    return barsChart(
      `Payment callback racing the order timeout: ${d.rounds} rounds`,
      sub(r),
      [
        { label: 'PAID + sold', value: d.paid },
        { label: 'CANCELLED + released + refunded', value: d.cancelled },
        { label: 'mixed (paid and released)', value: d.mixed },
      ],
      'orders',
    );
  },
  // --- rate and resources ------------------------------------------------------------------------
  'token-bucket.admitted': (r) => {
    const rows = r.data as { 'call every': string; ideal: number; 'seed admitted': number; 'gopherkit admitted': number }[];
    return groupedBarsChart(
      'Token bucket: requests admitted by call interval',
      sub(r),
      rows.flatMap((x) => [
        { label: `call every ${x['call every']}`, value: x['seed admitted'], group: 'seed bucket' },
        { label: `call every ${x['call every']}`, value: x['gopherkit admitted'], group: 'gopherkit TokenBucket' },
        { label: `call every ${x['call every']}`, value: x.ideal, group: 'ideal: min(calls, burst + rate×T)' },
      ]),
      'admitted',
    );
  },
  'distributed-rate-limit.admitted': (r) => {
    const d = r.data as { reports: { admitted: number }[]; admitted: number; expected: number };
    return barsChart(
      'Shared Redis token bucket: admitted per process and in total',
      sub(r),
      [
        ...d.reports.map((x, i) => ({ label: `process ${i + 1}`, value: x.admitted, group: 'measured' })),
        { label: 'all processes', value: d.admitted, group: 'measured' },
        { label: 'expected: burst + rate×T', value: d.expected, group: 'expected' },
      ],
      'requests admitted',
    );
  },
  'fixed-vs-sliding-window.boundary': (r) => {
    const d = r.data as { limit: number; windowMs: number; fixedMax: number; slidingMax: number };
    return barsChart(
      `Two bursts around a window boundary: most requests admitted in any ${d.windowMs / 1000} s span`,
      sub(r),
      [
        { label: 'limit', value: d.limit },
        { label: 'fixed window (INCR + PEXPIRE)', value: d.fixedMax },
        { label: 'RedisSlidingWindow', value: d.slidingMax },
      ],
      'requests',
    );
  },
  'circuit-breaker.outage': (r) => {
    const d = r.data as { naiveHitsWhileDown: number; breakerHitsWhileDown: number };
    return barsChart(
      'Calls that reached the dead dependency during the outage',
      sub(r),
      [
        { label: 'no breaker', value: d.naiveHitsWhileDown },
        { label: 'CircuitBreaker', value: d.breakerHitsWhileDown },
      ],
      'calls',
    );
  },
  // --- concurrency (并发) ------------------------------------------------------------------------
  'errgroup-vs-promise-all.outcomes': (r) =>
    metricsChart('First failure at 20 ms: what keeps running after the call returns', sub(r), r.data as Record<string, unknown>[], 'approach', [
      'queries run after it returned',
      'tasks running when it returned',
      'returned after ms',
    ]),
  'mutex-across-await.rw-sweep': (r) => {
    const rows = r.data as { reads: string; 'Mutex ops/s': number; 'RWMutex ops/s': number }[];
    return groupedBarsChart(
      'Mutex vs RWMutex throughput by read share (1 ms awaited I/O in the section)',
      sub(r),
      rows.flatMap((x) => [
        { label: `${x.reads} reads`, value: x['Mutex ops/s'], group: 'Mutex' },
        { label: `${x.reads} reads`, value: x['RWMutex ops/s'], group: 'RWMutex' },
      ]),
      'operations per second',
    );
  },
  'singleflight.stampede': (r) => {
    const rows = r.data as { approach: string; callers: number; 'db queries': number }[];
    return barsChart(
      '1000 concurrent callers for an expired key: database queries',
      sub(r),
      rows.map((x) => ({ label: x.approach, value: x['db queries'] })),
      'database queries',
    );
  },
  'worker-pool.peak-in-flight': (r) => barsChart('Orders in flight at the peak', sub(r), r.data as LabelValue[], 'orders in flight'),
};

type LabelValue = { label: string; value: number; group?: string };
type GroupedValue = { label: string; value: number; group: string };

function genericChart(r: Recorded): TopLevelSpec | undefined {
  const rows = r.data as unknown[];
  if (!Array.isArray(rows) || rows.length === 0) return undefined;
  const first = rows[0] as Record<string, unknown>;
  if ('label' in first && 'value' in first)
    return barsChart(`${r.demo}: ${r.name}`, sub(r), rows as { label: string; value: number; group?: string }[], r.name);
  if ('x' in first && 'y' in first && 'series' in first)
    return columnsChart(`${r.demo}: ${r.name}`, sub(r), rows as { x: number; y: number; series: string }[], 'x', r.name);
  return undefined;
}

export async function generateCharts(): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const baselineDir = `${root}/bench/baseline`;
  if (existsSync(baselineDir)) {
    for (const f of readdirSync(baselineDir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const suite = f.replace(/\.json$/, '');
      const b = JSON.parse(readFileSync(`${baselineDir}/${f}`, 'utf8')) as { results: BenchRow[] };
      const when = statSync(`${baselineDir}/${f}`).mtime.toISOString().slice(0, 10);
      writeFileSync(`${out}/bench-${suite}.svg`, await renderSvg(benchChart(suite, b.results, when)));
      written.push(`bench-${suite}.svg`);
    }
  }
  const dataDir = `${root}/docs/data`;
  if (existsSync(dataDir)) {
    for (const f of readdirSync(dataDir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const r = JSON.parse(readFileSync(`${dataDir}/${f}`, 'utf8')) as Recorded;
      const id = `${r.demo}.${r.name}`;
      const spec = demoCharts[id]?.(r) ?? genericChart(r);
      if (!spec) throw new Error(`docs/data/${f}: no chart registered for "${id}" in docs/charts/generate.ts and its data shape is not generic`);
      writeFileSync(`${out}/${id}.svg`, await renderSvg(spec));
      written.push(`${id}.svg`);
    }
  }
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const written = await generateCharts();
  console.log(`charts: ${written.length} written to docs/charts/\n  ${written.join('\n  ')}`);
}
