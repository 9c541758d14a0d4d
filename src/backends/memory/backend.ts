/**
 * The in-memory KV backend: a Keyspace over a MapStore. Ops are applied synchronously and
 * `apply` looks each command's implementation up through the resolver it was built with (the
 * command table), so the Redis semantics live in one place for every KV backend.
 */
import type { Reply } from "../../resp/reply.ts";
import type { ApplyResult, Backend, Op, OpCall } from "../contract.ts";
import { Keyspace } from "../kv/keyspace.ts";
import { type ExecResolver, runCall, runOp } from "../kv/run-call.ts";
import { MapStore } from "./map-store.ts";

// Kept exported from here for existing importers; the shared home is ../kv/run-call.ts.
export { type ExecResolver, runCall } from "../kv/run-call.ts";

export class MemoryBackend implements Backend {
  readonly ks = new Keyspace(new MapStore());
  private readonly resolve: ExecResolver;
  appliedIndex = 0;
  private sweep: IterableIterator<string> = this.ks.store.keys();

  constructor(resolve: ExecResolver) {
    this.resolve = resolve;
  }

  apply(op: Op, index: number): ApplyResult {
    const reply = runOp(this.ks, this.resolve, op);
    this.appliedIndex = index;
    const { keys, flushed } = this.ks.drainTouched();
    return { reply, touched: keys, flushed };
  }

  read(call: OpCall, now: number): Reply | symbol {
    return runCall(this.ks, this.resolve, call, now);
  }

  /**
   * Walks the keyspace a slice at a time (a Map iterator survives inserts and deletes), so each
   * active-expiry tick costs O(slice), not O(keys), and every key is visited once per full round.
   */
  expiredKeys(now: number, limit: number): string[] {
    const out: string[] = [];
    const budget = Math.min(this.ks.size, limit * 20);
    for (let seen = 0; seen < budget && out.length < limit; seen++) {
      let next = this.sweep.next();
      if (next.done) {
        this.sweep = this.ks.store.keys();
        next = this.sweep.next();
        if (next.done) break;
      }
      const e = this.ks.store.get(next.value);
      if (e !== undefined && e.expireAt !== 0 && e.expireAt <= now) out.push(next.value);
    }
    return out;
  }

  stats(now: number): { keys: number; expires: number } {
    let expires = 0;
    for (const k of this.ks.store.keys()) {
      const e = this.ks.lookup(k, now);
      if (e !== undefined && e.expireAt !== 0) expires++;
    }
    return { keys: this.ks.size, expires };
  }

  async close(): Promise<void> {
    this.ks.flush();
  }
}
