import { ManualClock } from '@gopherkit/primitives/clock';
import { TokenBucket } from '@gopherkit/primitives/ratelimit';
import { defineDemo } from './harness/demo.js';

/**
 * The seed's flash-sale bucket (seed L6629–6660), ported line for line: `tokens += int(elapsed*rate)`
 * then `lastTime = now` on every call. When calls arrive faster than 1/rate, each call's refill
 * truncates to 0 and the elapsed time is thrown away with it, so once the first burst is spent
 * the bucket admits nothing for as long as the traffic lasts — exactly during a flash sale.
 */
class SeedTokenBucket {
  private tokens: number;
  private lastTime: number;
  constructor(
    private readonly capacity: number,
    private readonly rate: number,
    private readonly clock: ManualClock,
  ) {
    this.tokens = capacity;
    this.lastTime = clock.now();
  }
  allow(): boolean {
    const now = this.clock.now();
    const elapsed = (now - this.lastTime) / 1000; // now.Sub(tb.lastTime).Seconds()
    this.tokens += Math.trunc(elapsed * this.rate); // int(elapsed * float64(tb.rate))
    if (this.tokens > this.capacity) this.tokens = this.capacity;
    this.lastTime = now; // the bug's other half: the fraction is lost for good
    if (this.tokens > 0) {
      this.tokens--;
      return true;
    }
    return false;
  }
}

export default defineDemo({
  description:
    'Token bucket: the seed flash-sale bucket admits nothing after its burst when calls come faster than 1/rate; x/time/rate semantics admit burst + rate×T',
  async run(d) {
    const CAPACITY = 1000; // NewTokenBucket(1000, 100), seed L6661
    const RATE = 100;
    const SECONDS = 30;
    const rows: Record<string, unknown>[] = [];
    let seedAt1kHz = 0;
    let fixedAt1kHz = 0;
    // calls every `interval` ms of virtual time for 30 s
    for (const interval of [1, 5, 9, 10, 20]) {
      const clock = new ManualClock(0);
      const seed = new SeedTokenBucket(CAPACITY, RATE, clock);
      const fixed = new TokenBucket({ ratePerSec: RATE, burst: CAPACITY, clock });
      let calls = 0;
      let a = 0;
      let b = 0;
      for (let t = 0; t < SECONDS * 1000; t += interval) {
        clock.setTime(t);
        calls++;
        if (seed.allow()) a++;
        if (fixed.allow()) b++;
      }
      const ideal = Math.min(calls, CAPACITY + RATE * SECONDS);
      rows.push({ 'call every': `${interval} ms`, calls, ideal, 'seed admitted': a, 'gopherkit admitted': b });
      d.check(Math.abs(b - ideal) <= 1, `gopherkit bucket at ${interval} ms must admit ≈ min(calls, burst + rate×T) = ${ideal}, got ${b}`);
      if (interval === 1) {
        seedAt1kHz = a;
        fixedAt1kHz = b;
      }
    }
    d.table(rows);
    d.log('Below 10 ms between calls the seed bucket refills int(0.1..0.9) = 0 tokens per call and resets lastTime, so it admits only its first burst.');
    d.check(seedAt1kHz === CAPACITY, `seed bucket at 1 kHz must admit exactly its burst (${CAPACITY}) and nothing after, got ${seedAt1kHz}`);
    d.bars([
      { label: 'seed bucket', value: seedAt1kHz },
      { label: 'gopherkit TokenBucket', value: fixedAt1kHz },
    ]);
    d.record('admitted', rows);
    return `at 1 kHz over ${SECONDS} s virtual: seed admitted=${seedAt1kHz} (burst only), gopherkit admitted=${fixedAt1kHz} (≈ ${CAPACITY} + ${RATE}×${SECONDS})`;
  },
});
