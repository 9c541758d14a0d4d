/**
 * A live instance: its catalog record, its backend, and the per-instance coordination that sits
 * above any backend: WATCH bookkeeping, clients blocked on keys, and active expiry.
 *
 * Writes go through `write(op)`, which applies the op (directly for in-memory instances; through
 * the instance's Raft group for persistent ones, later) and then tells watchers and blocked
 * clients which keys changed. Reads go straight to the backend.
 */
import type { ApplyResult, Backend, Op, OpCall } from "../backends/contract.ts";
import { EXPIRE_OP } from "../backends/kv/internal-ops.ts";
import type { InstanceRecord } from "../db0/types.ts";
import type { InstanceKind } from "../resp/command.ts";
import type { Reply } from "../resp/reply.ts";

/** Proposes ops through consensus; resolves with apply's reply. */
export interface Replicator {
  submit(op: Op): Promise<Reply | symbol>;
  /**
   * Null when a read may run on local state now; otherwise resolves once local state holds every
   * write acknowledged before the call (a linearizable read), or rejects when that cannot be
   * confirmed (no leader).
   */
  readBarrier(): Promise<void> | null;
  /** Whether this node leads the instance's group (only the leader proposes expiries). */
  readonly leads: boolean;
  close(): Promise<void>;
}

/** Something that watches keys (a session in WATCH). */
export interface Watcher {
  watchDirty: boolean;
}

interface Waiter {
  keys: string[];
  /** Retries the blocked command; returns its pending write, if the retry went to the log. */
  wake: () => Promise<unknown> | undefined;
}

export function kindOf(record: InstanceRecord): InstanceKind {
  switch (record.backend.kind) {
    case "InMemory":
      return "memory";
    case "Redb":
    case "Sled":
      return "kv";
    case "Sql":
      return "sql";
    case "LanceDb":
      return "vector";
    case "Tantivy":
      return "fulltext";
  }
}

/** The namespace word of an instance type, as LIST prints it and command prefixes use it. */
export function namespaceOf(record: InstanceRecord): string {
  return record.backend.kind === "InMemory" ? "INMEMORY" : record.backend.kind.toUpperCase();
}

export class Instance {
  record: InstanceRecord;
  readonly kind: InstanceKind;
  readonly backend: Backend;
  private logIndex = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiring = false;
  /** Writes and reads served (INFO stats). */
  commands = 0;
  /** Where a persistent instance keeps its data (null for in-memory ones). */
  dataPath: string | null = null;

  constructor(record: InstanceRecord, backend: Backend) {
    this.record = record;
    this.kind = kindOf(record);
    this.backend = backend;
  }

  get index(): number {
    return this.record.index;
  }

  /**
   * Applies a write. Without a replicator (in-memory instances on one node) the op is applied
   * at once; with one, it is proposed to the instance's Raft group and the reply is what apply
   * returned once the entry committed.
   */
  write(op: Op): Reply | symbol | Promise<Reply | symbol> {
    this.commands++;
    if (this.replicator !== null) return this.replicator.submit(op);
    const result = this.backend.apply(op, ++this.logIndex);
    this.afterApply(result);
    return result.reply;
  }

  /** Set when writes go through a Raft group (persistent instances). */
  replicator: Replicator | null = null;

  read(call: OpCall, now: number): Reply | symbol {
    this.commands++;
    return this.backend.read(call, now);
  }

  /** Called for every applied op, on every replica: wakes watchers and blocked clients. */
  afterApply(r: ApplyResult): void {
    if (this.watchers.size > 0) {
      if (r.flushed) {
        for (const set of this.watchers.values()) for (const w of set) w.watchDirty = true;
      } else {
        for (const k of r.touched) {
          const set = this.watchers.get(k);
          if (set !== undefined) for (const w of set) w.watchDirty = true;
        }
      }
    }
    if (this.waiters.size > 0) {
      for (const k of r.touched) {
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
    if (this.expiryTimer !== null) return;
    this.expiryTimer = setInterval(() => {
      // Replicas delete expired keys when the leader's deletion reaches them; they all see the
      // same expiry times, so one proposer is enough.
      if (this.replicator !== null && !this.replicator.leads) return;
      const now = clock();
      const keys = this.backend.expiredKeys(now, 200);
      if (keys.length > 0 && !this.expiring) {
        const args = keys.map((k) => Buffer.from(k, "latin1"));
        const done = this.write({ cmd: EXPIRE_OP, args, now });
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
    await this.backend.close();
  }
}
