import { describe, expect, it } from 'vitest';
import { assertFinite, assertInteger, assertNonEmptyString, GopherkitError, InvalidArgumentError } from './index.js';

describe('InvalidArgumentError', () => {
  it('names the argument, what is allowed and what was received', () => {
    const e = new InvalidArgumentError('capacity', 'an integer >= 0', -1);
    expect(e).toBeInstanceOf(GopherkitError);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.name).toBe('InvalidArgumentError');
    expect(e.argument).toBe('capacity');
    expect(e.message).toBe('capacity must be an integer >= 0, got -1');
  });

  it('describes values of every type briefly', () => {
    expect(new InvalidArgumentError('a', 'x', 'x'.repeat(100)).message).toContain('…');
    expect(new InvalidArgumentError('a', 'x', 5n).message).toMatch(/got 5n$/);
    expect(new InvalidArgumentError('a', 'x', [1, 2]).message).toMatch(/an array of length 2$/);
    expect(new InvalidArgumentError('a', 'x', new Map()).message).toMatch(/a Map$/);
    expect(new InvalidArgumentError('a', 'x', undefined).message).toMatch(/got undefined$/);
  });
});

describe('assertions', () => {
  it('assertInteger accepts in-range integers and rejects the rest', () => {
    expect(assertInteger('n', 3)).toBe(3);
    expect(() => assertInteger('n', 1.5)).toThrow('n must be an integer >= 0, got 1.5');
    expect(() => assertInteger('n', 11, 1, 10)).toThrow('n must be an integer in [1, 10], got 11');
    expect(() => assertInteger('n', '3')).toThrow(InvalidArgumentError);
  });
  it('assertFinite rejects NaN and Infinity', () => {
    expect(assertFinite('r', 0.5, 0)).toBe(0.5);
    expect(() => assertFinite('r', Number.NaN)).toThrow('r must be a finite number, got NaN');
    expect(() => assertFinite('r', -1, 0)).toThrow('r must be a finite number >= 0, got -1');
    expect(() => assertFinite('r', 2, 0, 1)).toThrow('in [0, 1]');
    expect(() => assertFinite('r', 2, Number.NEGATIVE_INFINITY, 1)).toThrow('<= 1');
  });
  it('assertNonEmptyString rejects empty and non-strings', () => {
    expect(assertNonEmptyString('id', 'a')).toBe('a');
    expect(() => assertNonEmptyString('id', '')).toThrow('id must be a non-empty string, got ""');
    expect(() => assertNonEmptyString('id', 1)).toThrow(InvalidArgumentError);
  });
});
