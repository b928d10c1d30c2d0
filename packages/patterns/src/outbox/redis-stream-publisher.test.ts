import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type OutboxRecord, OutboxStatus, RedisStreamPublisher, streamFields } from './index.js';

const server = await startRedis();
const redis = server.client();
afterAll(() => server.stop());

function record(id: number, aggregateId: string, seq: number, topic = 'orders'): OutboxRecord {
  return {
    id: String(id),
    aggregateType: 'order',
    aggregateId,
    seq,
    topic,
    key: aggregateId,
    headers: { trace: `t${id}` },
    payload: Buffer.from(`{"id":${id}}`),
    createdAt: 0,
    attempts: 0,
    lastError: null,
    status: OutboxStatus.pending,
  };
}

describe('RedisStreamPublisher (real Redis)', () => {
  it('XADDs one entry per record to the topic stream under the prefix, with the outbox id and ordering fields', async () => {
    const p = new RedisStreamPublisher({ redis, prefix: 'rsp1:' });
    const out = await p.publish([record(1, 'a', 1), record(2, 'b', 1), record(3, 'a', 2, 'payments')]);
    expect(out).toEqual([undefined, undefined, undefined]);
    const orders = await redis.xrange('rsp1:outbox:orders', '-', '+');
    expect(orders.map(([, f]) => streamFields(f))).toEqual([
      { outboxId: '1', aggregateType: 'order', aggregateId: 'a', seq: '1', key: 'a', headers: '{"trace":"t1"}', payload: '{"id":1}' },
      { outboxId: '2', aggregateType: 'order', aggregateId: 'b', seq: '1', key: 'b', headers: '{"trace":"t2"}', payload: '{"id":2}' },
    ]);
    expect(await redis.xlen('rsp1:outbox:payments')).toBe(1);
    expect(p.streamKey(record(9, 'x', 1))).toBe('rsp1:outbox:orders');
  });

  it('caps streams with MAXLEN ~ and honours a custom stream mapping', async () => {
    const p = new RedisStreamPublisher({ redis, stream: (r) => `rsp2:{${r.topic}}`, maxLen: 10 });
    for (let batch = 0; batch < 20; batch++) {
      await p.publish(Array.from({ length: 50 }, (_, i) => record(batch * 50 + i, `k${i}`, 1)));
    }
    const len = await redis.xlen('rsp2:{orders}');
    expect(len).toBeLessThan(1000); // approximate trimming keeps it near the cap (whole macro nodes)
    expect(len).toBeGreaterThanOrEqual(10);
  });

  it('reports a per-record error when a command fails, without failing the other streams', async () => {
    await redis.set('rsp3:outbox:broken', 'not a stream');
    const p = new RedisStreamPublisher({ redis, prefix: 'rsp3:' });
    const out = await p.publish([record(1, 'a', 1, 'broken'), record(2, 'b', 1, 'fine')]);
    expect(out[0]?.message).toMatch(/WRONGTYPE/);
    expect(out[1]).toBeUndefined();
  });

  it('rejects a bad maxLen', () => {
    expect(() => new RedisStreamPublisher({ redis, maxLen: 0 })).toThrow('maxLen must be an integer >= 1, got 0');
  });
});
