import { dockerEngineAnswers } from './docker.js';

/** Kafka brokers for integration tests: KAFKA_BROKERS, else a testcontainers broker when Docker answers. */
export type KafkaTarget = { brokers: string[]; stop(): Promise<void> } | { skip: string };

/**
 * Kafka cannot run on every machine (no broker here, no Docker engine), so Kafka-only tests
 * are skipped with this reason printed, even in CI.
 */
export async function findKafka(): Promise<KafkaTarget> {
  const env = process.env.KAFKA_BROKERS;
  if (env)
    return {
      brokers: env
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      stop: async () => {},
    };
  if (await dockerEngineAnswers()) {
    const { KafkaContainer } = (await import('@testcontainers/kafka' as string)) as {
      KafkaContainer: new (
        image: string,
      ) => { withKraft(): { start(): Promise<{ getHost(): string; getMappedPort(p: number): number; stop(): Promise<unknown> }> } };
    };
    const c = await new KafkaContainer('confluentinc/cp-kafka:7.6.1').withKraft().start();
    return { brokers: [`${c.getHost()}:${c.getMappedPort(9093)}`], stop: async () => void (await c.stop()) };
  }
  return { skip: 'Kafka integration tests skipped: KAFKA_BROKERS is not set and no Docker engine answers a ping' };
}
