import { createPool, PoolClosedError, PoolCreateError, PoolLeaseReleasedError, PoolTimeoutError } from '@gopherkit/primitives/pool';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

// ---------------------------------------------------------------------------------------------
// A flaky fake resource: connecting takes CONNECT_MS; a query breaks the connection with
// probability `breakRate` (seeded); a broken or closed connection fails every query.
// ---------------------------------------------------------------------------------------------
const CONNECT_MS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FakeConn {
  broken = false;
  closed = false;
  uses = 0;
  constructor(readonly id: number) {}
  query(random: () => number, breakRate: number): void {
    if (this.closed) throw new Error(`conn ${this.id}: use of closed connection`);
    if (this.broken) throw new Error(`conn ${this.id}: broken pipe`);
    this.uses++;
    if (random() < breakRate) {
      this.broken = true;
      throw new Error(`conn ${this.id}: connection reset by peer`);
    }
  }
  close(): void {
    this.closed = true;
  }
}

class FakeServer {
  private next = 0;
  up = true;
  connects = 0;
  async connect(): Promise<FakeConn> {
    this.connects++;
    await sleep(CONNECT_MS);
    if (!this.up) throw new Error('ECONNREFUSED 10.0.0.7:3306');
    return new FakeConn(++this.next);
  }
}

// ---------------------------------------------------------------------------------------------
// The seed's ConnPool (seed L433–493), ported faithfully: a buffered channel of conns, an
// atomic size, factory() under the mutex, a blocking receive with no timeout, Put by
// non-blocking send, Close by close(channel) + drain. Go's channel and mutex rules are
// reproduced (receive on a closed channel yields the zero value; send on one panics).
// ---------------------------------------------------------------------------------------------
class GoChan<T> {
  private buf: T[] = [];
  private receivers: ((v: T | undefined) => void)[] = [];
  closed = false;
  constructor(private readonly cap: number) {}
  trySend(v: T): boolean {
    if (this.closed) throw new Error('panic: send on closed channel');
    const r = this.receivers.shift();
    if (r) {
      r(v);
      return true;
    }
    if (this.buf.length >= this.cap) return false;
    this.buf.push(v);
    return true;
  }
  tryRecv(): { ok: true; v: T | undefined } | { ok: false } {
    if (this.buf.length > 0) return { ok: true, v: this.buf.shift() };
    if (this.closed) return { ok: true, v: undefined };
    return { ok: false };
  }
  recv(): Promise<T | undefined> {
    const r = this.tryRecv();
    if (r.ok) return Promise.resolve(r.v);
    return new Promise((resolve) => this.receivers.push(resolve));
  }
  close(): void {
    if (this.closed) throw new Error('panic: close of closed channel');
    this.closed = true;
    for (const r of this.receivers.splice(0)) r(undefined); // zero value, ok=false
  }
  drain(): T[] {
    return this.buf.splice(0);
  }
}

class GoMutex {
  private tail = Promise.resolve();
  async lock(): Promise<() => void> {
    let unlock!: () => void;
    const prev = this.tail;
    this.tail = new Promise<void>((r) => (unlock = r));
    await prev;
    return unlock;
  }
}

class SeedConnPool {
  private conns: GoChan<FakeConn>;
  private size = 0;
  private mu = new GoMutex();
  constructor(
    private readonly maxSize: number,
    private readonly factory: () => Promise<FakeConn>,
  ) {
    this.conns = new GoChan(maxSize);
  }
  async get(): Promise<FakeConn | undefined> {
    const r = this.conns.tryRecv();
    if (r.ok) return r.v;
    if (this.size < this.maxSize) {
      const unlock = await this.mu.lock();
      if (this.size < this.maxSize) {
        const conn = await this.factory(); // under the lock; a throw leaves mu locked (no defer)
        this.size++;
        unlock();
        return conn;
      }
      unlock();
    }
    return this.conns.recv(); // blocks forever: no timeout, no ctx
  }
  put(conn: FakeConn | undefined): void {
    if (!conn) return;
    if (!this.conns.trySend(conn)) {
      conn.close();
      this.size--;
    }
  }
  close(): void {
    this.conns.close();
    for (const c of this.conns.drain()) c.close();
  }
}

/** Resolves with 'blocked' if `p` has not settled after `ms` (the seed has no other way out). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'blocked'> {
  return Promise.race([p, sleep(ms).then(() => 'blocked' as const)]);
}

export default defineDemo({
  description:
    "Pool: the seed's channel ConnPool (lock-held dials, hangs, nil conns, panics, recycled broken conns, lost wake-ups) vs gopherkit createPool against a flaky fake DB",
  async run(d) {
    const rows: { scenario: string; seed: string; gopherkit: string }[] = [];
    const row = (scenario: string, seed: string, gopherkit: string) => rows.push({ scenario, seed, gopherkit });
    let seedFailures = 0;
    let fixedPasses = 0;
    const seedCheck = (ok: boolean, message: string) => {
      if (d.check(ok, message)) seedFailures++;
    };
    const fixedCheck = (ok: boolean, message: string) => {
      if (d.check(ok, message)) fixedPasses++;
    };

    // 1. dials under the lock: 10 callers on a cold pool
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(10, () => server.connect());
      let t = performance.now();
      await Promise.all(Array.from({ length: 10 }, () => seed.get()));
      const seedMs = performance.now() - t;
      const pool = createPool({ create: () => server.connect(), destroy: (c) => c.close(), max: 10 });
      t = performance.now();
      const leases = await Promise.all(Array.from({ length: 10 }, () => pool.acquire()));
      const fixedMs = performance.now() - t;
      for (const l of leases) l.release();
      await pool.close();
      row(`10 callers, cold pool, dial=${CONNECT_MS} ms`, `${seedMs.toFixed(0)} ms (dials serialized)`, `${fixedMs.toFixed(0)} ms (dials in parallel)`);
      seedCheck(seedMs >= 9 * CONNECT_MS, `seed pool dials one at a time under its mutex: ${seedMs.toFixed(0)} ms`);
      fixedCheck(fixedMs < seedMs / 2, `gopherkit dials outside any lock: ${fixedMs.toFixed(0)} ms vs ${seedMs.toFixed(0)} ms`);
    }

    // 2. broken connections are recycled (no discard)
    {
      const server = new FakeServer();
      const run = async (kind: 'seed' | 'fixed') => {
        const random = d.random(7);
        let handedBroken = 0;
        let failed = 0;
        const seed = new SeedConnPool(4, () => server.connect());
        const pool = createPool({ create: () => server.connect(), destroy: (c) => c.close(), max: 4 });
        for (let i = 0; i < 200; i++) {
          if (kind === 'seed') {
            const c = (await seed.get()) as FakeConn;
            if (c.broken) handedBroken++;
            try {
              c.query(random, 0.05);
            } catch {
              failed++;
            }
            seed.put(c); // the only thing the seed API allows
          } else {
            await pool.use((c, lease) => {
              if (c.broken) handedBroken++;
              try {
                c.query(random, 0.05);
              } catch {
                failed++;
                lease.destroy(); // discard it; the next caller gets a fresh one
              }
            });
          }
        }
        await pool.close();
        return { handedBroken, failed };
      };
      const s = await run('seed');
      const f = await run('fixed');
      row(
        '200 queries, 5% break the conn',
        `${s.handedBroken} handed out already broken, ${s.failed} failed`,
        `${f.handedBroken} handed out broken, ${f.failed} failed (only the breaking query)`,
      );
      seedCheck(s.handedBroken > 100, `seed recycles a broken conn forever: ${s.handedBroken} requests got one`);
      fixedCheck(f.handedBroken === 0, `gopherkit never hands out a destroyed conn: ${f.handedBroken}`);
    }

    // 3. every conn leaked, one more caller
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(2, () => server.connect());
      await seed.get();
      await seed.get();
      const s = await within(seed.get(), 300);
      const pool = createPool({ create: () => server.connect(), max: 2, acquireTimeoutMs: 100 });
      await pool.acquire();
      await pool.acquire();
      const f = await pool.acquire().catch((e: unknown) => e);
      row('pool exhausted (2 conns leaked), a 3rd Get', s === 'blocked' ? 'still blocked after 300 ms (forever)' : 'returned', (f as Error).message);
      seedCheck(s === 'blocked', 'seed Get blocks with no way out');
      fixedCheck(f instanceof PoolTimeoutError, 'gopherkit acquire fails with PoolTimeoutError');
      void pool.close({ deadline: Date.now() });
    }

    // 4. Close while a caller waits
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(1, () => server.connect());
      await seed.get();
      const waiting = seed.get();
      await sleep(5);
      seed.close();
      const s = await waiting;
      const pool = createPool({ create: () => server.connect(), destroy: (c) => c.close(), max: 1 });
      const held = await pool.acquire();
      const fw = pool.acquire().catch((e: unknown) => e);
      const closing = pool.close();
      const f = await fw;
      held.release();
      await closing;
      row('Close() while a caller waits', `caller gets conn=${String(s)} with err=nil`, `caller gets ${(f as Error).name}`);
      seedCheck(s === undefined, 'seed hands the waiter a nil conn and a nil error');
      fixedCheck(f instanceof PoolClosedError, 'gopherkit rejects the waiter with PoolClosedError');
    }

    // 5. Put after Close
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(1, () => server.connect());
      const c = (await seed.get()) as FakeConn;
      seed.close();
      let s = 'ok';
      try {
        seed.put(c);
      } catch (e) {
        s = (e as Error).message;
      }
      const pool = createPool({ create: () => server.connect(), destroy: (x) => x.close(), max: 1 });
      const lease = await pool.acquire();
      const closing = pool.close();
      lease.release();
      await closing;
      row('Put() after Close()', s, `released → destroyed (closed=${lease.value.closed})`);
      seedCheck(s === 'panic: send on closed channel', 'seed Put after Close panics');
      fixedCheck(lease.value.closed, 'gopherkit destroys a resource released after close');
    }

    // 6. double Put
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(2, () => server.connect());
      const c = (await seed.get()) as FakeConn;
      seed.put(c);
      seed.put(c);
      const a = await seed.get();
      const b = await seed.get();
      const pool = createPool({ create: () => server.connect(), max: 2 });
      const lease = await pool.acquire();
      lease.release();
      let f = 'no error';
      try {
        lease.release();
      } catch (e) {
        f = (e as Error).name;
      }
      await pool.close();
      row('double Put() of one conn', a === b ? `two holders share conn ${a?.id}` : 'distinct conns', `second release throws ${f}`);
      seedCheck(a === b, 'seed silently hands one conn to two holders');
      fixedCheck(f === PoolLeaseReleasedError.name, 'gopherkit refuses a double release');
    }

    // 7. a broken conn is discarded (closed, not put back) while a caller waits
    {
      const server = new FakeServer();
      const seed = new SeedConnPool(1, () => server.connect());
      const c = (await seed.get()) as FakeConn;
      const waiting = within(seed.get(), 300);
      c.close(); // no way to tell the pool: size stays 1, nobody wakes the waiter
      const s = await waiting;
      const pool = createPool({ create: () => server.connect(), destroy: (x) => x.close(), max: 1 });
      const lease = await pool.acquire();
      const fw = within(pool.acquire(), 300);
      lease.destroy();
      const f = await fw;
      row(
        'broken conn discarded while a caller waits',
        s === 'blocked' ? 'waiter never wakes (slot lost)' : 'woke',
        f === 'blocked' ? 'blocked' : `waiter gets a fresh conn #${f.value.id}`,
      );
      seedCheck(s === 'blocked', 'seed loses the slot and the wake-up');
      fixedCheck(f !== 'blocked', 'gopherkit destroy() wakes the waiter, who dials a replacement');
      if (f !== 'blocked') f.release();
      await pool.close();
    }

    // 8. the database is down: dial fails every time (generic-pool#175)
    {
      const server = new FakeServer();
      server.up = false;
      const seed = new SeedConnPool(2, () => server.connect());
      const first = await seed.get().catch((e: unknown) => (e as Error).message);
      server.up = true; // even once it is back…
      const second = await within(seed.get(), 300); // …the mutex is still held by the failed dial
      server.up = false;
      const pool = createPool({ create: () => server.connect(), destroy: (x) => x.close(), max: 2, createAttempts: 3, createBackoffMs: 10 });
      const f = await within(
        pool.acquire().catch((e: unknown) => e),
        5_000,
      );
      server.up = true;
      const after = await pool.acquire();
      row(
        'DB down: every dial fails',
        `1st Get: ${first}; later Gets ${second === 'blocked' ? 'hang on the mutex forever' : 'work'}`,
        `${f instanceof PoolCreateError ? `PoolCreateError after ${f.attempts} attempts` : String(f)}; recovers: conn #${after.value.id}`,
      );
      seedCheck(second === 'blocked', 'a failed seed dial leaves the mutex locked: the pool is dead');
      fixedCheck(f instanceof PoolCreateError, 'gopherkit fails the waiter after a bounded number of attempts');
      after.release();
      await pool.close();
    }

    d.table(rows);

    // Examples: real drivers on the same Pool (primitives stays driver-free; the demo brings them)
    const redisServer = await d.redis();
    const { host, port } = redisServer.client().options;
    // ioredis: blocking commands (BLPOP) need a connection each, so pool the clients
    const clients = createPool({
      create: async () => {
        const c = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
        await c.connect();
        return c;
      },
      destroy: (c) => void c.disconnect(),
      validate: async (c) => (await c.ping()) === 'PONG',
      max: 4,
      idleTimeoutMs: 30_000,
    });
    const queue = `gk:demo:pool:${process.pid}:jobs`;
    const producer = redisServer.client();
    const consumers = Array.from({ length: 8 }, () => clients.use((c) => c.blpop(queue, 5)));
    for (let i = 0; i < 8; i++) await producer.rpush(queue, `job-${i}`);
    const got = (await Promise.all(consumers)).filter(Boolean).length;
    const rs = clients.stats();
    await clients.close();
    d.log(`ioredis client pool: 8 BLPOP consumers on max 4 clients got ${got} jobs; open=${rs.open}, waitCount=${rs.waitCount}`);
    d.check(got === 8 && rs.open <= 4, 'ioredis pool serves 8 blocking consumers with at most 4 connections');

    let mysqlExample = 'skipped (no MySQL)';
    // mysql2: a pool of raw connections, validated with ping, recycled every 100 uses. Only a
    // missing MySQL skips it (and not in CI); a failure inside the example fails the demo.
    let db: Awaited<ReturnType<typeof d.mysql>> | undefined;
    try {
      db = await d.mysql({ connectionLimit: 1 });
    } catch (e) {
      d.log(`mysql2 example skipped: ${(e as Error).message}`);
      if (process.env.CI === 'true') d.check(false, 'CI=true: the mysql2 pool example must run, but no MySQL answered');
    }
    if (db) {
      const url = db.url;
      const conns = createPool({
        create: () => createConnection({ uri: url }),
        destroy: (c) => c.end(),
        validate: async (c) => {
          await c.ping();
          return true;
        },
        max: 4,
        maxUses: 100,
      });
      const rows = await Promise.all(
        Array.from({ length: 20 }, (_, i) => conns.use(async (c) => ((await c.query('SELECT ? + 1 AS n', [i]))[0] as { n: number }[])[0]?.n)),
      );
      const ms = conns.stats();
      await conns.close();
      const right = rows.every((n, i) => Number(n) === i + 1);
      d.log(`mysql2 connection pool: 20 queries on max 4 connections (open=${ms.open}), answers ${right ? 'all right' : JSON.stringify(rows)}`);
      d.check(ms.open <= 4, 'mysql2 pool stays within max');
      d.check(right, 'every mysql2 query through the pool returns its own answer');
      mysqlExample = `${rows.length} queries on ${ms.open} conns`;
    }

    return `seed pool: ${seedFailures}/${rows.length} failure modes reproduced; gopherkit pool: ${fixedPasses}/${rows.length} handled; ioredis example ${got} BLPOPs on ${rs.open} clients; mysql2 example ${mysqlExample}`;
  },
});
