/**
 * The table entry of a subcommand run by a handler (CLIENT ID, ACL SETUSER, COMMAND DOCS…): the
 * same shape in every container, so each container file names only what differs.
 */
import type { Group } from "../../engine/command-spec.ts";
import type { Reply } from "../../engine/reply.ts";
import type { CommandContext, TableEntry } from "../context.ts";

/** A maker of `group`'s subcommand entries (universal scope, handler-run). */
export function subcommandsOf(group: Group) {
  return (
    name: string,
    arity: number,
    summary: string,
    syntax: string,
    run: (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>,
    flags: TableEntry["flags"] = [],
  ): TableEntry => ({ name, group, summary, syntax, arity, flags, scope: "universal", run });
}
