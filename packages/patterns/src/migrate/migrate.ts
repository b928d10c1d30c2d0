import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GopherkitError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/** The schema gopherkit ships: `packages/patterns/sql/NNN_name.sql`. */
export const defaultMigrationsDir: string = fileURLToPath(new URL('../../sql/', import.meta.url));

/** One numbered migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** A migration failed; `version` names the file, `cause` the SQL error. */
export class MigrationError extends GopherkitError {
  constructor(
    readonly version: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_MIGRATION', message, options);
  }
}

/** Splits a migration into statements at lines that end with `;` (no procedures in our DDL). */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of sql.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('--') && current.length === 0) continue;
    current.push(line);
    if (trimmed.endsWith(';')) {
      const stmt = current.join('\n').trim().replace(/;$/, '');
      if (stmt) out.push(stmt);
      current = [];
    }
  }
  const rest = current.join('\n').trim();
  if (rest) out.push(rest);
  return out;
}

/** Reads `NNN_name.sql` files from `dir`, in version order; rejects duplicate versions. */
export function loadMigrations(dir: string = defaultMigrationsDir): Migration[] {
  const seen = new Map<number, string>();
  const list: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!m) continue;
    const version = Number(m[1]);
    const name = m[2] as string;
    if (seen.has(version)) throw new MigrationError(version, `two migrations share version ${version}: ${seen.get(version)} and ${file}`);
    seen.set(version, file);
    list.push({ version, name, statements: splitStatements(readFileSync(`${dir}/${file}`, 'utf8')) });
  }
  return list.sort((a, b) => a.version - b.version);
}

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /** Folder of `NNN_name.sql` files (default: the schema gopherkit ships). */
  dir?: string;
  /** Explicit list instead of a folder. */
  migrations?: readonly Migration[];
}

/**
 * Applies every migration not yet recorded in `gopherkit_migrations`, in version order.
 * Safe to call from several processes at once: a MySQL named lock (`GET_LOCK`) serialises them.
 * Returns the versions applied by this call.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<number[]> {
  const migrations = options.migrations ?? loadMigrations(options.dir);
  const conn: PoolConnection = await pool.getConnection();
  try {
    const [lock] = await conn.query<RowDataPacket[]>("SELECT GET_LOCK('gopherkit_migrate', 60) AS got");
    if (lock[0]?.got !== 1) throw new MigrationError(0, 'could not take the gopherkit_migrate lock within 60 s: another migration is stuck');
    try {
      await conn.query(
        'CREATE TABLE IF NOT EXISTS gopherkit_migrations (version INT PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))',
      );
      const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM gopherkit_migrations');
      const done = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        for (const stmt of m.statements) {
          try {
            await conn.query(stmt);
          } catch (e) {
            throw new MigrationError(m.version, `migration ${m.version}_${m.name} failed: ${(e as Error).message}\n-- in statement:\n${stmt}`, { cause: e });
          }
        }
        await conn.query('INSERT INTO gopherkit_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    } finally {
      await conn.query("SELECT RELEASE_LOCK('gopherkit_migrate')");
    }
  } finally {
    conn.release();
  }
}
