/**
 * `npm run bench:check [-- --short] [suite...]`: runs suites fresh and compares each task's
 * ratio to the suite's reference task (same run) against the committed baseline's ratio.
 * Fails when a task's ratio fell by more than the tolerance. Absolute times never matter, so a
 * slower or busier machine does not fail the check; a relative regression does.
 *
 * `--short` (CI): only in-process suites, short timings, wider tolerance.
 * A suite with a suspect task is re-measured up to twice; each task keeps its best ratio, so one
 * noisy run does not fail the check but a regression that shows in every run does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../demos/harness/demo.js';
import type { BenchRow } from './harness/suite.js';
import { loadSuite, printRows, runSuite, suiteNames } from './run.js';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface Baseline {
  reference: string;
  results: BenchRow[];
}

export interface Comparison {
  task: string;
  baselineRatio: number;
  ratio: number;
  change: number;
  ok: boolean;
  /** False for a peer's task and a task marked `unguarded`: reported, never a regression. */
  guarded: boolean;
}

/** Compares ratios (task ÷ reference) of a fresh run to a baseline; a drop beyond `tolerance` fails. */
export function compare(baseline: Baseline, fresh: BenchRow[], tolerance: number): Comparison[] {
  const refNow = fresh.find((r) => r.task === baseline.reference)?.opsPerSec;
  const refThen = baseline.results.find((r) => r.task === baseline.reference)?.opsPerSec;
  if (!refNow || !refThen) throw new Error(`reference task "${baseline.reference}" missing from the fresh run or the baseline`);
  const out: Comparison[] = [];
  for (const then of baseline.results) {
    if (then.task === baseline.reference) continue;
    const now = fresh.find((r) => r.task === then.task);
    if (!now) {
      out.push({ task: then.task, baselineRatio: then.opsPerSec / refThen, ratio: Number.NaN, change: Number.NaN, ok: false, guarded: true });
      continue;
    }
    // A peer's ratio to the reference moves with the machine and the peer's own version, never
    // with gopherkit's code: report it, guard only gopherkit's tasks.
    const guarded = now.peer === null && !(now.extra?.unguarded ?? then.extra?.unguarded);
    const baselineRatio = then.opsPerSec / refThen;
    const ratio = now.opsPerSec / refNow;
    const change = ratio / baselineRatio - 1;
    out.push({ task: then.task, baselineRatio, ratio, change, ok: !guarded || change >= -tolerance, guarded });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const short = args.includes('--short');
  const tolerance = Number(process.env.BENCH_TOLERANCE ?? (short ? 0.5 : 0.25));
  const requested = args.filter((a) => !a.startsWith('--'));
  let failed = 0;
  let checked = 0;
  for (const name of requested.length ? requested : suiteNames()) {
    const suite = await loadSuite(name);
    if (short && !suite.inProcess) {
      console.log(`bench:check ${name}: skipped in short mode (needs a server)`);
      continue;
    }
    const file = `${here}/baseline/${name}.json`;
    if (!existsSync(file)) {
      console.log(`bench:check ${name}: no committed baseline (bench/baseline/${name}.json), nothing to compare`);
      continue;
    }
    const baseline = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
    const rows = await runSuite(name, { short });
    printRows(name, rows, baseline.reference);
    let cmp = compare(baseline, rows, tolerance);
    // A busy machine can depress one run's ratios; a real regression shows in every run. Re-measure
    // a suspect suite (up to twice) and keep each task's best ratio before calling it a regression.
    for (let retry = 1; retry <= 2 && cmp.some((c) => !c.ok); retry++) {
      console.log(`bench:check ${name}: ${cmp.filter((c) => !c.ok).length} suspect task(s); re-measuring (${retry}/2)`);
      const again = compare(baseline, await runSuite(name, { short }), tolerance);
      cmp = cmp.map((c) => {
        const b = again.find((a) => a.task === c.task);
        return b && (Number.isNaN(c.ratio) || b.ratio > c.ratio) ? b : c;
      });
    }
    console.log(
      `\n${formatTable(cmp.map((c) => ({ task: c.task, 'baseline ratio': Number(c.baselineRatio.toFixed(3)), 'ratio now': Number(c.ratio.toFixed(3)), change: `${(c.change * 100).toFixed(0)}%`, verdict: c.guarded ? (c.ok ? 'ok' : 'REGRESSION') : 'reported' })))}`,
    );
    checked++;
    failed += cmp.filter((c) => !c.ok).length;
  }
  console.log(`\nbench:check: ${checked} suite(s) compared, tolerance ${(tolerance * 100).toFixed(0)}%, ${failed} regression(s)`);
  process.exit(failed ? 1 : 0);
}
