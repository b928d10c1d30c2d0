import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { Once } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Once', () => {
  it('runs fn once for any number of concurrent and later callers', async () => {
    const once = new Once<number>();
    let calls = 0;
    const fn = async () => {
      calls++;
      await tick();
      return 42;
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => once.do(fn)));
    expect(results.every((v) => v === 42)).toBe(true);
    expect(await once.do(async () => 0)).toBe(42);
    expect(calls).toBe(1);
    expect(once.done).toBe(true);
  });

  it('a failure counts as the one run and reaches every caller, as in Go', async () => {
    const once = new Once();
    let calls = 0;
    const boom = () => {
      calls++;
      throw new Error('init failed');
    };
    await expect(once.do(boom)).rejects.toThrow('init failed');
    await expect(once.do(() => undefined)).rejects.toThrow('init failed');
    expect(calls).toBe(1);
  });

  it('rejects a non-function with a typed error', () => {
    expect(() => new Once().do('init' as never)).toThrow(InvalidArgumentError);
  });
});
