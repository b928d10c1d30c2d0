import { describe, expect, it } from 'vitest';
import { compare } from './check.js';

const baseline = {
  reference: 'peer',
  results: [
    { task: 'peer', opsPerSec: 1000, p99Ms: 1, peer: 'p' },
    { task: 'ours', opsPerSec: 2000, p99Ms: 1, peer: null },
    { task: 'capped', opsPerSec: 500, p99Ms: 1, peer: null, extra: { unguarded: 'wall-time bound' } },
  ],
};

describe('bench:check compare', () => {
  it('compares ratios, not absolute speed: a uniformly slower machine passes', () => {
    const fresh = baseline.results.map((r) => ({ ...r, opsPerSec: r.opsPerSec / 3 }));
    const cmp = compare(baseline, fresh, 0.25);
    expect(cmp.every((c) => c.ok)).toBe(true);
    expect(cmp.find((c) => c.task === 'ours')?.change).toBeCloseTo(0);
  });

  it('flags a task whose ratio fell beyond the tolerance', () => {
    const fresh = [
      { task: 'peer', opsPerSec: 1000, p99Ms: 1, peer: 'p' },
      { task: 'ours', opsPerSec: 1400, p99Ms: 1, peer: null },
      { task: 'capped', opsPerSec: 500, p99Ms: 1, peer: null },
    ];
    const ours = compare(baseline, fresh, 0.25).find((c) => c.task === 'ours');
    expect(ours).toMatchObject({ ok: false, guarded: true });
    expect(ours?.change).toBeCloseTo(-0.3);
    expect(compare(baseline, fresh, 0.35).find((c) => c.task === 'ours')?.ok).toBe(true);
  });

  it('reports an unguarded task without failing on it', () => {
    const fresh = [
      { task: 'peer', opsPerSec: 4000, p99Ms: 1, peer: 'p' },
      { task: 'ours', opsPerSec: 8000, p99Ms: 1, peer: null },
      { task: 'capped', opsPerSec: 500, p99Ms: 1, peer: null, extra: { unguarded: 'wall-time bound' } },
    ];
    const capped = compare(baseline, fresh, 0.25).find((c) => c.task === 'capped');
    expect(capped).toMatchObject({ ok: true, guarded: false });
    expect(capped?.change).toBeCloseTo(-0.75);
  });

  it("reports a peer's ratio without guarding it", () => {
    const withPeer = { ...baseline, results: [...baseline.results, { task: 'other peer', opsPerSec: 1000, p99Ms: 1, peer: 'q' }] };
    const fresh = [...baseline.results, { task: 'other peer', opsPerSec: 100, p99Ms: 1, peer: 'q' }];
    expect(compare(withPeer, fresh, 0.25).find((c) => c.task === 'other peer')).toMatchObject({ ok: true, guarded: false });
  });

  it('fails a task missing from the fresh run and a missing reference', () => {
    const fresh = baseline.results.filter((r) => r.task !== 'ours');
    expect(compare(baseline, fresh, 0.25).find((c) => c.task === 'ours')?.ok).toBe(false);
    expect(() => compare(baseline, fresh.slice(1), 0.25)).toThrow('reference task "peer" missing');
  });
});
