/**
 * The vector engine: vector sets (./store.ts) in one SQLite file with their HNSW graphs in
 * memory. The file is a SqlDb, so writes apply in one SQLite transaction per log entry with the
 * entry's index, reads run on a read-only connection, and snapshots are copies of the file; a
 * restored snapshot reopens every graph from the file (by replaying each set's changes).
 */
import type { ApplyResult, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";
import { SqlDb } from "../sql/sql-db.ts";
import { restoreFile, snapshotOfFile } from "../sql/sqlite-snapshots.ts";
import { vectorImplementation } from "./commands.ts";
import { prepareEmbedding } from "./embeddings.ts";
import { VectorStore } from "./store.ts";

export class VectorEngine implements Engine {
  readonly db: SqlDb;
  readonly store: VectorStore;

  constructor(path: string) {
    this.db = new SqlDb(path);
    this.store = new VectorStore(this.db, `${path}.graphs`);
  }

  get appliedIndex(): number {
    return this.db.appliedIndex;
  }

  private run(call: OpCall, seed: string): Reply {
    const exec = vectorImplementation(call.cmd);
    if (exec === undefined) return new HeroError("ERR", `unknown command '${call.cmd}'`);
    try {
      return exec({ store: this.store, seed }, call.args, 0) as Reply;
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
  }

  apply(op: Op, index: number): ApplyResult {
    return this.applyAll([op], index)[0];
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    if (index <= this.db.appliedIndex) return ops.map(() => ({ reply: null }));
    const replies = this.db.applyEntry(
      index,
      ops.map((op) => (seed: string) => {
        if (op.batch !== undefined) return new HeroError("ERR", "vector instances have no MULTI");
        return this.run(op, seed);
      }),
    );
    return replies.map((reply) => ({ reply }));
  }

  read(call: OpCall): Reply {
    return this.run(call, "");
  }

  memory(): { items: number; bytes: number } {
    return this.store.memory();
  }

  /** LANCE's text embeddings, fetched before the command runs (./embeddings.ts). */
  prepareCall(call: OpCall): Promise<OpCall> | null {
    return prepareEmbedding(this.db, call);
  }

  async flush(): Promise<number> {
    return this.db.checkpoint();
  }

  snapshot(): Promise<SnapshotSource> {
    return snapshotOfFile(this.db);
  }

  async restore(snapshot: SnapshotSource): Promise<void> {
    await restoreFile(this.db, snapshot);
    this.store.load();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
