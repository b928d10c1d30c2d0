/**
 * The SQL schema gopherkit's MySQL-backed patterns need (stock, idempotency, outbox), applied
 * by one idempotent {@link migrate} call. DDL is not transactional in MySQL: each file is
 * recorded only after all its statements succeeded.
 * @module
 */
export { defaultMigrationsDir, loadMigrations, type MigrateOptions, type Migration, MigrationError, migrate, splitStatements } from './migrate.js';
