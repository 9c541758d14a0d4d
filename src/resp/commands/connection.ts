/**
 * Connection commands: PING, ECHO, HELLO, QUIT, RESET, READONLY, READWRITE and CLIENT, with AUTH
 * and SELECT (./auth.ts, where access control happens) in their place among them.
 */
import { parseInteger } from "../../backends/kv/parse.ts";
import { MapReply, OK, PONG, type Reply, Simple, Verbatim } from "../../engine/reply.ts";
import { err, HeroError, syntaxError } from "../../errors.ts";
import { ANONYMOUS } from "../../security/authorization.ts";
import type { CommandContext, TableEntry } from "../context.ts";
import { auth, authCommands } from "./auth.ts";
import { clientInfoLine } from "./client-info.ts";
import { subcommandsOf } from "./subcommand.ts";

const universal = "universal" as const;
const sub = subcommandsOf("connection");

function hello(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
  const s = ctx.session;
  let proto = s.proto;
  let i = 0;
  if (args.length > 0) {
    let v: number;
    try {
      v = parseInteger(args[0]);
    } catch {
      return err("Protocol version is not an integer or out of range");
    }
    if (v !== 2 && v !== 3) return new HeroError("NOPROTO", "unsupported protocol version");
    proto = v;
    i = 1;
  }
  let name: string | null = null;
  let authArgs: Buffer[] | null = null;
  for (; i < args.length; i++) {
    const opt = args[i].toString("latin1").toUpperCase();
    if (opt === "AUTH" && i + 2 < args.length) {
      authArgs = [args[i + 1], args[i + 2]];
      i += 2;
    } else if (opt === "SETNAME" && i + 1 < args.length) {
      name = args[++i].toString("utf8");
    } else {
      return err(`Syntax error in HELLO option '${args[i].toString("latin1")}'`);
    }
  }
  const finish = (): Reply => {
    s.proto = proto;
    if (name !== null) s.name = name;
    return new MapReply([
      "server",
      "herodb",
      "version",
      ctx.server.version,
      "proto",
      proto,
      "id",
      s.id,
      "mode",
      "standalone",
      "role",
      "master",
      "modules",
      [],
    ]);
  };
  if (
    authArgs === null &&
    ctx.session.principal.kind === "anonymous" &&
    ctx.session.rules === null &&
    ctx.server.users.defaultNeedsAuth()
  ) {
    return new HeroError(
      "NOAUTH",
      "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    );
  }
  if (authArgs !== null) {
    const r = auth(ctx, authArgs);
    if (r instanceof Promise) return r.then((x) => (x instanceof HeroError ? x : finish()));
    if (r instanceof HeroError) return r;
  }
  return finish();
}

function reset(ctx: CommandContext): Reply {
  const s = ctx.session;
  if (s.instance !== null) ctx.server.pubsub.dropSession(s, s.instance.index);
  s.deselect();
  s.multi = null;
  s.multiFailed = false;
  s.proto = 2;
  s.name = null;
  s.encKey = null;
  s.presentedKey = null;
  s.principal = ANONYMOUS;
  s.rules = null;
  s.rulesVersion = -1;
  s.readOnlyReplica = false;
  return new Simple("RESET");
}

const NAME_OK = /^[\x21-\x7e]*$/;

const clientSubcommands: TableEntry[] = [
  sub("ID", 2, "Returns the unique client ID of the connection.", "", (ctx) => ctx.session.id),
  sub("GETNAME", 2, "Returns the name of the connection.", "", (ctx) => ctx.session.name),
  sub("SETNAME", 3, "Sets the connection name.", "connection-name", (ctx, a) => {
    const name = a[0].toString("utf8");
    if (!NAME_OK.test(name)) {
      return err("Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.session.name = name === "" ? null : name;
    return OK;
  }),
  sub(
    "SETINFO",
    4,
    "Sets information specific to the client library.",
    "<LIB-NAME libname | LIB-VER libver>",
    (ctx, a) => {
      const attr = a[0].toString("latin1").toUpperCase();
      const v = a[1].toString("utf8");
      if (!NAME_OK.test(v))
        return err(`${attr} cannot contain spaces, newlines or special characters.`);
      if (attr === "LIB-NAME") ctx.session.libName = v;
      else if (attr === "LIB-VER") ctx.session.libVersion = v;
      else return err(`Unrecognized option '${a[0].toString("latin1")}'`);
      return OK;
    },
  ),
  sub(
    "INFO",
    2,
    "Returns information about the connection.",
    "",
    (ctx) => new Verbatim(`${clientInfoLine(ctx.session)}\n`),
  ),
  sub(
    "LIST",
    -2,
    "Lists open connections.",
    "[TYPE NORMAL | PUBSUB] [ID client-id ...]",
    (ctx, a) => {
      let sessions = ctx.server.sessions();
      for (let i = 0; i < a.length; i++) {
        const opt = a[i].toString("latin1").toUpperCase();
        if (opt === "TYPE" && i + 1 < a.length) {
          const t = a[++i].toString("latin1").toLowerCase();
          if (t === "pubsub") sessions = sessions.filter((x) => x.subscriptionCount > 0);
          else if (t === "normal") sessions = sessions.filter((x) => x.subscriptionCount === 0);
          else if (t !== "master" && t !== "replica") return err(`Unknown client type '${t}'`);
          else sessions = [];
        } else if (opt === "ID") {
          const ids = new Set(a.slice(i + 1).map((x) => Number(x.toString())));
          sessions = sessions.filter((x) => ids.has(x.id));
          break;
        } else return syntaxError();
      }
      return new Verbatim(sessions.map((x) => `${clientInfoLine(x)}\n`).join(""));
    },
    ["dangerous"],
  ),
  sub(
    "KILL",
    -3,
    "Terminates open connections of this server's clients.",
    "ID client-id | ip:port",
    (ctx, a) => {
      // An admin command (its table flags say so): the dispatcher has checked the principal.
      const target =
        a.length === 2 && a[0].toString().toUpperCase() === "ID" ? Number(a[1].toString()) : null;
      const addr = a.length === 1 ? a[0].toString() : null;
      const victims = ctx.server
        .sessions()
        .filter((x) => (target !== null ? x.id === target : x.addr === addr));
      for (const v of victims) v.close();
      if (addr !== null) return victims.length > 0 ? OK : err("No such client");
      return victims.length;
    },
    ["admin", "dangerous"],
  ),
  sub(
    "NO-EVICT",
    3,
    "Sets the client eviction mode (accepted; nothing is evicted).",
    "ON | OFF",
    () => OK,
  ),
  sub(
    "NO-TOUCH",
    3,
    "Controls whether commands alter keys' access time (accepted).",
    "ON | OFF",
    () => OK,
  ),
  sub(
    "MAINT_NOTIFICATIONS",
    -2,
    "Maintenance notifications opt-in sent by node-redis (accepted; this server sends none).",
    "[ON | OFF] [option value ...]",
    () => OK,
  ),
  sub("HELP", 2, "Returns helpful text about the different subcommands.", "", () => [
    "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
    "ID, GETNAME, SETNAME <name>, SETINFO <attr> <value>, INFO, LIST [TYPE t] [ID id ...],",
    "KILL ID <id> | KILL <ip:port>, NO-EVICT, NO-TOUCH, HELP",
  ]),
];

export const connectionCommands: TableEntry[] = [
  {
    name: "PING",
    group: "connection",
    summary: "Returns the server's liveliness response.",
    syntax: "[message]",
    arity: -1,
    flags: ["fast"],
    scope: universal,
    run: (ctx, args) => {
      if (args.length > 1) return err("wrong number of arguments for 'ping' command");
      if (ctx.session.proto === 2 && ctx.session.subscriptionCount > 0) {
        return [Buffer.from("pong"), args[0] ?? Buffer.alloc(0)];
      }
      return args.length === 1 ? args[0] : PONG;
    },
  },
  {
    name: "ECHO",
    group: "connection",
    summary: "Returns the given string.",
    syntax: "message",
    arity: 2,
    flags: ["fast"],
    scope: universal,
    run: (_ctx, args) => args[0],
  },
  {
    name: "HELLO",
    group: "connection",
    summary: "Handshakes with the server: protocol version (2 or 3), optional AUTH and SETNAME.",
    syntax: "[protover [AUTH username password] [SETNAME clientname]]",
    arity: -1,
    flags: ["fast", "no-auth"],
    scope: universal,
    run: hello,
  },
  ...authCommands,
  {
    name: "QUIT",
    group: "connection",
    summary: "Closes the connection after replying.",
    syntax: "",
    arity: -1,
    flags: ["fast", "immediate", "no-auth"],
    scope: universal,
    run: (ctx) => {
      ctx.session.close();
      return OK;
    },
  },
  {
    name: "RESET",
    group: "connection",
    summary: "Resets the connection: deselects, discards MULTI, unwatches, unsubscribes, RESP2.",
    syntax: "",
    arity: 1,
    flags: ["fast", "immediate", "no-auth"],
    scope: universal,
    run: reset,
  },
  {
    name: "READONLY",
    group: "cluster",
    summary:
      "Serves this connection's reads from the node it is connected to, possibly stale, without asking the leader.",
    syntax: "",
    arity: 1,
    flags: ["fast"],
    scope: universal,
    run: (ctx) => {
      ctx.session.readOnlyReplica = true;
      return OK;
    },
  },
  {
    name: "READWRITE",
    group: "cluster",
    summary: "Makes this connection's reads linearizable again (the default).",
    syntax: "",
    arity: 1,
    flags: ["fast"],
    scope: universal,
    run: (ctx) => {
      ctx.session.readOnlyReplica = false;
      return OK;
    },
  },
  {
    name: "CLIENT",
    group: "connection",
    summary: "A container for client connection commands.",
    syntax: "subcommand [arg ...]",
    arity: -2,
    flags: [],
    scope: universal,
    subcommands: clientSubcommands,
  },
];
