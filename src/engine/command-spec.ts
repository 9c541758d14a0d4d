/**
 * The shape of one entry of the command table (src/resp/table.ts), shared by the protocol layer
 * and the engines that implement commands.
 *
 * A CommandSpec says everything the server needs to know about a command: its arity and flags
 * (which give its permission: `write` needs ReadWrite, `admin` needs the admin secret, the rest
 * Read), the command family it belongs to, its documentation, and how it runs. Dispatch,
 * authorization, COMMAND/COMMAND DOCS, COMMANDS, MULTI queuing, namespacing and
 * docs/commands.md all read these entries; nothing lists commands anywhere else.
 *
 * Two ways to run:
 *  - engine commands (scope names a command family, no `run`): the engine of the selected
 *    instance runs them by name. A command flagged `write` becomes an Op ({cmd, args, now})
 *    that goes through the instance's Raft group and is applied in log order on every replica,
 *    so its reply is what apply returned; anything else is a read of local state. `exec` is how
 *    an engine family implements a command over its own state (`S`); the protocol never calls it.
 *    Arguments are final (expiry made absolute, randomness drawn…) before the Op is built:
 *    `prepare` does that on the receiving node.
 *  - `run`: a handler with the session and server in reach (`C`, the protocol's context), for
 *    everything else (connection, server, transactions, pub/sub, crypto).
 */
import type { Reply } from "./reply.ts";
import type { Sealing } from "./sealing-spec.ts";

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
  | "stale"
  // opens or ends a connection's interactive transaction (SQL.BEGIN…): goes to the engine's
  // transactions capability, which then takes every command of the family until it ends
  | "transaction"
  // may need a call to an outside service before it runs (a text embedding): the engine's
  // prepareCall finishes its arguments first, so it never overlaps the commands after it
  | "external"
  // runs before authentication and whatever a user's ACL rules say (AUTH, HELLO, QUIT, RESET),
  // as Redis's no-auth commands do
  | "no-auth"
  // Redis's @dangerous ACL category: commands an ordinary application user should not run
  // (FLUSHALL, KEYS, CONFIG…). An ACL category, not a COMMAND INFO flag, as in Redis 7
  | "dangerous";

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
  | "geo"
  | "transactions"
  | "pubsub"
  | "crypto"
  | "sql"
  | "vector"
  | "fulltext"
  | "hyperloglog";

/**
 * An engine's implementation of a command over its state `S`: args exclude the command name.
 * Throws HeroError on bad input; returns BLOCKED when a blocking command has to wait.
 */
export type Exec<S> = (state: S, args: Buffer[], now: number) => Reply | typeof BLOCKED;

/**
 * Where a command may run: "universal" with or without a selected instance, on every type;
 * "instance" on any selected instance, whatever its type (pub/sub); otherwise the command
 * families whose instances serve it (a kind's descriptor names its family).
 */
export type Scope = "universal" | "instance" | readonly string[];

/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN…): the engine returns BLOCKED when there is
 * nothing to take; the dispatcher then waits until one of `keys(args)` is written or the timeout
 * (`timeoutSeconds(args)`, 0 = forever) passes, retrying the command after each write. Inside MULTI it
 * answers `timeoutReply` at once, as Redis does.
 */
export interface BlockSpec {
  keys: (args: Buffer[]) => Buffer[];
  timeoutSeconds: (args: Buffer[]) => number;
  timeoutReply: Reply;
}

/** Returned by a blocking command's engine when it has to wait. */
export const BLOCKED: unique symbol = Symbol("blocked");

/**
 * What a command does with the value at a key, for ACL key selectors (`%R~`, `%W~`): "read"
 * discloses it; "write" changes it without disclosing it (Redis's RW/OW/RM without ACCESS: SET,
 * DEL, LPUSH, EXPIRE…); "both" does both (ACCESS with INSERT/UPDATE/DELETE: INCR, GETDEL, LPOP…).
 */
export type KeyAccess = "read" | "write" | "both";

/**
 * Where the keys are among the arguments, counted as Redis does (the command name is 0; in a
 * subcommand's entry the subcommand's name is 1, so OBJECT ENCODING's key is at 2), and what
 * the command does with each. src/engine/command-keys.ts reads it against the arguments.
 */
export interface KeySpec {
  /** Redis's legacy key range, which COMMAND INFO prints; 0 0 0 when every key is counted. */
  first: number;
  last: number; // -1 = last argument, -2 = the one before, …
  step: number;
  /**
   * Position of an argument giving a count n: the n arguments right after it are keys too,
   * after those of first..last (LMPOP numkeys key…: 1; ZUNIONSTORE dest numkeys key…: 2).
   * The legacy range cannot say this, hence a field of its own.
   */
  numkeys?: number;
  /**
   * What the command does with each key's value, in the order the keys are found; an array's
   * last element repeats for the keys after it (SUNIONSTORE ["write", "read"]: the destination,
   * then every source). Absent: "write" for commands flagged `write`, else "read".
   */
  access?: KeyAccess | readonly KeyAccess[];
  /**
   * An option word (any letter case) that makes a write also answer the old value (SET … GET):
   * when it is among the arguments, each "write" access counts as "both".
   */
  readsWith?: string;
  /**
   * Option words (upper case) whose next argument is a key the command writes, wherever they
   * stand (GEORADIUS … STORE dest): the legacy range cannot say where that is.
   */
  writesAfter?: readonly string[];
}

export interface CommandSpec<S = never, C = unknown> {
  name: string; // upper case, e.g. "GET"; subcommands carry their own name, e.g. "SETNAME"
  group: Group;
  summary: string;
  /** Argument syntax after the name, Redis docs style: "key value [NX | XX]". */
  syntax: string;
  /** Redis convention, name included: N = exactly N, -N = at least N. */
  arity: number;
  flags: readonly Flag[];
  keys?: KeySpec;
  /**
   * The pub/sub channels a command names, for ACL channel rules (`&pattern`): its arguments
   * from the first to `last` (1: only the first; -1: all); `patterns`: they are PSUBSCRIBE
   * patterns, which a rule must name literally.
   */
  channels?: { last: 1 | -1; patterns?: boolean };
  scope: Scope;
  exec?: Exec<S>;
  /** For engine writes: finalises arguments on the receiving node before the Op is built. */
  prepare?: (args: Buffer[], now: number) => Buffer[];
  block?: BlockSpec;
  run?: (ctx: C, args: Buffer[]) => Reply | Promise<Reply>;
  subcommands?: readonly CommandSpec<S, C>[];
  /**
   * How the command treats values on an encrypted instance (see ./sealing-spec.ts).
   * Absent: refused there with a clear error.
   */
  sealing?: Sealing;
}
