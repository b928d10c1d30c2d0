import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type RedisServer, startRedis, startRedisServers, type TestDatabase } from '@gopherkit/testkit';

/**
 * What every demo gets: real servers started on demand (and stopped afterwards), invariant
 * checks that decide the exit code, and small printing helpers.
 */
export interface DemoContext {
  /** The embedded Redis (REDIS_URL if set), started on first call and shared within the demo. */
  redis(): Promise<RedisServer>;
  /** `n` independent embedded Redis servers (never REDIS_URL): for Redlock and failover demos. */
  redisServers(n: number): Promise<RedisServer[]>;
  /** A fresh MySQL database with the schema applied by `migrate()` (`@gopherkit/patterns/migrate`); throws with a clear reason when none is available. */
  mysql(options?: { connectionLimit?: number }): Promise<TestDatabase>;
  /** Records an invariant; a false one makes the demo fail (exit 1), but the demo keeps running. */
  check(ok: boolean, message: string): boolean;
  /** Prints a line. */
  log(...parts: unknown[]): void;
  /** Prints rows as an aligned text table (keys of the first row are the columns). */
  table(rows: readonly Record<string, unknown>[]): void;
  /** Registers cleanup run after the demo, last registered first. */
  defer(fn: () => unknown): void;
  /** A deterministic PRNG in [0, 1) (mulberry32) for demos that fix their seed. */
  random(seed: number): () => number;
  /** Prints a horizontal text bar chart (one bar per row), for distributions (histograms, shares, latencies). */
  bars(rows: readonly { label: string; value: number }[], options?: { width?: number; unit?: string }): void;
  /**
   * Saves measured data for the docs charts: with `GOPHERKIT_RECORD=1` it is written to
   * `docs/data/<demo>.<name>.json` (with the date and machine); otherwise it does nothing.
   */
  record(name: string, data: unknown): void;
}

/** A demo module's default export. */
export interface Demo {
  /** One line shown by `npm run demo -- --list`; keep it a single-quoted literal (the list reads it without importing). */
  description: string;
  /** Runs the demo; returns the verdict summary (numbers), e.g. `naive oversold=137, lua oversold=0`. */
  run(d: DemoContext): Promise<string>;
}

/** Declares a demo (identity function, for types). */
export function defineDemo(demo: Demo): Demo {
  return demo;
}

/** Formats rows as an aligned text table. */
export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0] as object);
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (isNumeric(v) ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function formatCell(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : 2);
  if (v === undefined || v === null) return '-';
  return String(v);
}

function isNumeric(s: string): boolean {
  return /^-?[\d,.]+%?$/.test(s);
}

/** mulberry32: tiny, fast, good enough for reproducible demo randomness. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Renders a horizontal text bar chart. */
export function formatBars(rows: readonly { label: string; value: number }[], { width = 50, unit = '' } = {}): string {
  const max = Math.max(0, ...rows.map((r) => r.value));
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length));
  return rows
    .map((r) => {
      const n = max > 0 ? Math.round((r.value / max) * width) : 0;
      const shown = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(2);
      return `${r.label.padStart(labelWidth)} │${'█'.repeat(n)}${n === 0 && r.value > 0 ? '▏' : ''} ${shown}${unit}`;
    })
    .join('\n');
}

/** Runs one demo and returns its verdict; never throws (a thrown error is a failed demo). */
export async function runDemo(name: string, demo: Demo): Promise<{ ok: boolean; line: string }> {
  const failures: string[] = [];
  const cleanups: (() => unknown)[] = [];
  let redis: Promise<RedisServer> | undefined;
  const d: DemoContext = {
    redis() {
      redis ??= startRedis().then((s) => {
        cleanups.push(() => s.stop());
        return s;
      });
      return redis;
    },
    async redisServers(n) {
      const servers = await startRedisServers(n);
      cleanups.push(() => Promise.all(servers.map((s) => s.stop())));
      return servers;
    },
    async mysql(options = {}) {
      const db = await createTestDatabase({ prefix: 'gk_demo', connectionLimit: options.connectionLimit ?? 20 });
      if (!db) throw new Error('this demo needs MySQL: set MYSQL_URL or run MariaDB/MySQL on 127.0.0.1:3306 (root, no password)');
      cleanups.push(() => db.drop());
      return db;
    },
    check(ok, message) {
      if (!ok) {
        failures.push(message);
        console.log(`  ✗ invariant failed: ${message}`);
      }
      return ok;
    },
    log: (...parts) => console.log(...parts),
    table: (rows) => console.log(formatTable(rows)),
    defer: (fn) => void cleanups.push(fn),
    random: mulberry32,
    bars: (rows, options) => console.log(formatBars(rows, options)),
    record(key, data) {
      if (process.env.GOPHERKIT_RECORD !== '1') return;
      if (!/^[\w-]+$/.test(key)) throw new Error(`record name must be letters, digits, _ or -, got ${JSON.stringify(key)}`);
      const dir = fileURLToPath(new URL('../../docs/data/', import.meta.url));
      mkdirSync(dir, { recursive: true });
      const meta = {
        demo: name,
        name: key,
        recordedAt: new Date().toISOString(),
        machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
      };
      writeFileSync(`${dir}/${name}.${key}.json`, `${JSON.stringify({ ...meta, data }, null, 2)}\n`);
    },
  };
  let summary = '';
  try {
    summary = await demo.run(d);
  } catch (e) {
    failures.push(`threw ${(e as Error)?.stack ?? e}`);
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`cleanup failed: ${(e as Error).message}`);
      }
    }
  }
  const ok = failures.length === 0;
  const line = ok ? `${name}: ${summary} — OK` : `${name}: ${summary || 'no result'} — FAIL (${failures.map((f) => f.split('\n')[0]).join('; ')})`;
  return { ok, line };
}
