/**
 * The in-memory key-value type ("InMemory"): Redis semantics over a Map, nothing on disk. On a
 * single server writes apply at once; in a cluster its instances replicate through a Raft group
 * whose log the node keeps, and a restart rebuilds the state from that log.
 */
import type { KindDescriptor } from "../../engine/kind.ts";
import { kvCommands } from "../kv/commands/family.ts";
import { KV_FAMILY } from "../kv/commands/spec.ts";
import { MemoryBackend } from "./backend.ts";

export const memoryKind: KindDescriptor = {
  apiNames: ["InMemory"],
  path: "none",
  family: KV_FAMILY,
  commands: kvCommands,
  encryptable: true,
  persistent: false,
  transactions: true,
  open: async () => new MemoryBackend(),
};
