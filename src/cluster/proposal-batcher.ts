/**
 * When to hand queued client writes to Raft: the group-commit policy of a RaftGroup.
 *
 * Why it exists: a sync costs about as much for 1 write as for 50, so under load throughput is
 * writes-per-sync divided by the round's time. Left alone, clients split into two cohorts: the
 * writes that arrive while a sync runs go out in the next one, the clients that sync just
 * answered come back a moment later and wait for the sync after that, and each sync carries only
 * half of the clients. The batcher holds queued writes back briefly, until as many writes as were
 * in flight in the last round are queued again, so the cohorts merge and share one sync, the way
 * one Redis event-loop turn shares one fsync between every client that wrote in it.
 *
 * How: `target` is the largest number of writes in flight (submitted, not yet answered) seen in
 * the previous round. When the group has nothing else to do and writes are queued, they go out
 * once the queue holds `target` writes, or once they have waited as long as the last sync took
 * (at most `maxWaitMs`). A lone client never waits (its target is 1), a steady crowd moves as one
 * cohort, and a client that leaves costs one wait of at most a sync's time, after which the
 * target follows. Waiting only ever delays work while the disk is idle anyway.
 *
 * A pure policy: the caller passes the clock in, so tests can script it.
 */

export class ProposalBatcher {
  private readonly maxWaitMs: number;
  private target = 1;
  private peak = 0;
  private lastSyncMs = 0;
  /** When the current wait began (caller's clock, ms), or null when not waiting. */
  private since: number | null = null;

  constructor(maxWaitMs = 2) {
    this.maxWaitMs = maxWaitMs;
  }

  /** A write was submitted; `inFlight` counts every write not yet answered, this one included. */
  submitted(inFlight: number): void {
    if (inFlight > this.peak) this.peak = inFlight;
  }

  /** How long the last sync took: the longest a batch waits for company. */
  synced(ms: number): void {
    this.lastSyncMs = ms;
  }

  /**
   * Whether `queued` writes should go to Raft now. Ask only when the group is otherwise idle;
   * once it says yes the caller proposes the whole queue, and `inFlight` is what stays in flight.
   */
  release(queued: number, inFlight: number, now: number): boolean {
    if (queued === 0) return false;
    if (queued < this.target) {
      if (this.since === null) this.since = now;
      if (now - this.since < Math.min(this.lastSyncMs, this.maxWaitMs)) return false;
    }
    this.since = null;
    this.target = Math.max(1, this.peak);
    this.peak = inFlight;
    return true;
  }
}
