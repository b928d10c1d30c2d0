/**
 * Turns values into the strings stored in Redis and back. The cache wraps every encoded value in
 * its own envelope, so a codec may produce any string at all (including `"NULL"` or `""`): it can
 * never be mistaken for the negative sentinel.
 */
export interface CacheCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/**
 * The default codec: `JSON.stringify` / `JSON.parse`. Dates come back as strings and `Map`/`Set`
 * as `{}`; pass your own codec (superjson, msgpack as base64, …) when values need more.
 */
export const jsonCodec: CacheCodec = Object.freeze({
  encode: (value: unknown): string => JSON.stringify(value),
  decode: (text: string): unknown => JSON.parse(text),
});
