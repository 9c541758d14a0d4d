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

/** A consistent copy of a state machine's whole state at `index`. */
export interface BackendSnapshot {
  index: number;
  data: Uint8Array;
}

/**
 * What a Raft group applies its committed entries to: a persistent instance's backend, or the
 * catalog (group 0). Applies are deterministic and record `index` with their effects.
 */
export interface StateMachine {
  /** The last applied log index. */
  readonly appliedIndex: number;
  /**
   * Applies the ops that share one log entry (writes batched by the proposer), in order and
   * atomically with `index`; one result per op. An already-applied index is ignored.
   */
  applyAll(ops: Op[], index: number): ApplyResult[];
  /** Makes everything applied so far durable; resolves with the durable index. */
  flush(): Promise<number>;
  snapshot(): BackendSnapshot;
  /**
   * Replaces all state with the snapshot's, atomically. Reads and applies see the new state as
   * soon as this returns; the promise resolves once it is durable and rejects, leaving the state
   * untouched, if the snapshot is invalid.
   */
  restore(snapshot: BackendSnapshot): Promise<void>;
}
