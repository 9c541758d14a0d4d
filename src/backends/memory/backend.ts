/**
 * The in-memory KV backend: a Keyspace over a MapStore. Ops are applied synchronously and
 * `apply` looks each command's implementation up through the resolver it was built with (the
 * command table), so the Redis semantics live in one place for every KV backend.
 */
import { HeroError } from "../../errors.ts";
import type { KvExec } from "../../resp/command.ts";
import type { Reply } from "../../resp/reply.ts";
import type { ApplyResult, Backend, Op, OpCall } from "../contract.ts";
import { INTERNAL_OPS } from "../kv/internal-ops.ts";
import { Keyspace } from "../kv/keyspace.ts";
import { MapStore } from "./map-store.ts";

/** How a backend finds a command's implementation (the command table, injected). */
export type ExecResolver = (cmd: string) => { exec: KvExec; blockedReply: Reply } | undefined;

/** Runs one call, turning a thrown HeroError into its reply (Redis replies, it does not abort). */
export function runCall(
  ks: Keyspace,
  resolve: ExecResolver,
  call: OpCall,
  now: number,
  inBatch = false,
): Reply | symbol {
  const internal = INTERNAL_OPS[call.cmd];
  if (internal !== undefined) return internal(ks, call.args, now);
  const found = resolve(call.cmd);
  if (found === undefined) return new HeroError("ERR", `unknown command '${call.cmd}'`);
  try {
    const r = found.exec(ks, call.args, now);
    // Inside EXEC a blocking command never waits: it answers as if it had timed out.
    return inBatch && typeof r === "symbol" ? found.blockedReply : r;
  } catch (e) {
    if (e instanceof HeroError) return e;
    throw e;
  }
}

export class MemoryBackend implements Backend {
  readonly ks = new Keyspace(new MapStore());
  private readonly resolve: ExecResolver;
  appliedIndex = 0;
  private sweep: IterableIterator<string> = this.ks.store.keys();

  constructor(resolve: ExecResolver) {
    this.resolve = resolve;
  }

  apply(op: Op, index: number): ApplyResult {
    let reply: Reply | symbol;
    if (op.batch !== undefined) {
      const replies: Reply[] = [];
      for (const call of op.batch) {
        const r = runCall(this.ks, this.resolve, call, op.now, true);
        replies.push(typeof r === "symbol" ? null : r);
      }
      reply = replies;
    } else {
      reply = runCall(this.ks, this.resolve, op, op.now);
    }
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
