import { findKafka } from '@gopherkit/testkit';
import type { ProducerConfig, ProducerRecord } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { type KafkaLike, KafkaPublisher, type OutboxRecord, OutboxStatus } from './index.js';

function record(id: number, aggregateId: string, seq: number, topic = 'orders'): OutboxRecord {
  return {
    id: String(id),
    aggregateType: 'order',
    aggregateId,
    seq,
    topic,
    key: aggregateId,
    headers: { trace: `t${id}` },
    payload: Buffer.from(`p${id}`),
    createdAt: 0,
    attempts: 0,
    lastError: null,
    status: OutboxStatus.pending,
  };
}

/** A fake kafkajs client implementing just the producer methods the adapter calls. */
function fakeKafka(failTopic?: string) {
  const calls = { config: undefined as ProducerConfig | undefined, connects: 0, disconnects: 0, sends: [] as ProducerRecord[] };
  const kafka: KafkaLike = {
    producer(config) {
      calls.config = config;
      return {
        connect: async () => {
          calls.connects++;
        },
        send: async (rec: ProducerRecord) => {
          if (rec.topic === failTopic) throw new Error(`leader not available for ${rec.topic}`);
          calls.sends.push(rec);
          return [];
        },
        disconnect: async () => {
          calls.disconnects++;
        },
      };
    },
  };
  return { kafka, calls };
}

describe('KafkaPublisher (adapter, fake producer)', () => {
  it('creates an idempotent producer with one in-flight request, whatever the caller passes', () => {
    const { kafka, calls } = fakeKafka();
    new KafkaPublisher({ kafka, producer: { idempotent: false, allowAutoTopicCreation: false } as never });
    expect(calls.config).toMatchObject({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  });

  it('sends with acks -1, key = aggregate id, outbox id and aggregate position in headers, grouped by topic', async () => {
    const { kafka, calls } = fakeKafka();
    const p = new KafkaPublisher({ kafka, timeoutMs: 5000 });
    const out = await p.publish([record(1, 'a', 1), record(2, 'b', 3), record(3, 'a', 2, 'payments')]);
    expect(out).toEqual([undefined, undefined, undefined]);
    expect(calls.connects).toBe(1);
    expect(calls.sends).toHaveLength(2);
    const orders = calls.sends.find((s) => s.topic === 'orders');
    expect(orders).toMatchObject({ acks: -1, timeout: 5000 });
    expect(orders?.messages.map((m) => [m.key, String(m.value)])).toEqual([
      ['a', 'p1'],
      ['b', 'p2'],
    ]);
    expect(orders?.messages[1]?.headers).toEqual({ trace: 't2', 'outbox-id': '2', 'aggregate-type': 'order', 'aggregate-id': 'b', 'aggregate-seq': '3' });
    await p.publish([record(4, 'c', 1)]);
    expect(calls.connects).toBe(1); // connected once, lazily
    await p.close();
    expect(calls.disconnects).toBe(1);
  });

  it("a topic's failure fails only that topic's records", async () => {
    const { kafka } = fakeKafka('payments');
    const p = new KafkaPublisher({ kafka });
    const out = await p.publish([record(1, 'a', 1), record(2, 'b', 1, 'payments')]);
    expect(out[0]).toBeUndefined();
    expect(out[1]?.message).toBe('leader not available for payments');
  });

  it('a failed connect rejects the publish (the relay retries the batch) and is retried next time', async () => {
    let attempts = 0;
    const kafka: KafkaLike = {
      producer: () => ({
        connect: async () => {
          if (attempts++ === 0) throw new Error('ECONNREFUSED');
        },
        send: async () => [],
        disconnect: async () => {},
      }),
    };
    const p = new KafkaPublisher({ kafka });
    await expect(p.publish([record(1, 'a', 1)])).rejects.toThrow('ECONNREFUSED');
    expect(await p.publish([record(1, 'a', 1)])).toEqual([undefined]);
  });

  it('rejects a missing client', () => {
    expect(() => new KafkaPublisher({ kafka: {} as never })).toThrow('kafka must be a kafkajs Kafka instance');
  });
});

const kafkaTarget = await findKafka();
if ('skip' in kafkaTarget) console.log(`[kafka-publisher.test] ${kafkaTarget.skip}`);
afterAll(() => ('stop' in kafkaTarget ? kafkaTarget.stop() : undefined));

describe.skipIf('skip' in kafkaTarget)('KafkaPublisher (real Kafka)', () => {
  it('publishes keyed messages a consumer reads back in per-key order with the outbox id header', async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    const brokers = (kafkaTarget as { brokers: string[] }).brokers;
    const kafka = new Kafka({ clientId: 'gk-outbox-test', brokers, logLevel: logLevel.NOTHING });
    const topic = `gk-outbox-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const p = new KafkaPublisher({ kafka });
    const recs = Array.from({ length: 30 }, (_, i) => record(i + 1, `agg${i % 5}`, Math.floor(i / 5) + 1, topic));
    for (let i = 0; i < recs.length; i += 5) expect(await p.publish(recs.slice(i, i + 5))).toEqual([undefined, undefined, undefined, undefined, undefined]);
    await p.close();
    const consumer = kafka.consumer({ groupId: `${topic}-g` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: { key: string; seq: number; id: string }[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push({ key: String(message.key), seq: Number(String(message.headers?.['aggregate-seq'])), id: String(message.headers?.['outbox-id']) });
          if (got.length === 30) resolve();
        },
      });
    });
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    expect(new Set(got.map((g) => g.id)).size).toBe(30);
    for (let a = 0; a < 5; a++) {
      const seqs = got.filter((g) => g.key === `agg${a}`).map((g) => g.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    }
  }, 60_000);
});
