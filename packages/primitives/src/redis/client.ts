import type { Cluster, Redis } from 'ioredis';

/**
 * The client every Redis-backed piece of gopherkit accepts: an ioredis `Redis` or `Cluster`.
 * ioredis is an optional peer dependency; only the Redis-backed modules need it.
 */
export type RedisClient = Redis | Cluster;

/** Options shared by every Redis-backed piece. */
export interface RedisKeyOptions {
  /**
   * Prepended to every key this piece writes, so several applications (or tests) can share one
   * Redis without colliding. Default: `"gk:"`.
   */
  prefix?: string;
}

/**
 * Wraps `tag` in a Redis Cluster hash tag (`{tag}`), so every key built with it maps to the same
 * slot and one Lua script may touch them all. Braces inside `tag` are rejected because Redis
 * hashes only up to the first `}`.
 */
export function hashTag(tag: string): string {
  if (tag.includes('{') || tag.includes('}')) {
    throw new TypeError(`hash tag must not contain braces, got ${JSON.stringify(tag)}`);
  }
  return `{${tag}}`;
}
