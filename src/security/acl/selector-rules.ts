/**
 * The rules of ACL SETUSER that act on a selector: keys (`~p`, `%R~p`, `%W~p`, `%RW~p`,
 * `allkeys`, `resetkeys`), channels (`&p`, `allchannels`, `resetchannels`) and commands (`+get`,
 * `-client|kill`, `+@read`, `allcommands`, `nocommands`). They are valid both outside
 * parentheses (the root selector) and inside a "(…)" selector; ./rules.ts handles the rest.
 *
 * Command rules are kept as Redis 7 keeps them so ACL LIST shows what Redis would: an ordered
 * list after a "+@all"/"-@all" base, where a new rule first drops the earlier rule for the same
 * command or category (and, for a whole command, its subcommands' rules) and is then appended.
 * Since the last matching rule decides, dropping those changes nothing but the description.
 * Whether a command or category exists is checked once, when rules are prepared (./rules.ts):
 * applying replicated rules must not depend on what this node's command table holds.
 */
import type { AclSelector, KeyPerm } from "./user.ts";

/** A rule that cannot apply; ./rules.ts puts it in Redis's "Error in ACL SETUSER modifier" form. */
export class RuleFault extends Error {}

export const SYNTAX = "Syntax error";
export const UNKNOWN = "Unknown command or category name in ACL";
export const FIRST_ARG = "Allowing first-arg of a subcommand is not supported";
const AFTER_ALLKEYS =
  "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const AFTER_ALLCHANNELS =
  "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";

/** Whitespace or NUL, which Redis refuses in key and channel patterns. */
const SPACE = /[\s\0]/;

/** Whether `op` is a command rule (`+…`/`-…`, `allcommands`, `nocommands`). */
export function isCommandRule(op: string): boolean {
  const lower = op.toLowerCase();
  return op[0] === "+" || op[0] === "-" || lower === "allcommands" || lower === "nocommands";
}

/**
 * Throws unless a command rule names a command, subcommand or category that exists. Names are
 * handed to `knownCommand` upper case, subcommands as "CLIENT|KILL" (the table's dispatch names),
 * categories to `knownCategory` lower case without the `@`.
 */
export function checkCommandRule(
  op: string,
  knownCommand: (name: string) => boolean,
  knownCategory: (category: string) => boolean,
): void {
  if (op[0] !== "+" && op[0] !== "-") return;
  const body = op.slice(1);
  if (body.startsWith("@")) {
    const cat = body.slice(1).toLowerCase();
    if (cat !== "all" && !knownCategory(cat)) throw new RuleFault(UNKNOWN);
    return;
  }
  const parts = body.toUpperCase().split("|");
  if (parts.some((p) => p.length === 0)) throw new RuleFault(body ? SYNTAX : UNKNOWN);
  if (parts.length > 2) {
    throw new RuleFault(knownCommand(`${parts[0]}|${parts[1]}`) ? FIRST_ARG : UNKNOWN);
  }
  if (!knownCommand(parts.join("|"))) throw new RuleFault(UNKNOWN);
}

/** Applies one command rule to the ordered list (see the file comment). */
function applyCommandRule(sel: AclSelector, allow: boolean, body: string): void {
  const rule = body.toLowerCase();
  if (rule.length === 0) throw new RuleFault(SYNTAX);
  const sign = allow ? "+" : "-";
  if (rule === "@all") {
    sel.commands = [`${sign}@all`];
    return;
  }
  const kept = sel.commands.filter((c, i) => {
    if (i === 0) return true;
    const old = c.slice(1);
    return old !== rule && !old.startsWith(`${rule}|`);
  });
  kept.push(sign + rule);
  sel.commands = kept;
}

/** The rights and glob of a `~p` / `%R~p` / `%W~p` / `%RW~p` rule. */
function parseKeyRule(op: string): { perm: KeyPerm; pattern: string } {
  if (op[0] === "~") return { perm: "RW", pattern: op.slice(1) };
  let read = false;
  let write = false;
  let i = 1;
  for (;;) {
    const c = op[i]?.toUpperCase();
    if (c === "R" && !read) read = true;
    else if (c === "W" && !write) write = true;
    else if (c === "~") break;
    else throw new RuleFault(SYNTAX);
    i++;
  }
  if (!read && !write) throw new RuleFault(SYNTAX);
  return { perm: read && write ? "RW" : read ? "R" : "W", pattern: op.slice(i + 1) };
}

function addKeyPattern(sel: AclSelector, op: string): void {
  if (sel.allKeys) throw new RuleFault(AFTER_ALLKEYS);
  const { perm, pattern } = parseKeyRule(op);
  if (SPACE.test(pattern)) throw new RuleFault(SYNTAX);
  if (pattern === "*" && perm === "RW") {
    // `%RW~*` grants what `~*` does: keep one form so `unrestricted` and ACL LIST agree.
    sel.allKeys = true;
    sel.keys = [];
    return;
  }
  const same = sel.keys.find((k) => k.pattern === pattern);
  if (same === undefined) sel.keys.push({ pattern, perm });
  else if (same.perm !== perm) same.perm = "RW";
}

function addChannelPattern(sel: AclSelector, pattern: string): void {
  if (sel.allChannels) throw new RuleFault(AFTER_ALLCHANNELS);
  if (SPACE.test(pattern)) throw new RuleFault(SYNTAX);
  if (!sel.channels.includes(pattern)) sel.channels.push(pattern);
}

/**
 * Applies one selector rule to `sel` in place. Throws RuleFault for a rule that is not a
 * selector rule or cannot apply (a pattern after `allkeys`, a malformed `%` rule…).
 */
export function applySelectorRule(sel: AclSelector, op: string): void {
  const lower = op.toLowerCase();
  if (lower === "allkeys" || op === "~*") {
    sel.allKeys = true;
    sel.keys = [];
  } else if (lower === "resetkeys") {
    sel.allKeys = false;
    sel.keys = [];
  } else if (op[0] === "~" || op[0] === "%") {
    addKeyPattern(sel, op);
  } else if (lower === "allchannels" || op === "&*") {
    sel.allChannels = true;
    sel.channels = [];
  } else if (lower === "resetchannels") {
    sel.allChannels = false;
    sel.channels = [];
  } else if (op[0] === "&") {
    addChannelPattern(sel, op.slice(1));
  } else if (lower === "allcommands") {
    applyCommandRule(sel, true, "@all");
  } else if (lower === "nocommands") {
    applyCommandRule(sel, false, "@all");
  } else if (op[0] === "+" || op[0] === "-") {
    applyCommandRule(sel, op[0] === "+", op.slice(1));
  } else {
    throw new RuleFault(SYNTAX);
  }
}
