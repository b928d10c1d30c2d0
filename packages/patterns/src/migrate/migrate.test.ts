import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, loadMigrations, MigrationError, migrate, splitStatements } from './index.js';

const db = await createTestDatabase({ migrate: false, connectionLimit: 4 });
afterAll(() => db?.drop());

describe('splitStatements', () => {
  it('splits at lines ending with ; and skips leading comments', () => {
    expect(splitStatements('-- header\nCREATE TABLE a (\n  id INT\n);\n\nINSERT INTO a VALUES (1);\nSELECT 1')).toEqual([
      'CREATE TABLE a (\n  id INT\n)',
      'INSERT INTO a VALUES (1)',
      'SELECT 1',
    ]);
  });
});

describe('loadMigrations', () => {
  it('loads the shipped schema in version order with unique versions', () => {
    const list = loadMigrations(defaultMigrationsDir);
    expect(list.length).toBeGreaterThan(0);
    const versions = list.map((m) => m.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
  });
  it('rejects two files with one version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-mig-'));
    try {
      writeFileSync(join(dir, '001_a.sql'), 'SELECT 1;');
      writeFileSync(join(dir, '001_b.sql'), 'SELECT 2;');
      expect(() => loadMigrations(dir)).toThrow(MigrationError);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe.skipIf(!db)('migrate (real MySQL)', () => {
  it('applies every shipped migration once; a second run applies nothing', async () => {
    const first = await migrate(db!.pool);
    expect(first).toEqual(loadMigrations().map((m) => m.version));
    expect(await migrate(db!.pool)).toEqual([]);
    const [rows] = await db!.pool.query<RowDataPacket[]>('SELECT version FROM gopherkit_migrations ORDER BY version');
    expect(rows.map((r) => Number(r.version))).toEqual(first);
  });

  it('several processes migrating at once apply each file exactly once (GET_LOCK serialises them)', async () => {
    const fresh = await createTestDatabase({ migrate: false, connectionLimit: 2 });
    try {
      const pools = [fresh!.pool, fresh!.createPool({ connectionLimit: 2 }), fresh!.createPool({ connectionLimit: 2 })];
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const applied = results.flat().sort((a, b) => a - b);
      expect(applied).toEqual(loadMigrations().map((m) => m.version));
    } finally {
      await fresh!.drop();
    }
  });

  it('a failing migration names its file and statement and is not recorded; earlier ones stay', async () => {
    const fresh = await createTestDatabase({ migrate: false, connectionLimit: 2 });
    try {
      const migrations = [
        { version: 1, name: 'ok', statements: ['CREATE TABLE t1 (id INT PRIMARY KEY)'] },
        { version: 2, name: 'broken', statements: ['CREATE TABLE t2 (id INT PRIMARY KEY)', 'CREATE TABLE t3 (id NOPE)'] },
      ];
      const err = await migrate(fresh!.pool, { migrations }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as MigrationError).version).toBe(2);
      expect((err as Error).message).toMatch(/migration 2_broken failed: .*\n-- in statement:\nCREATE TABLE t3/s);
      const [rows] = await fresh!.pool.query<RowDataPacket[]>('SELECT version FROM gopherkit_migrations');
      expect(rows.map((r) => Number(r.version))).toEqual([1]);
    } finally {
      await fresh!.drop();
    }
  });
});
