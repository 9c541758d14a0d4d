/**
 * Running key-value commands against a Keyspace, shared by every key-value engine (in-memory and
 * LMDB) so the Redis semantics of an op, including EXEC batches and errors-as-replies, live in
 * one place.
 */
import type { Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { kvImplementation } from "./commands/family.ts";
import { INTERNAL_OPS } from "./internal-ops.ts";
import type { Keyspace } from "./keyspace.ts";

/** Runs one call, turning a thrown HeroError into its reply (Redis replies, it does not abort). */
export function runCall(ks: Keyspace, call: OpCall, now: number, inBatch = false): Reply | symbol {
  const found = kvImplementation(call.cmd);
  if (found === undefined) {
    const internal = INTERNAL_OPS[call.cmd];
    if (internal !== undefined) return internal(ks, call.args, now);
    return new HeroError("ERR", `unknown command '${call.cmd}'`);
  }
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
export function runOp(ks: Keyspace, op: Op): Reply | symbol {
  if (op.batch === undefined) return runCall(ks, op, op.now);
  const replies: Reply[] = [];
  for (const call of op.batch) {
    const r = runCall(ks, call, op.now, true);
    replies.push(typeof r === "symbol" ? null : r);
  }
  return replies;
}
