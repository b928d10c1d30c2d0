/**
 * `@gopherkit/primitives`: Go's concurrency toolkit for Node.js. Every concept is also its own
 * subpath export (`@gopherkit/primitives/context`, …) for the smallest possible import.
 * @module
 */
export * from './balancer/index.js';
export * from './bloom/index.js';
export * from './breaker/index.js';
export * from './channel/index.js';
export * from './clock/index.js';
export * from './context/index.js';
export * from './errgroup/index.js';
export * from './errors/index.js';
export * from './hash/index.js';
export * from './hashring/index.js';
export * from './lock/index.js';
export * from './objectpool/index.js';
export * from './pool/index.js';
export * from './ratelimit/index.js';
export * from './redis/index.js';
export * from './singleflight/index.js';
export * from './snowflake/index.js';
export * from './sync/index.js';
