/**
 * The contract every instance backend implements, and the Op that carries a write.
 *
 * A write becomes an Op on the node that received it: the command name, its final arguments
 * (values already sealed, randomness already drawn) and the receiving node's clock reading.
 * `apply(op, index)` mutates deterministically (same ops in the same order give the same state
 * and the same replies on every replica) and records `index` as applied in the same atomic step.
 * Reads go to `read`, which never mutates. The Raft layer (later) sees only this interface.
 */
import type { Reply } from "../resp/reply.ts";

export interface OpCall {
  cmd: string; // table name, "CONTAINER|SUB" for subcommands
  args: Buffer[];
}

export interface Op extends OpCall {
  /** Proposer's clock (ms since the epoch): the only clock apply may use. */
  now: number;
  /** For EXEC: the queued calls, applied atomically in order; the reply is their replies. */
  batch?: OpCall[];
}

export interface ApplyResult {
  reply: Reply | symbol;
  /** Keys the op modified (for WATCH and blocked clients). */
  touched: Set<string>;
  /** The whole keyspace changed (FLUSHDB). */
  flushed: boolean;
}

export interface Backend {
  apply(op: Op, index: number): ApplyResult;
  read(call: OpCall, now: number): Reply | symbol;
  /** The last applied log index. */
  readonly appliedIndex: number;
  /** Active-expiry step: the keys that have expired at `now`, at most `limit` of them. */
  expiredKeys(now: number, limit: number): string[];
  /** Counts for INFO keyspace. */
  stats(now: number): { keys: number; expires: number };
  close(): Promise<void>;
}
