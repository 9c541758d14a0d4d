/**
 * The data form of an ACL user (Redis 7 ACL users plus this server's instance rules).
 *
 * A user is plain JSON: it is stored in the encrypted catalog and replicated through Raft, so
 * it holds no functions, no Buffers and no caches (./check.ts compiles one into a fast checker).
 * It never holds a plain-text password: ./rules.ts turns `>pass` into a stored hash before a
 * change leaves the node that received it (./scram.ts says what a stored form looks like).
 *
 * Permissions live in selectors, as in Redis 7: the root selector (rules outside parentheses)
 * and any number of extra ones; a command runs when one selector allows the command together
 * with all its keys and channels. Instance rules (`db:…`) are this server's own: which
 * instances a user may SELECT, and with what rights.
 */
import { HeroError } from "../../errors.ts";

/** A key pattern's rights: `%R~` read, `%W~` write, `~` (or `%RW~`) both. */
export type KeyPerm = "R" | "W" | "RW";

export interface KeyPattern {
  /** Redis glob, as UTF-8 text (matched against the key's bytes). */
  pattern: string;
  perm: KeyPerm;
}

export interface AclSelector {
  /**
   * Command rules in the order they apply, the last matching one deciding. The first is always
   * "+@all" or "-@all" (the base every later rule amends, as Redis describes it); the others are
   * lower-case "+get", "-client|kill", "+@read"… with no two for the same command or category.
   */
  commands: string[];
  /** Every key, with both rights (`allkeys`, `~*`): `keys` is then empty. */
  allKeys: boolean;
  keys: KeyPattern[];
  /** Every channel (`allchannels`, `&*`): `channels` is then empty. */
  allChannels: boolean;
  /** Channel globs (`&pattern`). */
  channels: string[];
}

export type InstanceAccess = "none" | "read" | "readwrite";

/** `db:<pattern>=R|RW|none`: digits name an instance index, anything else globs its name. */
export interface InstanceRule {
  pattern: string;
  access: InstanceAccess;
}

export interface AclUser {
  name: string;
  enabled: boolean;
  /** Any password (or none) authenticates. */
  nopass: boolean;
  /** Stored forms only (./scram.ts), in the order they were added. */
  passwords: string[];
  /** The rules outside parentheses. */
  root: AclSelector;
  /** Redis 7 "(…)" selectors, in the order they were added. */
  selectors: AclSelector[];
  /** Last matching rule wins; none matching leaves the decision to the caller. */
  instances: InstanceRule[];
}

export const DEFAULT_USER_NAME = "default";

/** A selector that allows nothing: Redis's starting point for a user and for a "(…)" selector. */
export function emptySelector(): AclSelector {
  return { commands: ["-@all"], allKeys: false, keys: [], allChannels: false, channels: [] };
}

/**
 * A user as `ACL SETUSER name` creates it: off, no passwords, no commands, keys or channels
 * (Redis 7's default acl-pubsub-default is resetchannels), no instance rules.
 */
export function newUser(name: string): AclUser {
  return {
    name,
    enabled: false,
    nopass: false,
    passwords: [],
    root: emptySelector(),
    selectors: [],
    instances: [],
  };
}

/** The built-in `default` user as a fresh server has it: `on nopass ~* &* +@all`. */
export function defaultUser(): AclUser {
  return {
    ...newUser(DEFAULT_USER_NAME),
    enabled: true,
    nopass: true,
    root: { commands: ["+@all"], allKeys: true, keys: [], allChannels: true, channels: [] },
  };
}

/** Throws Redis's error unless `name` may name a user (no spaces, no NUL, not empty). */
export function checkUserName(name: string): void {
  if (name.length === 0 || /[\s\0]/.test(name)) {
    throw new HeroError("ERR", "Usernames can't contain spaces or null characters");
  }
}

/** A deep copy (users are plain JSON, so this is exact). */
export function cloneUser(user: AclUser): AclUser {
  return {
    ...user,
    passwords: [...user.passwords],
    root: cloneSelector(user.root),
    selectors: user.selectors.map(cloneSelector),
    instances: user.instances.map((r) => ({ ...r })),
  };
}

export function cloneSelector(s: AclSelector): AclSelector {
  return {
    commands: [...s.commands],
    allKeys: s.allKeys,
    keys: s.keys.map((k) => ({ ...k })),
    allChannels: s.allChannels,
    channels: [...s.channels],
  };
}
