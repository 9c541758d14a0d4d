/**
 * Running KV commands against a Keyspace, shared by every KV backend (in-memory and LMDB) so the
 * Redis semantics of an op, including EXEC batches and errors-as-replies, live in one place.
 * Implementations are looked up through an injected resolver (the command table), which keeps
 * the backends free of any dependency on the RESP layer's table.
 */
import { HeroError } from "../../errors.ts";
import type { KvExec } from "../../resp/command.ts";
import type { Reply } from "../../resp/reply.ts";
import type { Op, OpCall } from "../contract.ts";
import { INTERNAL_OPS } from "./internal-ops.ts";
import type { Keyspace } from "./keyspace.ts";

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

/** Runs a whole op at its proposer's clock: one call, or an EXEC batch whose reply is the list. */
export function runOp(ks: Keyspace, resolve: ExecResolver, op: Op): Reply | symbol {
  if (op.batch === undefined) return runCall(ks, resolve, op, op.now);
  const replies: Reply[] = [];
  for (const call of op.batch) {
    const r = runCall(ks, resolve, call, op.now, true);
    replies.push(typeof r === "symbol" ? null : r);
  }
  return replies;
}
