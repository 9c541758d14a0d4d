/**
 * A latency histogram cheap enough for the command path: fixed bucket bounds, counts in a plain
 * array, `observe` a short scan. Prometheus's client keeps label maps and objects per
 * observation, which would cost more than the GET it measures; this keeps the numbers and
 * leaves the text format to ./exposition.ts, at scrape time.
 */

/** Upper bounds in seconds (Prometheus's `le`), tuned to a server answering in micro- to milliseconds. */
export const LATENCY_BOUNDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Upper bounds for counts of things done together (writes per sync): powers of two. */
export const BATCH_BOUNDS: readonly number[] = [
  1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
];

export class Histogram {
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly counts: number[];
  count = 0;
  /** Sum of the observed values. */
  sum = 0;

  constructor(bounds: readonly number[] = LATENCY_BOUNDS) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records `n` observations of `value` each (seconds, for latency). */
  observe(value: number, n = 1): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i] += n;
    this.count += n;
    this.sum += value * n;
  }

  /** Counts at or below each bound, then the total (Prometheus's cumulative buckets). */
  cumulative(): number[] {
    const out: number[] = [];
    let run = 0;
    for (const c of this.counts) out.push((run += c));
    return out;
  }
}
