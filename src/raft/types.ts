/**
 * The vocabulary of the Raft core: log entries, persistent state, messages, and the Ready batch
 * through which the pure state machine hands work to the runtime.
 *
 * The core (./raw-node.ts) never performs I/O. The runtime (src/cluster) drives it: it feeds
 * `tick()` from a timer, `step(msg)` from the network, `propose(data)` from clients, then drains
 * `ready()`: it must persist `hardState` and `entries` (and install `snapshot`) durably BEFORE it
 * sends `messages`, apply `committed` entries in order, and then call `advance(ready)`. Everything
 * random comes from the injected `random` function, so a seeded source makes runs reproducible.
 */

export type NodeId = number;

/** Node ids are positive; 0 means "none" (no vote, no known leader). */
export const NONE: NodeId = 0;

export type EntryType = "normal" | "conf";

export interface Entry {
  index: number;
  term: number;
  /** "conf" entries carry an encoded ConfChange; "normal" ones application data. */
  type: EntryType;
  /** Empty for the no-op a new leader appends to commit entries of earlier terms. */
  data: Uint8Array;
}

/** What must survive a crash, written before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Cluster membership: voters elect and count for commit; learners only replicate. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** One membership change at a time (single-server changes, as in the Raft thesis §4). */
export type ConfChange =
  | { type: "addLearner"; node: NodeId }
  | { type: "promote"; node: NodeId }
  | { type: "remove"; node: NodeId };

export interface SnapshotMeta {
  /** Last log index and term the snapshot covers. */
  index: number;
  term: number;
  /** Membership as of that index. */
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's serialized state (opaque to the core); empty when `file` is set. */
  data: Uint8Array;
  /**
   * Where the runtime keeps the state when it is too large to carry inline: opaque to the core,
   * which only passes it along (the runtime streams the file to the node it is sent to).
   */
  file?: SnapshotFile;
}

/** A snapshot kept in a file of the node that holds it. */
export interface SnapshotFile {
  group: number;
  /** Which of the group's snapshot files (the holder's numbering). */
  seq: number;
  /** Size of the file. */
  bytes: number;
  /** Its path on the node that holds it. */
  path: string;
}

export type MessageType =
  | "preVote"
  | "preVoteResp"
  | "vote"
  | "voteResp"
  | "append"
  | "appendResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snapshot"
  | "timeoutNow"
  | "readIndex" // follower → leader: please confirm a read index for `context`
  | "readIndexResp"
  | "propose"; // follower → leader: forwarded proposal (entries)

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** append: previous entry's index/term; (pre)vote: candidate's last index/term. */
  index?: number;
  logTerm?: number;
  entries?: Entry[];
  commit?: number;
  /** appendResp: refused, with `rejectHint`/`hintTerm` for fast back-off; (pre)voteResp: denied. */
  reject?: boolean;
  rejectHint?: number;
  hintTerm?: number;
  snapshot?: Snapshot;
  /** readIndex / readIndexResp / heartbeat: the read request's context. */
  context?: Uint8Array;
}

/** A read index confirmed by a quorum: reads for `context` may be served once applied ≥ index. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export interface Ready {
  /** Persist when non-null (before sending messages). */
  hardState: HardState | null;
  /** Append to stable storage, first truncating any stored entries at or after entries[0].index. */
  entries: Entry[];
  /** Install into stable storage and the state machine when non-null. */
  snapshot: Snapshot | null;
  /** Apply to the state machine, in order. */
  committed: Entry[];
  /** Send after the above is durable. */
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries must be fsync'd before messages are sent. */
  mustSync: boolean;
}

/**
 * The read view of stable storage the core consults (entries it has been told are persisted).
 * Implementations: MemoryStorage (./memory-storage.ts) for tests and simulation, the LMDB log
 * store in src/cluster for real nodes.
 */
export interface RaftStorage {
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at most maxBytes of data when given (at least one entry). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at index; the snapshot's term at the snapshot index; throws otherwise. */
  term(index: number): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before campaigning: randomized in [n, 2n). */
  electionTick: number;
  /** Ticks between leader heartbeats (< electionTick). */
  heartbeatTick: number;
  storage: RaftStorage;
  /** Uniform in [0, 1): injected so simulations are deterministic. */
  random: () => number;
  /** Index of the last entry the state machine has applied (on restart). */
  applied?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Bytes of entries per append message. */
  maxSizePerMsg?: number;
  /** Append messages in flight per follower (pipelining). */
  maxInflight?: number;
  /**
   * Asynchronous storage writes. Off: `advance(rd)` says that rd's entries and hard state are
   * durable. On: `advance(rd)` only says they were handed to storage (a Ready with a snapshot
   * must still be durable by then); the runtime reports durability later, in order, with
   * `persisted(index, term)`, and must hold rd's messages until then. Meanwhile the next Ready
   * may be taken, so several syncs can be in flight; committed entries are handed out for
   * applying only once they are durable here.
   */
  asyncStorage?: boolean;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  role: Role;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  /** Leader only: each peer's match index. */
  progress: Record<NodeId, { match: number; next: number; learner: boolean }>;
}
