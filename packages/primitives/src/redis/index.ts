/**
 * Shared plumbing of the Redis-backed pieces: the {@link RedisClient} type they accept and the
 * Lua script helper ({@link defineScript}, {@link loadScript}) they all use.
 * @module
 */
export { hashTag, type RedisClient, type RedisKeyOptions } from './client.js';
export { defineScript, isNoScriptError, loadScript, type RedisScript, type ScriptArg } from './script.js';
