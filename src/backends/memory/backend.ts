/**
 * The in-memory key-value engine: a Keyspace over a MapStore. Ops are applied synchronously by
 * ../kv/run-call.ts, which finds each command's implementation in the key-value family, so the
 * Redis semantics live in one place for every key-value engine.
 *
 * It is also a Raft state machine: in a cluster an in-memory instance replicates through its own
 * group (whose log the node keeps), so it needs `applyAll`, and `snapshot`/`restore` in the
 * same KV snapshot format the persistent backend ships (../lmdb/snapshot.ts). Nothing of it is
 * ever durable: `flush` reports the applied index, which only bounds log compaction.
 */

import type { ApplyResult, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import { type SnapshotSource, snapshotOfChunks } from "../../engine/snapshot.ts";
import { decodeEntry, encodeEntry } from "../kv/entry-codec.ts";
import { EXPIRE_OP } from "../kv/internal-ops.ts";
import { Keyspace } from "../kv/keyspace.ts";
import { runCall, runOp } from "../kv/run-call.ts";
import { checkedRecords, type SnapshotRecord, snapshotChunks } from "../kv/snapshot-format.ts";
import { bufOf, type Entry, keyOf } from "../kv/types.ts";
import { MapStore } from "./map-store.ts";

const SKIPPED = (): ApplyResult => ({ reply: null, touched: [], flushed: false });

export class MemoryBackend implements Engine {
  private readonly store = new MapStore();
  readonly ks = new Keyspace(this.store);
  appliedIndex = 0;

  apply(op: Op, index: number): ApplyResult {
    const reply = runOp(this.ks, op);
    this.appliedIndex = index;
    const { keys, flushed } = this.ks.drainTouched();
    return { reply, touched: keys, flushed };
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    if (index <= this.appliedIndex) return ops.map(SKIPPED);
    return ops.map((op) => this.apply(op, index));
  }

  flush(): Promise<number> {
    return Promise.resolve(this.appliedIndex);
  }

  /**
   * The state at `appliedIndex`, encoded now (so the copy stays consistent while it is read; the
   * encoded form is held until it has been read, as big as the state's encoding).
   */
  async snapshot(): Promise<SnapshotSource> {
    const store = this.store;
    function* records(): Generator<SnapshotRecord> {
      for (const key of store.keys()) {
        const entry = store.get(key);
        if (entry !== undefined) yield [bufOf(key), encodeEntry(entry)];
      }
    }
    const index = this.appliedIndex;
    return snapshotOfChunks(index, [...snapshotChunks(index, records())]);
  }

  async restore(snapshot: SnapshotSource): Promise<void> {
    const entries: [string, Entry][] = [];
    for await (const [k, v] of checkedRecords(snapshot)) entries.push([keyOf(k), decodeEntry(v)]);
    this.ks.flush();
    for (const [k, e] of entries) this.store.set(k, e);
    this.ks.drainTouched();
    this.appliedIndex = snapshot.index;
  }

  read(call: OpCall, now: number): Reply | symbol {
    return runCall(this.ks, call, now);
  }

  readonly expiry = {
    expiredKeys: (now: number, limit: number): string[] => this.ks.expiredSlice(now, limit),
    op: EXPIRE_OP,
  };

  stats(now: number): { keys: number; expires: number } {
    return this.ks.stats(now);
  }

  async close(): Promise<void> {
    this.ks.flush();
  }
}
