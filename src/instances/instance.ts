/**
 * A live instance: its catalog record, its type's descriptor, its engine, and the per-instance
 * coordination that sits above any engine: WATCH bookkeeping, clients blocked on keys, and
 * active expiry (for engines that report key events and offer expiry).
 *
 * Writes go through `write(op)`, which applies the op (at once for an instance without a Raft
 * group; through its group otherwise) and then tells watchers and blocked clients which keys
 * changed. Reads go straight to the engine.
 */
import type { Replicator } from "../cluster/replicator.ts";
import type { InstanceRecord } from "../db0/types.ts";
import type { ApplyResult, Engine, Op, OpCall, WriteOutcome } from "../engine/contract.ts";
import type { KindDescriptor } from "../engine/kind.ts";
import type { Reply } from "../engine/reply.ts";
import type { SnapshotSource } from "../engine/snapshot.ts";
import { CommandStats } from "../metrics/command-stats.ts";

/** Something that watches keys (a session in WATCH). */
export interface Watcher {
  watchDirty: boolean;
}

interface Waiter {
  keys: string[];
  /** Retries the blocked command; returns its pending write, if the retry went to the log. */
  wake: () => Promise<unknown> | undefined;
}

/** The namespace word of an instance's type, as LIST prints it and command prefixes use it. */
export function namespaceOf(record: InstanceRecord): string {
  return record.backend.kind.toUpperCase();
}

export class Instance {
  record: InstanceRecord;
  readonly descriptor: KindDescriptor;
  readonly engine: Engine;
  private logIndex = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiring = false;
  /** Writes and reads served (INFO stats). */
  commands = 0;
  /** Commands run on this instance by name and outcome, and their latency (INFO, /metrics). */
  readonly stats = new CommandStats();
  /** Where the instance keeps its data: the resolved path of its type (null for types without). */
  dataPath: string | null = null;

  constructor(record: InstanceRecord, descriptor: KindDescriptor, engine: Engine) {
    this.record = record;
    this.descriptor = descriptor;
    this.engine = engine;
  }

  /** The command family its commands come from (the table's scope). */
  get family(): string {
    return this.descriptor.family;
  }

  /** Whether its instances run commands of `family` (their own, or one they also serve). */
  serves(family: string): boolean {
    return (
      family === this.descriptor.family || (this.descriptor.alsoServes?.includes(family) ?? false)
    );
  }

  get index(): number {
    return this.record.index;
  }

  /**
   * Applies a write. Without a Raft group (a type that is not persistent, on a single server) the
   * op is applied at once; with one, it is proposed to the instance's Raft group and the reply is what apply
   * returned once the entry committed.
   */
  write(op: Op): Reply | symbol | Promise<Reply | symbol> {
    this.commands++;
    if (this.replicator !== null) return this.replicator.submit(op);
    const result = this.engine.apply(op, ++this.logIndex);
    this.afterApply(result);
    return result.reply;
  }

  /**
   * The same as `write`, with the outcome told to `to` instead of returned (the pipelined path:
   * no promise per replicated write).
   */
  writeTo(op: Op, to: WriteOutcome): void {
    if (this.replicator === null) {
      to.applied(this.write(op) as Reply | symbol);
      return;
    }
    this.commands++;
    this.replicator.submitTo(op, to);
  }

  /**
   * Replaces the state of an instance without a Raft group from a snapshot (a backup), at the
   * index of its last write, so the next write still applies. Watchers and blocked clients hear
   * that every key may have changed.
   */
  async restoreLocal(source: (index: number) => SnapshotSource): Promise<void> {
    if (this.replicator !== null) throw new Error("restoreLocal on a replicated instance");
    await this.engine.restore(source(this.logIndex));
    this.afterApply({ reply: null, flushed: true });
  }

  /** Set when writes go through a Raft group (persistent types; every type in a cluster). */
  replicator: Replicator | null = null;

  read(call: OpCall, now: number): Reply | symbol | Promise<Reply> {
    this.commands++;
    return this.engine.read(call, now);
  }

  /** Called for every applied op, on every replica: wakes watchers and blocked clients. */
  afterApply(r: ApplyResult): void {
    // An engine without key events does not say what a write touched: any key may have changed.
    const touched = r.touched ?? [...this.waiters.keys()];
    if (this.watchers.size > 0) {
      if (r.flushed || r.touched === undefined) {
        for (const set of this.watchers.values()) for (const w of set) w.watchDirty = true;
      } else {
        for (const k of r.touched) {
          const set = this.watchers.get(k);
          if (set !== undefined) for (const w of set) w.watchDirty = true;
        }
      }
    }
    if (this.waiters.size > 0) {
      for (const k of touched) {
        const list = this.waiters.get(k);
        if (list === undefined) continue;
        // Wake in arrival order, now, before the writer's next command runs (as Redis serves
        // blocked clients right after the command that fed them); each waiter retries its pop
        // and re-blocks if an earlier one took the data.
        for (const w of list.slice()) {
          const retry = w.wake();
          if (retry !== undefined) this.holdReads(retry);
        }
      }
    }
  }

  /**
   * Reads wait for blocked clients that a write just woke: on a replicated instance their pops
   * go through the log, and a read pipelined behind the push must not see the list before them
   * (Redis serves blocked clients before the pusher's next command).
   */
  readBarrier: Promise<unknown> | null = null;

  private holdReads(p: Promise<unknown>): void {
    const barrier = Promise.allSettled([this.readBarrier, p]).then(() => {
      if (this.readBarrier === barrier) this.readBarrier = null;
    });
    this.readBarrier = barrier;
  }

  watch(key: string, w: Watcher): void {
    let set = this.watchers.get(key);
    if (set === undefined) this.watchers.set(key, (set = new Set()));
    set.add(w);
  }

  unwatch(key: string, w: Watcher): void {
    const set = this.watchers.get(key);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) this.watchers.delete(key);
  }

  /** Registers a blocked client on keys; returns the function that unregisters it. */
  block(keys: string[], wake: () => Promise<unknown> | undefined): () => void {
    const w: Waiter = { keys, wake };
    for (const k of keys) {
      let list = this.waiters.get(k);
      if (list === undefined) this.waiters.set(k, (list = []));
      list.push(w);
    }
    return () => {
      for (const k of keys) {
        const list = this.waiters.get(k);
        if (list === undefined) continue;
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.waiters.delete(k);
      }
    };
  }

  /**
   * Active expiry, as Redis does it: every 100 ms look for expired keys and propose their
   * deletion as an op (so replicas delete them in log order, judged by the proposer's clock).
   */
  startExpiry(clock: () => number): void {
    const expiry = this.engine.expiry;
    if (this.expiryTimer !== null || expiry === undefined) return;
    this.expiryTimer = setInterval(() => {
      // Replicas delete expired keys when the leader's deletion reaches them; they all see the
      // same expiry times, so one proposer is enough.
      if (this.replicator !== null && !this.replicator.leads) return;
      const now = clock();
      const keys = expiry.expiredKeys(now, 200);
      if (keys.length > 0 && !this.expiring) {
        const args = keys.map((k) => Buffer.from(k, "latin1"));
        const done = this.write({ cmd: expiry.op, args, now });
        if (done instanceof Promise) {
          // One expiry op in flight at a time; a failed one (no leader) is retried next tick.
          this.expiring = true;
          done
            .catch(() => {})
            .finally(() => {
              this.expiring = false;
            });
        }
      }
    }, 100);
    this.expiryTimer.unref();
  }

  async close(): Promise<void> {
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
    for (const list of this.waiters.values()) for (const w of list) queueMicrotask(() => w.wake());
    await this.replicator?.close();
    await this.engine.close();
  }
}
