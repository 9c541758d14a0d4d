/**
 * Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, READONLY, READWRITE and
 * CLIENT.
 *
 * SELECT and AUTH are where access control happens: a public instance grants ReadWrite, a
 * private one the permission of the presented access key (compared by SHA-256 hash), and DB0
 * opens read-only with the admin secret. Failures are audited and, after a few on the same
 * connection, answered more and more slowly so keys cannot be guessed at line rate.
 */
import { parseInteger } from "../../backends/kv/parse.ts";
import { MapReply, OK, PONG, type Reply, Simple, Verbatim } from "../../engine/reply.ts";
import { err, HeroError, syntaxError } from "../../errors.ts";
import type { Instance } from "../../instances/instance.ts";
import { hashAccessKey } from "../../security/access-keys.ts";
import { DEFAULT_USER_NAME } from "../../security/acl/user.ts";
import { failureDelayMs, hostOf } from "../../security/auth-throttle.ts";
import {
  type Access,
  ADMIN,
  ANONYMOUS,
  accessTo,
  type Principal,
  principalOf,
  sessionAccess,
} from "../../security/authorization.ts";
import type { CommandContext, TableEntry } from "../context.ts";
import type { Session } from "../session.ts";
import { clientInfoLine } from "./client-info.ts";

const universal = "universal" as const;

function authFailure(
  ctx: CommandContext,
  instance: number | undefined,
  key: string,
  reply: HeroError,
): Reply | Promise<Reply> {
  ctx.server.audit({
    event: "instance_auth_failure",
    client: ctx.session.addr,
    instance,
    keyHash: hashAccessKey(key),
    method: ctx.name,
    outcome: "denied",
  });
  return slowed(ctx, reply, []);
}

/**
 * A failed authentication's reply, later and later: counted per connection, per client address
 * and per `more` (a user name), so neither reconnecting nor moving between addresses resets the
 * delay for a guessed user.
 */
function slowed(ctx: CommandContext, reply: HeroError, more: string[]): Reply | Promise<Reply> {
  const s = ctx.session;
  s.authFailures++;
  const now = ctx.server.clock();
  let worst = Math.max(s.authFailures, ctx.server.authThrottle.fail(hostOf(s.addr), now));
  for (const m of more) worst = Math.max(worst, ctx.server.authThrottle.fail(m, now));
  const delay = failureDelayMs(worst);
  if (delay === 0) return reply;
  return new Promise((r) => setTimeout(() => r(reply), delay));
}

const wrongPass = (): HeroError =>
  new HeroError("WRONGPASS", "invalid username-password pair or user is disabled.");

/** The session's access to `inst` with `key` presented (or none). */
function permissionFor(ctx: CommandContext, inst: Instance, key: string | null): Access {
  const s = ctx.session;
  return sessionAccess(ctx.server, inst, s.principal, s.rules, key);
}

function select(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
  const s = ctx.session;
  let index: number;
  try {
    index = parseInteger(args[0]);
  } catch {
    return err("invalid instance index: use an integer from LIST");
  }
  let key: string | null = null;
  if (args.length === 3 && args[1].toString("latin1").toUpperCase() === "KEY") {
    key = args[2].toString("utf8");
  } else if (args.length !== 1) {
    return syntaxError();
  }
  key ??= s.presentedKey;
  const inst = index === 0 ? ctx.server.db0View() : ctx.server.instance(index);
  if (inst === undefined && ctx.server.awaitInstance !== undefined) {
    return ctx.server.awaitInstance(index).then((later) => selectOn(ctx, index, later, key));
  }
  return selectOn(ctx, index, inst, key);
}

function selectOn(
  ctx: CommandContext,
  index: number,
  inst: Instance | undefined,
  key: string | null,
): Reply | Promise<Reply> {
  const s = ctx.session;
  if (inst === undefined) return new HeroError("NOINSTANCE", `no such instance: ${index}`);
  if (s.subscriptionCount > 0 && s.instance !== inst) {
    return err("cannot change instance while subscribed: UNSUBSCRIBE first");
  }
  const perm = permissionFor(ctx, inst, key);
  if (perm === "none") {
    if (
      key === null &&
      index !== 0 &&
      s.rules?.instanceAccess(index, inst.record.name) === "none"
    ) {
      // A `db:` rule closed it: asking for an access key (below) would mislead.
      return new HeroError(
        "NOPERM",
        `User ${s.rules.name} has no permissions to access instance ${index}`,
      );
    }
    if (key === null) {
      return new HeroError(
        "NOAUTH",
        index === 0
          ? "DB0 needs the admin secret: SELECT 0 KEY <admin-secret>"
          : `instance ${index} is private: SELECT ${index} KEY <access-key>`,
      );
    }
    return authFailure(ctx, index, key, wrongPass());
  }
  if (s.instance !== inst) {
    s.unwatchAll();
    s.tx = null;
  }
  s.instance = inst;
  s.perm = perm;
  s.selectKey = key;
  // Who the session is comes from AUTH; presenting the admin secret to SELECT proves it too, and
  // an access key makes an anonymous session that key's holder, as AUTH <key> would (ACL rules,
  // e.g. a default user that wants a password, do not narrow a key).
  if (key !== null && ctx.server.checkAdminSecret(key)) becomeKeyHolder(s, ADMIN);
  else if (key !== null && s.principal.kind === "anonymous") {
    if (ctx.server.checkAccessKey(index, key) !== null) becomeKeyHolder(s, { kind: "key", key });
  }
  s.authFailures = 0;
  return OK;
}

/**
 * AUTH [username] password. Without a user name (or as `default`), the admin secret and access
 * keys work as they always have; anything else is a user's password (the default user's when
 * no name is given, as in Redis).
 */
function auth(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
  if (args.length > 2) return syntaxError();
  const password = args[args.length - 1].toString("utf8");
  const name = args.length === 2 ? args[0].toString("utf8") : DEFAULT_USER_NAME;
  if (name === DEFAULT_USER_NAME && knownKey(ctx, password)) return authByKey(ctx, password);
  // A nopass default user takes any password in Redis; here an unknown one is refused, as it
  // always was: it is most likely a mistyped or revoked access key.
  if (name === DEFAULT_USER_NAME && ctx.server.users.user(name)?.nopass !== false) {
    return authFailure(ctx, ctx.session.instance?.index, password, wrongPass());
  }
  return authUser(ctx, name, password);
}

/** AUTH with the admin secret or an access key. */
function authByKey(ctx: CommandContext, key: string): Reply | Promise<Reply> {
  const s = ctx.session;
  const inst = s.instance;
  const principal = principalOf(ctx.server, key);
  if (inst !== null) {
    const perm = accessTo(ctx.server, inst, principal);
    if (perm === "none") return authFailure(ctx, inst.index, key, wrongPass());
    s.perm = perm;
    s.selectKey = key;
  }
  s.presentedKey = key;
  becomeKeyHolder(s, principal);
  s.authFailures = 0;
  return OK;
}

/** The session now speaks as the admin or an access key: no ACL rules apply to it. */
function becomeKeyHolder(s: Session, principal: Principal): void {
  s.principal = principal;
  s.rules = null;
}

/** AUTH as an ACL user: after this node's catalog has caught up, checked against its passwords. */
async function authUser(ctx: CommandContext, name: string, password: string): Promise<Reply> {
  // A user just created or changed through another node must be known here first.
  await ctx.server.catalogBarrier()?.catch(() => undefined);
  const users = ctx.server.users;
  const s = ctx.session;
  if (!(await users.authenticate(name, password))) {
    ctx.server.aclLog.add(
      {
        reason: "auth",
        context: "toplevel",
        object: "AUTH",
        username: name,
        clientInfo: clientInfoLine(s),
      },
      ctx.server.clock(),
    );
    ctx.server.audit({
      event: "auth_failure",
      client: s.addr,
      user: name,
      method: ctx.name,
      outcome: "denied",
    });
    return slowed(ctx, wrongPass(), [`user:${name}`]);
  }
  s.principal = { kind: "user", name, passworded: users.hasPassword(name) };
  s.rules = users.rulesOf(name) ?? null;
  s.rulesVersion = users.version;
  s.presentedKey = null;
  s.authFailures = 0;
  const inst = s.instance;
  if (inst !== null) {
    const perm = sessionAccess(ctx.server, inst, s.principal, s.rules, s.selectKey);
    if (perm === "none") s.deselect();
    else s.perm = perm;
  }
  ctx.server.audit({ event: "auth", client: s.addr, user: name, method: ctx.name, outcome: "ok" });
  return OK;
}

/** True when key is the admin secret or an access key of some instance. */
function knownKey(ctx: CommandContext, key: string): boolean {
  if (ctx.server.checkAdminSecret(key)) return true;
  return ctx.server.records().some((r) => ctx.server.checkAccessKey(r.index, key) !== null);
}

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

function sub(
  name: string,
  arity: number,
  summary: string,
  syntax: string,
  run: (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>,
  flags: TableEntry["flags"] = [],
): TableEntry {
  return { name, group: "connection", summary, syntax, arity, flags, scope: universal, run };
}

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
  {
    name: "AUTH",
    group: "connection",
    summary:
      "Authenticates: an ACL user's name and password, or an access key (or the admin secret) for the selected or next instance.",
    syntax: "[username] password",
    arity: -2,
    flags: ["fast", "no-auth"],
    scope: universal,
    run: auth,
  },
  {
    name: "SELECT",
    group: "connection",
    summary: "Selects an instance by index; private instances need KEY, DB0 the admin secret.",
    syntax: "index [KEY key]",
    arity: -2,
    flags: ["fast"],
    scope: universal,
    run: select,
  },
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
