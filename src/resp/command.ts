/**
 * The shape of one entry of the command table (src/resp/table.ts).
 *
 * A CommandSpec says everything the server needs to know about a RESP command: its arity and
 * flags (which give its permission: `write` needs ReadWrite, the rest Read), the instance types it
 * serves, its documentation, and how it runs. Dispatch, permissions, COMMAND/COMMAND DOCS,
 * COMMANDS, MULTI queuing, namespacing and docs/commands.md all read these entries; nothing lists
 * commands anywhere else.
 *
 * Two ways to run:
 *  - `kv`: a pure function over a Keyspace, for KV data commands. Reads run against local state;
 *    writes are wrapped in an Op ({cmd, args, now}) and applied by the instance, in log order on
 *    every replica, so a write's reply is what its apply returned and the handler never reads
 *    state to decide a write. Arguments are final (expiry made absolute, randomness drawn…) before
 *    the Op is built: `prepare` does that on the receiving node.
 *  - `run`: a handler with the session and server in reach, for everything else (connection,
 *    server, transactions, pub/sub, crypto).
 */
import type { Keyspace } from "../backends/kv/keyspace.ts";
import type { CommandContext } from "./context.ts";
import type { Reply } from "./reply.ts";

/** Instance types. `kv` is the persistent KV type (Redb/Sled). */
export type InstanceKind = "memory" | "kv" | "sql" | "vector" | "fulltext";

export type Flag =
  | "write" // modifies data: needs ReadWrite, refused on read-only sessions and DB0
  | "readonly" // reads data
  | "admin"
  | "blocking" // may wait (BLPOP…): never blocks inside MULTI
  | "fast"
  | "pubsub"
  | "no-multi" // refused inside MULTI (SUBSCRIBE, blocking-only admin commands…)
  | "immediate" // runs at once even inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET)
  | "loading"
  | "stale";

export type Group =
  | "connection"
  | "cluster"
  | "server"
  | "generic"
  | "string"
  | "bitmap"
  | "hash"
  | "list"
  | "set"
  | "sorted-set"
  | "transactions"
  | "pubsub"
  | "crypto"
  | "sql"
  | "vector"
  | "fulltext";

/** Pure KV implementation: args exclude the command name. Throws HeroError on bad input. */
export type KvExec = (ks: Keyspace, args: Buffer[], now: number) => Reply | typeof BLOCKED;

/** Handler with session and server access: args exclude the command name. */
export type SessionHandler = (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>;

/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN…): the kv exec returns BLOCKED when there is
 * nothing to take; the dispatcher then waits until one of `keys(args)` is written or the timeout
 * (`timeoutSeconds(args)`, 0 = forever) passes, retrying the exec after each write. Inside MULTI it
 * answers `timeoutReply` at once, as Redis does.
 */
export interface BlockSpec {
  keys: (args: Buffer[]) => Buffer[];
  timeoutSeconds: (args: Buffer[]) => number;
  timeoutReply: Reply;
}

/** Returned by a blocking command's kv exec when it has to wait. */
export const BLOCKED: unique symbol = Symbol("blocked");

/** Where the keys are among the arguments, counted as Redis does (the command name is 0). */
export interface KeySpec {
  first: number;
  last: number; // -1 = last argument, -2 = the one before, …
  step: number;
}

export interface CommandSpec {
  name: string; // upper case, e.g. "GET"; subcommands carry their own name, e.g. "SETNAME"
  group: Group;
  summary: string;
  /** Argument syntax after the name, Redis docs style: "key value [NX | XX]". */
  syntax: string;
  /** Redis convention, name included: N = exactly N, -N = at least N. */
  arity: number;
  flags: readonly Flag[];
  keys?: KeySpec;
  /** "universal": works with no instance selected, on every type. */
  scope: "universal" | readonly InstanceKind[];
  kv?: KvExec;
  /** For kv writes: finalises arguments on the receiving node before the Op is built. */
  prepare?: (args: Buffer[], now: number) => Buffer[];
  block?: BlockSpec;
  run?: SessionHandler;
  subcommands?: readonly CommandSpec[];
  /**
   * How the command treats values on an encrypted instance (see src/security/sealing.ts).
   * Absent: refused there with a clear error.
   */
  sealing?: import("../security/sealing.ts").Sealing;
}
