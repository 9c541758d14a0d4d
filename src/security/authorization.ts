/**
 * Authorization: who is asking (a Principal) and the one decision of what they may do, for RESP
 * commands and JSON-RPC calls alike.
 *
 * A principal is established by what a client presented: the admin secret (or the trusted Unix
 * socket) makes it the admin; an access key makes it that key; nothing makes it anonymous. Its
 * access to an instance follows the instance's visibility and keys: a public instance gives
 * ReadWrite to everyone, a private one what the key's record says, the admin everything, and DB0
 * (index 0) is read-only and only for the admin. A command's needs come from its command-table
 * flags: `admin` needs the admin, `write` needs ReadWrite on the selected instance, anything
 * scoped to instances needs at least Read.
 *
 * ACL users (./acl) add two things here: a user principal (AUTH name password), which may run
 * admin-flagged commands when it logged in with a password and its rules allow them (the rules
 * themselves are checked by the protocol's ACL gate), and `db:` rules, which decide a user's
 * access to the instances they match before visibility and keys are considered. The built-in
 * `default` user stands for anonymous connections: its rules apply to them, but it never runs
 * admin commands (so a fresh server keeps them behind the admin secret).
 */
import { HeroError } from "../errors.ts";
import type { CompiledUser } from "./acl/check.ts";

export type Access = "none" | "read" | "readwrite";

/** What the decisions need from the catalog. */
export interface Credentials {
  checkAdminSecret(secret: string): boolean;
  checkAccessKey(index: number, key: string): "Read" | "ReadWrite" | null;
}

export type Principal =
  | { readonly kind: "admin" }
  | { readonly kind: "key"; readonly key: string }
  | { readonly kind: "anonymous" }
  /** An ACL user; `passworded`: it logged in with a password (not a nopass user). */
  | { readonly kind: "user"; readonly name: string; readonly passworded: boolean };

export const ADMIN: Principal = { kind: "admin" };
export const ANONYMOUS: Principal = { kind: "anonymous" };

/** The principal a presented secret makes (null: nothing presented). */
export function principalOf(creds: Credentials, secret: string | null): Principal {
  if (secret === null) return ANONYMOUS;
  return creds.checkAdminSecret(secret) ? ADMIN : { kind: "key", key: secret };
}

/** An instance as access to it is decided. */
export interface AccessTarget {
  readonly index: number;
  readonly record: { readonly visibility: "Public" | "Private"; readonly name: string };
}

/**
 * The access `principal` has on an instance. `rules` are the ACL rules that apply to it (a
 * user's, or the default user's for an anonymous one): a `db:` rule matching the instance
 * decides; otherwise visibility and keys do.
 */
export function accessTo(
  creds: Credentials,
  target: AccessTarget,
  principal: Principal,
  rules: CompiledUser | null = null,
): Access {
  if (target.index === 0) return principal.kind === "admin" ? "read" : "none";
  if (principal.kind === "admin") return "readwrite";
  const ruled = rules?.instanceAccess(target.index, target.record.name);
  if (ruled !== undefined) return ruled;
  if (target.record.visibility === "Public") return "readwrite";
  if (principal.kind !== "key") return "none";
  const p = creds.checkAccessKey(target.index, principal.key);
  return p === "ReadWrite" ? "readwrite" : p === "Read" ? "read" : "none";
}

/**
 * A session's access to an instance: its own (principal and rules), or what a key it presented
 * gives, whichever is greater. Only a real credential (the admin secret, one of the instance's
 * keys) adds anything: a made-up key must not reopen a public instance a `db:` rule closed.
 */
export function sessionAccess(
  creds: Credentials,
  target: AccessTarget,
  principal: Principal,
  rules: CompiledUser | null,
  key: string | null,
): Access {
  const own = accessTo(creds, target, principal, rules);
  if (key === null || own === "readwrite") return own;
  const holder = principalOf(creds, key);
  if (holder.kind === "admin") return greaterAccess(own, accessTo(creds, target, holder));
  if (target.index === 0) return own;
  const p = creds.checkAccessKey(target.index, key);
  return greaterAccess(own, p === "ReadWrite" ? "readwrite" : p === "Read" ? "read" : "none");
}

/** The greater of two accesses (a user who also presents an access key gets the better). */
export function greaterAccess(a: Access, b: Access): Access {
  return a === "readwrite" || b === "readwrite" ? "readwrite" : a === "read" ? a : b;
}

/**
 * Whether a principal may run admin-flagged commands (a user also needs its rules to allow it).
 * Never the `default` user, even with a password: giving it one is how an operator makes
 * clients log in, not a grant of the admin commands its `+@all` would otherwise include.
 */
export function mayAdmin(principal: Principal): boolean {
  if (principal.kind === "admin") return true;
  return principal.kind === "user" && principal.passworded && principal.name !== "default";
}

/** What a command needs, as the table's flags say: the admin, or write access. */
export interface CommandNeeds {
  readonly admin: boolean;
  readonly writes: boolean;
}

/**
 * The decision for a RESP command: null when allowed, otherwise the error to answer. For a
 * command scoped to instances, `index` is the selected instance and `access` the session's
 * access to it (plain arguments: this runs for every command).
 */
export function authorizeCommand(
  principal: Principal,
  name: string,
  needs: CommandNeeds,
  index = -1,
  access: Access = "none",
): HeroError | null {
  if (needs.admin && !mayAdmin(principal)) {
    return new HeroError(
      "NOPERM",
      `'${name.toLowerCase().replace("|", " ")}' is an admin command: AUTH <admin-secret> (or a user with a password and the rights) first`,
    );
  }
  if (index < 0 || access === "readwrite") return null;
  if (access === "none") {
    return new HeroError("NOAUTH", `instance ${index} requires an access key`);
  }
  if (needs.writes) {
    return new HeroError(
      "NOPERM",
      `this session has read-only access to instance ${index}: '${name.toLowerCase()}' writes`,
    );
  }
  return null;
}

/**
 * The decision for a JSON-RPC method: admin methods need the admin, or a user with a password
 * whose rules allow the whole @admin category (`userMayAdmin`, decided by the caller).
 */
export function authorizeCall(
  principal: Principal,
  method: { admin: boolean },
  userMayAdmin = false,
): HeroError | null {
  if (method.admin && principal.kind !== "admin" && !(mayAdmin(principal) && userMayAdmin)) {
    return new HeroError("UNAUTHORIZED", "unauthorized");
  }
  return null;
}
