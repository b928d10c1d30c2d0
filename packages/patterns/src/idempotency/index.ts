/**
 * Idempotency (幂等, 重复下单 / 重复支付): per-user tokens against form resubmission, the
 * Idempotency-Key pattern for API requests (IETF httpapi draft) with a Redis and a MySQL store
 * (the MySQL one commits the key with the business rows), the order state machine on guarded
 * UPDATEs, and an exactly-once payment callback handler.
 * @module
 */

export { IdempotencyError, InProgressError, InvalidTokenError, KeyReuseError, StaleAttemptError } from './errors.js';
export {
  type FastifyIdempotencyPlugin,
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyIdempotency,
  type IdempotencyFastifyOptions,
} from './fastify-plugin.js';
export { type IdempotencyHttpOptions, type IdempotentRequest, idempotencyMiddleware, withIdempotency } from './http-middleware.js';
export { decodeResponse, encodeResponse, type IdempotencyKeyStore, type KeyBeginOutcome, requestFingerprint, type StoredResponse } from './key-store.js';
export { formatCents, parseCents } from './money.js';
export { type ExecuteResult, MysqlIdempotencyKeyStore, type MysqlIdempotencyKeyStoreOptions } from './mysql-key-store.js';
export {
  ConcurrentTransitionError,
  canTransition,
  IllegalTransitionError,
  ORDER_STATUSES,
  ORDER_TRANSITIONS,
  OrderStateMachine,
  type OrderStateMachineOptions,
  type OrderStatus,
  type TransitionResult,
} from './order-state-machine.js';
export {
  type CallbackOutcome,
  type CallbackResult,
  MalformedNotificationError,
  PaymentCallbackHandler,
  type PaymentCallbackOptions,
  type PaymentEffect,
  type PaymentNotice,
  type PaymentNotification,
  parseJsonNotice,
} from './payment-callback.js';
export { type CallbackVerifier, type HmacVerifier, hmacSha256Verifier } from './payment-signature.js';
export { RedisIdempotencyKeyStore, type RedisIdempotencyKeyStoreOptions, validateIdempotencyKey } from './redis-key-store.js';
export { type BeginOutcome, IdempotencyTokens, type IdempotencyTokensOptions, type SettleOptions } from './tokens.js';
