/**
 * Users as ACL LIST and ACL GETUSER show them, in Redis 7's formats, so clients and tools that
 * parse those replies (or save ACL LIST lines and replay them with ACL SETUSER) work unchanged.
 *
 * An ACL LIST line is itself a rule list that rebuilds the user: flags, `#<stored password>`,
 * key patterns, channel patterns (`resetchannels` first unless all are allowed), command rules,
 * then each selector in parentheses, then this server's `db:` rules. Passwords appear only in
 * their stored forms (./scram.ts). Redis prints `sanitize-payload` for every user that did not
 * ask to skip it; this server accepts those rules without effect and always prints it.
 */
import { displayForm } from "./scram.ts";
import type { AclSelector, AclUser, InstanceAccess, KeyPattern } from "./user.ts";

const ACCESS_RULE: Readonly<Record<InstanceAccess, string>> = {
  read: "R",
  readwrite: "RW",
  none: "none",
};

function keyRule(k: KeyPattern): string {
  return `${k.perm === "RW" ? "~" : `%${k.perm}~`}${k.pattern}`;
}

/** The key rules of a selector: "~*", or its patterns ("" when none). */
export function describeKeys(sel: AclSelector): string {
  return sel.allKeys ? "~*" : sel.keys.map(keyRule).join(" ");
}

/** The channel rules of a selector as GETUSER gives them: "&*", or its patterns. */
export function describeChannels(sel: AclSelector): string {
  return sel.allChannels ? "&*" : sel.channels.map((c) => `&${c}`).join(" ");
}

/** The command rules of a selector: "+@all -debug", "-@all +get +@read"… */
export function describeCommands(sel: AclSelector): string {
  return sel.commands.join(" ");
}

/** A selector as ACL LIST writes it (the part inside the parentheses for a "(…)" one). */
export function describeSelector(sel: AclSelector): string {
  const parts: string[] = [];
  const keys = describeKeys(sel);
  if (keys) parts.push(keys);
  parts.push(
    sel.allChannels ? "&*" : ["resetchannels", ...sel.channels.map((c) => `&${c}`)].join(" "),
  );
  parts.push(describeCommands(sel));
  return parts.join(" ");
}

function flagsOf(user: AclUser): string[] {
  const flags = [user.enabled ? "on" : "off"];
  if (user.nopass) flags.push("nopass");
  flags.push("sanitize-payload");
  return flags;
}

/** The `db:` rules, in the order they apply. */
export function describeInstances(user: AclUser): string {
  return user.instances.map((r) => `db:${r.pattern}=${ACCESS_RULE[r.access]}`).join(" ");
}

/** The ACL LIST line of a user: "user default on nopass sanitize-payload ~* &* +@all". */
export function describeUser(user: AclUser): string {
  const parts = [`user ${user.name}`, ...flagsOf(user)];
  for (const p of user.passwords) parts.push(`#${displayForm(p)}`);
  parts.push(describeSelector(user.root));
  for (const s of user.selectors) parts.push(`(${describeSelector(s)})`);
  const dbs = describeInstances(user);
  if (dbs) parts.push(dbs);
  return parts.join(" ");
}

export type SelectorFields = [string, string][];
export type UserFieldValue = string | string[] | SelectorFields[];

/** Commands, keys and channels of a selector as GETUSER lists them. */
function selectorFields(sel: AclSelector): SelectorFields {
  return [
    ["commands", describeCommands(sel)],
    ["keys", describeKeys(sel)],
    ["channels", describeChannels(sel)],
  ];
}

/**
 * ACL GETUSER's reply as field/value pairs, for the caller to encode as a RESP map: flags,
 * passwords, the root selector's commands, keys and channels, the other selectors (each a
 * list of the same three fields), then `instances` (the `db:` rules, this server's own).
 */
export function getUserFields(user: AclUser): [string, UserFieldValue][] {
  return [
    ["flags", flagsOf(user)],
    ["passwords", user.passwords.map(displayForm)],
    ...selectorFields(user.root),
    ["selectors", user.selectors.map(selectorFields)],
    ["instances", describeInstances(user)],
  ];
}
