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

import type { ApplyResult, BackendSnapshot, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { decodeEntry, encodeEntry } from "../kv/entry-codec.ts";
import { EXPIRE_OP } from "../kv/internal-ops.ts";
import { Keyspace } from "../kv/keyspace.ts";
import { runCall, runOp } from "../kv/run-call.ts";
import { bufOf, keyOf } from "../kv/types.ts";
import { decodeSnapshot, encodeSnapshot, type SnapshotRecord } from "../lmdb/snapshot.ts";
import { MapStore } from "./map-store.ts";

const SKIPPED = (): ApplyResult => ({ reply: null, touched: new Set(), flushed: false });

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

  snapshot(): BackendSnapshot {
    const store = this.store;
    function* records(): Generator<SnapshotRecord> {
      for (const key of store.keys()) {
        const entry = store.get(key);
        if (entry !== undefined) yield [bufOf(key), encodeEntry(entry)];
      }
    }
    return { index: this.appliedIndex, data: encodeSnapshot(this.appliedIndex, records()) };
  }

  restore(snapshot: BackendSnapshot): Promise<void> {
    try {
      const decoded = decodeSnapshot(snapshot.data);
      if (decoded.index !== snapshot.index) {
        throw new HeroError("INTERNAL", `snapshot index ${snapshot.index} != ${decoded.index}`);
      }
      const entries = decoded.records.map(([k, v]) => [keyOf(k), decodeEntry(v)] as const);
      this.ks.flush();
      for (const [k, e] of entries) this.store.set(k, e);
      this.ks.drainTouched();
      this.appliedIndex = decoded.index;
      return Promise.resolve();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return Promise.reject(
        e instanceof HeroError ? e : new HeroError("INTERNAL", `invalid snapshot: ${why}`),
      );
    }
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
