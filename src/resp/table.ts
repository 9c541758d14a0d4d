/**
 * The command table: every RESP command the server knows. The commands of the protocol itself
 * (connection, server, transactions, pub/sub, crypto, MOVE) come from ./commands; each
 * registered instance type brings its family's commands (src/backends/kinds.ts), added once per
 * family. This is the only list of commands in the product; see src/engine/command-spec.ts for
 * what an entry says and who reads it. A type registered at start-up (`--engine`) is picked up on
 * the next lookup.
 */

import { kinds } from "../backends/kinds.ts";
import { commandId } from "../metrics/command-stats.ts";
import { aclCommands } from "./commands/acl.ts";
import { connectionCommands } from "./commands/connection.ts";
import { cryptoCommands } from "./commands/crypto.ts";
import { moveCommands } from "./commands/move.ts";
import { persistenceCommands } from "./commands/persistence.ts";
import { pubsubCommands } from "./commands/pubsub.ts";
import { serverCommands } from "./commands/server.ts";
import { txCommands } from "./commands/tx.ts";
import type { TableEntry } from "./context.ts";

const PROTOCOL_COMMANDS: readonly TableEntry[] = [
  ...connectionCommands,
  ...aclCommands,
  ...serverCommands,
  ...persistenceCommands,
  ...txCommands,
  ...pubsubCommands,
  ...cryptoCommands,
  ...moveCommands,
];

/**
 * What dispatch asks of an entry on every command, read once from its flags and scope when the
 * table is built (a flag search per command would cost more than running a GET).
 */
export interface Traits {
  /** "GET", or "CLIENT|SETNAME" for a subcommand. */
  readonly name: string;
  /** The name's id in the command counters (src/metrics/command-stats.ts). */
  readonly id: number;
  readonly writes: boolean;
  readonly admin: boolean;
  /** Runs at once even inside MULTI. */
  readonly immediate: boolean;
  readonly noMulti: boolean;
  /** Run by the selected instance's engine (not by a session handler). */
  readonly engine: boolean;
  /** May start while earlier replies of the connection are pending: a non-blocking engine write. */
  readonly overlaps: boolean;
  /** Allowed on a RESP2 connection in subscribed mode. */
  readonly whileSubscribed: boolean;
  readonly universal: boolean;
  /** The command families served, or null for every instance. */
  readonly families: ReadonlySet<string> | null;
  /** Has a `run` handler. */
  readonly handled: boolean;
  /** Waits for data (BLPOP…): the entry's `block`. */
  readonly blocks: boolean;
  /** Opens or ends an interactive transaction (flag `transaction`). */
  readonly txControl: boolean;
  /** Its arguments may need the engine's prepareCall first (flag `external`). */
  readonly external: boolean;
  /** Runs before authentication, whatever ACL rules say (flag `no-auth`: AUTH, HELLO…). */
  readonly noAuth: boolean;
  /** The entry's `prepare`, if any. */
  readonly prepare: ((args: Buffer[], now: number) => Buffer[]) | null;
}

const SUBSCRIBED_OK = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "PING",
  "QUIT",
  "RESET",
]);

function traitsOf(spec: TableEntry, name: string, parent?: TableEntry): Traits {
  const flags = spec.flags;
  const engine = isEngineCommand(spec);
  const scope = spec.scope;
  return {
    name,
    id: commandId(name),
    writes: flags.includes("write"),
    admin: flags.includes("admin"),
    immediate: flags.includes("immediate"),
    noMulti: flags.includes("no-multi"),
    engine,
    overlaps:
      engine && spec.block === undefined && flags.includes("write") && !flags.includes("external"),
    whileSubscribed: SUBSCRIBED_OK.has((parent ?? spec).name),
    universal: scope === "universal",
    families: typeof scope === "string" ? null : new Set(scope),
    handled: spec.run !== undefined,
    blocks: spec.block !== undefined,
    txControl: flags.includes("transaction"),
    external: flags.includes("external"),
    noAuth: flags.includes("no-auth"),
    prepare: spec.prepare ?? null,
  };
}

/** A table entry with its traits; a container command also has its subcommands'. */
export interface Found {
  readonly spec: TableEntry;
  readonly traits: Traits;
  readonly subs: ReadonlyMap<string, Found> | null;
}

let builtFor = -1;
let all: TableEntry[] = [];
const byName = new Map<string, Found>();

function found(spec: TableEntry, name: string, parent?: TableEntry): Found {
  const traits = traitsOf(spec, name, parent);
  let subs: Map<string, Found> | null = null;
  if (spec.subcommands !== undefined) {
    subs = new Map();
    for (const sub of spec.subcommands) subs.set(sub.name, found(sub, `${name}|${sub.name}`, spec));
  }
  return { spec, traits, subs };
}

function build(): void {
  const families = new Map<string, readonly TableEntry[]>();
  for (const k of kinds.all()) if (!families.has(k.family)) families.set(k.family, k.commands);
  all = [...PROTOCOL_COMMANDS];
  for (const commands of families.values()) all.push(...commands);
  byName.clear();
  lastName = "";
  lastFound = undefined;
  for (const spec of all) {
    if (byName.has(spec.name)) throw new Error(`duplicate command in table: ${spec.name}`);
    const f = found(spec, spec.name);
    byName.set(spec.name, f);
    byName.set(spec.name.toLowerCase(), f);
  }
  builtFor = kinds.version;
}

/** Every command, protocol ones first, then each family's. */
export function allCommands(): readonly TableEntry[] {
  if (builtFor !== kinds.version) build();
  return all;
}

/** The last name looked up and what it found: pipelines repeat a command (the parser hands the same string). */
let lastName = "";
let lastFound: Found | undefined;

/** The entry and traits for a command name in any letter case, or undefined. */
export function find(name: string): Found | undefined {
  if (builtFor !== kinds.version) build();
  else if (name === lastName) return lastFound;
  const f = byName.get(name) ?? byName.get(name.toUpperCase());
  lastName = name;
  lastFound = f;
  return f;
}

/** The entry for a command name in any letter case, or undefined. */
export function lookup(name: string): TableEntry | undefined {
  return find(name)?.spec;
}

/** Whether "GET" or "CLIENT|KILL" names a command or subcommand of the table (ACL rules). */
export function knownCommand(name: string): boolean {
  const [top, sub] = name.split("|");
  const f = find(top);
  if (f === undefined) return false;
  return sub === undefined || findSub(f, sub) !== undefined;
}

/** The subcommand of a container command (CLIENT SETNAME…), or undefined. */
export function findSub(parent: Found, sub: string): Found | undefined {
  return parent.subs?.get(sub.toUpperCase());
}

/**
 * Whether a command may hold on to its arguments after it ran (stored values, keys watched,
 * names kept): everything but engine reads, and anything unknown. The parser copies the
 * arguments of those out of the bytes read, and hands the others views.
 */
export function keepsArguments(name: string): boolean {
  const f = find(name);
  return f === undefined || f.subs !== null || !f.traits.engine || f.traits.writes;
}

/** Whether an entry is run by the selected instance's engine (not by a session handler). */
function isEngineCommand(spec: TableEntry): boolean {
  return spec.run === undefined && typeof spec.scope !== "string";
}

/** Whether a command may run on an instance whose type serves `family`. */
export function servesFamily(spec: TableEntry, family: string): boolean {
  const scope = spec.scope;
  return scope === "universal" || scope === "instance" || scope.includes(family);
}
