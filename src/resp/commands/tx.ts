/**
 * Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * Commands queued after MULTI were already checked (arity, type, permission, ACL rules) when
 * queued; a failure there aborts EXEC with EXECABORT, as in Redis. Permission and ACL rules are
 * checked again when EXEC runs them (a rule or key changed meanwhile holds): a command refused
 * then answers its error in EXEC's reply, and the others run. EXEC of engine commands on the selected
 * instance becomes one Op whose batch is applied atomically, in order, by the engine, so the
 * transaction is one entry in the log and replicas see all of it or none. WATCH is optimistic:
 * any write to a watched key (or FLUSHDB) marks the session dirty and EXEC answers a null array.
 */

import type { OpCall } from "../../engine/contract.ts";
import { NULL_ARRAY, OK, type Reply } from "../../engine/reply.ts";
import { err, HeroError } from "../../errors.ts";
import { openReply, sealArgs } from "../../security/sealing.ts";
import { aclDenial } from "../acl-gate.ts";
import type { CommandContext, TableEntry } from "../context.ts";
import { admit, andThen, noInstance } from "../dispatch.ts";
import type { QueuedCommand } from "../session.ts";

function exec(ctx: CommandContext): Reply | Promise<Reply> {
  const s = ctx.session;
  if (s.multi === null) return err("EXEC without MULTI");
  const queued = s.multi;
  s.multi = null;
  const failed = s.multiFailed;
  const dirty = s.watchDirty;
  s.multiFailed = false;
  s.unwatchAll();
  if (failed)
    return new HeroError("EXECABORT", "Transaction discarded because of previous errors.");
  if (dirty) return NULL_ARRAY;
  const inst = s.instance;
  // A transaction of engine commands on a type with transactions is one Op (one log entry).
  const batchable = inst?.descriptor.transactions === true;
  if (batchable && queued.length > 0 && queued.every((q) => q.traits.engine)) {
    return execBatch(ctx, queued);
  }
  return execEach(ctx, queued);
}

/** The permission check of a queued command, as it stands now (null: allowed). */
function admitted(s: CommandContext["session"], q: QueuedCommand): HeroError | null {
  const r = admit(s, q);
  return r instanceof HeroError ? r : null;
}

/** All-engine transaction: one Op with a batch, sealed per command on encrypted instances. */
function execBatch(ctx: CommandContext, queued: QueuedCommand[]): Reply | Promise<Reply> {
  const s = ctx.session;
  const inst = s.instance!;
  const now = ctx.server.clock();
  const early: (HeroError | null)[] = [];
  const batch: OpCall[] = [];
  const sealed: Buffer[][] = [];
  for (const q of queued) {
    const refused = aclDenial(ctx.server, s, q) ?? admitted(s, q);
    if (refused !== null) {
      early.push(refused);
      sealed.push(q.args);
      continue;
    }
    try {
      let args = inst.record.encrypted ? sealArgs(q.spec, q.name, q.args, s.encKey) : q.args;
      if (q.spec.prepare !== undefined) args = q.spec.prepare(args, now);
      batch.push({ cmd: q.name, args });
      sealed.push(args);
      early.push(null);
    } catch (e) {
      if (!(e instanceof HeroError)) throw e;
      early.push(e);
      sealed.push(q.args);
    }
  }
  return andThen(inst.write({ cmd: "EXEC", args: [], now, batch }), (outcome) => {
    const results = outcome as Reply[];
    const replies: Reply[] = [];
    let j = 0;
    queued.forEach((q, i) => {
      const e = early[i];
      if (e !== null) {
        replies.push(e);
        return;
      }
      const r = results[j++];
      try {
        replies.push(inst.record.encrypted ? openReply(q.spec, sealed[i], r, s.encKey) : r);
      } catch (x) {
        if (!(x instanceof HeroError)) throw x;
        replies.push(x);
      }
    });
    return replies;
  });
}

/**
 * A transaction that is not one Op (it mixes engine commands with others, or has none): each
 * command runs in order; each write in it is an Op of its own.
 */
async function execEach(ctx: CommandContext, queued: QueuedCommand[]): Promise<Reply> {
  const replies: Reply[] = [];
  for (const q of queued) {
    replies.push(await ctx.server.execute(ctx.session, q));
  }
  return replies;
}

const tx = (
  name: string,
  arity: number,
  summary: string,
  syntax: string,
  run: (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>,
): TableEntry => ({
  name,
  group: "transactions",
  summary,
  syntax,
  arity,
  flags: ["fast", "immediate"],
  scope: "universal",
  run,
});

export const txCommands: TableEntry[] = [
  tx("MULTI", 1, "Starts a transaction.", "", (ctx) => {
    if (ctx.session.multi !== null) return err("MULTI calls can not be nested");
    ctx.session.multi = [];
    ctx.session.multiFailed = false;
    return OK;
  }),
  tx("EXEC", 1, "Executes all commands in a transaction.", "", exec),
  tx("DISCARD", 1, "Discards a transaction.", "", (ctx) => {
    if (ctx.session.multi === null) return err("DISCARD without MULTI");
    ctx.session.multi = null;
    ctx.session.multiFailed = false;
    ctx.session.unwatchAll();
    return OK;
  }),
  {
    ...tx(
      "WATCH",
      -2,
      "Monitors changes to keys to determine the execution of a transaction.",
      "key [key ...]",
      (ctx, args) => {
        const s = ctx.session;
        if (s.multi !== null) return err("WATCH inside MULTI is not allowed");
        if (s.instance === null) return noInstance();
        for (const a of args) {
          const key = a.toString("latin1");
          s.instance.watch(key, s);
          s.watched.push({ instance: s.instance, key });
        }
        return OK;
      },
    ),
    keys: { first: 1, last: -1, step: 1 },
  },
  tx("UNWATCH", 1, "Forgets about all watched keys.", "", (ctx) => {
    ctx.session.unwatchAll();
    return OK;
  }),
];
