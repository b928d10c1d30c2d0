import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { HashRing } from '../hashring/index.js';
import { type BalancerStrategy, createBalancer, type Endpoint, NoEndpointAvailableError } from './index.js';

const eps = (...ids: string[]): Endpoint[] => ids.map((id) => ({ id }));

/** mulberry32: a fixed-seed PRNG so random strategies are deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function countPicks(lb: { pick(key?: string): { endpoint: Endpoint; done(o: { ok: boolean }): void } }, n: number, key?: (i: number) => string) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const lease = lb.pick(key?.(i));
    counts[lease.endpoint.id] = (counts[lease.endpoint.id] ?? 0) + 1;
    lease.done({ ok: true });
  }
  return counts;
}

describe('strategies', () => {
  it('round-robin cycles in list order', () => {
    const lb = createBalancer(eps('a', 'b', 'c'), { strategy: 'round-robin' });
    const seq = Array.from({ length: 7 }, () => {
      const l = lb.pick();
      l.done({ ok: true });
      return l.endpoint.id;
    });
    expect(seq.join('')).toBe('abcabca');
  });

  it('random is uniform (fixed seed; each count within 5 sd of 10 000)', () => {
    const lb = createBalancer(eps('a', 'b', 'c'), { strategy: 'random', random: prng(7) });
    const counts = countPicks(lb, 30_000);
    // binomial sd = sqrt(30000 × 1/3 × 2/3) ≈ 82
    for (const id of ['a', 'b', 'c']) expect(Math.abs((counts[id] as number) - 10_000)).toBeLessThan(410);
  });

  it("weighted-round-robin interleaves like nginx's smooth algorithm (5,1,1 → a a b a c a a)", () => {
    const lb = createBalancer(
      [
        { id: 'a', weight: 5 },
        { id: 'b', weight: 1 },
        { id: 'c', weight: 1 },
      ],
      { strategy: 'weighted-round-robin' },
    );
    const seq = Array.from({ length: 14 }, () => {
      const l = lb.pick();
      l.done({ ok: true });
      return l.endpoint.id;
    });
    expect(seq.join('')).toBe('aabacaaaabacaa');
    expect(countPicks(lb, 7000)).toEqual({ a: 5000, b: 1000, c: 1000 });
  });

  it('least-in-flight picks the endpoint with the fewest outstanding requests, ties in turn', () => {
    const lb = createBalancer(eps('a', 'b', 'c'), { strategy: 'least-in-flight' });
    const first = [lb.pick(), lb.pick(), lb.pick()];
    expect(first.map((l) => l.endpoint.id).sort()).toEqual(['a', 'b', 'c']); // ties rotate
    for (const l of first) if (l.endpoint.id !== 'b') l.done({ ok: true });
    // a slow endpoint keeps its requests: hold everything sent to 'b', finish the rest at once
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 300; i++) {
      const l = lb.pick();
      counts[l.endpoint.id] = (counts[l.endpoint.id] as number) + 1;
      if (l.endpoint.id !== 'b') l.done({ ok: true });
    }
    expect(counts.b).toBe(0); // b keeps one in flight, a and c drop back to 0 after each request
    expect(counts.a).toBe(150);
    expect(lb.stats().find((s) => s.id === 'b')?.inFlight).toBe(1);
  });

  it('power-of-two never sends to an endpoint that is busier than some other candidate', () => {
    const lb = createBalancer(eps('busy', 'b', 'c', 'd'), { strategy: 'power-of-two', random: prng(3), clock: new ManualClock() });
    const leases = Array.from({ length: 50 }, () => lb.pick());
    // the 50 picks spread evenly: in-flight counts differ by at most 1 pair-wise sample effects; max - min small
    const inflight = lb.stats().map((s) => s.inFlight);
    expect(Math.max(...inflight) - Math.min(...inflight)).toBeLessThanOrEqual(2);
    for (const l of leases) if (l.endpoint.id !== 'busy') l.done({ ok: true });
    const busy = lb.stats().find((s) => s.id === 'busy')?.inFlight as number;
    expect(busy).toBeGreaterThan(5);
    const counts = countPicks(lb, 3000);
    expect(counts.busy).toBeUndefined();
    for (const id of ['b', 'c', 'd']) expect(counts[id] as number).toBeGreaterThan(800);
    expect(countPicks(createBalancer(eps('solo'), { strategy: 'power-of-two' }), 3)).toEqual({ solo: 3 });
  });

  it('consistent-hash keeps each key on its ring owner', () => {
    const ids = ['s1', 's2', 's3', 's4'];
    const lb = createBalancer(eps(...ids), { strategy: 'consistent-hash' });
    const ring = new HashRing(ids);
    for (let i = 0; i < 2000; i++) {
      const l = lb.pick(`user:${i}`);
      expect(l.endpoint.id).toBe(ring.get(`user:${i}`));
      l.done({ ok: true });
    }
    expect(() => lb.pick()).toThrow("key must be a string (the 'consistent-hash' strategy routes by key), got undefined");
  });

  it("consistent-hash sends an ejected owner's keys to the next member clockwise, and back after recovery", async () => {
    const clock = new ManualClock();
    const ids = ['s1', 's2', 's3', 's4'];
    const lb = createBalancer(eps(...ids), { strategy: 'consistent-hash', clock, health: { maxFailures: 1, cooldownMs: 100 } });
    const ring = new HashRing(ids);
    const keys = Array.from({ length: 400 }, (_, i) => `user:${i}`);
    const victim = ring.get('user:0') as string;
    const l = lb.pick('user:0');
    l.done({ ok: false }); // its owner is ejected (maxFailures 1)
    expect(lb.stats().find((s) => s.id === victim)?.state).toBe('ejected');
    const wrong = keys.filter((k) => {
      const lease = lb.pick(k);
      lease.done({ ok: true });
      const [owner, next] = ring.getN(k, 2);
      return lease.endpoint.id !== (owner === victim ? next : owner);
    });
    expect(wrong).toEqual([]);
    await clock.advance(100);
    lb.pick('any').done({ ok: true }); // the probe
    expect(keys.filter((k) => lb.pick(k).endpoint.id !== ring.get(k))).toEqual([]);
  });

  it('consistent-hash follows update(): only the keys of a removed endpoint move', () => {
    const lb = createBalancer(eps('s1', 's2', 's3'), { strategy: 'consistent-hash' });
    const keys = Array.from({ length: 3000 }, (_, i) => `cart:${i}`);
    const route = () =>
      keys.map((k) => {
        const l = lb.pick(k);
        l.done({ ok: true });
        return l.endpoint.id;
      });
    const before = route();
    lb.update(eps('s1', 's3', 's4'));
    const after = route();
    const moved = keys.filter((_, i) => after[i] !== before[i]);
    const ring = new HashRing(['s1', 's3', 's4']);
    expect(keys.every((k, i) => after[i] === ring.get(k))).toBe(true);
    // a key moves only if it was on s2 (gone) or now lands on s4 (new)
    expect(moved.every((k) => before[keys.indexOf(k)] === 's2' || after[keys.indexOf(k)] === 's4')).toBe(true);
  });

  it('consistent-hash with boundedLoad spreads a hot key, capping in-flight at ⌈avg × (1 + ε)⌉', () => {
    const lb = createBalancer(eps('s1', 's2', 's3', 's4'), { strategy: 'consistent-hash', boundedLoad: 0.25 });
    const leases = [];
    for (let i = 1; i <= 400; i++) {
      leases.push(lb.pick('hot-key'));
      const max = Math.max(...lb.stats().map((s) => s.inFlight));
      expect(max).toBeLessThanOrEqual(Math.ceil((i / 4) * 1.25));
    }
    expect(lb.stats().every((s) => s.inFlight > 0)).toBe(true); // owner full at 125, then the next ones clockwise
    for (const l of leases) l.done({ ok: true });
    // idle: the key goes to its owner
    const owner = new HashRing(['s1', 's2', 's3', 's4']).get('hot-key');
    expect(lb.pick('hot-key').endpoint.id).toBe(owner);
  });
});

describe('passive health (ManualClock)', () => {
  const setup = (strategy: BalancerStrategy = 'round-robin', ids = ['a', 'b', 'c']) => {
    const clock = new ManualClock(0);
    const lb = createBalancer(eps(...ids), { strategy, clock, health: { maxFailures: 3, cooldownMs: 1000 } });
    const events: string[] = [];
    lb.on('eject', (e) => events.push(`eject:${e.id}@${e.until}`));
    lb.on('probe', (e) => events.push(`probe:${e.id}`));
    lb.on('recover', (e) => events.push(`recover:${e.id}`));
    /** Picks until `id` comes up and reports `ok` for it (others succeed). */
    const hit = (id: string, ok: boolean) => {
      for (let i = 0; i < 10; i++) {
        const l = lb.pick();
        l.done({ ok: l.endpoint.id === id ? ok : true });
        if (l.endpoint.id === id) return l;
      }
      throw new Error(`${id} was not picked`);
    };
    return { clock, lb, events, hit };
  };

  it('ejects after consecutive failures, probes once after the cool-down, and recovers on success', async () => {
    const { clock, lb, events, hit } = setup();
    hit('b', false);
    hit('b', false);
    hit('b', true); // a success resets the streak
    hit('b', false);
    hit('b', false);
    expect(lb.stats()[1]?.state).toBe('healthy');
    hit('b', false);
    expect(events).toEqual(['eject:b@1000']);
    expect(lb.stats()[1]).toMatchObject({ state: 'ejected', consecutiveFailures: 3, ejections: 1 });
    expect(countPicks(lb, 100).b).toBeUndefined();

    await clock.advance(999);
    expect(countPicks(lb, 10).b).toBeUndefined();
    await clock.advance(1);
    expect(lb.stats()[1]?.state).toBe('half-open');
    const probe = lb.pick();
    expect(probe).toMatchObject({ probe: true, endpoint: { id: 'b' } });
    expect(lb.stats()[1]?.state).toBe('probing');
    expect(countPicks(lb, 20).b).toBeUndefined(); // one probe at a time
    probe.done({ ok: false }); // probe fails: another full cool-down
    expect(events.at(-1)).toBe('eject:b@2000');
    await clock.advance(1000);
    const probe2 = lb.pick();
    expect(probe2.probe).toBe(true);
    probe2.done({ ok: true });
    expect(events.slice(-2)).toEqual(['probe:b', 'recover:b']);
    expect(lb.stats()[1]).toMatchObject({ state: 'healthy', consecutiveFailures: 0, inFlight: 0 });
    expect(countPicks(lb, 30)).toEqual({ a: 10, b: 10, c: 10 });
  });

  for (const strategy of ['random', 'weighted-round-robin', 'least-in-flight', 'power-of-two', 'consistent-hash'] as const) {
    it(`${strategy}: an ejected endpoint gets no traffic until its probe`, async () => {
      const clock = new ManualClock(0);
      const lb = createBalancer(eps('a', 'b', 'c'), { strategy, clock, random: prng(11), health: { maxFailures: 2, cooldownMs: 500 } });
      const key = (i: number) => `k${i}`;
      let failures = 0;
      for (let i = 0; failures < 2; i++) {
        const l = lb.pick(key(i));
        const bad = l.endpoint.id === 'b';
        if (bad) failures++;
        l.done({ ok: !bad });
      }
      expect(lb.stats()[1]?.state).toBe('ejected');
      const during = countPicks(lb, 3000, key);
      expect(during.b).toBeUndefined();
      expect((during.a ?? 0) + (during.c ?? 0)).toBe(3000);
      await clock.advance(500);
      const probe = lb.pick('any');
      expect(probe.endpoint.id).toBe('b');
      probe.done({ ok: true });
      expect(countPicks(lb, 3000, key).b).toBeGreaterThan(500);
    });
  }

  it('all ejected → NoEndpointAvailableError with the time to the next probe; empty → reason empty', async () => {
    const { clock, lb } = setup('round-robin', ['a', 'b']);
    for (let i = 0; i < 6; i++) lb.pick().done({ ok: false });
    await clock.advance(250);
    const err = (() => {
      try {
        lb.pick();
      } catch (e) {
        return e;
      }
    })() as NoEndpointAvailableError;
    expect(err).toBeInstanceOf(NoEndpointAvailableError);
    expect(err).toMatchObject({ code: 'ERR_NO_ENDPOINT_AVAILABLE', reason: 'all-ejected', retryAfterMs: 750 });
    expect(err.message).toBe('no endpoint available: all 2 endpoints are ejected after consecutive failures; the next probe is allowed in 750 ms');
    await clock.advance(750);
    expect(lb.pick().probe).toBe(true);

    lb.update([]);
    expect(() => lb.pick()).toThrow(expect.objectContaining({ reason: 'empty' }));
    const seedLike = createBalancer<Endpoint>([], { strategy: 'round-robin' });
    expect(() => seedLike.pick()).toThrow('no endpoint available: the endpoint list is empty');
    seedLike.update(eps('x'));
    expect(seedLike.pick().endpoint.id).toBe('x');
  });

  it('maxEjectedFraction keeps at least half the endpoints in rotation', () => {
    const lb = createBalancer(eps('a', 'b', 'c', 'd'), {
      strategy: 'round-robin',
      clock: new ManualClock(),
      health: { maxFailures: 1, maxEjectedFraction: 0.5 },
    });
    for (let i = 0; i < 40; i++) lb.pick().done({ ok: false });
    expect(lb.stats().filter((s) => s.state === 'ejected')).toHaveLength(2);
    expect(() => lb.pick()).not.toThrow();
  });

  it('a probe that is abandoned (disposed) or never finished does not wedge the endpoint', async () => {
    const { clock, lb } = setup('round-robin', ['a', 'b']);
    for (let i = 0; i < 6; i++) {
      const l = lb.pick();
      l.done({ ok: l.endpoint.id !== 'b' });
    }
    await clock.advance(1000);
    {
      using probe = lb.pick();
      expect(probe.probe).toBe(true);
    } // disposed without done(): the next pick probes again
    const lost = lb.pick();
    expect(lost.probe).toBe(true);
    expect(lb.pick().endpoint.id).toBe('a');
    await clock.advance(1000); // the lost probe never reports; after a cool-down another one may go
    const retry = lb.pick();
    expect(retry).toMatchObject({ probe: true, endpoint: { id: 'b' } });
    retry.done({ ok: true });
    lost.done({ ok: false }); // late result of the lost probe: its slot is released
    expect(lb.stats().map((s) => s.inFlight)).toEqual([1, 0]);
    expect(lb.stats()[1]?.state).toBe('ejected'); // the late failure was a probe failure too
  });

  it('done() is idempotent, measures latency with the clock, and validates its outcome', async () => {
    const clock = new ManualClock();
    const lb = createBalancer(eps('a'), { strategy: 'round-robin', clock });
    const l = lb.pick();
    await clock.advance(40);
    expect(() => l.done({} as { ok: boolean })).toThrow(InvalidArgumentError);
    l.done({ ok: true });
    l.done({ ok: false });
    expect(lb.stats()[0]).toMatchObject({ inFlight: 0, failures: 0, latencyMs: 40 });
    expect(() => lb.pick().done({ ok: true, latencyMs: -1 })).toThrow('outcome.latencyMs must be a finite number >= 0, got -1');
  });

  it('update() keeps health state of endpoints that stay and tolerates leases of removed ones', () => {
    const { lb } = setup('round-robin', ['a', 'b', 'c']);
    for (let i = 0; i < 9; i++) {
      const l = lb.pick();
      l.done({ ok: l.endpoint.id !== 'b' });
    }
    const held = lb.pick();
    lb.update(eps('b', held.endpoint.id === 'b' ? 'a' : 'd'));
    expect(lb.stats().find((s) => s.id === 'b')?.state).toBe('ejected');
    expect(() => held.done({ ok: false })).not.toThrow();
  });

  it('rejects bad configuration with typed errors', () => {
    expect(() => createBalancer([], { strategy: 'fastest' as BalancerStrategy })).toThrow("strategy must be one of 'round-robin', 'random'");
    expect(() => createBalancer(eps('a', 'a'), { strategy: 'random' })).toThrow('endpoints[1].id must be unique within the list, got "a"');
    expect(() => createBalancer([{ id: 'a', weight: 0 }], { strategy: 'random' })).toThrow('endpoints[0].weight must be a finite number > 0, got 0');
    expect(() => createBalancer([{ id: '' }], { strategy: 'random' })).toThrow('endpoints[0].id must be a non-empty string');
    expect(() => createBalancer([], { strategy: 'random', boundedLoad: 0.2 })).toThrow("boundedLoad must be unset unless strategy is 'consistent-hash'");
    expect(() => createBalancer([], { strategy: 'random', health: { cooldownMs: -1 } })).toThrow('health.cooldownMs must be a finite number >= 0');
    expect(() => createBalancer([], { strategy: 'random' }).on('nope' as 'eject', () => {})).toThrow(InvalidArgumentError);
  });
});

describe('under real concurrency (node:http instances)', () => {
  const servers: http.Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  it('stops sending to an instance that fails, with 30 requests in flight, and leaks no in-flight slots', async () => {
    const hits: Record<string, number> = {};
    const endpoints: (Endpoint & { port: number })[] = [];
    for (const id of ['ok-1', 'ok-2', 'broken']) {
      const server = http.createServer((_req, res) => {
        hits[id] = (hits[id] ?? 0) + 1;
        setTimeout(() => {
          res.statusCode = id === 'broken' ? 503 : 200;
          res.end(id);
        }, 2);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      endpoints.push({ id, port: (server.address() as AddressInfo).port });
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const lb = createBalancer(endpoints, { strategy: 'least-in-flight', health: { maxFailures: 3, cooldownMs: 60_000 } });
    let ejectedAtRequest = -1;
    let started = 0;
    lb.on('eject', () => {
      ejectedAtRequest = started;
    });
    const get = (port: number) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    let failed = 0;
    const worker = async () => {
      while (started < 600) {
        started++;
        const lease = lb.pick();
        const status = await get(lease.endpoint.port).catch(() => 0);
        lease.done({ ok: status === 200 });
        if (status !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: 30 }, worker));
    agent.destroy();
    expect(ejectedAtRequest).toBeGreaterThan(0);
    // after the ejection only requests already in flight (≤ 30) may still have reached it
    expect(hits.broken as number).toBeLessThanOrEqual(3 + 30);
    expect(failed).toBe(hits.broken);
    expect((hits['ok-1'] as number) + (hits['ok-2'] as number)).toBeGreaterThan(500);
    expect(lb.stats().map((s) => s.inFlight)).toEqual([0, 0, 0]);
  });
});
