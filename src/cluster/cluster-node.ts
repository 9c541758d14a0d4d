/**
 * This node as a member of a cluster: the transport to its peers, the routing of Raft messages
 * between the transport and this node's groups, the answers to peers' requests (join, leadership
 * transfer), and the membership loop.
 *
 * Every group on the node shares the one transport: a group's outgoing messages travel as one
 * frame per destination, `{ g: group id, m: messages }`, and incoming frames are handed to the
 * group they name (a frame for a group not open here yet, such as an instance whose creation has
 * not reached this node, is dropped; Raft sends again). A message is accepted only with the
 * sender's own id as its `from`: the transport authenticated the peer, so no node can speak for
 * another.
 *
 * The membership loop runs every MEMBERSHIP_TICK_MS: for each group this node leads it takes one
 * step toward the catalog's node list (./membership.ts). It also notices when the catalog lists
 * this node as removed, and then stops the node.
 */
import type { Catalog } from "../db0/catalog.ts";
import { HeroError } from "../errors.ts";
import { RaftError } from "../raft/errors.ts";
import type { Message } from "../raft/types.ts";
import { answerJoin } from "./admission.ts";
import type { StoredSnapshotFile } from "./group-log.ts";
import type { NodeAddresses, PeerRequest } from "./join.ts";
import { nextMembershipStep } from "./membership.ts";
import { type NodeState, writeNodeState } from "./node-state.ts";
import type { RaftGroup } from "./raft-group.ts";
import type { GroupNetwork } from "./replicator.ts";
import { SnapshotFetcher } from "./snapshot-fetch.ts";
import { snapshotFileReply } from "./snapshot-files.ts";
import type { Transport } from "./transport.ts";

const MEMBERSHIP_TICK_MS = 200;
/** The longest a removed node keeps serving its groups so that its removal can commit. */
const REMOVAL_GRACE_MS = 10_000;
/** A leader spreads leadership only after leading a group this long (lets the cluster settle). */
const BALANCE_AFTER_MS = 3_000;

export interface ClusterNodeOptions {
  state: NodeState;
  dataDir: string;
  self: NodeAddresses;
  /** Dial addresses that override the catalog's (--peer-address). */
  peerAddresses: Map<number, string>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Called once when the catalog says this node was removed. */
  onRemoved: () => void;
}

export interface GroupStatus {
  group: number;
  role: string;
  term: number;
  leader: number;
  commit: number;
  applied: number;
  last_index: number;
  voters: number[];
  learners: number[];
  /** Leader only: entries each peer lacks. */
  lag?: Record<string, number>;
}

/** What the cluster_* methods (src/api/cluster-methods.ts) drive: this node's cluster side. */
export interface ClusterControl {
  status(): unknown;
  removeNode(id: number): Promise<void>;
  transferLeader(group: number, to: number): Promise<{ leader: number }>;
}

/** The Raft groups this node runs (the instance registry), as the cluster node routes to them. */
export interface GroupHost {
  /** Every group on this node, by group id order (0: the catalog). */
  allGroups(): RaftGroup[];
  group(groupId: number): RaftGroup | undefined;
  /** The catalog's group (group 0), once attached. */
  catalogRaft(): RaftGroup | null;
  /** The file of a group's stored snapshot (what a member lagging behind is sent). */
  snapshotFile(groupId: number): StoredSnapshotFile | null;
  /** The node's log store directory (where snapshots from peers are received). */
  readonly logDir: string;
}

export class ClusterNode implements GroupNetwork, ClusterControl {
  readonly nodeId: number;
  readonly bootstrapId: number;
  readonly clusterId: string;
  private readonly o: ClusterNodeOptions;
  private transport: Transport | null = null;
  private catalog: Catalog | null = null;
  private registry: GroupHost | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When this node became leader of each group it leads (performance.now()). */
  private readonly leadingSince = new Map<number, number>();
  private removed = false;
  /** Ids the catalog lists as removed, and those of them this node has cut off. */
  private removedIds = new Set<number>();
  private readonly cutOff = new Set<number>();
  private fetcher: SnapshotFetcher | null = null;

  constructor(o: ClusterNodeOptions) {
    this.o = o;
    this.nodeId = o.state.node_id;
    this.bootstrapId = o.state.bootstrap_id;
    this.clusterId = o.state.cluster_id;
  }

  /** The transport must exist before the registry (joining uses it); wired here. */
  useTransport(t: Transport): void {
    this.transport = t;
  }

  /** Where to dial node `id`: an override, else the address the catalog records for it. */
  addressOf(id: number): string | undefined {
    return (
      this.o.peerAddresses.get(id) ?? this.catalog?.cluster()?.nodes.find((n) => n.id === id)?.raft
    );
  }

  /**
   * Whether node `id` may talk to us: anyone not removed (a joiner is not listed yet), and a
   * removed node only while one of our groups still counts it as a member (its removal from that
   * group may need its acknowledgement to commit).
   */
  admit(id: number): boolean {
    return !this.removedIds.has(id) || this.stillMember(id);
  }

  private stillMember(id: number): boolean {
    return (this.registry?.allGroups() ?? []).some((g) => {
      const conf = g.node.status().conf;
      return conf.voters.includes(id) || conf.learners.includes(id);
    });
  }

  /** Starts routing and the membership loop once the catalog and registry exist. */
  attach(catalog: Catalog, registry: GroupHost): void {
    this.catalog = catalog;
    this.registry = registry;
    this.fetcher = new SnapshotFetcher({
      dir: registry.logDir,
      addressOf: (id) => this.addressOf(id),
      stream: (address, body, consume, idleMs) =>
        this.transport === null
          ? Promise.reject(new HeroError("ERR", "no transport"))
          : this.transport.stream(address, body, consume, idleMs),
      step: (g, m) => registry.group(g)?.step(m),
      applied: (g) => registry.group(g)?.appliedIndex ?? 0,
      progress: (message) => this.o.log.info({}, message),
    });
    catalog.onChange(() => this.catalogChanged());
    this.catalogChanged();
    this.timer = setInterval(() => this.reconcile(), MEMBERSHIP_TICK_MS);
    this.timer.unref();
  }

  /**
   * --bootstrap on a first start: once group 0 has elected this node, record the cluster in the
   * catalog. Waits for the election (a lone voter elects itself at once).
   */
  async bootstrap(): Promise<void> {
    const catalog = this.catalog;
    const g0 = this.registry?.catalogRaft();
    if (catalog === null || g0 == null || catalog.cluster() !== undefined) return;
    // Only the bootstrapping node records the cluster (also after a crash before it did).
    if (this.bootstrapId !== this.nodeId) return;
    for (let i = 0; i < 200 && !g0.leads; i++) await new Promise((r) => setTimeout(r, 25));
    await catalog.initCluster(this.clusterId, this.o.self);
    this.o.log.info({ cluster: this.clusterId, node: this.nodeId }, "cluster bootstrapped");
  }

  send(groupId: number, messages: Message[]): void {
    const t = this.transport;
    if (t === null) return;
    if (messages.length === 1) {
      t.send(messages[0].to, { g: groupId, m: messages });
      return;
    }
    const byPeer = new Map<number, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, [m]);
      else list.push(m);
    }
    for (const [to, list] of byPeer) t.send(to, { g: groupId, m: list });
  }

  /** A frame from peer `from`. */
  onMessage(from: number, body: unknown): void {
    const f = body as { g?: unknown; m?: unknown } | null;
    if (f === null || typeof f !== "object" || typeof f.g !== "number" || !Array.isArray(f.m)) {
      return;
    }
    const group = this.registry?.group(f.g);
    if (group === undefined) return;
    for (const m of f.m as Message[]) {
      if (m === null || typeof m !== "object" || m.from !== from || m.to !== this.nodeId) continue;
      // A snapshot in a file of the sender's is fetched first (streamed), then stepped.
      if (m.type === "snapshot" && m.snapshot?.file !== undefined) this.fetcher?.receive(f.g, m);
      else group.step(m);
    }
  }

  /**
   * A request from a peer (or a node asking to join); `peerId` is the node its certificate
   * names (null when it names none).
   */
  async onRequest(body: unknown, peerId: number | null): Promise<unknown> {
    const req = body as PeerRequest | null;
    const catalog = this.catalog;
    if (req === null || typeof req !== "object" || catalog === null) {
      throw new HeroError("ERR", "not ready");
    }
    switch (req.t) {
      case "joinInfo":
      case "join":
        return answerJoin(req, peerId, {
          catalog,
          clusterId: this.clusterId,
          bootstrapId: this.bootstrapId,
          log: this.o.log,
        });
      case "transferLeader":
        return this.transferHere(req.group, req.to);
      case "removed": {
        // Believe the catalog, not the messenger: confirm through a read of group 0.
        if (req.id !== this.nodeId || peerId === null) return { ok: false };
        await this.registry?.catalogRaft()?.readBarrier();
        this.catalogChanged();
        return { ok: this.removed };
      }
      case "snapshotFile":
        // Only a member of the cluster, for a snapshot this node holds now.
        if (peerId === null || !this.admit(peerId)) throw new HeroError("ERR", "not a member");
        return snapshotFileReply(this.registry?.snapshotFile(req.g) ?? null, req.g, req.seq);
      default:
        throw new HeroError("ERR", "unknown request");
    }
  }

  /**
   * cluster_removeNode: every group drops the node as its leader applies the change. The node
   * itself is told directly too: once it is out of group 0 nobody would tell it the news.
   */
  async removeNode(id: number): Promise<void> {
    if (this.catalog === null) throw new HeroError("ERR", "not ready");
    const address = this.addressOf(id);
    await this.catalog.removeNode(id);
    if (address !== undefined && id !== this.nodeId) {
      await this.transport?.request(address, { t: "removed", id }, 3_000).catch(() => undefined);
    }
  }

  /** Starts handing `group` to node `to`; must run on the group's leader. */
  private transferHere(groupId: number, to: number): { leader: number } {
    const g = this.registry?.group(groupId);
    if (g === undefined) throw new HeroError("INVALID_PARAMS", `no group ${groupId}`);
    if (!g.leads)
      throw new HeroError("TRYAGAIN", `node ${this.nodeId} does not lead group ${groupId}`);
    try {
      g.transferLeader(to);
    } catch (e) {
      throw raftProblem(e);
    }
    return { leader: g.node.leader };
  }

  /**
   * Hands leadership of `groupId` to node `to`, asking the current leader wherever it is, and
   * waits (up to a few seconds) until `to` leads.
   */
  async transferLeader(groupId: number, to: number): Promise<{ leader: number }> {
    const g = this.registry?.group(groupId);
    if (g === undefined) throw new HeroError("INVALID_PARAMS", `no group ${groupId} on this node`);
    const members = g.node.status().conf.voters;
    if (!members.includes(to))
      throw new HeroError("INVALID_PARAMS", `node ${to} is not a voter of group ${groupId}`);
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline) {
      if (g.node.leader === to) return { leader: to };
      const leader = g.node.leader;
      try {
        if (leader === this.nodeId) this.transferHere(groupId, to);
        else if (leader !== 0) {
          const address = this.addressOf(leader);
          if (address !== undefined && this.transport !== null) {
            await this.transport.request(
              address,
              { t: "transferLeader", group: groupId, to },
              3_000,
            );
          }
        }
      } catch {
        // The leader changed meanwhile, or the transfer is already running: look again.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new HeroError("TIMEOUT", `node ${to} did not take over group ${groupId} in time`);
  }

  /** One membership step for every group this node leads (see ./membership.ts). */
  private reconcile(): void {
    const registry = this.registry;
    const cluster = this.catalog?.cluster();
    if (registry === null || cluster === undefined) return;
    const desired = cluster.nodes.map((n) => n.id);
    // This node dials every peer with a higher id (the transport's rule), whether or not it has
    // anything to send yet: a follower may have nothing to say to its leader for a long while.
    for (const id of desired) if (id > this.nodeId) this.transport?.connect(id);
    // A removed node is cut off once no group here counts it any more.
    for (const id of this.removedIds) {
      if (id === this.nodeId || this.cutOff.has(id) || this.stillMember(id)) continue;
      this.cutOff.add(id);
      this.transport?.disconnect(id);
    }
    const now = performance.now();
    for (const g of registry.allGroups()) {
      if (!g.leads) {
        this.leadingSince.delete(g.groupId);
        continue;
      }
      if (!this.leadingSince.has(g.groupId)) this.leadingSince.set(g.groupId, now);
      const balance = now - (this.leadingSince.get(g.groupId) ?? now) > BALANCE_AFTER_MS;
      const step = nextMembershipStep(g.node.status(), g.groupId, desired, balance);
      if (step === null) continue;
      try {
        if (step.kind === "change") {
          g.proposeConfChange(step.change);
          this.o.log.info({ group: g.groupId, change: step.change }, "membership change proposed");
        } else {
          g.transferLeader(step.to);
        }
      } catch {
        // A change still pending, or leadership just moved: the next tick looks again.
      }
    }
  }

  /** The catalog changed: forget removed peers, and notice when this node is one of them. */
  private catalogChanged(): void {
    const removed = this.catalog?.cluster()?.removed ?? [];
    this.removedIds = new Set(removed);
    if (removed.includes(this.nodeId)) this.markRemoved();
  }

  /**
   * Records the removal in node.json (a restart refuses to run), then stops the node once its
   * groups no longer count it as a voter, or after REMOVAL_GRACE_MS: until the remaining nodes
   * have committed its removal from every group, its acknowledgements may still be needed (in a
   * 2-node cluster, always).
   */
  private markRemoved(): void {
    if (this.removed) return;
    this.removed = true;
    this.o.log.warn({ node: this.nodeId }, "this node was removed from the cluster; stopping");
    const recorded = writeNodeState(this.o.dataDir, { ...this.o.state, removed: true }).catch(
      (e: unknown) =>
        this.o.log.warn(
          { error: (e as Error).message },
          "could not record the removal in node.json",
        ),
    );
    const until = performance.now() + REMOVAL_GRACE_MS;
    const poll = setInterval(() => {
      const stillVoter = (this.registry?.allGroups() ?? []).some((g) =>
        g.node.status().conf.voters.includes(this.nodeId),
      );
      if (stillVoter && performance.now() < until) return;
      clearInterval(poll);
      void recorded.finally(() => this.o.onRemoved());
    }, 100);
  }

  /** This node's view of the cluster (cluster_status). */
  status(): { cluster_id: string; node_id: number; nodes: object[]; groups: GroupStatus[] } {
    const cluster = this.catalog?.cluster();
    const peers = new Map((this.transport?.peers() ?? []).map((p) => [p.id, p]));
    const sorted = [...(cluster?.nodes ?? [])].sort((a, b) => a.id - b.id);
    const nodes = sorted.map((n) => ({
      id: n.id,
      raft: n.raft,
      resp: n.resp,
      api: n.api,
      self: n.id === this.nodeId,
      connected: n.id === this.nodeId ? true : (peers.get(n.id)?.connected ?? false),
    }));
    const groups = (this.registry?.allGroups() ?? []).map((g) => groupStatus(g));
    return { cluster_id: this.clusterId, node_id: this.nodeId, nodes, groups };
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function groupStatus(g: RaftGroup): GroupStatus {
  const st = g.node.status();
  const out: GroupStatus = {
    group: g.groupId,
    role: st.role,
    term: st.term,
    leader: st.leader,
    commit: st.commit,
    applied: st.applied,
    last_index: st.lastIndex,
    voters: st.conf.voters,
    learners: st.conf.learners,
  };
  if (st.role === "leader") {
    out.lag = {};
    for (const [id, p] of Object.entries(st.progress)) {
      if (Number(id) !== st.id) out.lag[id] = Math.max(0, st.lastIndex - p.match);
    }
  }
  return out;
}

function raftProblem(e: unknown): HeroError {
  if (e instanceof HeroError) return e;
  if (e instanceof RaftError) return new HeroError("TRYAGAIN", `raft: ${e.message}`);
  return new HeroError("INTERNAL", (e as Error).message);
}
