/**
 * AUTH and SELECT: where a connection says who it is and which instance it uses.
 *
 * AUTH takes an ACL user's name and password, or (without a name, or as `default`) the admin
 * secret or an access key. SELECT opens an instance: a public instance grants ReadWrite, a private
 * one the permission of the presented access key (compared by SHA-256 hash) or of a user's `db:`
 * rule, and DB0 opens read-only with the admin secret. Failures are audited and, after a few,
 * answered more and more slowly (per connection, client address and user name) so neither keys
 * nor passwords can be guessed at line rate.
 */
import { parseInteger } from "../../backends/kv/parse.ts";
import { OK, type Reply } from "../../engine/reply.ts";
import { err, HeroError, syntaxError } from "../../errors.ts";
import type { Instance } from "../../instances/instance.ts";
import { hashAccessKey } from "../../security/access-keys.ts";
import { DEFAULT_USER_NAME } from "../../security/acl/user.ts";
import { failureDelayMs, hostOf } from "../../security/auth-throttle.ts";
import {
  type Access,
  ADMIN,
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
export function auth(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
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

export const authCommands: TableEntry[] = [
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
];
