/**
 * The command table: every RESP command the server knows, assembled from the family files in
 * ./commands. This is the only list of commands in the product; see ./command.ts for what an
 * entry says and who reads it.
 */
import type { CommandSpec } from "./command.ts";
import { bitmapCommands } from "./commands/bitmaps.ts";
import { connectionCommands } from "./commands/connection.ts";
import { cryptoCommands } from "./commands/crypto.ts";
import { hashCommands } from "./commands/hashes.ts";
import { keyCommands } from "./commands/keys.ts";
import { listCommands } from "./commands/lists.ts";
import { listBlockingCommands } from "./commands/lists-blocking.ts";
import { moveCommands } from "./commands/move.ts";
import { pubsubCommands } from "./commands/pubsub.ts";
import { serverCommands } from "./commands/server.ts";
import { setCommands } from "./commands/sets.ts";
import { stringCommands } from "./commands/strings.ts";
import { txCommands } from "./commands/tx.ts";
import { zsetCommands } from "./commands/zsets.ts";

export const COMMANDS: readonly CommandSpec[] = [
  ...connectionCommands,
  ...serverCommands,
  ...stringCommands,
  ...bitmapCommands,
  ...keyCommands,
  ...moveCommands,
  ...hashCommands,
  ...listCommands,
  ...listBlockingCommands,
  ...setCommands,
  ...zsetCommands,
  ...txCommands,
  ...pubsubCommands,
  ...cryptoCommands,
];

const byName = new Map<string, CommandSpec>();
for (const spec of COMMANDS) {
  if (byName.has(spec.name)) throw new Error(`duplicate command in table: ${spec.name}`);
  byName.set(spec.name, spec);
  byName.set(spec.name.toLowerCase(), spec);
}

/** The entry for a command name in any letter case, or undefined. */
export function lookup(name: string): CommandSpec | undefined {
  return byName.get(name) ?? byName.get(name.toUpperCase());
}

/** The subcommand entry of a container command (CLIENT SETNAME…), or undefined. */
export function lookupSub(spec: CommandSpec, sub: string): CommandSpec | undefined {
  const upper = sub.toUpperCase();
  return spec.subcommands?.find((s) => s.name === upper);
}
