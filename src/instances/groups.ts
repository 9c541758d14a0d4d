/**
 * Every Raft group on this node: the catalog's (group 0) and one per replicated instance. Makes
 * them with their log in the node's log store, replays what a restart left in the log, shares one
 * log flush (one fsync) among the groups that ask at once, and counts durability for INFO.
 */
import { join } from "node:path";
import type { NodeLogStore } from "../cluster/log-store.ts";
import { RaftGroup } from "../cluster/raft-group.ts";
import type { GroupNetwork } from "../cluster/replicator.ts";
import type { ApplyResult, StateMachine } from "../engine/contract.ts";
import { BATCH_BOUNDS, Histogram } from "../metrics/histogram.ts";

export class NodeGroups {
  /**
   * Log fsyncs, the entries they made durable and the client writes in those entries, across all
   * groups (INFO persistence).
   */
  readonly durability = { fsyncs: 0, entries: 0, writes: 0 };
  /** Seconds each log flush took, from its start until durable (/metrics). */
  readonly syncSeconds = new Histogram();
  /** Client writes each group's sync made durable (the group-commit batch size, /metrics). */
  readonly syncWrites = new Histogram(BATCH_BOUNDS);
  /** This node's id in every Raft group (1 on a single server). */
  readonly nodeId: number;
  readonly network: GroupNetwork | null;
  private readonly logs: NodeLogStore;
  private readonly progress: (message: string) => void;
  /** Applied entries after which a group snapshots and compacts its log (--snapshot-count). */
  private readonly snapshotEntries: number;
  private readonly groups = new Map<number, RaftGroup>();
  private lastFlush: Promise<void> | null = null;

  constructor(
    logs: NodeLogStore,
    network: GroupNetwork | null,
    snapshotEntries: number,
    progress: (message: string) => void,
  ) {
    this.logs = logs;
    this.network = network;
    this.nodeId = network?.nodeId ?? 1;
    this.snapshotEntries = snapshotEntries;
    this.progress = progress;
  }

  /** The first membership of a group made on this node: the cluster's bootstrap node, or us. */
  get firstVoter(): number {
    return this.network?.bootstrapId ?? this.nodeId;
  }

  /**
   * A Raft group for `groupId` with its log in the node's log store; `voters` is its first
   * membership (used only when the store holds nothing for it yet).
   */
  create(
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
      stagingDir: join(this.logs.dir, "restore"),
      snapshotEntries: this.snapshotEntries,
      onPersisted: (entries, writes) => {
        this.durability.entries += entries;
        this.durability.writes += writes;
        if (writes > 0) this.syncWrites.observe(writes);
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

  /** Starts a group and replays its log; on a single node, waits until it has applied it all. */
  async start(group: RaftGroup, what: string): Promise<void> {
    const backlog = group.backlog();
    group.start();
    if (backlog > 0) this.progress(`${what}: replaying ${backlog} log entries`);
    // A lone voter commits its whole log at once; in a cluster the log commits when a leader
    // says so, which may take a while (or wait for other nodes): linearizable reads cover that.
    if (this.network === null) await group.caughtUp();
  }

  /** Forgets a closed group; with `dropLog`, its log goes too (the instance was deleted). */
  remove(groupId: number, dropLog: boolean): void {
    this.groups.delete(groupId);
    if (dropLog) this.logs.dropGroup(groupId);
  }

  get(groupId: number): RaftGroup | undefined {
    return this.groups.get(groupId);
  }

  all(): RaftGroup[] {
    return [...this.groups.values()].sort((a, b) => a.groupId - b.groupId);
  }

  /** One flush of the node's log store; concurrent callers share one commit (and one fsync). */
  private flushLog(): Promise<void> {
    const p = this.logs.flush();
    if (p !== this.lastFlush) {
      this.lastFlush = p;
      this.durability.fsyncs++;
      const started = performance.now();
      p.then(
        () => this.syncSeconds.observe((performance.now() - started) / 1000),
        () => {},
      );
    }
    return p;
  }
}
