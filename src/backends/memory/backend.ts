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

  expiredKeys(now: number, limit: number): string[] {
    return this.ks.expiredSlice(now, limit);
  }

  stats(now: number): { keys: number; expires: number } {
    return this.ks.stats(now);
  }

  async close(): Promise<void> {
    this.ks.flush();
  }
}
