import type { TopLevelSpec } from 'vega-lite';

/** Row of a bench result or baseline file. */
export interface BenchRow {
  task: string;
  opsPerSec: number;
  p99Ms: number;
  peer: string | null;
}

const base = {
  background: 'white',
  config: { font: 'sans-serif', axis: { labelLimit: 420 }, legend: { labelLimit: 420, orient: 'bottom', direction: 'vertical' } },
} as const;

/** Bench suite: ops/s per task, gopherkit vs each npm peer, on a log scale. */
export function benchChart(suite: string, rows: BenchRow[], recordedAt: string): TopLevelSpec {
  return {
    ...base,
    title: { text: `bench: ${suite} (ops/s, log scale)`, subtitle: `one run, ${recordedAt}; peers in the same run` },
    width: 480,
    height: { step: 18 },
    data: {
      values: rows.map((r) => ({
        task: r.task,
        ops: Math.max(1, r.opsPerSec),
        who: r.peer ?? (/^(native|raw|baseline|plain)\b/i.test(r.task) ? 'baseline (no library)' : 'gopherkit'),
      })),
    },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'task', type: 'nominal', sort: null, title: null },
      x: { field: 'ops', type: 'quantitative', scale: { type: 'log', domainMin: 1000 }, title: 'operations per second' },
      x2: { datum: 1000 }, // log scales have no zero: bars start at the axis minimum
      color: { field: 'who', type: 'nominal', title: null },
    },
  };
}

/** Generic bar chart of labelled values recorded by a demo. */
export function barsChart(title: string, subtitle: string, values: { label: string; value: number; group?: string }[], xTitle: string): TopLevelSpec {
  const groups = [...new Set(values.map((v) => v.group ?? ''))];
  return {
    ...base,
    title: { text: title, subtitle },
    width: 480,
    height: { step: 22 },
    // groups stack and colour in the order they first appear in the data
    data: { values: values.map((v) => ({ ...v, groupIndex: groups.indexOf(v.group ?? '') })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'value', type: 'quantitative', title: xTitle },
      ...(groups.length > 1 || groups[0] ? { color: { field: 'group', type: 'nominal', title: null, sort: groups }, order: { field: 'groupIndex' } } : {}),
    },
  };
}

/** Histogram-like column chart over an ordered x (seconds, buckets). */
export function columnsChart(
  title: string,
  subtitle: string,
  values: { x: number; y: number; series: string }[],
  xTitle: string,
  yTitle: string,
): TopLevelSpec {
  return {
    ...base,
    title: { text: title, subtitle },
    width: 520,
    height: 220,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'x', type: 'ordinal', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null },
      xOffset: { field: 'series' },
    },
  };
}

/** Bars side by side per label, one per group (no stacking): compare strategies on the same item. */
export function groupedBarsChart(title: string, subtitle: string, values: { label: string; value: number; group: string }[], xTitle: string): TopLevelSpec {
  return {
    ...base,
    title: { text: title, subtitle },
    width: 480,
    height: { step: 12 },
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'group', sort: null },
      x: { field: 'value', type: 'quantitative', title: xTitle },
      color: { field: 'group', type: 'nominal', sort: null, title: null },
    },
  };
}

/** Several metrics of the same rows, one small bar chart per metric, each with its own scale. */
export function metricsChart(title: string, subtitle: string, rows: Record<string, unknown>[], labelField: string, metrics: string[]): TopLevelSpec {
  return {
    ...base,
    title: { text: title, subtitle },
    data: { values: rows },
    transform: [{ fold: metrics, as: ['metric', 'value'] }],
    facet: { row: { field: 'metric', type: 'nominal', sort: metrics, title: null, header: { labelAngle: 0, labelAlign: 'left', labelOrient: 'top' } } },
    spec: {
      width: 420,
      height: { step: 20 },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: labelField, type: 'nominal', sort: null, title: null },
        x: { field: 'value', type: 'quantitative', title: null },
        color: { field: labelField, type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { x: 'independent' } },
  };
}
