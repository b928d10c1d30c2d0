// Child process of the multi-process breakdown test: M concurrent callers take one expired key.
// argv: redisUrl prefix key callers startAt(ms epoch). Prints {"values": n} on stdout.
import { Redis } from 'ioredis';
import { Cache } from '../index.js';

const [url, prefix, key, callers, startAt] = process.argv.slice(2) as [string, string, string, string, string];
const redis = new Redis(url);
const cache = new Cache(redis, { prefix, loadTimeoutMs: 5000, lock: { pollMs: 10 } });
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const loader = async () => {
  await redis.incr(`${prefix}loader-calls`);
  await new Promise((r) => setTimeout(r, 150));
  return { id: key, loadedBy: process.pid };
};
const results = await Promise.all(Array.from({ length: Number(callers) }, () => cache.take(key, loader)));
process.stdout.write(JSON.stringify({ values: results.filter((v) => v !== undefined).length }));
await cache.close();
redis.disconnect();
