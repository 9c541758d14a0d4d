/**
 * The ACL gate: whether a session's user may run a command, with these keys and channels,
 * decided before the command runs or is queued (and again when EXEC runs it).
 *
 * Whose rules: an ACL user's (AUTH name password), or, for a connection that has not
 * authenticated, the built-in `default` user's. The admin secret and access keys are
 * credentials of their own (root, and one instance's key) that ACL rules do not narrow.
 *
 * Rules change through the catalog on every node; a session notices on its next command (the
 * users' version moved) and takes its user as it now is: a user removed or switched off ends
 * the connection, as in Redis. The pipelined hot path pays one comparison and one flag read
 * while the default user allows everything, which it does on a fresh server.
 *
 * A refusal is answered with NOPERM, added to ACL LOG and written to the audit log; before
 * authenticating, when the default user is off or has a password, a connection gets NOAUTH for
 * anything but AUTH, HELLO, QUIT, RESET and SELECT with an access key.
 */
import { type CommandKey, commandKeys } from "../engine/command-keys.ts";
import { HeroError } from "../errors.ts";
import { type ChannelRef, type Denial, denialMessage, type KeyRef } from "../security/acl/check.ts";
import { DEFAULT_USER_NAME } from "../security/acl/user.ts";
import { sessionAccess } from "../security/authorization.ts";
import { clientInfoLine } from "./commands/client-info.ts";
import type { ServerApi } from "./context.ts";
import type { QueuedCommand, Session } from "./session.ts";

const NO_KEYS: readonly CommandKey[] = [];
const NO_CHANNELS: readonly ChannelRef[] = [];
/**
 * What full-text commands touch: an index reaches every hash its prefixes match, which no key
 * pattern bounds, so a user needs every key (`allkeys`) to use them.
 */
const ANY_KEY: readonly KeyRef[] = [{ key: Buffer.from("*"), access: "both", all: true }];

/** Null when the session may run `r`; otherwise the error to answer. */
export function aclDenial(server: ServerApi, session: Session, r: QueuedCommand): HeroError | null {
  const kind = session.principal.kind;
  if (kind === "admin" || kind === "key") return null;
  if (session.rulesVersion !== server.users.version) {
    const gone = refreshRules(server, session);
    if (gone !== null) return gone;
  }
  const rules = session.rules;
  if (rules?.unrestricted === true || r.traits.noAuth) return null;
  if (rules === null) {
    // Only an anonymous session gets here: the default user is off or wants a password.
    if (r.name === "SELECT" && r.args.length === 3) return null; // SELECT n KEY <access key>
    return new HeroError("NOAUTH", "Authentication required.");
  }
  const keys =
    r.spec.group === "fulltext"
      ? ANY_KEY
      : r.spec.keys === undefined
        ? NO_KEYS
        : commandKeys(r.spec, keyArgs(r));
  const channels = r.spec.channels === undefined ? NO_CHANNELS : channelsOf(r);
  const denial = rules.checkCommand(r.name, keys, channels);
  if (denial === null) return null;
  recordDenial(server, session, r, rules.name, denial);
  return new HeroError("NOPERM", denialMessage(rules.name, denial, false));
}

/**
 * The arguments key positions count from: a subcommand's entry counts its own name as position 1
 * (OBJECT ENCODING key: the key is at 2), which resolving took off.
 */
export function keyArgs(r: QueuedCommand): Buffer[] {
  return r.name.includes("|") ? [Buffer.from(r.spec.name), ...r.args] : r.args;
}

/** The channels a pub/sub command names (its table entry says where). */
function channelsOf(r: QueuedCommand): ChannelRef[] {
  const c = r.spec.channels!;
  const names = c.last === 1 ? r.args.slice(0, 1) : r.args;
  const pattern = c.patterns === true;
  return names.map((channel) => ({ channel, pattern }));
}

/**
 * Takes the session's user as the catalog now has it. Returns an error when the user is gone
 * or off (the connection then closes, as Redis disconnects a deleted user's clients).
 */
function refreshRules(server: ServerApi, session: Session): HeroError | null {
  const users = server.users;
  session.rulesVersion = users.version;
  const p = session.principal;
  if (p.kind === "user") {
    const rules = users.rulesOf(p.name);
    if (rules === undefined) {
      session.rules = null;
      session.close();
      return new HeroError("NOAUTH", `user ${p.name} was removed or disabled`);
    }
    session.rules = rules;
    const passworded = users.hasPassword(p.name);
    if (passworded !== p.passworded) session.principal = { ...p, passworded };
  } else {
    session.rules = users.defaultNeedsAuth() ? null : (users.rulesOf(DEFAULT_USER_NAME) ?? null);
  }
  // `db:` rules may have changed this session's access to its instance.
  const inst = session.instance;
  if (inst !== null && inst.index !== 0) {
    const perm = sessionAccess(server, inst, session.principal, session.rules, session.selectKey);
    if (perm === "none") session.deselect();
    else session.perm = perm;
  }
  return null;
}

function recordDenial(
  server: ServerApi,
  session: Session,
  r: QueuedCommand,
  user: string,
  d: Denial,
): void {
  const now = server.clock();
  server.aclLog.add(
    {
      reason: d.reason,
      context: session.multi !== null ? "multi" : "toplevel",
      object: d.object,
      username: user,
      clientInfo: clientInfoLine(session),
    },
    now,
  );
  server.audit({
    event: "acl_denied",
    outcome: "denied",
    client: session.addr,
    user,
    method: r.name,
    instance: session.instance?.index,
    // The reason and the command only: key and channel names stay out of the audit trail.
    message: `acl_denied ${r.name} ${d.reason}`,
  });
}

/**
 * After the users changed (on this node, in log order): ends the connections Redis would end
 * now rather than at their next command, because a subscribed or blocked client may send none:
 * a user's connections when the user is gone or off, and a connection subscribed to a channel
 * or pattern its rules no longer allow.
 */
export function sweepSessions(server: ServerApi): void {
  const users = server.users;
  for (const s of server.sessions()) {
    const p = s.principal;
    if (p.kind === "admin" || p.kind === "key" || s.closed) continue;
    const rules =
      p.kind === "user"
        ? users.rulesOf(p.name)
        : users.defaultNeedsAuth()
          ? undefined
          : users.rulesOf(DEFAULT_USER_NAME);
    let end = rules === undefined && (p.kind === "user" || s.subscriptionCount > 0);
    if (!end && rules !== undefined && !rules.unrestricted && s.subscriptionCount > 0) {
      const subscribed: ChannelRef[] = [
        ...[...s.channels].map((c) => ({ channel: Buffer.from(c, "latin1"), pattern: false })),
        ...[...s.patterns].map((c) => ({ channel: Buffer.from(c, "latin1"), pattern: true })),
      ];
      end = subscribed.some(
        (c) => rules.checkCommand(c.pattern ? "PSUBSCRIBE" : "SUBSCRIBE", NO_KEYS, [c]) !== null,
      );
    }
    if (end) {
      s.cancelBlock?.();
      s.close();
    }
  }
}
