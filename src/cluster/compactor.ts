/**
 * Log compaction for one Raft group: when enough has been applied since the last snapshot
 * (entries or bytes), record a snapshot of the state machine at its applied index and drop the
 * log below it.
 *
 * Only state that is durable may replace the log below it, so the snapshot is taken first (a
 * consistent copy at the applied index), then the state machine is flushed, and the log is cut
 * only if the flush covered the snapshot's index. It runs between Ready rounds (setImmediate),
 * never inside one, and one at a time.
 */
import type { StateMachine } from "../engine/contract.ts";
import type { ConfState } from "../raft/types.ts";
import type { GroupLog } from "./log-store.ts";

export interface CompactorOptions {
  machine: StateMachine;
  log: GroupLog;
  flushLog: () => Promise<void>;
  /** Membership to record with the snapshot. */
  conf: () => ConfState;
  everyEntries: number;
  everyBytes: number;
  progress?: (message: string) => void;
  /** The state machine or the log store failed: the group must stop. */
  failed: (e: unknown) => void;
}

/** How long after a compaction the thresholds are looked at again. */
const RECHECK_MS = 1_000;

export class Compactor {
  private readonly o: CompactorOptions;
  private running = false;
  private stopped = false;
  /** Looks at the thresholds again after a compaction, in case the group went idle meanwhile. */
  private recheck: NodeJS.Timeout | null = null;
  /** Bytes of entries applied since start, and that count when the last snapshot was taken. */
  private appliedBytes = 0;
  private snapshotAtBytes = 0;

  constructor(o: CompactorOptions) {
    this.o = o;
  }

  /** An entry of `bytes` was applied. */
  applied(bytes: number): void {
    this.appliedBytes += bytes;
  }

  /** Starts a compaction when the thresholds are passed (and none is running). */
  maybeCompact(): void {
    const { machine, log } = this.o;
    if (
      machine.appliedIndex - log.firstIndex() > this.o.everyEntries ||
      this.appliedBytes - this.snapshotAtBytes > this.o.everyBytes
    ) {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    setImmediate(() => {
      this.current = this.run();
    });
  }

  /** The compaction running now, if any. */
  private current: Promise<boolean> | null = null;

  /**
   * Takes a snapshot and compacts now, whatever the thresholds (SAVE): waits for a compaction
   * already running, then runs one. Resolves false when it failed (the group then stops).
   */
  async compactNow(): Promise<boolean> {
    while (this.running) {
      await (this.current ?? new Promise<void>((r) => setImmediate(r)));
    }
    if (this.stopped) return false;
    this.running = true;
    this.current = this.run();
    return this.current;
  }

  private async run(): Promise<boolean> {
    try {
      const { machine, log } = this.o;
      const snap = await machine.snapshot();
      let bytes: number;
      const bytesCovered = this.appliedBytes;
      try {
        const durable = await machine.flush();
        if (durable < snap.index || snap.index <= log.firstIndex()) return true;
        // Streamed from the state machine to the snapshot file: never whole in memory here.
        bytes = await log.createSnapshotFrom(snap.index, this.o.conf(), snap.chunks());
      } finally {
        snap.close?.();
      }
      log.compact(snap.index);
      this.snapshotAtBytes = bytesCovered;
      await this.o.flushLog();
      this.o.progress?.(`snapshot at index ${snap.index} (${bytes} bytes); log compacted`);
      return true;
    } catch (e) {
      this.o.failed(e);
      return false;
    } finally {
      this.running = false;
      // Writes applied while this compaction ran may have passed the thresholds again; a group
      // that has gone idle since would otherwise keep that log until its next write.
      if (!this.stopped && this.recheck === null) {
        this.recheck = setTimeout(() => {
          this.recheck = null;
          if (!this.stopped) this.maybeCompact();
        }, RECHECK_MS);
        this.recheck.unref();
      }
    }
  }

  /** No compaction starts after this (the group is closing). */
  stop(): void {
    this.stopped = true;
    if (this.recheck !== null) clearTimeout(this.recheck);
    this.recheck = null;
  }
}
