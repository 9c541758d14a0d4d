/**
 * The command table: every RESP command the server knows. The commands of the protocol itself
 * (connection, server, transactions, pub/sub, crypto, MOVE) come from ./commands; each
 * registered instance type brings its family's commands (src/backends/kinds.ts), added once per
 * family. This is the only list of commands in the product; see src/engine/command-spec.ts for
 * what an entry says and who reads it. A type registered at start-up (`--engine`) is picked up on
 * the next lookup.
 */

import { kinds } from "../backends/kinds.ts";
import { connectionCommands } from "./commands/connection.ts";
import { cryptoCommands } from "./commands/crypto.ts";
import { moveCommands } from "./commands/move.ts";
import { pubsubCommands } from "./commands/pubsub.ts";
import { serverCommands } from "./commands/server.ts";
import { txCommands } from "./commands/tx.ts";
import type { TableEntry } from "./context.ts";

const PROTOCOL_COMMANDS: readonly TableEntry[] = [
  ...connectionCommands,
  ...serverCommands,
  ...txCommands,
  ...pubsubCommands,
  ...cryptoCommands,
  ...moveCommands,
];

let builtFor = -1;
let all: TableEntry[] = [];
const byName = new Map<string, TableEntry>();

function build(): void {
  const families = new Map<string, readonly TableEntry[]>();
  for (const k of kinds.all()) if (!families.has(k.family)) families.set(k.family, k.commands);
  all = [...PROTOCOL_COMMANDS];
  for (const commands of families.values()) all.push(...commands);
  byName.clear();
  for (const spec of all) {
    if (byName.has(spec.name)) throw new Error(`duplicate command in table: ${spec.name}`);
    byName.set(spec.name, spec);
    byName.set(spec.name.toLowerCase(), spec);
  }
  builtFor = kinds.version;
}

/** Every command, protocol ones first, then each family's. */
export function allCommands(): readonly TableEntry[] {
  if (builtFor !== kinds.version) build();
  return all;
}

/** The entry for a command name in any letter case, or undefined. */
export function lookup(name: string): TableEntry | undefined {
  if (builtFor !== kinds.version) build();
  return byName.get(name) ?? byName.get(name.toUpperCase());
}

/** The subcommand entry of a container command (CLIENT SETNAME…), or undefined. */
export function lookupSub(spec: TableEntry, sub: string): TableEntry | undefined {
  const upper = sub.toUpperCase();
  return spec.subcommands?.find((s) => s.name === upper);
}

/** Whether an entry is run by the selected instance's engine (not by a session handler). */
export function isEngineCommand(spec: TableEntry): boolean {
  return spec.run === undefined && typeof spec.scope !== "string";
}

/** Whether a command may run on an instance whose type serves `family`. */
export function servesFamily(spec: TableEntry, family: string): boolean {
  const scope = spec.scope;
  return scope === "universal" || scope === "instance" || scope.includes(family);
}
