/**
 * DB0 as a read-only key-value view: one hash per instance at `instance:<index>` (name,
 * backend_type, created_at, encrypted, visibility, and `key:<first 12 hex of hash>` →
 * permission). It is an in-memory key-value instance to the dispatcher; a session's permission
 * on it is at most Read, so every write is refused. The registry rebuilds it when the catalog
 * changes.
 */
import { backendToJson } from "../backends/backend-json.ts";
import { MemoryBackend } from "../backends/memory/backend.ts";
import { memoryKind } from "../backends/memory/kind.ts";
import type { InstanceRecord } from "../db0/types.ts";
import { Instance } from "./instance.ts";

const DB0_RECORD: InstanceRecord = {
  index: 0,
  name: "db0",
  backend: { kind: memoryKind.apiNames[0] },
  created_at: 0,
  encrypted: false,
  visibility: "Private",
  keys: [],
};

export function buildDb0View(records: readonly InstanceRecord[], now: number): Instance {
  const engine = new MemoryBackend();
  for (const r of records) {
    const fields: Buffer[] = [];
    const add = (k: string, v: string) => fields.push(Buffer.from(k), Buffer.from(v));
    add("name", r.name);
    add("backend_type", JSON.stringify(backendToJson(r.backend)));
    add("created_at", String(r.created_at));
    add("encrypted", String(r.encrypted));
    add("visibility", r.visibility);
    for (const k of r.keys) add(`key:${k.hash.slice(0, 12)}`, k.permission);
    engine.apply({ cmd: "HSET", args: [Buffer.from(`instance:${r.index}`), ...fields], now }, 0);
  }
  return new Instance(DB0_RECORD, memoryKind, engine);
}
