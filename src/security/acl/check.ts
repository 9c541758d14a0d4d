/**
 * The permission check run before every command of a session authenticated as an ACL user.
 *
 * A user (./user.ts) is compiled once into this checker, since the check runs on every request:
 * key and channel patterns are turned into the byte-exact latin1 strings the glob matcher
 * takes, and each selector remembers its decision per command name, so after the first call a
 * command costs one Map lookup per selector plus the key and channel matches. A user whose root
 * selector allows everything and who has no `db:` rules (the unchanged `default` user) is
 * `unrestricted`: callers skip the check altogether then.
 *
 * Decisions follow Redis 7: a command is allowed when one selector (the root or a "(…)" one)
 * allows the command, every key with the access it needs and every channel. Among command rules
 * the last matching one decides. A key needs one pattern that both matches it and grants all
 * the access asked for (`%R~a* %W~a*` is merged into one RW pattern when the rules apply, but
 * `%R~a* %W~*` does not let INCR touch `a1`). A channel is matched by glob, except that
 * PSUBSCRIBE's pattern must equal one of the user's channel patterns literally, so a user
 * allowed `news.*` cannot subscribe to the wider `*`. When every selector refuses, the denial
 * reported is Redis's: a channel over a key over the command, the later argument on a tie.
 */
import { globMatch } from "../../glob.ts";
import type { AclSelector, AclUser, InstanceAccess } from "./user.ts";

export interface KeyRef {
  readonly key: Buffer;
  readonly access: "read" | "write" | "both";
  /**
   * The command may reach any key (a full-text index over the instance's hashes): only a
   * selector with every key (`allkeys`, `~*`) allows it.
   */
  readonly all?: boolean;
}

export interface ChannelRef {
  readonly channel: Buffer;
  /** A PSUBSCRIBE/PUNSUBSCRIBE pattern rather than a channel. */
  readonly pattern: boolean;
}

export interface Denial {
  readonly reason: "command" | "key" | "channel";
  /** The command (lower case, "client|kill"), or the key or channel (UTF-8 decoded). */
  readonly object: string;
  /** Position of the key or channel in the arrays checked; -1 for the command. */
  readonly index: number;
}

export interface CompiledUser {
  readonly name: string;
  /** Every command, key and channel passes and no instance rule exists: skip all checks. */
  readonly unrestricted: boolean;
  /** Null when allowed. `name` is the dispatch name: "GET", "CLIENT|KILL". */
  checkCommand(
    name: string,
    keys: readonly KeyRef[],
    channels: readonly ChannelRef[],
  ): Denial | null;
  /** The last matching `db:` rule's access to an instance, or undefined when none matches. */
  instanceAccess(index: number, name: string): InstanceAccess | undefined;
}

/** A command's categories by dispatch name (see ./categories.ts categoryIndex). */
export type CategoryLookup = (name: string) => ReadonlySet<string> | undefined;

/** Rule text is UTF-8; keys are bytes: compare both as latin1 strings of the bytes. */
const asBytes = (text: string): string => Buffer.from(text, "utf8").toString("latin1");

/** Bounds the per-command decision caches should a caller pass names not in the table. */
const MAX_CACHED = 4096;

interface CommandRule {
  readonly allow: boolean;
  /** "all", a category ("@read"), a command ("client") or a subcommand ("client|kill"). */
  readonly what: string;
}

class CompiledSelector {
  private readonly rules: readonly CommandRule[];
  private readonly decisions = new Map<string, boolean>();
  private readonly allKeys: boolean;
  private readonly keys: readonly { pattern: string; read: boolean; write: boolean }[];
  private readonly allChannels: boolean;
  private readonly channels: readonly string[];
  private readonly categoriesOf: CategoryLookup;

  constructor(sel: AclSelector, categoriesOf: CategoryLookup) {
    this.rules = sel.commands.map((c) => ({ allow: c[0] === "+", what: c.slice(1) }));
    this.allKeys = sel.allKeys;
    this.keys = sel.keys.map((k) => ({
      pattern: asBytes(k.pattern),
      read: k.perm !== "W",
      write: k.perm !== "R",
    }));
    this.allChannels = sel.allChannels;
    this.channels = sel.channels.map(asBytes);
    this.categoriesOf = categoriesOf;
  }

  /** Whether the command rules allow `name`: the last rule matching it decides. */
  allows(name: string): boolean {
    let d = this.decisions.get(name);
    if (d === undefined) {
      d = this.decide(name);
      if (this.decisions.size >= MAX_CACHED) this.decisions.clear();
      this.decisions.set(name, d);
    }
    return d;
  }

  private decide(name: string): boolean {
    const lower = name.toLowerCase();
    let cats: ReadonlySet<string> | undefined | null = null;
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const { allow, what } = this.rules[i];
      let hit: boolean;
      if (what === "@all") hit = true;
      else if (what[0] === "@") {
        if (cats === null) cats = this.categoriesOf(name);
        hit = cats?.has(what.slice(1)) ?? false;
      } else hit = lower === what || (lower.startsWith(what) && lower[what.length] === "|");
      if (hit) return allow;
    }
    return false;
  }

  /** Index of the first key refused, or -1. */
  refusedKey(keys: readonly KeyRef[]): number {
    if (this.allKeys) return -1;
    for (let i = 0; i < keys.length; i++) {
      const { key, access, all } = keys[i];
      if (all === true) return i;
      const needRead = access !== "write";
      const needWrite = access !== "read";
      const s = key.toString("latin1");
      const ok = this.keys.some(
        (p) => (!needRead || p.read) && (!needWrite || p.write) && globMatch(p.pattern, s),
      );
      if (!ok) return i;
    }
    return -1;
  }

  /** Index of the first channel refused, or -1. */
  refusedChannel(channels: readonly ChannelRef[]): number {
    if (this.allChannels) return -1;
    for (let i = 0; i < channels.length; i++) {
      const s = channels[i].channel.toString("latin1");
      const ok = channels[i].pattern
        ? this.channels.includes(s)
        : this.channels.some((p) => globMatch(p, s));
      if (!ok) return i;
    }
    return -1;
  }
}

const RANK = { command: 1, key: 2, channel: 3 } as const;

/** Whether a selector allows everything, so nothing need be checked. */
function allowsEverything(sel: AclSelector): boolean {
  return sel.allKeys && sel.allChannels && sel.commands.length === 1 && sel.commands[0] === "+@all";
}

/** The checker for `user` (see the file comment). Compile again after the user changes. */
export function compileUser(user: AclUser, categoriesOf: CategoryLookup): CompiledUser {
  const selectors = [user.root, ...user.selectors].map(
    (s) => new CompiledSelector(s, categoriesOf),
  );
  const instanceRules = user.instances.map((r) => ({
    index: /^\d+$/.test(r.pattern) ? Number(r.pattern) : null,
    pattern: r.pattern,
    access: r.access,
  }));
  const unrestricted = allowsEverything(user.root) && instanceRules.length === 0;

  function checkCommand(
    name: string,
    keys: readonly KeyRef[],
    channels: readonly ChannelRef[],
  ): Denial | null {
    if (unrestricted) return null;
    let worst: Denial | null = null;
    for (const sel of selectors) {
      let d: Denial | null = null;
      if (!sel.allows(name)) {
        d = { reason: "command", object: name.toLowerCase(), index: -1 };
      } else {
        const k = sel.refusedKey(keys);
        if (k >= 0) d = { reason: "key", object: keys[k].key.toString("utf8"), index: k };
        else {
          const c = sel.refusedChannel(channels);
          if (c < 0) return null;
          d = { reason: "channel", object: channels[c].channel.toString("utf8"), index: c };
        }
      }
      const rank = RANK[d.reason];
      if (worst === null) worst = d;
      else {
        const prev = RANK[worst.reason];
        if (rank > prev || (rank === prev && d.index > worst.index)) worst = d;
      }
    }
    return worst;
  }

  function instanceAccess(index: number, name: string): InstanceAccess | undefined {
    for (let i = instanceRules.length - 1; i >= 0; i--) {
      const r = instanceRules[i];
      if (r.index !== null ? r.index === index : globMatch(r.pattern, name)) return r.access;
    }
    return undefined;
  }

  return { name: user.name, unrestricted, checkCommand, instanceAccess };
}

/**
 * Redis's NOPERM text for a denial: `verbose` (ACL DRYRUN) names the key or channel, an
 * ordinary refusal does not (Redis keeps key names out of error replies and the logs they feed).
 */
export function denialMessage(userName: string, d: Denial, verbose: boolean): string {
  switch (d.reason) {
    case "command":
      return `User ${userName} has no permissions to run the '${d.object}' command`;
    case "key":
      return verbose
        ? `No permissions to access the '${d.object}' key`
        : "No permissions to access a key";
    case "channel":
      return verbose
        ? `No permissions to access the '${d.object}' channel`
        : "No permissions to access a channel";
  }
}
