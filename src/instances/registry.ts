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
import type { CatalogChange } from "../db0/catalog-changes.ts";
import type { InstanceRecord } from "../db0/types.ts";
import { HeroError } from "../errors.ts";
import type { Message } from "../raft/types.ts";
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

/** How this node's groups reach the other nodes of a cluster. */
export interface GroupNetwork {
  nodeId: number;
  /** The node that bootstrapped the cluster: group 0 (and older instances) start with it. */
  bootstrapId: number;
  send(groupId: number, messages: Message[]): void;
}

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
  /** This node's id in every Raft group (1 on a single server). */
  private readonly nodeId: number;
  private readonly network: GroupNetwork | null;
  /** Applied entries after which a group snapshots and compacts its log (--snapshot-count). */
  private readonly snapshotEntries: number;
  /** Every Raft group on this node by group id (0: the catalog), for the transport. */
  private readonly groups = new Map<number, RaftGroup>();
  /** Opens in progress, so that the catalog's apply and the control plane open once. */
  private readonly opening = new Map<number, Promise<void>>();
  /**
   * Opens and closes run one at a time, in the order they were asked for (the catalog's log
   * order): a delete and a create that reuse one path must not overlap.
   */
  private work: Promise<unknown> = Promise.resolve();

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(task, task);
    this.work = run.catch(() => undefined);
    return run;
  }

  constructor(
    catalog: Catalog,
    clock: () => number,
    sessions: () => Session[],
    dataDir: string,
    logs: NodeLogStore,
    progress: (message: string) => void = () => {},
    network: GroupNetwork | null = null,
    snapshotEntries = 20_000,
  ) {
    this.snapshotEntries = snapshotEntries;
    this.network = network;
    this.nodeId = network?.nodeId ?? 1;
    this.progress = progress;
    this.catalog = catalog;
    this.clock = clock;
    this.sessions = sessions;
    this.dataDir = dataDir;
    this.logs = logs;
  }

  /** Opens the instance unless it is open (or opening) already. */
  open(record: InstanceRecord): Promise<void> {
    if (this.live.has(record.index)) return Promise.resolve();
    const pending = this.opening.get(record.index);
    if (pending !== undefined) return pending;
    const p = this.serial(() => this.openNew(record)).finally(() =>
      this.opening.delete(record.index),
    );
    this.opening.set(record.index, p);
    return p;
  }

  private async openNew(record: InstanceRecord): Promise<void> {
    const b = record.backend;
    let inst: Instance;
    if (b.kind === "InMemory" && this.network !== null) {
      inst = await this.openReplicatedMemory(record);
    } else if (b.kind === "InMemory") {
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
    await this.replicate(inst, backend);
    return inst;
  }

  /**
   * Gives the instance its Raft group, with the log in the node's log store and `machine` as the
   * state it applies to, and replays the log written before a restart.
   */
  private async replicate(inst: Instance, machine: StateMachine): Promise<void> {
    const record = inst.record;
    // A group's first membership: the nodes when its instance was created (same everywhere).
    const voters = record.members ?? [this.network?.bootstrapId ?? this.nodeId];
    const group = this.newGroup(record.index, machine, (r) => inst.afterApply(r), voters);
    inst.replicator = group;
    await this.replay(group, `instance ${record.index}`);
  }

  /**
   * An in-memory instance in a cluster: its state lives in memory, but it replicates through a
   * Raft group whose log is kept in the node's log store like a persistent instance's. A Raft
   * member must not forget its log: one that came back empty would vote for candidates missing
   * writes it had acknowledged, and a cluster could lose or fork acknowledged data after a single
   * restart (the fault runs showed both). So a restart replays the log (from the last snapshot)
   * into a fresh memory backend, and the instance comes back with its data.
   */
  private async openReplicatedMemory(record: InstanceRecord): Promise<Instance> {
    const backend = new MemoryBackend(resolveExec);
    const inst = new Instance(record, backend);
    await this.replicate(inst, backend);
    return inst;
  }

  /**
   * Group 0: from now on every catalog change is proposed, made durable in the log (sealed with
   * the DB0 key) and applied like any write. Replays the changes the catalog file does not hold
   * yet (a crash after a change was acknowledged), so call it before opening instances.
   */
  async attachCatalog(): Promise<void> {
    const machine = this.catalog.machine();
    const first = this.network?.bootstrapId ?? this.nodeId;
    const group = this.newGroup(
      0,
      machine,
      () => {
        this.db0 = null; // the DB0 view shows the catalog: rebuild it on next use
      },
      [first],
    );
    this.catalogGroup = { group, machine };
    // Every node opens and closes instances as catalog changes apply to it, in log order.
    this.catalog.onChange((change) => this.followCatalog(change));
    await this.replay(group, "catalog");
    this.catalog.attach((op) => group.submit(op));
  }

  /** Waits (bounded) until a replicated instance's group has a leader, so it takes writes. */
  async serving(index: number): Promise<void> {
    await this.groups.get(index)?.hasLeader(5_000);
  }

  /**
   * An instance not served here yet, once this node's catalog is up to date (a read index of
   * group 0) and its open finished; see ServerApi.awaitInstance.
   */
  async awaitInstance(index: number): Promise<Instance | undefined> {
    await this.catalogGroup?.group.readBarrier()?.catch(() => undefined);
    await this.opening.get(index)?.catch(() => undefined);
    return this.live.get(index);
  }

  /**
   * A node that just joined: waits until its catalog has applied `index` (the seed's, when it
   * admitted the node), opening every instance on the way, and until each of its groups knows a
   * leader, so that it serves its first client like any other node.
   */
  async catchUpAsJoiner(index: number): Promise<void> {
    const g0 = this.catalogGroup?.group;
    if (g0 === undefined) return;
    this.progress(`catching up the catalog to index ${index}`);
    await g0.caughtUp(60_000, index);
    await this.work;
    await Promise.all(this.allGroups().map((g) => g.hasLeader(10_000)));
    this.progress("caught up with the cluster");
  }

  /** The catalog's group (group 0). */
  catalogRaft(): RaftGroup | null {
    return this.catalogGroup?.group ?? null;
  }

  /** A Raft group on this node, by group id (0 is the catalog's). */
  group(groupId: number): RaftGroup | undefined {
    return this.groups.get(groupId);
  }

  allGroups(): RaftGroup[] {
    return [...this.groups.values()].sort((a, b) => a.groupId - b.groupId);
  }

  /**
   * A catalog change was applied here: open what was created, close what was deleted, refresh
   * what changed. The node that served the admin call does the same through the control plane;
   * opening and closing are idempotent, so whichever comes first does the work.
   */
  private followCatalog(change: CatalogChange | null): void {
    const warn = (index: number) => (e: unknown) =>
      this.progress(`instance ${index} could not be opened: ${(e as Error).message}`);
    if (change === null) {
      // A snapshot replaced the catalog: converge on its instance list.
      const wanted = new Set(this.catalog.list().map((r) => r.index));
      for (const index of [...this.live.keys()]) if (!wanted.has(index)) void this.close(index);
      for (const r of this.catalog.list()) void this.open(r).catch(warn(r.index));
      return;
    }
    switch (change.kind) {
      case "create": {
        const r = this.catalog.list().find((x) => x.name === change.name);
        if (r !== undefined) void this.open(r).catch(warn(r.index));
        return;
      }
      case "delete":
        void this.close(change.index);
        return;
      case "rename":
        this.refresh(change.index);
        return;
      case "security":
        this.securityChanged(change.index);
        return;
      default:
        this.db0 = null;
    }
  }

  /**
   * A Raft group for `groupId` with its log in the node's log store; `voters` is its first
   * membership (used only when the store holds nothing for it yet).
   */
  private newGroup(
    groupId: number,
    machine: StateMachine,
    onApplied: (r: ApplyResult) => void,
    voters: number[],
  ): RaftGroup {
    const network = this.network;
    const group = new RaftGroup({
      groupId,
      nodeId: this.nodeId,
      log: this.logs.group(groupId, { voters: [...voters], learners: [] }),
      flushLog: () => this.flushLog(),
      snapshotEntries: this.snapshotEntries,
      onPersisted: (entries, writes) => {
        this.durability.entries += entries;
        this.durability.writes += writes;
      },
      machine,
      onApplied,
      send: network === null ? () => {} : (messages) => network.send(groupId, messages),
      progress: (m) => this.progress(`group ${groupId}: ${m}`),
      // A cluster answers a client whose write or read cannot complete within a few seconds
      // (the time to elect a new leader) rather than keep it waiting.
      ...(network === null ? {} : { proposalTimeoutMs: 5_000, readTimeoutMs: 3_000 }),
    });
    this.groups.set(groupId, group);
    return group;
  }

  private async replay(group: RaftGroup, what: string): Promise<void> {
    const backlog = group.backlog();
    group.start();
    if (backlog > 0) this.progress(`${what}: replaying ${backlog} log entries`);
    // A lone voter commits its whole log at once; in a cluster the log commits when a leader
    // says so, which may take a while (or wait for other nodes): linearizable reads cover that.
    if (this.network === null) await group.caughtUp();
  }

  /** Stops serving an instance and deletes its data (after any open of it in progress). */
  close(index: number): Promise<void> {
    return this.serial(() => this.closeNow(index));
  }

  private async closeNow(index: number): Promise<void> {
    const inst = this.live.get(index);
    if (inst === undefined) return;
    this.live.delete(index);
    for (const s of this.sessions()) if (s.instance === inst) s.deselect();
    await inst.close();
    this.groups.delete(index);
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
