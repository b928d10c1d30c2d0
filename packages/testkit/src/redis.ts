import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisMemoryServer } from 'redis-memory-server';

/** Finds `redis-server` on PATH (redis-memory-server itself does not search PATH). */
export function redisServerBinary(): string {
  if (process.env.REDIS_SERVER_BINARY) return process.env.REDIS_SERVER_BINARY;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  throw new Error('redis-server not found on PATH: install it (Debian: apt-get install redis-server) or set REDIS_URL');
}

/** A Redis server for a test, demo or bench: started here, or the one REDIS_URL names. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** True when this is REDIS_URL's server: it is never killed or stopped by the harness. */
  readonly external: boolean;
  /** A new ioredis client to this server, closed by {@link RedisServer.stop}. */
  client(options?: RedisOptions): Redis;
  /** SIGKILLs the server process (a crash: no shutdown, no save). */
  kill(): Promise<void>;
  /** Starts a server again on the same port after {@link RedisServer.kill} or {@link RedisServer.stop}. */
  restart(): Promise<void>;
  /** SIGSTOPs the process: it keeps its connections but stops answering (a hung server). */
  freeze(): void;
  /** SIGCONTs a frozen server. */
  thaw(): void;
  /** Closes its clients and stops the server (if we started it). Idempotent. */
  stop(): Promise<void>;
  /** Same as {@link RedisServer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const ownChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of ownChildren) c.kill('SIGKILL');
});

function spawnRedisOnPort(port: number): Promise<ChildProcess> {
  const child = spawn(redisServerBinary(), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  ownChildren.add(child);
  child.once('exit', () => ownChildren.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server on port ${port} did not start in 10 s:\n${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/i.test(out)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${port} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

class ManagedRedis implements RedisServer {
  readonly external = false;
  private clients = new Set<Redis>();
  private own: ChildProcess | undefined;
  private stopped = false;

  constructor(
    private rms: RedisMemoryServer | undefined,
    readonly host: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  private get process(): ChildProcess | undefined {
    if (this.own) return this.own;
    const info = this.rms?.getInstanceInfo();
    return info ? ((info.instance as unknown as { childProcess: ChildProcess | null }).childProcess ?? undefined) : undefined;
  }

  client(options: RedisOptions = {}): Redis {
    const c = new Redis({ host: this.host, port: this.port, lazyConnect: false, maxRetriesPerRequest: 1, ...options });
    c.on('error', () => {}); // reconnect noise during kill/restart tests is expected
    this.clients.add(c);
    c.once('end', () => this.clients.delete(c));
    return c;
  }

  async kill(): Promise<void> {
    const p = this.process;
    if (!p) return;
    p.kill('SIGKILL');
    await waitExit(p);
    if (this.rms) {
      const rms = this.rms;
      this.rms = undefined;
      await rms.stop().catch(() => {}); // also ends its watchdog ("killer") process
    }
    this.own = undefined;
  }

  async restart(): Promise<void> {
    if (this.process) await this.kill();
    this.own = await spawnRedisOnPort(this.port);
    this.stopped = false;
  }

  freeze(): void {
    this.process?.kill('SIGSTOP');
  }

  thaw(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.thaw();
    for (const c of this.clients) c.disconnect();
    this.clients.clear();
    if (this.own) {
      const p = this.own;
      this.own = undefined;
      p.kill('SIGTERM');
      await waitExit(p);
    }
    if (this.rms) {
      const rms = this.rms;
      this.rms = undefined;
      await rms.stop().catch(() => {});
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

class ExternalRedis implements RedisServer {
  readonly external = true;
  readonly host: string;
  readonly port: number;
  private clients = new Set<Redis>();
  constructor(readonly url: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 6379);
  }
  client(options: RedisOptions = {}): Redis {
    const c = new Redis(this.url, { maxRetriesPerRequest: 1, ...options });
    c.on('error', () => {});
    this.clients.add(c);
    return c;
  }
  private refuse(what: string): never {
    throw new Error(`cannot ${what} the REDIS_URL server (${this.url}): fault tests need an embedded Redis (use startRedis({ embedded: true }))`);
  }
  kill(): Promise<void> {
    this.refuse('kill');
  }
  restart(): Promise<void> {
    this.refuse('restart');
  }
  freeze(): void {
    this.refuse('freeze');
  }
  thaw(): void {
    this.refuse('thaw');
  }
  async stop(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    this.clients.clear();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Ignore REDIS_URL and always start a server of our own (needed to kill/restart it). */
  embedded?: boolean;
}

/**
 * Starts a Redis server of our own through redis-memory-server (the system `redis-server`
 * binary, no download), or returns REDIS_URL's server when that is set and `embedded` is not.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const url = process.env.REDIS_URL;
  if (url && !options.embedded) return new ExternalRedis(url);
  const rms = await RedisMemoryServer.create({ binary: { systemBinary: redisServerBinary() } });
  const host = await rms.getHost();
  const port = await rms.getPort();
  return new ManagedRedis(rms, host, port);
}

/** Starts `n` independent embedded Redis servers at once (Redlock needs 3–5). */
export async function startRedisServers(n: number): Promise<RedisServer[]> {
  const servers = await Promise.allSettled(Array.from({ length: n }, () => startRedis({ embedded: true })));
  const failed = servers.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return servers.map((s) => (s as PromiseFulfilledResult<RedisServer>).value);
}
