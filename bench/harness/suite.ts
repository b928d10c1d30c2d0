import { type RedisServer, startRedis } from '@gopherkit/testkit';

/** One row of `bench/results/<suite>.json`. */
export interface BenchRow {
  task: string;
  /** Single operations per second (iteration rate × batch). */
  opsPerSec: number;
  /** 99th percentile latency of one task iteration, in ms. */
  p99Ms: number;
  /** npm package name of the peer this task measures, or null for gopherkit's own tasks. */
  peer: string | null;
  /** Suite-specific figures (duplicates, GC time, oversold…) and `batch` when > 1. */
  extra?: Record<string, unknown>;
}

/** Options of one task. */
export interface TaskOptions {
  /** npm package this task measures (null/absent for gopherkit). */
  peer?: string | null;
  /** Operations one iteration performs (opsPerSec = iterations/s × batch). */
  batch?: number;
  /**
   * Why `bench:check` must not guard this task's ratio (it is reported, not compared): for a task
   * whose speed is bounded by something other than the code, e.g. wall time.
   */
  unguarded?: string;
  /** Per-task setup/teardown run outside the measurement. */
  beforeAll?: () => unknown;
  afterAll?: () => unknown;
}

/** What a suite gets from the runner. */
export interface BenchContext {
  /** True in CI's short mode: keep inputs small. */
  readonly short: boolean;
  /** Registers a task. */
  add(name: string, fn: () => unknown, options?: TaskOptions): void;
  /** Attaches suite-specific figures to a task's row (merged into `extra`). */
  extra(task: string, figures: Record<string, unknown>): void;
  /** The embedded Redis (REDIS_URL if set), started on first call, stopped after the suite. */
  redis(): Promise<RedisServer>;
  /** Registers cleanup run after the suite. */
  defer(fn: () => unknown): void;
}

/** A suite module's default export: `bench/<suite>.bench.ts`. */
export interface Suite {
  /** Task whose ops/s every other task's ratio is taken against in `bench:check` (a peer or a trivial baseline). */
  reference: string;
  /** True when the suite needs no server: CI's short `bench:check` runs it. */
  inProcess: boolean;
  /** Registers the tasks (and may do setup work). */
  setup(b: BenchContext): Promise<void> | void;
}

/** Declares a suite (identity function, for types). */
export function defineSuite(suite: Suite): Suite {
  return suite;
}

/** Context implementation used by the runner. */
export function createBenchContext(short: boolean) {
  const tasks: { name: string; fn: () => unknown; options: TaskOptions }[] = [];
  const extras = new Map<string, Record<string, unknown>>();
  const cleanups: (() => unknown)[] = [];
  let redis: Promise<RedisServer> | undefined;
  const ctx: BenchContext = {
    short,
    add(name, fn, options = {}) {
      if (tasks.some((t) => t.name === name)) throw new Error(`duplicate bench task name: ${name}`);
      tasks.push({ name, fn, options });
    },
    extra(task, figures) {
      extras.set(task, { ...(extras.get(task) ?? {}), ...figures });
    },
    redis() {
      redis ??= startRedis().then((s) => {
        cleanups.push(() => s.stop());
        return s;
      });
      return redis;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
  return { ctx, tasks, extras, cleanups };
}
