/**
 * The contract every engine (instance type) implements, and the Op that carries a write.
 *
 * A write becomes an Op on the node that received it: the command name, its final arguments
 * (values already sealed, randomness already drawn) and the receiving node's clock reading.
 * `applyAll(ops, index)` mutates deterministically (same ops in the same order give the same
 * state and the same replies on every replica) and records `index` as applied in the same atomic
 * step. Reads go to `read`, which never mutates. A Raft group sees only the StateMachine part;
 * the instance layer sees the Engine; the protocol layers see neither.
 *
 * What every engine has is the core (apply, read, snapshot, restore, close). The rest are
 * capabilities an engine may offer: key events (an apply result lists the keys it touched, for
 * WATCH and blocked clients), active expiry, keyspace counts for INFO, interactive transactions.
 */
import type { HeroError } from "../errors.ts";
import type { Reply } from "./reply.ts";
import type { SnapshotSource } from "./snapshot.ts";

/**
 * Where the outcome of a replicated write goes once its entry applied, or once it cannot: the
 * callback form of a write, which the pipelined hot path uses instead of a promise per write.
 */
export interface WriteOutcome {
  applied(reply: Reply | symbol): void;
  failed(e: HeroError): void;
}

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
  /** Key events: the keys the op modified, each once (for WATCH and blocked clients). */
  touched?: readonly string[];
  /** Key events: the whole keyspace changed (FLUSHDB). */
  flushed?: boolean;
}

/**
 * What a Raft group applies its committed entries to: an instance's engine, or the catalog
 * (group 0). Applies are deterministic and record `index` with their effects.
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
  /**
   * A consistent copy of the state at some applied index (the source says which), streamed: the
   * copy is fixed when the promise resolves, whatever is applied while it is read.
   */
  snapshot(): Promise<SnapshotSource>;
  /**
   * Replaces all state with the snapshot's, atomically, reading it as a stream: nothing changes
   * until the whole snapshot has been read and checked, so an invalid one rejects and leaves the
   * state untouched. Reads and applies see the new state once the promise resolves, and it is
   * durable by then.
   */
  restore(snapshot: SnapshotSource): Promise<void>;
}

/** Active expiry: the engine finds expired keys; the leader proposes `op` to delete them. */
export interface ExpiryCapability {
  /** The keys that have expired at `now`, at most `limit` of them. */
  expiredKeys(now: number, limit: number): string[];
  /** The internal Op name whose args are the keys to delete (judged at the Op's clock). */
  readonly op: string;
}

/**
 * Capability: interactive transactions a client holds open across commands (SQL.BEGIN …
 * SQL.COMMIT). The protocol keeps one opaque value per connection while a transaction is open
 * and hands `step` every command of the engine's family until it ends (and, with none open, the
 * commands flagged `transaction`). `step` answers from local state, or returns the Op that
 * commits: its reply is then what apply returned. The engine owns the semantics (isolation,
 * conflicts); the protocol only carries the value.
 */
export interface TransactionCapability {
  step(tx: object | null, call: OpCall, now: number): TransactionStep;
  /**
   * Runs `fn`, which must be synchronous, with the transaction's view held open, so the steps
   * of this transaction inside it cost less (a batch of statements sent together).
   */
  hold?<T>(tx: object, fn: () => T): T;
}

export interface TransactionStep {
  /** The connection's transaction after this command (null: none open). */
  tx: object | null;
  /** The reply, answered now; or */
  reply?: Reply;
  /** the Op to replicate, whose apply reply is the command's reply. */
  op?: Op;
}

/** A live instance's engine, as its kind's descriptor opened it. */
export interface Engine extends StateMachine {
  /** Applies one op at `index` (an instance without a Raft group numbers its own writes). */
  apply(op: Op, index: number): ApplyResult;
  /**
   * Serves a read command from local state. Synchronous engines answer at once (the key-value
   * hot path); others may answer with a promise.
   */
  read(call: OpCall, now: number): Reply | symbol | Promise<Reply>;
  close(): Promise<void>;
  /** Capability: active expiry. */
  readonly expiry?: ExpiryCapability;
  /** Capability: interactive transactions held by a connection. */
  readonly transactions?: TransactionCapability;
  /**
   * Capability: finishes the arguments of a command flagged `external` on the node that
   * received it, before it runs (a write's Op then carries the result, so apply stays
   * deterministic): for example a text's embedding fetched from a provider. Null when the call
   * needs nothing.
   */
  prepareCall?(call: OpCall): Promise<OpCall> | null;
  /** Capability: what the engine holds in memory of its own (items and bytes, for INFO). */
  memory?(): { items: number; bytes: number };
  /** Capability: counts for INFO keyspace. */
  stats?(now: number): { keys: number; expires: number };
}
