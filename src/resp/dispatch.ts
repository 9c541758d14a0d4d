/**
 * Dispatch: from a parsed command to a reply, reading only the command table.
 *
 * Order of checks, as Redis does them: namespace prefix, known command, subcommand, arity,
 * subscribed-mode restrictions, MULTI queuing, then (in `execute`) the user's ACL rules
 * (./acl-gate.ts), instance selected, instance type, permission, encryption, and finally the
 * handler. Engine writes become Ops applied by the
 * instance; engine reads go straight to its engine. Everything here is synchronous unless a handler
 * or a blocking wait makes it a promise, which keeps the pipelined hot path free of promises.
 */

import { kinds } from "../backends/kinds.ts";
import { BLOCKED } from "../engine/command-spec.ts";
import type { WriteOutcome } from "../engine/contract.ts";
import { QUEUED, type Reply } from "../engine/reply.ts";
import { err, HeroError, wrongArity } from "../errors.ts";
import type { Instance } from "../instances/instance.ts";
import { namespaceOf } from "../instances/instance.ts";
import type { CommandStats } from "../metrics/command-stats.ts";
import { authorizeCommand } from "../security/authorization.ts";
import { openReply, sealArgs } from "../security/sealing.ts";
import { aclDenial } from "./acl-gate.ts";
import type { CommandContext, ServerApi } from "./context.ts";
import { inTransaction, runInTransaction } from "./engine-transactions.ts";
import type { Request } from "./parser.ts";
import type { QueuedCommand, Session } from "./session.ts";
import { find, findSub } from "./table.ts";

/** Words that may prefix a command to assert the selected instance's type (HeroDB namespaces). */
let namespaces = { version: -1, words: new Set<string>() };
function isNamespace(word: string): boolean {
  if (namespaces.version !== kinds.version) {
    namespaces = { version: kinds.version, words: kinds.namespaces() };
  }
  return namespaces.words.has(word);
}

/** A command found in the table, with its arguments after the name (and subcommand). */
export type Resolved = QueuedCommand;

/**
 * How a connection takes a reply that comes later without a promise per command: `later()` holds
 * the command's place among the connection's replies and is told the outcome. Replicated plain
 * writes, the pipelined hot path, use it.
 */
export interface ReplySink {
  /** `stats` and `id` count the reply when it is an error (a failed call). */
  later(stats: CommandStats, id: number): WriteOutcome;
}

/** dispatch's answer when the reply will be told to the sink's outcome. */
export const LATER: unique symbol = Symbol("later");

export type Dispatched = Reply | Promise<Reply> | typeof LATER;

function unknownCommand(name: string, args: Buffer[]): HeroError {
  const shown = args
    .slice(0, 8)
    .map((a) => `'${a.toString("latin1").slice(0, 64)}' `)
    .join("");
  return err(`unknown command '${name.slice(0, 128)}', with args beginning with: ${shown}`);
}

const arityFails = (arity: number, argc: number): boolean =>
  arity > 0 ? argc !== arity : argc < -arity;

/** Resolves namespace, name, subcommand and arity; returns an error reply when they fail. */
export function resolve(session: Session, req: Request): Resolved | HeroError {
  let name = req.name;
  let args = req.args;
  let found = find(name);
  if (found === undefined && args.length > 0 && isNamespace(name.toUpperCase())) {
    const ns = name.toUpperCase();
    const inst = session.instance;
    if (inst === null) return noInstance();
    const own = namespaceOf(inst.record);
    if (ns !== own) {
      return err(`namespace ${ns} does not match the selected instance ${inst.index} (${own})`);
    }
    name = args[0].toString("latin1");
    args = args.slice(1);
    // A family's commands may carry a prefix in their names (SQL EXEC is SQL.EXEC).
    found = find(`${kinds.commandPrefix(ns)}.${name}`) ?? find(name);
    if (found !== undefined) name = found.spec.name;
  }
  if (found === undefined) return unknownCommand(name, args);
  const spec = found.spec;
  // Arity counts the name, as Redis's does.
  const argc = args.length + 1;
  if (found.subs !== null && !(args.length === 0 && found.traits.handled)) {
    if (args.length === 0) return wrongArity(spec.name);
    const sub = findSub(found, args[0].toString("latin1"));
    if (sub === undefined) {
      return err(
        `unknown subcommand '${args[0].toString("latin1").slice(0, 128)}'. Try ${spec.name} HELP.`,
      );
    }
    if (arityFails(sub.spec.arity, argc)) return wrongArity(sub.traits.name);
    return { spec: sub.spec, traits: sub.traits, name: sub.traits.name, args: args.slice(1) };
  }
  if (arityFails(spec.arity, argc)) return wrongArity(spec.name);
  return { spec, traits: found.traits, name: found.traits.name, args };
}

/**
 * The first command of a client that did not pick an instance. Every Redis client starts here
 * (they assume database 0), so the message says why and what to do, not just what failed.
 */
export const noInstance = (): HeroError =>
  new HeroError(
    "NOINSTANCE",
    "no instance selected: this server hosts many databases on one port; pick one with " +
      "SELECT <index> (redis-cli -n <index>; a private one: SELECT <index> KEY <key>). " +
      "LIST shows them; the db_createInstance API makes one",
  );

/** Whether any of a command's families is served by the instance. */
function servedBy(families: ReadonlySet<string>, inst: Instance): boolean {
  if (families.has(inst.family)) return true;
  for (const f of families) if (inst.serves(f)) return true;
  return false;
}

/** Checks that a command scoped to instances may run on the session's instance; returns the instance. */
export function admit(session: Session, r: Resolved): Instance | HeroError {
  const t = r.traits;
  // An admin command is refused to others before anything else is said about it.
  if (t.admin) {
    const denied = authorizeCommand(session.principal, r.name, t);
    if (denied !== null) return denied;
  }
  const inst = session.instance;
  if (inst === null) return noInstance();
  if (t.families !== null && !servedBy(t.families, inst)) {
    return err(
      `'${r.name.toLowerCase()}' is not supported by instance ${inst.index} (${namespaceOf(inst.record)})`,
    );
  }
  const denied = authorizeCommand(session.principal, r.name, t, inst.index, session.perm);
  if (denied !== null) return denied;
  return inst;
}

function asErrorReply(e: unknown): HeroError {
  if (e instanceof HeroError) return e;
  throw e;
}

export class Dispatcher {
  private readonly server: ServerApi;

  constructor(server: ServerApi) {
    this.server = server;
  }

  /** Where the commands of a session are counted: its instance's counters, or the server's. */
  statsOf(session: Session): CommandStats {
    return session.instance?.stats ?? this.server.commandStats;
  }

  /**
   * Whether a command may start while earlier replies of the connection are still pending: only
   * replicated engine writes (not blocking ones, not inside MULTI), whose order is kept by the log.
   * Returns the resolved command (pass it on to `dispatch`, which then skips resolving again) or
   * null when it must wait.
   */
  canOverlap(session: Session, req: Request): Resolved | null {
    if (
      session.multi !== null ||
      session.tx !== null ||
      session.txOpening ||
      session.instance?.replicator == null
    ) {
      return null;
    }
    const r = resolve(session, req);
    if (r instanceof HeroError) return null;
    return r.traits.overlaps ? r : null;
  }

  /**
   * Runs one command of a connection. `now` is the connection's clock reading for this turn of
   * the event loop (one reading per batch of pipelined commands, as Redis caches its clock).
   */
  dispatch(
    session: Session,
    req: Request,
    now: number,
    resolved?: Resolved,
    sink?: ReplySink,
  ): Dispatched {
    this.server.stats.commandsProcessed++;
    const r = resolved ?? resolve(session, req);
    if (r instanceof HeroError) {
      if (session.multi !== null) session.multiFailed = true;
      return r;
    }
    session.lastCommand = r.name;
    const t = r.traits;
    if (session.proto === 2 && !t.whileSubscribed && session.subscriptionCount > 0) {
      return err(
        `Can't execute '${r.name.toLowerCase()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    if (session.multi !== null && !t.immediate) return this.queue(session, r);
    return this.execute(session, r, now, sink);
  }

  private queue(session: Session, r: Resolved): Reply {
    if (r.traits.noMulti) {
      session.multiFailed = true;
      return err(`Command not allowed inside a transaction`);
    }
    const denied = aclDenial(this.server, session, r);
    if (denied !== null) {
      session.multiFailed = true;
      return denied;
    }
    if (!r.traits.universal) {
      const inst = admit(session, r);
      if (inst instanceof HeroError) {
        session.multiFailed = true;
        return inst;
      }
      // EXEC of engine commands is atomic only as one Op, which the type must declare.
      if (r.traits.engine && !inst.descriptor.transactions) {
        session.multiFailed = true;
        return err(
          `'${r.name.toLowerCase()}' cannot be queued: instance ${inst.index} (${namespaceOf(inst.record)}) has no transactions`,
        );
      }
    }
    session.multi!.push(r);
    return QUEUED;
  }

  /**
   * Runs a resolved command now (also used by EXEC for each queued command). A HeroError thrown
   * by any handler, synchronously or from its promise, becomes that command's error reply.
   */
  execute(session: Session, r: Resolved, now?: number): Reply | Promise<Reply>;
  execute(session: Session, r: Resolved, now: number, sink: ReplySink | undefined): Dispatched;
  execute(session: Session, r: Resolved, now = this.server.clock(), sink?: ReplySink): Dispatched {
    const stats = this.statsOf(session);
    const id = r.traits.id;
    stats.called(id);
    const admitted = this.admission(session, r);
    if (admitted instanceof HeroError) {
      stats.rejected[id]++;
      return admitted;
    }
    try {
      const reply = this.run(session, r, admitted, now, stats, sink);
      if (reply instanceof HeroError) stats.failed[id]++;
      else if (reply instanceof Promise) return reply.then(countFailure(stats, id), asErrorReply);
      return reply;
    } catch (e) {
      const reply = asErrorReply(e);
      stats.failed[id]++;
      return reply;
    }
  }

  /**
   * The checks before a command runs (a refusal here is a rejected call, not a failed one): the
   * instance it needs, with its type and the session's permission; null for a command that
   * needs none.
   */
  private admission(session: Session, r: Resolved): Instance | null | HeroError {
    const denied = aclDenial(this.server, session, r);
    if (denied !== null) return denied;
    const t = r.traits;
    if (t.universal && t.handled) return authorizeCommand(session.principal, r.name, t);
    const inst = admit(session, r);
    if (inst instanceof HeroError || t.handled || t.engine) return inst;
    return err(`'${r.name.toLowerCase()}' cannot run here`);
  }

  private run(
    session: Session,
    r: Resolved,
    inst: Instance | null,
    now: number,
    stats: CommandStats,
    sink?: ReplySink,
  ): Dispatched {
    if (inst === null || r.traits.handled) return r.spec.run!(this.ctx(session, r), r.args);
    return this.runEngine(session, inst, r, now, stats, sink);
  }

  private ctx(session: Session, r: Resolved): CommandContext {
    return { name: r.name, spec: r.spec, session, server: this.server };
  }

  /**
   * An engine command on the selected instance: a read of local state (after a read barrier in a
   * cluster), or a write as an Op through the instance (its Raft group, when it has one). The
   * plain cases (no encryption, no wait, no blocking) take no closure and no extra promise.
   */
  private runEngine(
    session: Session,
    inst: Instance,
    r: Resolved,
    now: number,
    stats: CommandStats,
    sink?: ReplySink,
  ): Dispatched {
    if (inTransaction(session, inst, r)) {
      return runInTransaction(session, inst, r, now, () => this.linearizable(session, inst));
    }
    if (r.traits.external && inst.engine.prepareCall !== undefined) {
      const prepared = inst.engine.prepareCall({ cmd: r.name, args: r.args });
      if (prepared !== null) {
        return prepared.then(
          (call) =>
            // Prepared once: the call runs as it now stands.
            this.runEngine(
              session,
              inst,
              { ...r, args: call.args, traits: { ...r.traits, external: false } },
              now,
              stats,
            ) as Reply | Promise<Reply>,
        );
      }
    }
    if (inst.record.encrypted) return this.runEngineSealed(session, inst, r, now);
    if (!r.traits.writes) {
      const linearizable = this.linearizable(session, inst);
      if (linearizable === null && inst.readBarrier === null) {
        return inst.read({ cmd: r.name, args: r.args }, now) as Reply | Promise<Reply>;
      }
      return this.readLater(inst, r, r.args, linearizable, identity);
    }
    const t = r.traits;
    if (t.blocks) return this.writeOrBlock(session, inst, r, r.args, now, false);
    const args = t.prepare === null ? r.args : t.prepare(r.args, now);
    // A plain write's reply needs no opening and cannot be BLOCKED: a replicated one is told to
    // the connection when it applies (no promise per write), any other is the reply now.
    const op = { cmd: r.name, args, now };
    if (sink !== undefined && inst.replicator !== null) {
      inst.writeTo(op, sink.later(stats, t.id));
      return LATER;
    }
    return inst.write(op) as Reply;
  }

  /** The same on an encrypted instance: arguments sealed with the session key, replies opened. */
  private runEngineSealed(
    session: Session,
    inst: Instance,
    r: Resolved,
    now: number,
  ): Reply | Promise<Reply> {
    const spec = r.spec;
    const sealed = sealArgs(spec, r.name, r.args, session.encKey);
    if (!r.traits.writes) {
      const open = (reply: Reply): Reply => openReply(spec, sealed, reply, session.encKey);
      const linearizable = this.linearizable(session, inst);
      return this.readLater(inst, r, sealed, linearizable, open);
    }
    return this.writeOrBlock(session, inst, r, sealed, now, true);
  }

  /**
   * In a cluster a read first waits for its read index, unless the session asked for local,
   * possibly stale reads (READONLY); a group of one needs no wait (null).
   */
  private linearizable(session: Session, inst: Instance): Promise<void> | null {
    if (inst.replicator === null || session.readOnlyReplica) return null;
    return inst.replicator.readBarrier();
  }

  /** A read after its read index and after any blocked clients a write just woke. */
  private readLater(
    inst: Instance,
    r: Resolved,
    args: Buffer[],
    linearizable: Promise<void> | null,
    open: (reply: Reply) => Reply,
  ): Reply | Promise<Reply> {
    const read = () =>
      andThen(
        inst.read({ cmd: r.name, args }, this.server.clock()) as Reply | Promise<Reply>,
        open,
      );
    const local = () => (inst.readBarrier === null ? read() : inst.readBarrier.then(read));
    return linearizable === null ? local() : linearizable.then(local);
  }

  /** A write whose reply must be opened, or that may have to wait (a blocking pop). */
  private writeOrBlock(
    session: Session,
    inst: Instance,
    r: Resolved,
    given: Buffer[],
    now: number,
    sealed: boolean,
  ): Reply | Promise<Reply> {
    const spec = r.spec;
    // Validate a blocking command's timeout before the first attempt, as Redis does.
    const seconds = spec.block?.timeoutSeconds(given) ?? 0;
    const args = spec.prepare === undefined ? given : spec.prepare(given, now);
    const open = sealed
      ? (reply: Reply): Reply => openReply(spec, args, reply, session.encKey)
      : identity;
    const written = inst.write({ cmd: r.name, args, now });
    return andThen(written, (first) => {
      if (first !== BLOCKED) return open(first as Reply);
      return this.block(session, inst, r, args, seconds).then(open);
    });
  }

  /** Waits until a write to one of the command's keys lets it proceed, or the timeout. */
  private block(
    session: Session,
    inst: Instance,
    r: Resolved,
    args: Buffer[],
    seconds: number,
  ): Promise<Reply> {
    const block = r.spec.block!;
    const keys = block.keys(args).map((k) => k.toString("latin1"));
    return new Promise<Reply>((done) => {
      let unregister: () => void = () => {};
      let timer: NodeJS.Timeout | null = null;
      let finished = false;
      const finish = (reply: Reply): void => {
        if (finished) return;
        finished = true;
        unregister();
        if (timer !== null) clearTimeout(timer);
        session.cancelBlock = null;
        done(reply);
      };
      const retry = (outcome: Reply | symbol): void => {
        if (finished) return;
        if (outcome !== BLOCKED) finish(outcome as Reply);
        else unregister = inst.block(keys, attempt);
      };
      const attempt = (): Promise<unknown> | undefined => {
        unregister();
        if (session.closed) {
          finish(null);
          return undefined;
        }
        const outcome = inst.write({ cmd: r.name, args, now: this.server.clock() });
        if (!(outcome instanceof Promise)) {
          retry(outcome);
          return undefined;
        }
        // A failed retry is reported as it is: a TIMEOUT pop may still apply, and answering nil
        // would hide that an element may have been taken.
        return outcome.then(retry, (e: unknown) => finish(e instanceof HeroError ? e : null));
      };
      unregister = inst.block(keys, attempt);
      if (seconds > 0) timer = setTimeout(() => finish(block.timeoutReply), seconds * 1000);
      session.cancelBlock = () => finish(null);
    });
  }
}

const identity = (reply: Reply): Reply => reply;

/** Counts a promised reply that turns out to be an error as a failed call. */
function countFailure(stats: CommandStats, id: number): (reply: Reply) => Reply {
  return (reply) => {
    if (reply instanceof HeroError) stats.failed[id]++;
    return reply;
  };
}

/** Applies f to a value or, when it is a promise, to its result. */
export function andThen<T, U>(x: T | Promise<T>, f: (v: T) => U | Promise<U>): U | Promise<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}
