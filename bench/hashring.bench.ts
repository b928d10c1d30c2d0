import { createRequire } from 'node:module';
import { HashRing, jumpHash } from '@gopherkit/primitives/hashring';
import { defineSuite } from './harness/suite.js';

type NodeHashRing = { get(key: string): string };
const NpmHashRing = createRequire(import.meta.url)('hashring') as new (
  servers: string[] | Record<string, number>,
  algorithm?: string,
  options?: Record<string, unknown>,
) => NodeHashRing;

const NODES = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:8080`);
const BATCH = 100;

/**
 * Ring lookup vs npm `hashring` (ketama, MD5 per lookup, an LRU of 5000 results in front).
 * Keys cycle through 100k distinct strings, so the peer's LRU misses as it would on a real key
 * space; its hot-key path (1k keys, all LRU hits) is the reference because its speed is steady
 * from run to run (the 100k-key path is dominated by garbage collection of LRU churn).
 */
export default defineSuite({
  reference: 'hashring (npm): get, 1k hot keys (LRU hits)',
  inProcess: true,
  setup(b) {
    const keys = Array.from({ length: 100_000 }, (_, i) => `user:${i}`);
    const hot = keys.slice(0, 1000);
    let i = 0;
    const next = () => keys[(i = (i + 1) % keys.length)] as string;
    let h = 0;
    const nextHot = () => hot[(h = (h + 1) % hot.length)] as string;

    const peer = new NpmHashRing(NODES);
    const peerHot = new NpmHashRing(NODES);
    const mixed = new HashRing(NODES);
    const ketama = new HashRing(NODES, { mode: 'ketama' });
    const go = new HashRing(NODES, { mode: 'goCompatible' });
    const loads = new Map(NODES.map((n) => [n, 10]));
    mixed.get('warm');
    ketama.get('warm');
    go.get('warm');

    let sink = '';
    const lookups = (ring: { get(key: string): string | undefined }, key: () => string) => () => {
      for (let k = 0; k < BATCH; k++) sink = ring.get(key()) as string;
    };
    b.add('hashring (npm): get, 100k keys', lookups(peer, next), { peer: 'hashring', batch: BATCH });
    b.add('hashring (npm): get, 1k hot keys (LRU hits)', lookups(peerHot, nextHot), { peer: 'hashring', batch: BATCH });
    b.add('HashRing mixed (MurmurHash3): get', lookups(mixed, next), { batch: BATCH });
    b.add('HashRing ketama (MD5, same ring as the peer): get', lookups(ketama, next), { batch: BATCH });
    b.add('HashRing goCompatible (CRC32): get', lookups(go, next), { batch: BATCH });
    b.add(
      'HashRing mixed: getN(key, 3)',
      () => {
        for (let k = 0; k < BATCH; k++) sink = mixed.getN(next(), 3)[2] as string;
      },
      { batch: BATCH },
    );
    b.add(
      'HashRing mixed: getBounded (10 members)',
      () => {
        for (let k = 0; k < BATCH; k++) sink = mixed.getBounded(next(), (n) => loads.get(n) as number) as string;
      },
      { batch: BATCH },
    );
    b.add(
      'jumpHash(string key, 10)',
      () => {
        let s = 0;
        for (let k = 0; k < BATCH; k++) s += jumpHash(next(), 10);
        sink = String(s);
      },
      { batch: BATCH },
    );
    b.add('build: HashRing mixed, 10 nodes × 160 vnodes', () => {
      sink = new HashRing(NODES).get('k') as string;
    });
    b.add(
      'build: hashring (npm), 10 nodes × 160 points',
      () => {
        sink = new NpmHashRing(NODES).get('k');
      },
      { peer: 'hashring' },
    );
    b.defer(() => void sink);
  },
});
