/**
 * Outcome counts over the last `windowMs`, kept in `buckets` fixed slots so recording is O(1)
 * and old outcomes age out a bucket at a time (not all at once, as a fixed window would).
 * @internal
 */
export class RollingWindow {
  private readonly width: number;
  private readonly epochs: number[];
  private readonly totals: number[];
  private readonly failures: number[];
  private latest = Number.NEGATIVE_INFINITY;

  constructor(
    windowMs: number,
    private readonly buckets: number,
  ) {
    this.width = windowMs / buckets;
    this.epochs = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.totals = new Array<number>(buckets).fill(0);
    this.failures = new Array<number>(buckets).fill(0);
  }

  /** Adds one outcome at `now`; a clock that went backwards counts into the newest bucket. */
  record(now: number, failed: boolean): void {
    const epoch = Math.max(Math.floor(now / this.width), this.latest);
    this.latest = epoch;
    const i = ((epoch % this.buckets) + this.buckets) % this.buckets;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.totals[i] = 0;
      this.failures[i] = 0;
    }
    this.totals[i] = (this.totals[i] as number) + 1;
    if (failed) this.failures[i] = (this.failures[i] as number) + 1;
  }

  /** Totals over the buckets still inside the window at `now`. */
  counts(now: number): { total: number; failures: number } {
    const current = Math.max(Math.floor(now / this.width), this.latest);
    let total = 0;
    let failures = 0;
    for (let i = 0; i < this.buckets; i++) {
      if ((this.epochs[i] as number) > current - this.buckets) {
        total += this.totals[i] as number;
        failures += this.failures[i] as number;
      }
    }
    return { total, failures };
  }

  reset(): void {
    this.epochs.fill(Number.NEGATIVE_INFINITY);
    this.totals.fill(0);
    this.failures.fill(0);
  }
}
