import { randomBytes } from 'node:crypto';
import { migrate } from '@gopherkit/patterns/migrate';
import { createConnection, createPool, type Pool, type PoolOptions } from 'mysql2/promise';
import { dockerEngineAnswers } from './docker.js';
import { serviceMissing } from './services.js';

const LOCAL_URL = 'mysql://root@127.0.0.1:3306/test';

/** Where MySQL was found, and how. */
export interface MysqlServer {
  /** A URL to the server (its path names the default database). */
  readonly url: string;
  readonly source: 'MYSQL_URL' | 'local' | 'testcontainers';
}

async function answers(url: string): Promise<string | null> {
  try {
    const c = await createConnection({ uri: url, connectTimeout: 2000 });
    await c.query('SELECT 1');
    await c.end();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

let found: Promise<MysqlServer | { missing: string }> | undefined;
let container: { stop(): Promise<unknown> } | undefined;

async function locate(): Promise<MysqlServer | { missing: string }> {
  if (process.env.MYSQL_URL) {
    const err = await answers(process.env.MYSQL_URL);
    return err ? { missing: `MYSQL_URL (${redact(process.env.MYSQL_URL)}) does not answer: ${err}` } : { url: process.env.MYSQL_URL, source: 'MYSQL_URL' };
  }
  const localErr = await answers(LOCAL_URL);
  if (!localErr) return { url: LOCAL_URL, source: 'local' };
  if (await dockerEngineAnswers()) {
    // Imported lazily: testcontainers 12 crashes on import under Node 20, and most runs never need it.
    const { MySqlContainer } = (await import('@testcontainers/mysql' as string)) as {
      MySqlContainer: new (
        image: string,
      ) => { withRootPassword(p: string): { start(): Promise<{ getHost(): string; getPort(): number; stop(): Promise<unknown> }> } };
    };
    const started = await new MySqlContainer('mysql:8.4').withRootPassword('root').start();
    container = started;
    return { url: `mysql://root:root@${started.getHost()}:${started.getPort()}/test`, source: 'testcontainers' };
  }
  return { missing: `no MySQL: set MYSQL_URL, or run one on 127.0.0.1:3306 (root, no password; ${localErr}); no Docker engine answers either` };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Finds MySQL: MYSQL_URL, else 127.0.0.1:3306, else testcontainers when Docker answers. */
export function findMysql(): Promise<MysqlServer | { missing: string }> {
  found ??= locate();
  return found;
}

/** Pool options every gopherkit pool uses: BIGINT ids (Snowflake) as exact strings. */
export const mysqlPoolDefaults: PoolOptions = {
  supportBigNumbers: true,
  bigNumberStrings: true,
  dateStrings: false,
  waitForConnections: true,
  connectionLimit: 8, // MariaDB allows 151 connections in total, shared by parallel test files
  maxIdle: 8,
  idleTimeout: 10_000,
};

/** A database of its own for one test file (or demo), with the migrations applied. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: Pool;
  /** Opens another pool on the same database (e.g. with a different connection limit). */
  createPool(options?: PoolOptions): Pool;
  /** Ends every pool and drops the database. Idempotent. */
  drop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /** Apply packages/patterns/sql migrations (default true). */
  migrate?: boolean;
  /** Connection limit of the default pool (default 8). */
  connectionLimit?: number;
  /** Prefix of the database name (default `gk_test`). */
  prefix?: string;
}

/**
 * Creates a fresh database (so test files run in parallel), applies the migrations and returns
 * a pool on it; `null` (with a printed reason) when no MySQL is available outside CI, a thrown
 * error in CI.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase | null> {
  const server = await findMysql();
  if ('missing' in server) return serviceMissing('MySQL', server.missing);
  const name = `${options.prefix ?? 'gk_test'}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = await createConnection({ uri: server.url });
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.end();
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pools: Pool[] = [];
  const open = (o: PoolOptions = {}) => {
    const p = createPool({ ...mysqlPoolDefaults, ...o, uri: url });
    pools.push(p);
    return p;
  };
  const pool = open({ connectionLimit: options.connectionLimit ?? 8 });
  if (options.migrate !== false) await migrate(pool);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
    const c = await createConnection({ uri: server.url });
    await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await c.end();
  };
  return { name, url, pool, createPool: open, drop, [Symbol.asyncDispose]: drop };
}

/** Stops a MySQL container started by testcontainers, if any. */
export async function stopMysqlContainer(): Promise<void> {
  await container?.stop();
  container = undefined;
}
