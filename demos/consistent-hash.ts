import { hash32 } from '@gopherkit/primitives/hash';
import { HashRing, type HashRingMode, jumpHash } from '@gopherkit/primitives/hashring';
import { defineDemo } from './harness/demo.js';

const NODES = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:8080`);
const NEW_NODE = '10.0.0.11:8080';
const KEYS = Array.from({ length: 200_000 }, (_, i) => `key-${i}`);

function cvOf(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length) / mean;
}

function balance(route: (key: string) => string) {
  const counts = new Map<string, number>();
  for (const k of KEYS) {
    const n = route(k);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  const values = [...counts.values()];
  return { cv: cvOf(values), maxOverMean: Math.max(...values) / (KEYS.length / counts.size) };
}

/** Keys per node, in node order. */
function loads(route: (key: string) => string): number[] {
  const counts = new Map<string, number>(NODES.map((n) => [n, 0]));
  for (const k of KEYS) {
    const n = route(k);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  return NODES.map((n) => counts.get(n) ?? 0);
}

/** Fraction of keys whose owner changes; `strays` counts moves that are neither onto NEW_NODE nor away from a node `mayLeave` allows. */
function relocation(before: (k: string) => string, after: (k: string) => string, mayLeave?: (from: string) => boolean) {
  let moved = 0;
  let strays = 0;
  for (const k of KEYS) {
    const a = before(k);
    const b = after(k);
    if (a === b) continue;
    moved++;
    if (mayLeave !== undefined && !mayLeave(a) && b !== NEW_NODE) strays++;
  }
  return { moved: moved / KEYS.length, strays };
}

/**
 * The seed's consistent-hash answer (seed L4160–4186) is right about relocation and wrong about
 * balance: CRC32 of "10.0.0.x:8080:i" is badly mixed, so its ring is lopsided and more virtual
 * nodes barely help. `hash % N` balances well but moves ~all keys when N changes.
 */
export default defineDemo({
  description: 'Consistent hashing: relocation on add/remove vs naive hash % N; the CRC32 (Go seed) ring vs a well-mixed ring on 10.0.0.1-10:8080',
  async run(d) {
    // --- balance -------------------------------------------------------------------------------
    const configs: [string, HashRingMode, number][] = [
      ['goCompatible (seed: CRC32, 100 vnodes)', 'goCompatible', 100],
      ['goCompatible, 1000 vnodes', 'goCompatible', 1000],
      ['mixed (MurmurHash3), 100 vnodes', 'mixed', 100],
      ['mixed, 160 vnodes (default)', 'mixed', 160],
      ['mixed, 1000 vnodes', 'mixed', 1000],
      ['ketama (MD5, 160 points)', 'ketama', 40],
    ];
    const rows: Record<string, unknown>[] = [];
    const cv: Record<string, number> = {};
    for (const [label, mode, vnodes] of configs) {
      const ring = new HashRing(NODES, { mode, vnodes });
      const b = balance((k) => ring.get(k) as string);
      cv[label] = b.cv;
      rows.push({
        ring: label,
        'CV of keys per node': b.cv.toFixed(3),
        'max/mean': b.maxOverMean.toFixed(2),
        'ideal CV ≈ 1/√points': (1 / Math.sqrt(mode === 'ketama' ? 160 : vnodes)).toFixed(3),
      });
    }
    const modulo = balance((k) => NODES[hash32(k) % NODES.length] as string);
    rows.push({
      ring: 'naive hash32(key) % 10',
      'CV of keys per node': modulo.cv.toFixed(3),
      'max/mean': modulo.maxOverMean.toFixed(2),
      'ideal CV ≈ 1/√points': '-',
    });
    d.log(`Balance of ${KEYS.length.toLocaleString()} keys over ${NODES[0]} … ${NODES[9]}:`);
    d.table(rows);

    const crcRing = new HashRing(NODES, { mode: 'goCompatible', vnodes: 100 });
    const mixedRing = new HashRing(NODES, { mode: 'mixed', vnodes: 160 });
    const crcLoad = loads((k) => crcRing.get(k) as string);
    const mixedLoad = loads((k) => mixedRing.get(k) as string);
    d.log('\nKeys per node, seed CRC32 ring (100 vnodes):');
    d.bars(
      NODES.map((n, i) => ({ label: n, value: crcLoad[i] as number })),
      { unit: ' keys' },
    );
    d.log('Keys per node, mixed ring (160 vnodes, default):');
    d.bars(
      NODES.map((n, i) => ({ label: n, value: mixedLoad[i] as number })),
      { unit: ' keys' },
    );
    d.record('load', [
      ...NODES.map((n, i) => ({ label: n, value: crcLoad[i] as number, group: 'seed CRC32 ring, 100 vnodes' })),
      ...NODES.map((n, i) => ({ label: n, value: mixedLoad[i] as number, group: 'mixed ring, 160 vnodes' })),
    ]);

    // Is the mixed ring's CV on this one node set typical? Sample the hash seed (arc shares, no keys needed).
    const seedCvs = Array.from({ length: 30 }, (_, seed) =>
      cvOf(new HashRing(NODES, { vnodes: 100, hash: (s) => hash32(s, seed) }).distribution().map((x) => x.share)),
    ).sort((a, b) => a - b);
    const median = seedCvs[15] as number;
    d.log(
      `\nmixed, 100 vnodes over 30 hash seeds: CV median ${median.toFixed(3)}, range ${(seedCvs[0] as number).toFixed(3)}–${(seedCvs[29] as number).toFixed(3)}; ` +
        `CRC32 has no seed to vary — its skew is systematic, and 10× the vnodes still leaves CV ${cv['goCompatible, 1000 vnodes']?.toFixed(3)}.`,
    );

    // --- relocation ----------------------------------------------------------------------------
    const moduloOf = (n: number) => (k: string) => `node-${hash32(k) % n}`;
    const mixed = new HashRing(NODES);
    const crc = new HashRing(NODES, { mode: 'goCompatible' });
    const before = { mixed: new Map(KEYS.map((k) => [k, mixed.get(k) as string])), crc: new Map(KEYS.map((k) => [k, crc.get(k) as string])) };
    mixed.add(NEW_NODE);
    crc.add(NEW_NODE);
    const addMixed = relocation(
      (k) => before.mixed.get(k) as string,
      (k) => mixed.get(k) as string,
      () => false,
    );
    const addCrc = relocation(
      (k) => before.crc.get(k) as string,
      (k) => crc.get(k) as string,
      () => false,
    );
    const addModulo = relocation(moduloOf(10), moduloOf(11));
    const addJump = relocation(
      (k) => String(jumpHash(k, 10)),
      (k) => String(jumpHash(k, 11)),
    );
    mixed.remove(NEW_NODE);
    const afterAdd = new Map(KEYS.map((k) => [k, mixed.get(k) as string]));
    const REMOVED = '10.0.0.4:8080';
    mixed.remove(REMOVED);
    const removeMixed = relocation(
      (k) => afterAdd.get(k) as string,
      (k) => mixed.get(k) as string,
      (from) => from === REMOVED,
    );
    const removeModulo = relocation(moduloOf(10), moduloOf(9));
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    d.log('\nKeys that change owner:');
    d.table([
      {
        change: 'add an 11th node',
        'mixed ring': pct(addMixed.moved),
        'CRC32 ring': pct(addCrc.moved),
        jumpHash: pct(addJump.moved),
        'hash % N': pct(addModulo.moved),
        ideal: pct(1 / 11),
      },
      {
        change: `remove ${REMOVED}`,
        'mixed ring': pct(removeMixed.moved),
        'CRC32 ring': '-',
        jumpHash: '- (tail only)',
        'hash % N': pct(removeModulo.moved),
        ideal: pct(1 / 10),
      },
    ]);
    d.record('relocation', [
      { label: 'add an 11th node', value: addMixed.moved * 100, group: 'mixed ring' },
      { label: 'add an 11th node', value: addCrc.moved * 100, group: 'CRC32 ring' },
      { label: 'add an 11th node', value: addJump.moved * 100, group: 'jumpHash' },
      { label: 'add an 11th node', value: addModulo.moved * 100, group: 'hash % N' },
      { label: 'add an 11th node', value: 100 / 11, group: 'ideal' },
      { label: `remove ${REMOVED}`, value: removeMixed.moved * 100, group: 'mixed ring' },
      { label: `remove ${REMOVED}`, value: removeModulo.moved * 100, group: 'hash % N' },
      { label: `remove ${REMOVED}`, value: 100 / 10, group: 'ideal' },
    ]);
    d.log(`keys moved anywhere but to the new node / away from the removed node: ${addMixed.strays + addCrc.strays + removeMixed.strays}`);

    const crc100 = cv['goCompatible (seed: CRC32, 100 vnodes)'] as number;
    const mixed100 = cv['mixed (MurmurHash3), 100 vnodes'] as number;
    const mixed160 = cv['mixed, 160 vnodes (default)'] as number;
    d.check(crc100 > 0.2, `the seed's CRC32 ring should be badly balanced on this set (CV ${crc100.toFixed(3)})`);
    d.check(mixed100 < crc100 && mixed160 < crc100 * 0.6, 'the well-mixed ring must balance clearly better than CRC32');
    d.check((cv['mixed, 1000 vnodes'] as number) < 0.05, 'a well-mixed ring converges with more vnodes (CV < 0.05 at 1000)');
    d.check((cv['goCompatible, 1000 vnodes'] as number) > mixed100, 'CRC32 with 1000 vnodes stays worse than a well-mixed ring with 100');
    d.check(addModulo.moved > 0.8 && removeModulo.moved > 0.8, 'hash % N should move most keys when N changes (the failure this demo shows)');
    d.check(addMixed.moved <= 1.2 / 11 && addCrc.moved <= 1.2 / 11 && addJump.moved <= 1.2 / 11, 'adding the 11th node must move at most 1.2/11 of keys');
    d.check(removeMixed.moved <= 1.2 / 10, 'removing a node must move at most 1.2/10 of keys');
    d.check(addMixed.strays + addCrc.strays + removeMixed.strays === 0, 'a ring change moves keys only to the new node or away from the removed one');
    return (
      `CV crc32 ring=${crc100.toFixed(3)} vs mixed=${mixed100.toFixed(3)} (100 vnodes; seed median ${median.toFixed(3)}), ${mixed160.toFixed(3)} (160); ` +
      `add 11th node: ring moved ${pct(addMixed.moved)}, hash%N moved ${pct(addModulo.moved)}`
    );
  },
});
