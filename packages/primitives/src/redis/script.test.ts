import { startRedis } from '@gopherkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { defineScript, hashTag, loadScript } from './index.js';

const server = await startRedis();
const redis = server.client();
const prefix = `gk:test:${process.pid}:`;

beforeAll(async () => {
  await redis.ping();
});
afterAll(async () => {
  await server.stop();
});

describe('defineScript', () => {
  it('runs via EVALSHA and falls back to EVAL after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const echo = defineScript<string>('echo', 'return ARGV[1] .. ":" .. KEYS[1]', 1);
    expect(echo.sha).toMatch(/^[0-9a-f]{40}$/);
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', echo.sha)).toEqual([0]);
    expect(await echo.run(redis, [`${prefix}k`], ['hi'])).toBe(`hi:${prefix}k`);
    // the EVAL fallback cached it: the next call is a plain EVALSHA hit
    expect(await redis.script('EXISTS', echo.sha)).toEqual([1]);
    expect(await echo.run(redis, [`${prefix}k`], ['again'])).toBe(`again:${prefix}k`);
  });

  it('passes Lua errors through instead of retrying them', async () => {
    const bad = defineScript('bad', "return redis.error_reply('BOOM nope')", 0);
    await expect(bad.run(redis, [])).rejects.toThrow('BOOM nope');
  });

  it('rejects a wrong number of keys and bad definitions with typed errors', async () => {
    const s = defineScript('two', 'return 1', 2);
    await expect(s.run(redis, ['a'])).rejects.toThrow(InvalidArgumentError);
    await expect(s.run(redis, ['a'])).rejects.toThrow('keys (script two) must be exactly 2 key(s), got an array of length 1');
    expect(() => defineScript('', 'return 1', 0)).toThrow(InvalidArgumentError);
    expect(() => defineScript('x', 'return 1', -1)).toThrow('numberOfKeys must be an integer >= 0, got -1');
  });
});

describe('loadScript', () => {
  it('reads a .lua file beside the code and runs it', async () => {
    const incr = loadScript<number>(new URL('./testdata-incr-by.lua', import.meta.url), 1);
    expect(incr.name).toBe('testdata-incr-by');
    expect(incr.lua).toContain('INCRBY');
    await redis.del(`${prefix}n`);
    expect(await incr.run(redis, [`${prefix}n`], [5])).toBe(5);
    expect(await incr.run(redis, [`${prefix}n`], [2])).toBe(7);
  });
  it('a missing file fails on first use, loudly', async () => {
    const missing = loadScript(new URL('./nope.lua', import.meta.url), 0);
    await expect(missing.run(redis, [])).rejects.toThrow(/ENOENT/);
  });
});

describe('hashTag', () => {
  it('wraps a tag and refuses braces', () => {
    expect(hashTag('wh1')).toBe('{wh1}');
    expect(() => hashTag('a}b')).toThrow(/braces/);
  });
});
