import { InvalidArgumentError } from '@gopherkit/primitives/errors';

const DECIMAL_RE = /^(0|[1-9]\d{0,12})(?:\.(\d{1,2}))?$/;

/**
 * Parses a non-negative decimal amount string (`"19.99"`, `"20"`, `"0.5"`) into integer cents
 * without touching floating point. The seed converts with `Money(yuan * 100)` (seed L9160–9169,
 * whose comment promises `Yuan(19.99) // 1999分`) and `int64(amount * 100)` (seed L7691, L9472):
 * `19.99 * 100` is `1998.9999999999998`, truncated to 1998 — a cent lost, and an exact-amount
 * check then rejects a correct payment.
 * @throws InvalidArgumentError for anything but digits with at most two decimals (no sign,
 *   exponent, spaces or thousands separators), or more than 13 integer digits (the result stays a safe integer).
 */
export function parseCents(amount: string): number {
  const m = typeof amount === 'string' ? DECIMAL_RE.exec(amount) : null;
  if (!m) throw new InvalidArgumentError('amount', 'a decimal string with at most 2 decimals, like "19.99" (no sign, exponent or separators)', amount);
  const fraction = (m[2] ?? '').padEnd(2, '0');
  return Number(m[1]) * 100 + Number(fraction);
}

/** Formats integer cents as a decimal string with two decimals (`1999 → "19.99"`). */
export function formatCents(cents: number): string {
  if (!Number.isSafeInteger(cents) || cents < 0) throw new InvalidArgumentError('cents', 'a non-negative safe integer', cents);
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}
