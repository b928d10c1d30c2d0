import { assertInteger, InvalidArgumentError } from '../errors/index.js';

/** How the 63 usable bits of a Snowflake ID are split (the sign bit stays 0). */
export interface SnowflakeLayout {
  /** Milliseconds since the epoch. Default 41 (≈ 69.7 years). */
  timestampBits: number;
  /** Worker (machine/process) ID. Default 10 (1024 workers). */
  workerBits: number;
  /** Per-millisecond sequence. Default 12 (4096 IDs per ms per worker). */
  sequenceBits: number;
}

/** Twitter's layout: 41-bit ms | 10-bit worker | 12-bit sequence. */
export const DEFAULT_SNOWFLAKE_LAYOUT: Readonly<SnowflakeLayout> = Object.freeze({ timestampBits: 41, workerBits: 10, sequenceBits: 12 });

/** Validates a (partial) layout, filling in defaults; the three fields must sum to 63. */
export function resolveLayout(layout: Partial<SnowflakeLayout> = {}): SnowflakeLayout {
  const timestampBits = assertInteger('layout.timestampBits', layout.timestampBits ?? DEFAULT_SNOWFLAKE_LAYOUT.timestampBits, 1, 62);
  const workerBits = assertInteger('layout.workerBits', layout.workerBits ?? DEFAULT_SNOWFLAKE_LAYOUT.workerBits, 0, 30);
  const sequenceBits = assertInteger('layout.sequenceBits', layout.sequenceBits ?? DEFAULT_SNOWFLAKE_LAYOUT.sequenceBits, 1, 30);
  const sum = timestampBits + workerBits + sequenceBits;
  if (sum !== 63) {
    throw new InvalidArgumentError(
      'layout',
      `bit widths summing to 63 (timestampBits + workerBits + sequenceBits; the sign bit stays 0), but ${timestampBits} + ${workerBits} + ${sequenceBits} = ${sum}`,
      layout,
    );
  }
  return { timestampBits, workerBits, sequenceBits };
}
