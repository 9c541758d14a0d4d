/**
 * Redis ACL categories (`+@read`, `-@dangerous`, ACL CAT), derived from the command table.
 *
 * The table (src/resp/table.ts) is the only list of commands, so a command's categories are
 * read from its entry rather than kept in a second list that could drift: the command family
 * (its group) gives one category, its flags give the rest, as Redis derives @read/@write/@admin/
 * @fast/@slow… from command flags. Redis has no @server category, so server commands only get
 * the flag-derived ones (@admin, @dangerous, @slow…), as in Redis. Categories with no command
 * today (hyperloglog, geo, stream, scripting) still exist, so rules naming them stay valid.
 *
 * This file takes command entries as arguments and never imports the table: src/security sits
 * below the protocol layer.
 */
import type { CommandSpec, Group } from "../../engine/command-spec.ts";

/** Redis 7's categories, then this server's own command families. */
export const ALL_CATEGORIES: readonly string[] = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
  "crypto",
  "sql",
  "vector",
  "fulltext",
];

const KNOWN = new Set(ALL_CATEGORIES);

/** Whether `name` (without the `@`, any letter case) is a category; `all` is not one. */
export function isCategory(name: string): boolean {
  return KNOWN.has(name.toLowerCase());
}

const GROUP_CATEGORY: Readonly<Record<Group, string | null>> = {
  connection: "connection",
  cluster: "connection",
  server: null,
  generic: "keyspace",
  string: "string",
  bitmap: "bitmap",
  hash: "hash",
  list: "list",
  set: "set",
  "sorted-set": "sortedset",
  geo: "geo",
  transactions: "transaction",
  pubsub: "pubsub",
  crypto: "crypto",
  sql: "sql",
  vector: "vector",
  fulltext: "fulltext",
  hyperloglog: "hyperloglog",
};

/** The parts of a table entry categories are read from (any CommandSpec fits). */
export type CategorySource = Pick<CommandSpec, "name" | "group" | "flags"> & {
  readonly subcommands?: readonly CategorySource[];
};

/**
 * The categories of a command, from its group and flags. A subcommand has its own entry, group
 * and flags, so its categories are its own (CLIENT ID is @fast though CLIENT KILL is not).
 */
export function categoriesOf(spec: CategorySource): Set<string> {
  const out = new Set<string>();
  const group = GROUP_CATEGORY[spec.group];
  if (group) out.add(group);
  // Compared as strings: the Flag union gains members (e.g. "dangerous") over time.
  const flags = spec.flags as readonly string[];
  if (flags.includes("readonly")) out.add("read");
  if (flags.includes("write")) out.add("write");
  if (flags.includes("admin")) {
    out.add("admin");
    out.add("dangerous");
  }
  if (flags.includes("dangerous")) out.add("dangerous");
  out.add(flags.includes("fast") ? "fast" : "slow");
  if (flags.includes("blocking")) out.add("blocking");
  if (flags.includes("pubsub")) out.add("pubsub");
  return out;
}

/**
 * Every command's categories by its dispatch name ("GET", "CLIENT|KILL", as Traits.name), for
 * ./check.ts. Container commands (CLIENT…) are only ever run through a subcommand, so they get
 * no entry of their own.
 */
export function categoryIndex(
  commands: readonly CategorySource[],
): Map<string, ReadonlySet<string>> {
  const index = new Map<string, ReadonlySet<string>>();
  for (const spec of commands) {
    if (spec.subcommands === undefined) {
      index.set(spec.name, categoriesOf(spec));
      continue;
    }
    for (const sub of spec.subcommands) {
      index.set(`${spec.name}|${sub.name}`, categoriesOf(sub));
    }
  }
  return index;
}

/**
 * ACL CAT <category>: the commands in it, lower case, subcommands as "client|kill" (Redis 7's
 * form), in table order. Empty for a category no command has; `undefined` for no category.
 */
export function commandsInCategory(
  category: string,
  commands: readonly CategorySource[],
): string[] | undefined {
  const cat = category.toLowerCase();
  if (!KNOWN.has(cat)) return undefined;
  const out: string[] = [];
  for (const [name, cats] of categoryIndex(commands)) {
    if (cats.has(cat)) out.push(name.toLowerCase());
  }
  return out;
}
