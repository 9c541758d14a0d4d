/**
 * Slows down repeated authentication failures per client address, so reconnecting does not
 * reset the count (a per-connection count alone would let a guesser open a new connection every
 * few tries). Counts decay: an address with no failure for `forgetMs` starts afresh; a success
 * does not clear it (else a guesser could interleave a successful SELECT of a public instance).
 * The table is bounded; when full, the oldest entries are dropped first.
 */

interface Record {
  failures: number;
  lastAt: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<string, Record>();
  /** Failures recorded since the start (/metrics). */
  total = 0;
  private readonly forgetMs: number;
  private readonly maxAddresses: number;

  constructor(forgetMs = 60_000, maxAddresses = 10_000) {
    this.forgetMs = forgetMs;
    this.maxAddresses = maxAddresses;
  }

  /** Records a failure from `address` at `now`; returns the failures counted for it. */
  fail(address: string, now: number): number {
    this.total++;
    let r = this.byAddress.get(address);
    if (r === undefined || now - r.lastAt > this.forgetMs) r = { failures: 0, lastAt: now };
    r.failures++;
    r.lastAt = now;
    this.byAddress.delete(address); // re-insert: Map order is then oldest-first
    this.byAddress.set(address, r);
    if (this.byAddress.size > this.maxAddresses) {
      const oldest = this.byAddress.keys().next().value;
      if (oldest !== undefined) this.byAddress.delete(oldest);
    }
    return r.failures;
  }
}

/** Delay before answering the n-th failure: none for the first three, then doubling to 5 s. */
export function failureDelayMs(failures: number): number {
  return failures <= 3 ? 0 : Math.min(5000, 100 * 2 ** (failures - 4));
}

/** The host part of "host:port" (IPv6 addresses keep their colons). */
export function hostOf(addr: string): string {
  const i = addr.lastIndexOf(":");
  return i > 0 ? addr.slice(0, i) : addr;
}
