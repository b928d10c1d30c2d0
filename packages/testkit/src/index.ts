/**
 * Real servers for gopherkit's tests, demos and benches. Private: never published.
 * @module
 */
export { dockerEngineAnswers } from './docker.js';
export { findKafka, type KafkaTarget } from './kafka.js';
export {
  createTestDatabase,
  findMysql,
  type MysqlServer,
  mysqlPoolDefaults,
  stopMysqlContainer,
  type TestDatabase,
  type TestDatabaseOptions,
} from './mysql.js';
export { type RedisServer, redisServerBinary, type StartRedisOptions, startRedis, startRedisServers } from './redis.js';
export { inCI, ServiceUnavailableError, serviceMissing } from './services.js';
