/**
 * How entries look in Redis. The first character tells the kind, so no codec output can collide
 * with the negative sentinel: a real value is always `=`-prefixed.
 * - `=<version>:<softExpiryMs>:<payload>` a value (`softExpiryMs` 0 = no logical expiry)
 * - `!<version>` the negative sentinel ("the loader said: no such item")
 * - `~<version>` a tombstone left by a delete (reads as a miss; carries the version forward)
 * @internal
 */
export type Entry =
  | { kind: 'value'; version: number; softExpiry: number; payload: string }
  | { kind: 'negative'; version: number }
  | { kind: 'tombstone'; version: number };

/** @internal */
export function encodeValue(version: number, softExpiry: number, payload: string): string {
  return `=${version}:${softExpiry}:${payload}`;
}

/** @internal */
export function encodeNegative(version: number): string {
  return `!${version}`;
}

/** Parses what `GET` returned; `undefined` for an absent key or a string this cache did not write. @internal */
export function decodeEntry(raw: string | null): Entry | undefined {
  if (raw === null || raw.length < 2) return undefined;
  const kind = raw.charCodeAt(0);
  if (kind === 61 /* = */) {
    const a = raw.indexOf(':', 1);
    const b = a < 0 ? -1 : raw.indexOf(':', a + 1);
    if (b < 0) return undefined;
    return { kind: 'value', version: Number(raw.slice(1, a)), softExpiry: Number(raw.slice(a + 1, b)), payload: raw.slice(b + 1) };
  }
  if (kind === 33 /* ! */) return { kind: 'negative', version: Number(raw.slice(1)) };
  if (kind === 126 /* ~ */) return { kind: 'tombstone', version: Number(raw.slice(1)) };
  return undefined;
}
