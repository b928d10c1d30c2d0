import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';

/** Checks that a callback really comes from the payment provider. Pluggable per provider (RSA for Alipay, HMAC for others). */
export interface CallbackVerifier {
  /** True when `signature` is valid for the raw `body` bytes exactly as received. */
  verify(body: Buffer | string, signature: string): boolean;
}

/** An HMAC-SHA256 verifier that can also sign (for tests, demos and providers that use a shared secret). */
export interface HmacVerifier extends CallbackVerifier {
  /** Hex HMAC-SHA256 of `body`. */
  sign(body: Buffer | string): string;
}

/**
 * HMAC-SHA256 over the raw body with a shared secret, signature in lowercase hex. The comparison
 * is timing-safe (`crypto.timingSafeEqual`), so an attacker cannot find the signature byte by
 * byte from response times; malformed signatures are simply invalid (never thrown).
 * @throws InvalidArgumentError when the secret is shorter than 16 bytes.
 */
export function hmacSha256Verifier(secret: string | Buffer): HmacVerifier {
  if (typeof secret === 'string') assertNonEmptyString('secret', secret);
  const key = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  if (key.length < 16) throw new InvalidArgumentError('secret', 'at least 16 bytes', `${key.length} bytes`);
  const mac = (body: Buffer | string) => createHmac('sha256', key).update(body).digest();
  return {
    sign: (body) => mac(body).toString('hex'),
    verify(body, signature) {
      if (typeof signature !== 'string' || !/^[0-9a-fA-F]{64}$/.test(signature)) return false;
      return timingSafeEqual(mac(body), Buffer.from(signature, 'hex'));
    },
  };
}
