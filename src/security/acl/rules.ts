/**
 * ACL SETUSER's rule grammar, in two steps because a rule list becomes a replicated change:
 *
 *  - prepareRules runs once, on the node that received the command. It checks every rule
 *    (including that named commands and categories exist), joins "(…)" selectors split over
 *    several arguments, and removes plain-text passwords: `>pass` becomes `#<stored form>` with
 *    a fresh salt (or the existing form when the password is already set, so repeating it does
 *    not pile up copies), `<pass` becomes `!<stored form>` for each stored form it matches. What
 *    comes out is itself a valid rule list with no secret in it, safe to log and replicate.
 *  - applyRules runs on every node, in log order, and must give the same user everywhere: it is
 *    pure (no randomness, no clock, no command table) and returns a new user, or throws without
 *    changing anything.
 *
 * Rules apply left to right, as in Redis; user-level ones are handled here, key/channel/command
 * ones in ./selector-rules.ts. `db:<pattern>=R|RW|none` and `resetdbs` are this server's own:
 * which instances the user may select, and how (see ./user.ts).
 */
import { HeroError } from "../../errors.ts";
import { displayForm, hashPassword, storedFormOf, verifyPasswordSync } from "./scram.ts";
import {
  applySelectorRule,
  checkCommandRule,
  isCommandRule,
  RuleFault,
  SYNTAX,
} from "./selector-rules.ts";
import { type AclUser, cloneUser, emptySelector, type InstanceAccess, newUser } from "./user.ts";

const NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist";
const BAD_HASH =
  "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";

const ACCESS: Readonly<Record<string, InstanceAccess>> = {
  r: "read",
  rw: "readwrite",
  none: "none",
};

/**
 * How a rule is quoted in an error. Redis echoes the rule; a password rule (or whatever follows
 * one inside a selector) is masked instead, so no secret reaches a reply or a log.
 */
function shown(op: string): string {
  if (op.startsWith(">") || op.startsWith("<")) return `${op[0]}***`;
  const tokens = op.split(/(\s+)/);
  const at = tokens.findIndex((t) => /^\(?[<>]/.test(t));
  if (at < 0) return op;
  return `${tokens.slice(0, at).join("")}${tokens[at].startsWith("(") ? "(" : ""}***`;
}

function modifierError(op: string, message: string): HeroError {
  return new HeroError("ERR", `Error in ACL SETUSER modifier '${shown(op)}': ${message}`);
}

/**
 * Joins a "(…)" selector given over several arguments ("(~b*", "+set)") into one, with single
 * spaces, as Redis does; throws when a "(" is never closed.
 */
export function mergeSelectorArgs(rules: readonly string[]): string[] {
  const out: string[] = [];
  let open: string[] | null = null;
  let start = "";
  for (const r of rules) {
    if (open !== null) {
      open.push(r);
      if (r.endsWith(")")) {
        out.push(open.join(" "));
        open = null;
      }
    } else if (r.startsWith("(") && !r.endsWith(")")) {
      open = [r];
      start = r;
    } else {
      out.push(r);
    }
  }
  if (open !== null) {
    throw new HeroError(
      "ERR",
      `Unmatched parenthesis in acl selector starting at '${shown(start)}'.`,
    );
  }
  return out;
}

/** The rules inside a "(…)" selector. */
function selectorBody(op: string): string[] {
  if (!op.endsWith(")") || op.length < 2) throw new RuleFault(SYNTAX);
  return op
    .slice(1, -1)
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

function applyInstanceRule(user: AclUser, op: string): void {
  const rest = op.slice(3);
  const eq = rest.lastIndexOf("=");
  const access = ACCESS[rest.slice(eq + 1).toLowerCase()];
  if (eq <= 0 || access === undefined) throw new RuleFault(SYNTAX);
  const pattern = rest.slice(0, eq);
  user.instances = user.instances.filter((r) => r.pattern !== pattern);
  user.instances.push({ pattern, access });
}

/** Applies one prepared rule to `user` in place (throws RuleFault). */
function applyOne(user: AclUser, op: string): void {
  const lower = op.toLowerCase();
  switch (lower) {
    case "on":
      user.enabled = true;
      return;
    case "off":
      user.enabled = false;
      return;
    case "nopass":
      user.nopass = true;
      user.passwords = [];
      return;
    case "resetpass":
      user.nopass = false;
      user.passwords = [];
      return;
    case "reset": {
      const fresh = newUser(user.name);
      Object.assign(user, fresh);
      return;
    }
    case "clearselectors":
      user.selectors = [];
      return;
    case "resetdbs":
      user.instances = [];
      return;
    case "sanitize-payload":
    case "skip-sanitize-payload":
      return; // accepted for compatibility: this server has no RESTORE payloads to sanitize
  }
  switch (op[0]) {
    case ">":
    case "<":
      // Plain passwords never get past prepareRules; meeting one means the caller skipped it.
      throw new RuleFault("plain-text password in rules that were not prepared");
    case "#": {
      const stored = storedFormOf(op.slice(1));
      if (stored === null) throw new RuleFault(BAD_HASH);
      if (!user.passwords.includes(stored)) user.passwords.push(stored);
      user.nopass = false;
      return;
    }
    case "!": {
      const stored = storedFormOf(op.slice(1));
      if (stored === null) throw new RuleFault(BAD_HASH);
      if (!user.passwords.includes(stored)) throw new RuleFault(NO_SUCH_PASSWORD);
      user.passwords = user.passwords.filter((p) => p !== stored);
      return;
    }
    case "(": {
      const sel = emptySelector();
      for (const r of selectorBody(op)) applySelectorRule(sel, r);
      user.selectors.push(sel);
      return;
    }
  }
  if (lower.startsWith("db:")) applyInstanceRule(user, op);
  else applySelectorRule(user.root, op);
}

/**
 * The rules as they are replicated: checked, selectors joined, plain passwords replaced (see the
 * file comment). `current` is the user as it is now (undefined: ACL SETUSER creates it).
 * `knownCommand` gets names like "GET" or "CLIENT|KILL", `knownCategory` names like "read".
 * Throws HeroError("ERR", "Error in ACL SETUSER modifier '…': …") for the first bad rule.
 */
export function prepareRules(
  rules: readonly string[],
  current: AclUser | undefined,
  knownCommand: (name: string) => boolean,
  knownCategory: (category: string) => boolean,
): string[] {
  const merged = mergeSelectorArgs(rules);
  // Applying as we go shows every error now, and gives `>`/`<` the passwords at their point.
  const sim = current === undefined ? newUser("") : cloneUser(current);
  const out: string[] = [];
  for (const op of merged) {
    try {
      const tokens = prepareOne(op, sim, knownCommand, knownCategory);
      for (const t of tokens) applyOne(sim, t);
      out.push(...tokens);
    } catch (e) {
      if (e instanceof RuleFault) throw modifierError(op, e.message);
      throw e;
    }
  }
  return out;
}

function prepareOne(
  op: string,
  sim: AclUser,
  knownCommand: (name: string) => boolean,
  knownCategory: (category: string) => boolean,
): string[] {
  if (op.startsWith(">")) {
    const password = op.slice(1);
    const existing = sim.passwords.find((s) => verifyPasswordSync(s, password));
    return [`#${displayForm(existing ?? hashPassword(password))}`];
  }
  if (op.startsWith("<")) {
    const password = op.slice(1);
    const matching = sim.passwords.filter((s) => verifyPasswordSync(s, password));
    if (matching.length === 0) throw new RuleFault(NO_SUCH_PASSWORD);
    return matching.map((s) => `!${displayForm(s)}`);
  }
  if (op.startsWith("(")) {
    const body = selectorBody(op);
    for (const r of body) if (isCommandRule(r)) checkCommandRule(r, knownCommand, knownCategory);
    return [`(${body.join(" ")})`];
  }
  if (isCommandRule(op)) checkCommandRule(op, knownCommand, knownCategory);
  return [op];
}

/**
 * `user` with prepared rules applied, as a new user (the argument is not changed). Pure and
 * deterministic; throws HeroError (and changes nothing) when a rule cannot apply, e.g. a
 * password removed meanwhile by another change.
 */
export function applyRules(user: AclUser, prepared: readonly string[]): AclUser {
  const next = cloneUser(user);
  for (const op of prepared) {
    try {
      applyOne(next, op);
    } catch (e) {
      if (e instanceof RuleFault) throw modifierError(op, e.message);
      throw e;
    }
  }
  return next;
}
