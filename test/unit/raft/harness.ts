/**
 * A hand-driven network for the Raft core's unit tests: every node is a RawNode over a
 * MemoryStorage; `drain(id)` runs the runtime loop once (persist, queue messages, apply, advance)
 * and messages wait in one FIFO queue until a test delivers them, drops them, or lets
 * `stabilize()` deliver everything. The state machine is a list of applied strings, so tests can
 * compare what each node applied. Randomness comes from a seeded generator.
 */
import {
  type ConfState,
  decodeConfChange,
  MemoryStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  RawNode,
  type ReadState,
  type Ready,
} from "../../../src/raft/index.ts";

import { seeded } from "../../helpers/seeded.ts";

export { seeded };

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface Peer {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  /** Data of applied normal entries (the no-op excluded). */
  applied: string[];
  appliedIndex: number;
  readStates: ReadState[];
  readies: Ready[];
  conf: ConfState;
}

export type NodeOptions = Omit<RaftConfig, "id" | "storage" | "random">;

export const DEFAULTS: NodeOptions = { electionTick: 10, heartbeatTick: 1 };

export class Network {
  peers = new Map<NodeId, Peer>();
  queue: Message[] = [];
  /** Messages for which this returns true are dropped on delivery. */
  drop: (m: Message) => boolean = () => false;
  delivered: Message[] = [];
  private readonly opts: NodeOptions;
  private readonly seed: number;

  constructor(
    voters: NodeId[],
    opts: Partial<NodeOptions> = {},
    learners: NodeId[] = [],
    seed = 1,
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    this.seed = seed;
    for (const id of [...voters, ...learners]) {
      this.add(id, new MemoryStorage({ voters, learners }));
    }
  }

  add(id: NodeId, storage: MemoryStorage, opts: Partial<NodeOptions> = {}): Peer {
    const node = new RawNode({
      ...this.opts,
      ...opts,
      id,
      storage,
      random: seeded(this.seed * 1000 + id),
    });
    const old = this.peers.get(id);
    const peer: Peer = {
      id,
      node,
      storage,
      applied: old?.applied ?? [],
      appliedIndex: old?.appliedIndex ?? 0,
      readStates: [],
      readies: [],
      conf: storage.initialState().conf,
    };
    this.peers.set(id, peer);
    return peer;
  }

  /** Simulates a crash and restart with durable storage intact and the state machine kept. */
  restart(id: NodeId, opts: Partial<NodeOptions> = {}): Peer {
    const p = this.peer(id);
    return this.add(id, p.storage, { ...opts, applied: p.appliedIndex });
  }

  peer(id: NodeId): Peer {
    const p = this.peers.get(id);
    if (!p) throw new Error(`no peer ${id}`);
    return p;
  }

  node(id: NodeId): RawNode {
    return this.peer(id).node;
  }

  /** One pass of the runtime loop for a node, until it has nothing ready. */
  drain(id: NodeId): void {
    const p = this.peer(id);
    while (p.node.hasReady()) {
      const rd = p.node.ready();
      p.readies.push(rd);
      if (rd.snapshot) {
        p.storage.applySnapshot(rd.snapshot);
        p.applied = JSON.parse(dec(rd.snapshot.data)) as string[];
        p.appliedIndex = rd.snapshot.meta.index;
        p.conf = rd.snapshot.meta.conf;
      }
      p.storage.append(rd.entries);
      if (rd.hardState) p.storage.setHardState(rd.hardState);
      this.queue.push(...rd.messages);
      for (const e of rd.committed) {
        if (e.type === "conf") p.conf = p.node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.length > 0) p.applied.push(dec(e.data));
        p.appliedIndex = e.index;
      }
      p.readStates.push(...rd.readStates);
      p.node.advance(rd);
    }
  }

  /** Persists a Ready by hand (for tests that drive ready/advance themselves). */
  persist(id: NodeId, rd: Ready): void {
    const p = this.peer(id);
    if (rd.snapshot) p.storage.applySnapshot(rd.snapshot);
    p.storage.append(rd.entries);
    if (rd.hardState) p.storage.setHardState(rd.hardState);
  }

  /** The app's snapshot + compaction: snapshot the state machine at its applied index. */
  compact(id: NodeId): number {
    const p = this.peer(id);
    p.storage.createSnapshot(p.appliedIndex, p.conf, enc(JSON.stringify(p.applied)));
    p.storage.compact(p.appliedIndex);
    return p.appliedIndex;
  }

  drainAll(): void {
    for (const id of this.peers.keys()) this.drain(id);
  }

  /** Takes queued messages matching `pred` out of the queue (without delivering them). */
  take(pred: (m: Message) => boolean = () => true): Message[] {
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return out;
  }

  /** Delivers one message to its recipient and drains the recipient. */
  deliver(m: Message): void {
    const p = this.peers.get(m.to);
    if (!p || this.drop(m)) return;
    this.delivered.push(m);
    p.node.step(m);
    this.drain(m.to);
  }

  /** Delivers (FIFO) every queued message matching `pred`, once; returns how many. */
  deliverWhere(pred: (m: Message) => boolean): number {
    const batch = this.take(pred);
    for (const m of batch) this.deliver(m);
    return batch.length;
  }

  /** Drains every node and delivers messages until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      this.drainAll();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error("network did not stabilize");
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.drain(id);
    }
  }

  /** Ticks every node once and stabilizes, n times. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.peers.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Cuts `ids` off from everyone else (messages inside each side still flow). */
  partition(...ids: NodeId[]): void {
    const side = new Set(ids);
    this.drop = (m) => side.has(m.from) !== side.has(m.to);
  }

  heal(): void {
    this.drop = () => false;
  }

  /** Elects `id` by campaigning and stabilizing; returns it. */
  elect(id: NodeId): NodeId {
    this.node(id).campaign();
    this.stabilize();
    const s = this.node(id).status();
    if (s.role !== "leader") throw new Error(`${id} did not become leader (${s.role})`);
    return id;
  }

  leaders(): NodeId[] {
    return [...this.peers.values()]
      .filter((p) => p.node.status().role === "leader")
      .map((p) => p.id);
  }

  /** Proposes on a node and stabilizes. */
  propose(id: NodeId, data: string): void {
    this.node(id).propose(enc(data));
    this.stabilize();
  }

  /** Builds a storage holding `terms[i]` as the term of entry i+1, with a hard state. */
  static storageWith(
    conf: ConfState,
    terms: number[],
    hard: { term: number; vote?: NodeId; commit?: number },
  ): MemoryStorage {
    const s = new MemoryStorage(conf);
    s.append(
      terms.map((term, i) => ({
        index: i + 1,
        term,
        type: "normal",
        data: enc(`e${i + 1}t${term}`),
      })),
    );
    s.setHardState({ term: hard.term, vote: hard.vote ?? 0, commit: hard.commit ?? 0 });
    return s;
  }
}

export function msgTypes(ms: Message[]): string[] {
  return ms.map((m) => `${m.type} ${m.from}->${m.to}`);
}
