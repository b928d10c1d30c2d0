/**
 * `npm run bench`            → every suite
 * `npm run bench -- <suite>` → one suite (`bench/<suite>.bench.ts`)
 * Flags: `--short` (CI mode: short timings), `--update-baseline` (write bench/baseline/<suite>.json).
 * Each suite prints a table and writes bench/results/<suite>.json.
 * Suites import the built packages (`dist/`, as users do): the npm scripts build first.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { formatTable } from '../demos/harness/demo.js';
import { type BenchRow, createBenchContext, type Suite } from './harness/suite.js';

const here = fileURLToPath(new URL('.', import.meta.url));

export function suiteNames(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace(/\.bench\.ts$/, ''))
    .sort();
}

export async function loadSuite(name: string): Promise<Suite> {
  return ((await import(pathToFileURL(`${here}/${name}.bench.ts`).href)) as { default: Suite }).default;
}

/** Runs one suite and returns its rows (also written to bench/results/<suite>.json). */
export async function runSuite(name: string, { short = false } = {}): Promise<BenchRow[]> {
  const suite = await loadSuite(name);
  const { ctx, tasks, extras, cleanups } = createBenchContext(short);
  const rows: BenchRow[] = [];
  try {
    await suite.setup(ctx);
    if (!tasks.some((t) => t.name === suite.reference)) throw new Error(`suite ${name}: reference task "${suite.reference}" is not registered`);
    for (const t of tasks) {
      // One Bench per task: a peer's leftovers (timers, GC debt) should not bill the next task.
      const bench = new Bench({ time: short ? 150 : 1000, warmupTime: short ? 50 : 200, warmupIterations: 5, iterations: 10, throws: true });
      bench.add(t.name, t.fn as () => Promise<void>);
      await t.options.beforeAll?.();
      await bench.run();
      await t.options.afterAll?.();
      const r = bench.tasks[0]?.result as unknown as {
        latency?: { p99: number; mean: number };
        throughput?: { mean: number };
        period?: number;
        error?: unknown;
      };
      if (r?.error) throw r.error;
      const batch = t.options.batch ?? 1;
      const periodMs = r?.period ?? r?.latency?.mean ?? Number.NaN;
      const extra = { ...(extras.get(t.name) ?? {}), ...(batch > 1 ? { batch } : {}), ...(t.options.unguarded ? { unguarded: t.options.unguarded } : {}) };
      rows.push({
        task: t.name,
        opsPerSec: Math.round((1000 / periodMs) * batch),
        p99Ms: Number((r?.latency?.p99 ?? Number.NaN).toFixed(4)),
        peer: t.options.peer ?? null,
        ...(Object.keys(extra).length ? { extra } : {}),
      });
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
  // extras registered after the runs (e.g. duplicates counted in afterAll) land too
  for (const row of rows) {
    const late = extras.get(row.task);
    if (late) row.extra = { ...late, ...(row.extra ?? {}) };
  }
  mkdirSync(`${here}/results`, { recursive: true });
  writeFileSync(`${here}/results/${name}.json`, `${JSON.stringify(rows, null, 2)}\n`);
  return rows;
}

export function printRows(name: string, rows: BenchRow[], reference: string): void {
  const ref = rows.find((r) => r.task === reference)?.opsPerSec ?? Number.NaN;
  console.log(`\n■ ${name}  (ratio = ops/s ÷ "${reference}")\n`);
  console.log(
    formatTable(
      rows.map((r) => ({
        task: r.task,
        peer: r.peer ?? '-',
        'ops/s': r.opsPerSec.toLocaleString('en-US'),
        'p99 ms': r.p99Ms,
        ratio: Number((r.opsPerSec / ref).toFixed(3)),
        extra: r.extra ? JSON.stringify(r.extra) : '',
      })),
    ),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const short = args.includes('--short');
  const update = args.includes('--update-baseline');
  const names = args.filter((a) => !a.startsWith('--'));
  const all = suiteNames();
  for (const n of names) if (!all.includes(n)) throw new Error(`unknown bench suite "${n}"; known: ${all.join(', ')}`);
  for (const name of names.length ? names : all) {
    const suite = await loadSuite(name);
    const rows = await runSuite(name, { short });
    printRows(name, rows, suite.reference);
    if (update) {
      mkdirSync(`${here}/baseline`, { recursive: true });
      writeFileSync(`${here}/baseline/${name}.json`, `${JSON.stringify({ reference: suite.reference, results: rows }, null, 2)}\n`);
      console.log(`baseline written: bench/baseline/${name}.json`);
    }
  }
  process.exit(0);
}
