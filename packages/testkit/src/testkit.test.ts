import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, dockerEngineAnswers, findKafka, ServiceUnavailableError, serviceMissing, startRedisServers } from './index.js';

describe('embedded Redis', () => {
  it('starts 5 independent instances, kills one with SIGKILL and restarts it on the same port', async () => {
    const servers = await startRedisServers(5);
    try {
      const ports = new Set(servers.map((s) => s.port));
      expect(ports.size).toBe(5);
      const clients = servers.map((s) => s.client({ maxRetriesPerRequest: 0, retryStrategy: () => 50 }));
      await Promise.all(clients.map((c, i) => c.set('who', `instance-${i}`)));
      expect(await Promise.all(clients.map((c) => c.get('who')))).toEqual(servers.map((_, i) => `instance-${i}`));

      const victim = servers[2]!;
      const port = victim.port;
      await victim.kill();
      await expect(clients[2]!.ping()).rejects.toThrow();
      expect(await clients[0]!.ping()).toBe('PONG'); // the others are independent

      await victim.restart();
      expect(victim.port).toBe(port);
      // the old client reconnects to the new process on the same port; data is gone (no persistence)
      await expect.poll(() => clients[2]!.ping().catch(() => 'down'), { timeout: 5000 }).toBe('PONG');
      expect(await clients[2]!.get('who')).toBeNull();
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('freeze() makes a server stop answering without closing connections; thaw() resumes it', async () => {
    const [s] = await startRedisServers(1);
    try {
      const c = s!.client({ commandTimeout: 200 });
      expect(await c.ping()).toBe('PONG');
      s!.freeze();
      await expect(c.ping()).rejects.toThrow(/timed out/i);
      s!.thaw();
      expect(await c.ping()).toBe('PONG');
    } finally {
      await s!.stop();
    }
  });
});

describe('service policy', () => {
  it('outside CI a missing service skips with a reason; in CI it throws', () => {
    expect(serviceMissing('MySQL', '(policy unit test, not a real check) nothing on 127.0.0.1:1', { required: false })).toBeNull();
    expect(() => serviceMissing('MySQL', '(policy unit test, not a real check) nothing on 127.0.0.1:1', { required: true })).toThrow(ServiceUnavailableError);
    expect(() => serviceMissing('MySQL', '(policy unit test, not a real check) nothing on 127.0.0.1:1', { required: true })).toThrow(
      'MySQL is required when CI=true, but (policy unit test, not a real check) nothing on 127.0.0.1:1',
    );
  });

  it('CI=true with MySQL unreachable fails loudly (child process, MYSQL_URL pointing at a closed port)', () => {
    const script = `
      import { createTestDatabase } from '@gopherkit/testkit';
      try { await createTestDatabase(); console.log('NO-ERROR'); }
      catch (e) { console.log('ERROR:' + e.name + ':' + e.message); }`;
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=@gopherkit/source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', MYSQL_URL: 'mysql://root@127.0.0.1:9/test' },
    });
    expect(r.stdout).toContain('ERROR:ServiceUnavailableError:MySQL is required when CI=true');
    expect(r.stdout).toContain('MYSQL_URL');
  });

  it('outside CI the same situation skips with a one-line reason naming MYSQL_URL', () => {
    const script = `
      import { createTestDatabase } from '@gopherkit/testkit';
      console.log('RESULT:' + (await createTestDatabase()));`;
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=@gopherkit/source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: '', MYSQL_URL: 'mysql://root@127.0.0.1:9/test' },
    });
    expect(r.stdout).toContain('RESULT:null');
    expect(r.stderr).toMatch(/skipping MySQL tests: MYSQL_URL .* does not answer/);
  });
});

describe('MySQL', () => {
  it('gives each caller its own database with migrations applied, BIGINT as exact strings, and drops it', async () => {
    const db = await createTestDatabase();
    if (!db) return; // skipped outside CI with a printed reason
    const other = await createTestDatabase();
    try {
      expect(db.name).not.toBe(other!.name);
      const [rows] = await db.pool.query('SELECT COUNT(*) AS n FROM gopherkit_migrations');
      expect((rows as { n: string | number }[])[0]!.n).toBeDefined();
      const [big] = await db.pool.query('SELECT CAST(9007199254740993 AS UNSIGNED) AS id');
      expect((big as { id: unknown }[])[0]!.id).toBe('9007199254740993');
    } finally {
      await db.drop();
      await other!.drop();
    }
    const [dbs] = await (await createTestDatabase({ migrate: false }))!.pool.query(`SHOW DATABASES LIKE '${db.name}'`);
    expect(dbs).toEqual([]);
  });
});

describe('Docker and Kafka discovery', () => {
  it('docker ping answers false when no engine listens (never relies on the CLI)', async () => {
    const prev = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      expect(await dockerEngineAnswers(200)).toBe(false);
    } finally {
      if (prev === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = prev;
    }
  });
  it('Kafka: KAFKA_BROKERS wins; without it and without Docker the reason is explicit', async () => {
    const prev = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = 'a:9092, b:9092';
    try {
      const t = await findKafka();
      expect('brokers' in t && t.brokers).toEqual(['a:9092', 'b:9092']);
    } finally {
      if (prev === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = prev;
    }
    if (!process.env.KAFKA_BROKERS && !(await dockerEngineAnswers())) {
      const t = await findKafka();
      expect('skip' in t && t.skip).toMatch(/KAFKA_BROKERS is not set and no Docker engine answers/);
    }
  });
});
