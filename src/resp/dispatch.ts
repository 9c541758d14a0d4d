/**
 * Dispatch: from a parsed command to a reply, reading only the command table.
 *
 * Order of checks, as Redis does them: namespace prefix, known command, subcommand, arity,
 * subscribed-mode restrictions, MULTI queuing, then (in `execute`) instance selected, instance
 * type, permission, encryption, and finally the handler. Engine writes become Ops applied by the
 * instance; engine reads go straight to its engine. Everything here is synchronous unless a handler
 * or a blocking wait makes it a promise, which keeps the pipelined hot path free of promises.
 */

import { kinds } from "../backends/kinds.ts";
import { BLOCKED } from "../engine/command-spec.ts";
import { QUEUED, type Reply } from "../engine/reply.ts";
import { err, HeroError, wrongArity } from "../errors.ts";
import type { Instance } from "../instances/instance.ts";
import { namespaceOf } from "../instances/instance.ts";
import { authorizeCommand } from "../security/authorization.ts";
import { openReply, sealArgs } from "../security/sealing.ts";
import type { CommandContext, ServerApi, TableEntry } from "./context.ts";
import type { Session } from "./session.ts";
import { isEngineCommand, lookup, lookupSub, servesFamily } from "./table.ts";

/** Words that may prefix a command to assert the selected instance's type (HeroDB namespaces). */
let namespaces = { version: -1, words: new Set<string>() };
function isNamespace(word: string): boolean {
  if (namespaces.version !== kinds.version) {
    namespaces = { version: kinds.version, words: kinds.namespaces() };
  }
  return namespaces.words.has(word);
}

const SUBSCRIBED_OK = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "PING",
  "QUIT",
  "RESET",
]);

export interface Resolved {
  spec: TableEntry;
  /** "GET", or "CLIENT|SETNAME" for a subcommand. */
  name: string;
  args: Buffer[];
}

function unknownCommand(name: string, args: Buffer[]): HeroError {
  const shown = args
    .slice(0, 8)
    .map((a) => `'${a.toString("latin1").slice(0, 64)}' `)
    .join("");
  return err(`unknown command '${name.slice(0, 128)}', with args beginning with: ${shown}`);
}

/** Resolves namespace, name, subcommand and arity; returns an error reply when they fail. */
export function resolve(session: Session, argv: Buffer[]): Resolved | HeroError {
  let name = argv[0].toString("latin1");
  let spec = lookup(name);
  if (spec === undefined && argv.length > 1 && isNamespace(name.toUpperCase())) {
    const ns = name.toUpperCase();
    const inst = session.instance;
    if (inst === null) return noInstance();
    const own = namespaceOf(inst.record);
    if (ns !== own) {
      return err(`namespace ${ns} does not match the selected instance ${inst.index} (${own})`);
    }
    argv = argv.slice(1);
    name = argv[0].toString("latin1");
    spec = lookup(name);
  }
  if (spec === undefined) return unknownCommand(name, argv.slice(1));
  let args = argv.slice(1);
  let full = spec.name;
  if (spec.subcommands !== undefined && !(args.length === 0 && spec.run !== undefined)) {
    if (args.length === 0) return wrongArity(spec.name);
    const sub = lookupSub(spec, args[0].toString("latin1"));
    if (sub === undefined) {
      return err(
        `unknown subcommand '${args[0].toString("latin1").slice(0, 128)}'. Try ${spec.name} HELP.`,
      );
    }
    full = `${spec.name}|${sub.name}`;
    spec = sub;
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      return wrongArity(full);
    }
    args = args.slice(1);
  } else if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
    return wrongArity(spec.name);
  }
  return { spec, name: full, args };
}

export const noInstance = (): HeroError =>
  new HeroError("NOINSTANCE", "no instance selected: use SELECT <index> (LIST shows them)");

/** Checks that a command scoped to instances may run on the session's instance; returns the instance. */
export function admit(session: Session, r: Resolved): Instance | HeroError {
  const inst = session.instance;
  if (inst === null) return noInstance();
  if (!servesFamily(r.spec, inst.family)) {
    return err(
      `'${r.name.toLowerCase()}' is not supported by instance ${inst.index} (${namespaceOf(inst.record)})`,
    );
  }
  const denied = authorizeCommand(session.principal, r.name, r.spec, inst.index, session.perm);
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

  /**
   * Whether a command may start while earlier replies of the connection are still pending: only
   * replicated engine writes (not blocking ones, not inside MULTI), whose order is kept by the log.
   * Returns the resolved command (pass it on to `dispatch`, which then skips resolving again) or
   * null when it must wait.
   */
  canOverlap(session: Session, argv: Buffer[]): Resolved | null {
    if (session.multi !== null || session.instance?.replicator == null) return null;
    const r = resolve(session, argv);
    if (r instanceof HeroError) return null;
    const spec = r.spec;
    const ok = isEngineCommand(spec) && spec.block === undefined && spec.flags.includes("write");
    return ok ? r : null;
  }

  dispatch(session: Session, argv: Buffer[], resolved?: Resolved): Reply | Promise<Reply> {
    this.server.stats.commandsProcessed++;
    const r = resolved ?? resolve(session, argv);
    if (r instanceof HeroError) {
      if (session.multi !== null) session.multiFailed = true;
      return r;
    }
    session.lastCommand = r.name;
    if (session.proto === 2 && session.subscriptionCount > 0 && !SUBSCRIBED_OK.has(r.spec.name)) {
      return err(
        `Can't execute '${r.name.toLowerCase()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    if (session.multi !== null && !r.spec.flags.includes("immediate"))
      return this.queue(session, r);
    return this.execute(session, r);
  }

  private queue(session: Session, r: Resolved): Reply {
    if (r.spec.flags.includes("no-multi")) {
      session.multiFailed = true;
      return err(`Command not allowed inside a transaction`);
    }
    if (r.spec.scope !== "universal") {
      const inst = admit(session, r);
      if (inst instanceof HeroError) {
        session.multiFailed = true;
        return inst;
      }
      // EXEC of engine commands is atomic only as one Op, which the type must declare.
      if (isEngineCommand(r.spec) && !inst.descriptor.transactions) {
        session.multiFailed = true;
        return err(
          `'${r.name.toLowerCase()}' cannot be queued: instance ${inst.index} (${namespaceOf(inst.record)}) has no transactions`,
        );
      }
    }
    session.multi!.push({ spec: r.spec, name: r.name, args: r.args });
    return QUEUED;
  }

  /**
   * Runs a resolved command now (also used by EXEC for each queued command). A HeroError thrown
   * by any handler, synchronously or from its promise, becomes that command's error reply.
   */
  execute(session: Session, r: Resolved): Reply | Promise<Reply> {
    try {
      const reply = this.run(session, r);
      return reply instanceof Promise ? reply.catch(asErrorReply) : reply;
    } catch (e) {
      return asErrorReply(e);
    }
  }

  private run(session: Session, r: Resolved): Reply | Promise<Reply> {
    const spec = r.spec;
    if (spec.scope === "universal" && spec.run !== undefined) {
      const denied = authorizeCommand(session.principal, r.name, spec);
      if (denied !== null) return denied;
      return spec.run(this.ctx(session, r), r.args);
    }
    const inst = admit(session, r);
    if (inst instanceof HeroError) return inst;
    if (spec.run !== undefined) return spec.run(this.ctx(session, r), r.args);
    if (!isEngineCommand(spec)) return err(`'${r.name.toLowerCase()}' cannot run here`);
    return this.runEngine(session, inst, r);
  }

  private ctx(session: Session, r: Resolved): CommandContext {
    return { name: r.name, spec: r.spec, session, server: this.server };
  }

  /**
   * An engine command on the selected instance: a read of local state (after a read barrier in a
   * cluster), or a write as an Op through the instance (its Raft group, when it has one).
   */
  private runEngine(session: Session, inst: Instance, r: Resolved): Reply | Promise<Reply> {
    const spec = r.spec;
    const encrypted = inst.record.encrypted;
    let args = r.args;
    if (encrypted) args = sealArgs(spec, r.name, args, session.encKey);
    const open = (reply: Reply): Reply =>
      encrypted ? openReply(spec, args, reply, session.encKey) : reply;
    const now = this.server.clock();
    if (!spec.flags.includes("write")) {
      const read = () =>
        andThen(
          inst.read({ cmd: r.name, args }, this.server.clock()) as Reply | Promise<Reply>,
          open,
        );
      const local = () => (inst.readBarrier === null ? read() : inst.readBarrier.then(read));
      // In a cluster a read first waits for its read index, unless the session asked for local,
      // possibly stale reads (READONLY).
      const linearizable = session.readOnlyReplica
        ? null
        : (inst.replicator?.readBarrier() ?? null);
      return linearizable === null ? local() : linearizable.then(local);
    }
    // Validate a blocking command's timeout before the first attempt, as Redis does.
    const seconds = spec.block?.timeoutSeconds(args) ?? 0;
    if (spec.prepare !== undefined) args = spec.prepare(args, now);
    const written = inst.write({ cmd: r.name, args, now });
    // The common case, a plain write: its reply needs no opening and cannot be BLOCKED, so hand
    // the promise on as it is (one fewer promise per replicated write).
    if (!encrypted && spec.block === undefined) return written as Reply | Promise<Reply>;
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

/** Applies f to a value or, when it is a promise, to its result. */
export function andThen<T, U>(x: T | Promise<T>, f: (v: T) => U | Promise<U>): U | Promise<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}
