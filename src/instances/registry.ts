/**
 * The live instances, keyed by index: the host the control plane drives (open on create
 * and at start-up, close on delete) and the catalog follows (every node opens and closes
 * instances as catalog changes apply to it, ./catalog-follower.ts).
 *
 * An instance opens through its type's descriptor (src/engine/kind.ts): the descriptor opens the
 * engine; the registry gives it a Raft group when the type is persistent or the node is in a
 * cluster (./groups.ts), replays the group's log, and starts active expiry where the engine
 * offers it. Opens and closes run one at a time, in the order they were asked for (the catalog's
 * log order): a delete and a create that reuse one path must not overlap.
 */
import { resolve as resolvePath } from "node:path";
import { kinds } from "../backends/kinds.ts";
import type { StoredSnapshotFile } from "../cluster/group-log.ts";
import type { NodeLogStore } from "../cluster/log-store.ts";
import type { RaftGroup } from "../cluster/raft-group.ts";
import type { GroupNetwork } from "../cluster/replicator.ts";
import type { Catalog } from "../db0/catalog.ts";
import type { InstanceRecord } from "../db0/types.ts";
import type { StateMachine } from "../engine/contract.ts";
import { HeroError } from "../errors.ts";
import type { Histogram } from "../metrics/histogram.ts";
import { followCatalog } from "./catalog-follower.ts";
import { buildDb0View } from "./db0-view.ts";
import { NodeGroups } from "./groups.ts";
import { Instance } from "./instance.ts";

/** What the registry tells the sessions (the protocol layer) when an instance changes. */
export interface SessionNotices {
  /** The instance stopped being served: sessions on it leave it. */
  closed(inst: Instance): void;
  /** Its visibility or keys changed: sessions on it are re-checked. */
  securityChanged(inst: Instance): void;
}

export interface RegistryOptions {
  catalog: Catalog;
  clock: () => number;
  sessions: SessionNotices;
  dataDir: string;
  logs: NodeLogStore;
  progress?: (message: string) => void;
  network?: GroupNetwork | null;
  /** Applied entries after which a group snapshots and compacts its log (--snapshot-count). */
  snapshotEntries?: number;
}

export class InstanceRegistry {
  private readonly live = new Map<number, Instance>();
  private readonly o: Required<Omit<RegistryOptions, "network">>;
  private readonly groups: NodeGroups;
  private db0: Instance | null = null;
  /** Group 0 and the catalog's state machine, once attachCatalog ran. */
  private catalogGroup: { group: RaftGroup; machine: StateMachine } | null = null;
  /** Opens in progress, so that the catalog's apply and the control plane open once. */
  private readonly opening = new Map<number, Promise<void>>();
  private work: Promise<unknown> = Promise.resolve();

  constructor(options: RegistryOptions) {
    this.o = {
      progress: () => {},
      snapshotEntries: 20_000,
      ...options,
    } as Required<Omit<RegistryOptions, "network">>;
    this.groups = new NodeGroups(
      options.logs,
      options.network ?? null,
      this.o.snapshotEntries,
      this.o.progress,
    );
  }

  /** Log fsyncs and the entries and writes they made durable, across all groups. */
  get durability(): { fsyncs: number; entries: number; writes: number } {
    return this.groups.durability;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(task, task);
    this.work = run.catch(() => undefined);
    return run;
  }

  /** Opens the instance unless it is open (or opening) already. */
  open(record: InstanceRecord): Promise<void> {
    if (this.live.has(record.index)) return Promise.resolve();
    const pending = this.opening.get(record.index);
    if (pending !== undefined) return pending;
    const p = this.serial(() => this.openNow(record)).finally(() =>
      this.opening.delete(record.index),
    );
    this.opening.set(record.index, p);
    return p;
  }

  private async openNow(record: InstanceRecord): Promise<void> {
    const kind = kinds.get(record.backend.kind);
    if (kind === undefined) {
      throw new HeroError("UNSUPPORTED", `backend ${record.backend.kind} is not available yet`);
    }
    // Relative paths live under the data dir; a type without a path gets none.
    const given = record.backend.path;
    const path = given === undefined ? null : resolvePath(this.o.dataDir, given);
    if (path !== null && [...this.live.values()].some((i) => i.dataPath === path)) {
      throw new HeroError("CONFLICT", `another instance already stores its data at ${path}`);
    }
    const engine = await kind.open({ index: record.index, path, dataDir: this.o.dataDir });
    const inst = new Instance(record, kind, engine);
    inst.dataPath = path;
    try {
      // A persistent type's writes are durable in its log before they are acknowledged. In a
      // cluster every type replicates through its group, whose log the node keeps: a member
      // that forgot its log could help elect a leader missing acknowledged writes, so an
      // in-memory instance rebuilds its state from the log (and its last snapshot) at restart.
      if (kind.persistent || this.groups.network !== null) await this.replicate(inst);
    } catch (e) {
      await engine.close().catch(() => undefined);
      throw e;
    }
    inst.startExpiry(this.o.clock);
    this.live.set(record.index, inst);
    this.db0 = null;
  }

  /** Gives the instance its Raft group and replays the log written before a restart. */
  private async replicate(inst: Instance): Promise<void> {
    const record = inst.record;
    // A group's first membership: the nodes when its instance was created (same everywhere).
    const voters = record.members ?? [this.groups.firstVoter];
    const group = this.groups.create(record.index, inst.engine, (r) => inst.afterApply(r), voters);
    inst.replicator = group;
    await this.groups.start(group, `instance ${record.index}`);
  }

  /**
   * Group 0: from now on every catalog change is proposed, made durable in the log (sealed with
   * the DB0 key) and applied like any write. Replays the changes the catalog file does not hold
   * yet (a crash after a change was acknowledged), so call it before opening instances.
   */
  async attachCatalog(): Promise<void> {
    const catalog = this.o.catalog;
    const machine = catalog.machine();
    const group = this.groups.create(
      0,
      machine,
      () => {
        this.db0 = null; // the DB0 view shows the catalog: rebuild it on next use
      },
      [this.groups.firstVoter],
    );
    this.catalogGroup = { group, machine };
    catalog.onChange((change) => followCatalog(change, catalog, this, this.o.progress));
    await this.groups.start(group, "catalog");
    catalog.attach((op) => group.submit(op));
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
    this.o.progress(`catching up the catalog to index ${index}`);
    await g0.caughtUp(60_000, index);
    await this.work;
    await Promise.all(this.groups.all().map((g) => g.hasLeader(10_000)));
    this.o.progress("caught up with the cluster");
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
    return this.groups.all();
  }

  /** Seconds per log flush and client writes per group sync (/metrics). */
  get logSync(): { seconds: Histogram; writes: Histogram } {
    return { seconds: this.groups.syncSeconds, writes: this.groups.syncWrites };
  }

  /** The file of a group's stored snapshot, streamed to a member that lags behind. */
  snapshotFile(groupId: number): StoredSnapshotFile | null {
    return this.o.logs.snapshotFile(groupId);
  }

  /** The node's log store directory. */
  get logDir(): string {
    return this.o.logs.dir;
  }

  /** Stops serving an instance and deletes its data (after any open of it in progress). */
  close(index: number): Promise<void> {
    return this.serial(() => this.closeNow(index));
  }

  private async closeNow(index: number): Promise<void> {
    const inst = this.live.get(index);
    if (inst === undefined) return;
    this.live.delete(index);
    this.o.sessions.closed(inst);
    await inst.close();
    this.db0 = null;
    // close() is the control plane's delete: the instance's Raft log and data go with it, so
    // the path can be given to a new instance.
    this.groups.remove(index, inst.replicator !== null);
    await inst.descriptor.removeFiles?.({ index, path: inst.dataPath, dataDir: this.o.dataDir });
  }

  rename(index: number, _name: string): void {
    this.refresh(index);
  }

  /** Visibility or keys changed: re-check every session on the instance with the key it used. */
  securityChanged(index: number): void {
    const inst = this.refresh(index);
    if (inst !== undefined) this.o.sessions.securityChanged(inst);
  }

  /** Takes the instance's record from the catalog again (renamed, secured). */
  refresh(index: number): Instance | undefined {
    this.db0 = null;
    const inst = this.live.get(index);
    const rec = this.o.catalog.get(index);
    if (inst !== undefined && rec !== undefined) inst.record = rec;
    return inst;
  }

  /** Something in the catalog changed that only the DB0 view shows. */
  catalogChanged(): void {
    this.db0 = null;
  }

  get(index: number): Instance | undefined {
    return this.live.get(index);
  }

  /** The indexes of the instances open here. */
  openIndexes(): number[] {
    return [...this.live.keys()];
  }

  all(): Instance[] {
    return [...this.live.values()].sort((a, b) => a.index - b.index);
  }

  /** The read-only view of the catalog that `SELECT 0 KEY <admin-secret>` opens. */
  db0View(): Instance {
    this.db0 ??= buildDb0View(this.o.catalog.list(), this.o.clock());
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
