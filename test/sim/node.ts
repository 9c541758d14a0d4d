/**
 * One simulated server: a RawNode over a MemoryStorage, the key-value state machine it feeds,
 * and a "disk" — the copy of storage that survives a crash.
 *
 * The Ready contract is modelled literally: a batch's snapshot, entries and hard state are handed
 * to storage; when the batch says mustSync (or installs a snapshot) the disk becomes a copy of
 * storage, i.e. everything handed over so far is fsync'd; only then do its messages go out.
 * Writes handed over without a sync (a commit-index-only hard state) stay volatile until the
 * next sync, so a crash loses them. A crash drops the RawNode, storage, state machine and every
 * pending client request; a restart rebuilds storage from the disk, the state machine from the
 * disk's snapshot, and tells the core `applied = snapshot index`, so the core itself must hand
 * back the committed tail for replay.
 *
 * With `asyncStorage` the node takes the next Ready without waiting for the sync of the last
 * one, as the server's runtime does: a batch that must be synced is handed to storage, its
 * messages are held, and a sync is scheduled a little later (a "sync" event); when it runs, the
 * disk becomes a copy of storage, the core is told what is now durable (`persisted`), and the
 * held messages go out in order. A crash before that loses the batch and its messages.
 */
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  type HardState,
  MemoryStorage,
  type Message,
  type NodeId,
  RaftError,
  RawNode,
  type Ready,
  type Snapshot,
} from "../../src/raft/index.ts";
import { SafetyViolation } from "./invariants.ts";
import {
  bytesToText,
  type ClientReply,
  type ClientRequest,
  decodeOp,
  encodeOp,
  KvMachine,
} from "./kv.ts";
import type { Rng } from "./rng.ts";

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  /** The entries storage still held (from its first index; may overlap the snapshot). */
  entries: Entry[];
}

/** How the node reports to the cluster (network, clients, invariant checker). */
export interface NodeHooks {
  send(msg: Message): void;
  reply(req: ClientRequest, reply: ClientReply): void;
  /** Called with each Ready before anything in it is acted on. */
  ready(node: SimNode, rd: Ready): void;
  /** Called after `entries` were appended to storage. */
  appended(node: SimNode, entries: Entry[]): void;
  /** Called after the disk was replaced by a copy of storage. */
  synced(node: SimNode, before: Disk): void;
  /** Called with messages as they are sent (when they were held for a sync, on release). */
  sending(node: SimNode, msgs: Message[]): void;
  /** asyncStorage: asks for `node.syncNow(incarnation)` to be called a little later. */
  scheduleSync(node: SimNode): void;
  /** Called before an entry is applied to the state machine. */
  applying(node: SimNode, entry: Entry): void;
}

export interface NodeConfig {
  /** The initial membership's voters (also for spares, which are not among them). */
  voters: NodeId[];
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg?: number;
  maxInflight?: number;
  /** Snapshot and compact the log once this many applied entries sit above the snapshot (0 = never). */
  snapshotEvery: number;
  /** Take Readys without waiting for their sync (see the module doc). */
  asyncStorage?: boolean;
}

interface WaitingRead {
  index: number;
  req: ClientRequest;
}

const encoder = new TextEncoder();

export class SimNode {
  readonly id: NodeId;
  alive = false;
  incarnation = 0;
  /** While now < pausedUntil the process is stalled: no ticks, its inbox waits. */
  pausedUntil = 0;
  disk: Disk;
  storage!: MemoryStorage;
  raft!: RawNode;
  kv!: KvMachine;
  applied = 0;
  readonly #cfg: NodeConfig;
  readonly #hooks: NodeHooks;
  /** Writes proposed here, by `client:seq`, answered when this node applies them. */
  #writes = new Map<string, ClientRequest>();
  /** Reads waiting for their ReadIndex, by context. */
  #reads = new Map<string, ClientRequest>();
  /** Reads whose read index is known, waiting for applied ≥ index. */
  #waiting: WaitingRead[] = [];
  #readSeq = 0;
  /** asyncStorage: batches handed to storage but not yet synced, oldest first. */
  #unsynced: { last: Entry | null; messages: Message[] }[] = [];
  #syncScheduled = false;

  constructor(id: NodeId, cfg: NodeConfig, hooks: NodeHooks) {
    this.id = id;
    this.#cfg = cfg;
    this.#hooks = hooks;
    const conf: ConfState = { voters: cfg.voters.slice(), learners: [] };
    this.disk = {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: { meta: { index: 0, term: 0, conf }, data: new Uint8Array(0) },
      entries: [],
    };
  }

  /** Whether the node was ever booted (spares are not, until they join). */
  get started(): boolean {
    return this.incarnation > 0;
  }

  /** (Re)starts the node from its disk; `rng` drives the new core's randomized timeouts. */
  boot(rng: Rng): void {
    const { snapshot, entries, hardState } = this.disk;
    const storage = new MemoryStorage({ voters: this.#cfg.voters.slice(), learners: [] });
    if (snapshot.meta.index > 0) storage.applySnapshot(snapshot);
    if (entries.length > 0) storage.append(entries.slice());
    storage.setHardState({ ...hardState });
    this.storage = storage;
    this.kv = KvMachine.restore(snapshot.data);
    this.applied = snapshot.meta.index;
    this.incarnation++;
    this.alive = true;
    this.raft = new RawNode({
      id: this.id,
      electionTick: this.#cfg.electionTick,
      heartbeatTick: this.#cfg.heartbeatTick,
      storage,
      random: () => rng.next(),
      applied: this.applied,
      preVote: this.#cfg.preVote,
      checkQuorum: this.#cfg.checkQuorum,
      maxSizePerMsg: this.#cfg.maxSizePerMsg,
      maxInflight: this.#cfg.maxInflight,
      asyncStorage: this.#cfg.asyncStorage,
    });
    this.drain();
  }

  /** Loses everything not on disk. */
  crash(): void {
    this.alive = false;
    this.pausedUntil = 0;
    this.#writes.clear();
    this.#reads.clear();
    this.#waiting = [];
    this.#unsynced = [];
    this.#syncScheduled = false;
  }

  /** asyncStorage: the scheduled sync of `incarnation` runs (ignored after a crash). */
  syncNow(incarnation: number): void {
    if (!this.alive || incarnation !== this.incarnation) return;
    this.#syncScheduled = false;
    if (this.#unsynced.length === 0) return;
    this.sync();
    const batches = this.#unsynced;
    this.#unsynced = [];
    for (const b of batches) {
      if (b.last !== null) this.raft.persisted(b.last.index, b.last.term);
      this.#send(b.messages);
    }
    this.drain();
  }

  #send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    this.#hooks.sending(this, msgs);
    for (const m of msgs) this.#hooks.send(m);
  }

  tick(): void {
    this.raft.tick();
    this.drain();
  }

  step(msg: Message): void {
    this.raft.step(msg);
    this.drain();
  }

  request(req: ClientRequest): void {
    try {
      if (req.op.op === "get") {
        const ctx = `${this.id}.${this.incarnation}.${++this.#readSeq}`;
        this.raft.readIndex(encoder.encode(ctx));
        this.#reads.set(ctx, req);
      } else {
        this.raft.propose(encodeOp(req.op));
        this.#writes.set(`${req.op.client}:${req.op.seq}`, req);
      }
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      this.#hooks.reply(req, {
        client: req.client,
        token: req.token,
        kind: "retry",
        leader: e.leader,
      });
    }
    this.drain();
  }

  /** Runs the Ready loop until the core has nothing more to hand over. */
  drain(): void {
    for (let rounds = 0; this.raft.hasReady(); rounds++) {
      if (rounds > 1000) {
        throw new SafetyViolation("ready contract", `node ${this.id}: hasReady() never settles`);
      }
      const rd = this.raft.ready();
      this.#hooks.ready(this, rd);
      if (rd.snapshot) {
        if (rd.snapshot.meta.index <= this.applied) {
          throw new SafetyViolation(
            "ready contract",
            `node ${this.id}: snapshot at ${rd.snapshot.meta.index} handed over with applied=${this.applied}`,
          );
        }
        this.storage.applySnapshot(rd.snapshot);
        this.kv = KvMachine.restore(rd.snapshot.data);
        this.applied = rd.snapshot.meta.index;
      }
      if (rd.entries.length > 0) this.storage.append(rd.entries);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      const last = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1] : null;
      if (!this.#cfg.asyncStorage || rd.snapshot) {
        // A snapshot is made durable before advance in either mode (the Ready contract).
        if (rd.mustSync || rd.snapshot) this.sync();
        if (this.#cfg.asyncStorage && rd.snapshot) this.#releaseAll();
        if (rd.entries.length > 0) this.#hooks.appended(this, rd.entries);
        this.#send(rd.messages);
      } else {
        if (rd.entries.length > 0) this.#hooks.appended(this, rd.entries);
        if (rd.mustSync || this.#unsynced.length > 0) {
          // Held until the sync; messages keep their order behind earlier held ones.
          this.#unsynced.push({ last, messages: rd.messages });
          if (!this.#syncScheduled) {
            this.#syncScheduled = true;
            this.#hooks.scheduleSync(this);
          }
        } else {
          this.#send(rd.messages);
        }
      }
      for (const e of rd.committed) this.#apply(e);
      for (const rs of rd.readStates) {
        const ctx = bytesToText(rs.context);
        const req = this.#reads.get(ctx);
        if (req) {
          this.#reads.delete(ctx);
          this.#waiting.push({ index: rs.index, req });
        }
      }
      this.#serveReads();
      this.raft.advance(rd);
    }
    this.#maybeSnapshot();
  }

  /** A synchronous sync made everything handed out durable: report it and release what waited. */
  #releaseAll(): void {
    const batches = this.#unsynced;
    this.#unsynced = [];
    for (const b of batches) {
      if (b.last !== null) this.raft.persisted(b.last.index, b.last.term);
      this.#send(b.messages);
    }
  }

  /** fsync: the disk becomes what storage holds now. */
  sync(): void {
    const before = this.disk;
    const first = this.storage.firstIndex();
    const last = this.storage.lastIndex();
    this.disk = {
      hardState: { ...this.storage.initialState().hardState },
      snapshot: this.storage.snapshot(),
      entries: last >= first ? this.storage.entries(first, last + 1).slice() : [],
    };
    this.#hooks.synced(this, before);
  }

  /** Term of the entry at `index` on disk, or undefined when the disk does not have it. */
  diskTerm(index: number): number | undefined {
    const snap = this.disk.snapshot.meta;
    if (index === snap.index) return snap.term;
    const entries = this.disk.entries;
    if (entries.length === 0) return undefined;
    const e = entries[index - entries[0].index];
    return e && e.index === index ? e.term : undefined;
  }

  #apply(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw new SafetyViolation(
        "ready contract",
        `node ${this.id}: committed entry ${e.index} handed over with applied=${this.applied}`,
      );
    }
    this.#hooks.applying(this, e);
    this.applied = e.index;
    if (e.type === "conf") {
      this.raft.applyConfChange(decodeConfChange(e.data));
      return;
    }
    if (e.data.length === 0) return;
    const op = decodeOp(e.data);
    const output = this.kv.apply(op);
    const key = `${op.client}:${op.seq}`;
    const req = this.#writes.get(key);
    if (req) {
      this.#writes.delete(key);
      this.#hooks.reply(req, { client: req.client, token: req.token, kind: "done", output });
    }
  }

  #serveReads(): void {
    if (this.#waiting.length === 0) return;
    const still: WaitingRead[] = [];
    for (const w of this.#waiting) {
      if (w.index > this.applied) {
        still.push(w);
        continue;
      }
      const value = this.kv.get(w.req.op.key);
      this.#hooks.reply(w.req, {
        client: w.req.client,
        token: w.req.token,
        kind: "done",
        output: { ok: true, value },
      });
    }
    this.#waiting = still;
  }

  /** Local log compaction: snapshot the state machine at `applied` and drop the log below. */
  #maybeSnapshot(): void {
    const every = this.#cfg.snapshotEvery;
    if (every <= 0) return;
    const snapIndex = this.storage.firstIndex() - 1;
    if (this.applied - snapIndex < every) return;
    this.storage.createSnapshot(this.applied, this.raft.status().conf, this.kv.serialize());
    this.storage.compact(this.applied);
    this.sync();
  }
}
