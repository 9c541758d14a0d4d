/**
 * The key-value command family: every command the in-memory and persistent key-value kinds
 * serve, in the order COMMAND lists them, and the lookup their engines use to run an Op by name.
 */
import type { Reply } from "../../../engine/reply.ts";
import { NULL_ARRAY } from "../../../engine/reply.ts";
import { bitfieldCommands } from "./bitfield.ts";
import { bitmapCommands } from "./bitmaps.ts";
import { geoCommands } from "./geo.ts";
import { hashCommands } from "./hashes.ts";
import { hyperloglogCommands } from "./hyperloglog.ts";
import { keyCommands } from "./keys.ts";
import { listCommands } from "./lists.ts";
import { listBlockingCommands } from "./lists-blocking.ts";
import { setCommands } from "./sets.ts";
import type { KvCommand, KvExec } from "./spec.ts";
import { stringCommands } from "./strings.ts";
import { zsetCommands } from "./zsets.ts";

export const kvCommands: readonly KvCommand[] = [
  ...stringCommands,
  ...bitmapCommands,
  ...bitfieldCommands,
  ...keyCommands,
  ...hashCommands,
  ...listCommands,
  ...listBlockingCommands,
  ...setCommands,
  ...zsetCommands,
  ...geoCommands,
  ...hyperloglogCommands,
];

/** How an engine runs a command: its implementation and what it answers for a blocked pop in EXEC. */
export interface KvImplementation {
  exec: KvExec;
  blockedReply: Reply;
}

const byName = new Map<string, KvImplementation>();
for (const spec of kvCommands) {
  const add = (name: string, s: KvCommand) => {
    if (s.exec !== undefined) {
      byName.set(name, { exec: s.exec, blockedReply: s.block?.timeoutReply ?? NULL_ARRAY });
    }
  };
  add(spec.name, spec);
  for (const sub of spec.subcommands ?? []) add(`${spec.name}|${sub.name}`, sub);
}

/** The implementation of a command as an Op names it ("GET", "OBJECT|ENCODING"), if any. */
export function kvImplementation(cmd: string): KvImplementation | undefined {
  return byName.get(cmd);
}

const byUpperName = new Map(kvCommands.map((c) => [c.name, c]));

/** A key-value command's table entry by name, in any letter case (tests drive them directly). */
export function kvCommand(name: string): KvCommand | undefined {
  return byUpperName.get(name.toUpperCase());
}
