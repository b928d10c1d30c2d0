import type { RowDataPacket } from 'mysql2/promise';
import type { OutboxRecord, OutboxStatusCode } from './message.js';

/** The columns every read of `gk_outbox` selects, in the shape {@link toRecord} expects. */
export const recordColumns = 'id, aggregate_type, aggregate_id, seq, topic, msg_key, headers, payload, created_at, attempts, last_error, status';

/** Maps a `gk_outbox` row (BIGINTs may arrive as strings) to an {@link OutboxRecord}. */
export function toRecord(row: RowDataPacket): OutboxRecord {
  const payload = row.payload as Buffer | string;
  return {
    id: String(row.id),
    aggregateType: row.aggregate_type as string,
    aggregateId: row.aggregate_id as string,
    seq: Number(row.seq),
    topic: row.topic as string,
    key: row.msg_key as string,
    // a JSON column: MariaDB returns its text, MySQL 8 (mysql2) an already parsed object
    headers: row.headers ? ((typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers) as Record<string, string>) : {},
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts),
    lastError: (row.last_error as string | null) ?? null,
    status: Number(row.status) as OutboxStatusCode,
  };
}
