/**
 * The live instances, keyed by index: the InstanceHost the control plane drives (open on create
 * and at start-up, close on delete), plus the read-only DB0 view that `SELECT 0 KEY
 * <admin-secret>` opens. Backends are built from the command table's KV implementations.
 */

import { mkdir, rm, rmdir } from "node:fs/promises";
import { dirname, extname, join, resolve as resolvePath } from "node:path";
import { backendToJson } from "../api/backend-json.ts";
import type { InstanceHost } from "../api/control-plane.ts";
import type { ApplyResult, StateMachine } from "../backends/contract.ts";
import { LmdbBackend } from "../backends/lmdb/lmdb-backend.ts";
import { type ExecResolver, MemoryBackend } from "../backends/memory/backend.ts";
import type { NodeLogStore } from "../cluster/log-store.ts";
import { RaftGroup } from "../cluster/raft-group.ts";
import type { Catalog } from "../db0/catalog.ts";
import type { InstanceRecord } from "../db0/types.ts";
import { HeroError } from "../errors.ts";
import { NULL_ARRAY } from "../resp/reply.ts";
import type { Session } from "../resp/session.ts";
import { permissionOf } from "../resp/session.ts";
import { lookup } from "../resp/table.ts";
import { Instance } from "./instance.ts";

const resolved = new Map<string, ReturnType<ExecResolver>>();

/** Resolves an op's command name ("GET", "OBJECT|ENCODING") to its KV implementation (cached). */
export const resolveExec: ExecResolver = (cmd) => {
  if (resolved.has(cmd)) return resolved.get(cmd);
  const bar = cmd.indexOf("|");
  const spec =
    bar < 0
      ? lookup(cmd)
      : lookup(cmd.slice(0, bar))?.subcommands?.find((s) => s.name === cmd.slice(bar + 1));
  const r =
    spec?.kv === undefined
      ? undefined
      : { exec: spec.kv, blockedReply: spec.block?.timeoutReply ?? NULL_ARRAY };
  resolved.set(cmd, r);
  return r;
};

/** Removes an LMDB environment: a directory's data.mdb/lock.mdb, or a file and its -lock. */
async function removeLmdbFiles(path: string): Promise<void> {
  if (extname(path) !== "") {
    await rm(path, { force: true });
    await rm(`${path}-lock`, { force: true });
    return;
  }
  await rm(join(path, "data.mdb"), { force: true });
  await rm(join(path, "lock.mdb"), { force: true });
  await rmdir(path).catch(() => {}); // kept when it holds anything else
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
  /** Group 0 and the catalog's state machine, once attachCatalog ran. */
  private catalogGroup: { group: RaftGroup; machine: StateMachine } | null = null;

  private readonly dataDir: string;
  private readonly logs: NodeLogStore;
  private readonly progress: (message: string) => void;
  /**
   * Log fsyncs, the entries they made durable and the client writes in those entries, across all
   * groups (INFO persistence).
   */
  readonly durability = { fsyncs: 0, entries: 0, writes: 0 };
  private lastFlush: Promise<void> | null = null;
  /** This node's id in every Raft group (1 until clustering assigns ids). */
  private readonly nodeId = 1;

  constructor(
    catalog: Catalog,
    clock: () => number,
    sessions: () => Session[],
    dataDir: string,
    logs: NodeLogStore,
    progress: (message: string) => void = () => {},
  ) {
    this.progress = progress;
    this.catalog = catalog;
    this.clock = clock;
    this.sessions = sessions;
    this.dataDir = dataDir;
    this.logs = logs;
  }

  async open(record: InstanceRecord): Promise<void> {
    const b = record.backend;
    let inst: Instance;
    if (b.kind === "InMemory") {
      inst = new Instance(record, new MemoryBackend(resolveExec));
    } else if (b.kind === "Redb" || b.kind === "Sled") {
      inst = await this.openPersistent(record, b.path);
    } else {
      throw new HeroError("UNSUPPORTED", `backend ${b.kind} is not available yet`);
    }
    inst.startExpiry(this.clock);
    this.live.set(record.index, inst);
    this.db0 = null;
  }

  /**
   * A persistent KV instance: an LMDB environment for its data (at `path`, relative paths under
   * the data dir) and a Raft group, even on one node, whose log lives in the node's log store.
   * Every write is proposed, made durable in the log (group commit), then applied.
   */
  private async openPersistent(record: InstanceRecord, path: string): Promise<Instance> {
    const dir = resolvePath(this.dataDir, path);
    // HeroDB users name files ("store.redb"); LMDB then keeps one data file at that path (and a
    // lock file beside it). A path without an extension is a directory holding the environment.
    const isFile = extname(dir) !== "";
    try {
      await mkdir(isFile ? dirname(dir) : dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new HeroError("ERR", `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if ([...this.live.values()].some((i) => i.dataPath === dir)) {
      throw new HeroError("CONFLICT", `another instance already stores its data at ${dir}`);
    }
    // The Raft log makes writes durable; the backend only has to catch up before compaction, so
    // its state is written back every 50 ms, which keeps LMDB's work off the write path.
    const backend = new LmdbBackend(dir, resolveExec, { writeBackMs: 50 });
    const inst = new Instance(record, backend);
    inst.dataPath = dir;
    const group = this.newGroup(record.index, backend, (r) => inst.afterApply(r));
    inst.replicator = group;
    // Serve nothing until the log written before a restart has been applied.
    await this.replay(group, `instance ${record.index}`);
    return inst;
  }

  /**
   * Group 0: from now on every catalog change is proposed, made durable in the log (sealed with
   * the DB0 key) and applied like any write. Replays the changes the catalog file does not hold
   * yet (a crash after a change was acknowledged), so call it before opening instances.
   */
  async attachCatalog(): Promise<void> {
    const machine = this.catalog.machine();
    const group = this.newGroup(0, machine, () => {
      this.db0 = null; // the DB0 view shows the catalog: rebuild it on next use
    });
    this.catalogGroup = { group, machine };
    await this.replay(group, "catalog");
    this.catalog.attach((op) => group.submit(op));
  }

  /** A single-voter Raft group for `groupId` whose log lives in the node's log store. */
  private newGroup(
    groupId: number,
    machine: StateMachine,
    onApplied: (r: ApplyResult) => void,
  ): RaftGroup {
    return new RaftGroup({
      groupId,
      nodeId: this.nodeId,
      log: this.logs.group(groupId, { voters: [this.nodeId], learners: [] }),
      flushLog: () => this.flushLog(),
      onPersisted: (entries, writes) => {
        this.durability.entries += entries;
        this.durability.writes += writes;
      },
      machine,
      onApplied,
      send: () => {},
      progress: (m) => this.progress(`group ${groupId}: ${m}`),
    });
  }

  private async replay(group: RaftGroup, what: string): Promise<void> {
    const backlog = group.backlog();
    group.start();
    if (backlog > 0) this.progress(`${what}: replaying ${backlog} log entries`);
    await group.caughtUp();
  }

  async close(index: number): Promise<void> {
    const inst = this.live.get(index);
    if (inst === undefined) return;
    this.live.delete(index);
    for (const s of this.sessions()) if (s.instance === inst) s.deselect();
    await inst.close();
    this.db0 = null;
    // close() is the control plane's delete: the instance's Raft log and data go with it, so
    // the path can be given to a new instance.
    if (inst.replicator !== null) this.logs.dropGroup(index);
    if (inst.dataPath !== null) await removeLmdbFiles(inst.dataPath);
  }

  rename(index: number, _name: string): void {
    this.refresh(index);
  }

  /** One flush of the node's log store; concurrent callers share one commit (and one fsync). */
  private flushLog(): Promise<void> {
    const p = this.logs.flush();
    if (p !== this.lastFlush) {
      this.lastFlush = p;
      this.durability.fsyncs++;
    }
    return p;
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
    // Last, so that a change in flight still reaches the log; then save the catalog file.
    await this.catalogGroup?.group.close();
    await this.catalogGroup?.machine.flush().catch(() => undefined);
  }
}
