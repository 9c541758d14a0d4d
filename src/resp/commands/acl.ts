/**
 * ACL: Redis's commands for users and their rules (SETUSER, GETUSER, DELUSER, LIST, USERS,
 * WHOAMI, CAT, LOG, GENPASS, DRYRUN), over the users kept in the catalog (src/security/acl).
 *
 * Changing or reading users is an admin command: the admin secret, or a user with a password
 * whose rules allow it (`+@admin`). A rule list is prepared here, on the node that received it
 * (passwords become stored hashes, nothing plain leaves this function), then goes through the
 * catalog, and so through Raft group 0 in a cluster, to every node.
 */
import { commandKeys } from "../../engine/command-keys.ts";
import { MapReply, OK, type Reply, Simple } from "../../engine/reply.ts";
import { err } from "../../errors.ts";
import { ALL_CATEGORIES, commandsInCategory } from "../../security/acl/categories.ts";
import type { ChannelRef } from "../../security/acl/check.ts";
import { denialMessage } from "../../security/acl/check.ts";
import { describeUser, getUserFields, type UserFieldValue } from "../../security/acl/describe.ts";
import { DEFAULT_GENPASS_BITS, genpass } from "../../security/acl/genpass.ts";
import type { CommandContext, TableEntry } from "../context.ts";
import { allCommands, find, findSub } from "../table.ts";
import { userLabel } from "./client-info.ts";
import { subcommandsOf } from "./subcommand.ts";

const universal = "universal" as const;

const utf8 = (b: Buffer): string => b.toString("utf8");

async function setuser(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const name = utf8(args[0]);
  const rules = args.slice(1).map(utf8);
  await ctx.server.userAdmin.setRules(name, rules);
  ctx.server.audit({
    event: "acl_setuser",
    outcome: "ok",
    client: ctx.session.addr,
    user: name,
    method: ctx.name,
    // How many rules, never which: a rule may carry a password hash.
    message: `acl_setuser ${name} (${rules.length} rules)`,
  });
  return OK;
}

async function deluser(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const names = args.map(utf8);
  const count = await ctx.server.userAdmin.remove(names);
  ctx.server.audit({
    event: "acl_deluser",
    outcome: "ok",
    client: ctx.session.addr,
    method: ctx.name,
    message: `acl_deluser ${names.join(" ")} (${count} removed)`,
  });
  return count;
}

function fieldReply(v: UserFieldValue): Reply {
  if (typeof v === "string") return v;
  return v.map((x) => (typeof x === "string" ? x : new MapReply(x.flat())));
}

function getuser(ctx: CommandContext, args: Buffer[]): Reply {
  const user = ctx.server.users.user(utf8(args[0]));
  if (user === undefined) return null;
  return new MapReply(getUserFields(user).flatMap(([k, v]) => [k, fieldReply(v)]));
}

function whoami(ctx: CommandContext): Reply {
  return userLabel(ctx.session);
}

function cat(_ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length === 0) return [...ALL_CATEGORIES];
  const names = commandsInCategory(utf8(args[0]), allCommands());
  if (names === undefined) return err(`Unknown category '${utf8(args[0])}'`);
  return names;
}

function log(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 1) return err("wrong number of arguments for 'acl|log' command");
  if (args.length === 1 && utf8(args[0]).toUpperCase() === "RESET") {
    ctx.server.aclLog.reset();
    return OK;
  }
  let count = 10;
  if (args.length === 1) {
    const s = utf8(args[0]);
    count = /^[0-9]{1,9}$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isInteger(count)) return err("value is out of range, must be positive");
  }
  return ctx.server.aclLog.reply(count, ctx.server.clock());
}

function genpassCommand(_ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length === 0) return genpass(DEFAULT_GENPASS_BITS);
  const s = utf8(args[0]);
  const bits = /^-?[0-9]{1,9}$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isInteger(bits)) return err("value is not an integer or out of range");
  return genpass(bits);
}

/** ACL DRYRUN user command [arg …]: would the user's rules let it run, and if not, why. */
function dryrun(ctx: CommandContext, args: Buffer[]): Reply {
  const name = utf8(args[0]);
  const rules = ctx.server.users.rulesOf(name);
  if (ctx.server.users.user(name) === undefined) return err(`User '${name}' not found`);
  const cmdName = utf8(args[1]);
  const top = find(cmdName);
  if (top === undefined) return err(`Command '${cmdName}' not found`);
  let entry = top;
  let rest = args.slice(2);
  if (top.subs !== null && rest.length > 0) {
    const sub = findSub(top, utf8(rest[0]));
    if (sub !== undefined) {
      entry = sub;
      rest = rest.slice(1);
    }
  }
  const arity = entry.spec.arity;
  const argc = args.length - 1;
  if (arity > 0 ? argc !== arity : argc < -arity) {
    return err(`wrong number of arguments for '${entry.traits.name.toLowerCase()}' command`);
  }
  // A user that is off can run nothing; its rules still say what it could.
  if (rules === undefined) return `User ${name} is disabled`;
  const spec = entry.spec;
  const channels: ChannelRef[] =
    spec.channels === undefined
      ? []
      : (spec.channels.last === 1 ? rest.slice(0, 1) : rest).map((channel) => ({
          channel,
          pattern: spec.channels?.patterns === true,
        }));
  // A subcommand's key positions count its own name (OBJECT ENCODING key: the key is at 2).
  const keyed = entry === top ? rest : [Buffer.from(spec.name), ...rest];
  const denial = rules.checkCommand(entry.traits.name, commandKeys(spec, keyed), channels);
  return denial === null ? OK : denialMessage(name, denial, true);
}

const HELP_LINES = [
  "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CAT [<category>]",
  "    List all commands that belong to <category>, or all command categories",
  "    when no category is specified.",
  "DELUSER <username> [<username> ...]",
  "    Delete a list of users.",
  "DRYRUN <username> <command> [<arg> ...]",
  "    Returns whether the user can execute the given command without executing the command.",
  "GETUSER <username>",
  "    Get the user's details.",
  "GENPASS [<bits>]",
  "    Generate a secure 256-bit user password. The optional `bits` argument can",
  "    be used to specify a different size.",
  "LIST",
  "    Show users details in config file format.",
  "LOG [<count> | RESET]",
  "    Show the ACL log entries.",
  "SETUSER <username> <attribute> [<attribute> ...]",
  "    Create or modify a user with the specified attributes.",
  "USERS",
  "    List all the registered usernames.",
  "WHOAMI",
  "    Return the current connection username.",
  "HELP",
  "    Print this help.",
];

const sub = subcommandsOf("server");

export const aclCommands: TableEntry[] = [
  {
    name: "ACL",
    group: "server",
    summary: "A container for Access List Control commands.",
    syntax: "subcommand [arg ...]",
    arity: -2,
    flags: [],
    scope: universal,
    subcommands: [
      sub("CAT", -2, "Lists the ACL categories, or the commands in one.", "[category]", cat),
      sub(
        "DELUSER",
        -3,
        "Deletes ACL users, and ends their connections.",
        "username [username ...]",
        deluser,
        ["admin"],
      ),
      sub(
        "DRYRUN",
        -4,
        "Says whether a user may run a command, without running it.",
        "username command [arg ...]",
        dryrun,
        ["admin"],
      ),
      sub("GENPASS", -2, "Generates a random password.", "[bits]", genpassCommand),
      sub("GETUSER", 3, "Lists the ACL rules of a user.", "username", (c, a) => getuser(c, a), [
        "admin",
      ]),
      sub(
        "LIST",
        2,
        "Dumps the users and their rules, one ACL SETUSER line each.",
        "",
        (c) => c.server.users.all().map((u) => describeUser(u)),
        ["admin"],
      ),
      sub(
        "LOG",
        -2,
        "Lists this node's recent ACL refusals, or clears them.",
        "[count | RESET]",
        log,
        ["admin"],
      ),
      sub(
        "SETUSER",
        -3,
        "Creates or changes a user and its rules.",
        "username [rule [rule ...]]",
        setuser,
        ["admin"],
      ),
      sub(
        "USERS",
        2,
        "Lists the names of all users.",
        "",
        (c) => c.server.users.all().map((u) => u.name),
        ["admin"],
      ),
      sub("WHOAMI", 2, "Returns the user of the current connection.", "", whoami),
      sub("HELP", 2, "Returns helpful text about the subcommands.", "", () =>
        HELP_LINES.map((l) => new Simple(l)),
      ),
    ],
  },
];
