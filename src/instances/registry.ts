/**
 * The live instances, keyed by index: the InstanceHost the control plane drives (open on create
 * and at start-up, close on delete), plus the read-only DB0 view that `SELECT 0 KEY
 * <admin-secret>` opens. Backends are built from the command table's KV implementations.
 */

import { backendToJson } from "../api/backend-json.ts";
import type { InstanceHost } from "../api/control-plane.ts";
import { type ExecResolver, MemoryBackend } from "../backends/memory/backend.ts";
import type { Catalog } from "../db0/catalog.ts";
import type { InstanceRecord } from "../db0/types.ts";
import { HeroError } from "../errors.ts";
import { NULL_ARRAY } from "../resp/reply.ts";
import type { Session } from "../resp/session.ts";
import { permissionOf } from "../resp/session.ts";
import { lookup } from "../resp/table.ts";
import { Instance } from "./instance.ts";

/** Resolves an op's command name ("GET", "OBJECT|ENCODING") to its KV implementation. */
export function resolveExec(cmd: string) {
  const bar = cmd.indexOf("|");
  const spec =
    bar < 0
      ? lookup(cmd)
      : lookup(cmd.slice(0, bar))?.subcommands?.find((s) => s.name === cmd.slice(bar + 1));
  if (spec?.kv === undefined) return undefined;
  return { exec: spec.kv, blockedReply: spec.block?.timeoutReply ?? NULL_ARRAY };
}

const DB0_RECORD: InstanceRecord = {
  index: 0,
  name: "db0",
  backend: { kind: "InMemory" },
  created_at: 0,
  encrypted: false,
  visibility: "Private",
  keys: [],
};

export class InstanceRegistry implements InstanceHost {
  private readonly live = new Map<number, Instance>();
  private readonly catalog: Catalog;
  private readonly clock: () => number;
  private readonly sessions: () => Session[];
  private db0: Instance | null = null;

  constructor(catalog: Catalog, clock: () => number, sessions: () => Session[]) {
    this.catalog = catalog;
    this.clock = clock;
    this.sessions = sessions;
  }

  async open(record: InstanceRecord): Promise<void> {
    if (record.backend.kind !== "InMemory") {
      throw new HeroError("UNSUPPORTED", `backend ${record.backend.kind} is not available yet`);
    }
    const inst = new Instance(record, new MemoryBackend(resolveExec));
    inst.startExpiry(this.clock);
    this.live.set(record.index, inst);
    this.db0 = null;
  }

  async close(index: number): Promise<void> {
    const inst = this.live.get(index);
    if (inst === undefined) return;
    this.live.delete(index);
    for (const s of this.sessions()) if (s.instance === inst) s.deselect();
    await inst.close();
    this.db0 = null;
  }

  rename(index: number, _name: string): void {
    this.refresh(index);
  }

  /** Visibility or keys changed: re-check every session on the instance with the key it used. */
  securityChanged(index: number): void {
    const inst = this.refresh(index);
    if (inst === undefined) return;
    for (const s of this.sessions()) {
      if (s.instance !== inst) continue;
      const perm = permissionOf(this.checker(), inst, s.selectKey);
      if (perm === "none") s.deselect();
      else s.perm = perm;
    }
  }

  private refresh(index: number): Instance | undefined {
    this.db0 = null;
    const inst = this.live.get(index);
    const rec = this.catalog.get(index);
    if (inst !== undefined && rec !== undefined) inst.record = rec;
    return inst;
  }

  private checker() {
    return {
      checkAdminSecret: (s: string) => this.catalog.checkAdminSecret(s),
      checkAccessKey: (i: number, k: string) => this.catalog.checkAccessKey(i, k),
    };
  }

  get(index: number): Instance | undefined {
    return this.live.get(index);
  }

  all(): Instance[] {
    return [...this.live.values()].sort((a, b) => a.index - b.index);
  }

  /**
   * DB0 as a read-only KV view: one hash per instance at `instance:<index>` (name, backend_type,
   * created_at, encrypted, visibility, and `key:<first 12 hex of hash>` → permission). Rebuilt
   * whenever the catalog changes. It is an in-memory KV instance to the dispatcher; the session's
   * permission on it is always Read, so every write is refused.
   */
  db0View(): Instance {
    if (this.db0 !== null) return this.db0;
    const backend = new MemoryBackend(resolveExec);
    const now = this.clock();
    for (const r of this.catalog.list()) {
      const fields: Buffer[] = [];
      const add = (k: string, v: string) => fields.push(Buffer.from(k), Buffer.from(v));
      add("name", r.name);
      add("backend_type", JSON.stringify(backendToJson(r.backend)));
      add("created_at", String(r.created_at));
      add("encrypted", String(r.encrypted));
      add("visibility", r.visibility);
      for (const k of r.keys) add(`key:${k.hash.slice(0, 12)}`, k.permission);
      backend.apply({ cmd: "HSET", args: [Buffer.from(`instance:${r.index}`), ...fields], now }, 0);
    }
    this.db0 = new Instance(DB0_RECORD, backend);
    return this.db0;
  }

  async closeAll(): Promise<void> {
    for (const inst of this.live.values()) await inst.close();
    this.live.clear();
  }
}
