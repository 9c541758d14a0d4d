/**
 * The Raft state machine: one node's term, vote, role and log, driven only by `tick()`, `step()`
 * and the local requests RawNode forwards. It never does I/O; everything it wants done (persist,
 * send, apply) accumulates in its log's unstable tail, `msgs` and `readStates`, drained by
 * RawNode as a Ready batch.
 *
 * Roles and transitions (Raft thesis §3, §9.6 pre-vote, §6.2 check-quorum):
 * - follower → preCandidate (pre-vote enabled) or candidate, when no leader was heard for a
 *   randomized timeout in [electionTick, 2·electionTick) drawn from cfg.random;
 * - preCandidate → candidate on a quorum of pre-votes (a pre-vote changes no term or vote, so a
 *   partitioned node cannot inflate terms and depose a healthy leader when it returns);
 * - candidate → leader on a quorum of votes; the leader appends an empty entry of its term at
 *   once, because it may only commit entries of its own term by counting replicas (§5.4.2);
 * - any role → follower on seeing a higher term, or (leader) when check-quorum finds it has not
 *   heard from a quorum for an election timeout, or when it is removed from the voters.
 * Message term rules, applied before any role logic: a higher term makes us a follower (except
 * pre-votes and granted pre-vote responses, which carry the future term); a (pre)vote for a
 * higher term is ignored while we heard from a leader within the election timeout and
 * check-quorum is on (leader stickiness), unless it comes from a leadership transfer; lower-term
 * messages are dropped, but a stale leader's append is answered so our term deposes it.
 * Forwarded proposals and read requests carry term 0 and skip these rules.
 */
import { handleVoteRequest, handleVoteResponse, hup, isTransferContext } from "./election.ts";
import { handleAppend, handleHeartbeat, handleSnapshot } from "./follower.ts";
import { ProgressTracker } from "./progress.ts";
import { RaftLog } from "./raft-log.ts";
import { leaderReadIndex, onReadAck, releaseDeferredReads } from "./read-index.ts";
import { ReadOnly, type ReadRequest } from "./read-only.ts";
import {
  bcastAppend,
  bcastHeartbeat,
  handleAppendResponse,
  handleHeartbeatResponse,
} from "./replication.ts";
import { acceptForwarded } from "./requests.ts";
import {
  type Entry,
  type HardState,
  type Message,
  NONE,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Role,
} from "./types.ts";

export const DEFAULT_MAX_SIZE_PER_MSG = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT = 256;

/** A message as built by the node: `from` is filled in, `term` defaults to the current term. */
export type Outgoing = Omit<Message, "from" | "term"> & { term?: number };

export class Raft {
  readonly id: NodeId;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflight: number;
  private readonly random: () => number;

  readonly log: RaftLog;
  tracker: ProgressTracker;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Leader only: the node leadership is being handed to, NONE when no transfer runs. */
  leadTransferee: NodeId = NONE;
  /** Leader only: index of the latest conf entry proposed; a new one waits until it is applied. */
  pendingConfIndex = 0;
  readonly readOnly = new ReadOnly();
  /** Leader only: reads waiting for the first commit of this term. */
  pendingReads: ReadRequest[] = [];

  msgs: Message[] = [];
  readStates: ReadState[] = [];

  constructor(cfg: RaftConfig) {
    if (cfg.id === NONE) throw new Error("raft: node id must be positive");
    if (cfg.heartbeatTick <= 0 || cfg.electionTick <= cfg.heartbeatTick) {
      throw new Error("raft: need 0 < heartbeatTick < electionTick");
    }
    this.id = cfg.id;
    this.electionTick = cfg.electionTick;
    this.heartbeatTick = cfg.heartbeatTick;
    this.preVote = cfg.preVote ?? false;
    this.checkQuorum = cfg.checkQuorum ?? false;
    this.maxSizePerMsg = cfg.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG;
    this.maxInflight = cfg.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.random = cfg.random;
    const { hardState, conf } = cfg.storage.initialState();
    this.log = new RaftLog(cfg.storage, hardState.commit, cfg.applied);
    this.tracker = new ProgressTracker(conf, this.maxInflight);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NONE);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Only voters campaign: learners and removed nodes never start elections. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term });
  }

  // --- role transitions -------------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizeElectionTimeout();
    this.leadTransferee = NONE;
    this.pendingConfIndex = 0;
    this.tracker.resetVotes();
    this.readOnly.reset();
    this.pendingReads = [];
  }

  private randomizeElectionTimeout(): void {
    const extra = Math.floor(this.random() * this.electionTick);
    this.randomizedElectionTimeout = this.electionTick + Math.min(extra, this.electionTick - 1);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  becomePreCandidate(): void {
    this.reset(this.term);
    this.role = "preCandidate";
  }

  becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    this.tracker.resetProgress(this.log.lastIndex());
    const self = this.tracker.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Any conf entry still uncommitted in our log counts as pending.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ index: 0, term: 0, type: "normal", data: new Uint8Array(0) }]);
    bcastAppend(this);
  }

  // --- inputs -----------------------------------------------------------------------------------

  tick(): void {
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      hup(this, false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.leadTransferee = NONE; // a transfer not done within an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this);
    }
  }

  step(m: Message): void {
    if (m.term === 0) {
      // Forwarded proposal or read request: no term semantics.
    } else if (m.term > this.term) {
      if (m.type === "preVote" || m.type === "vote") {
        const inLease =
          this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTick;
        if (inLease && !isTransferContext(m.context)) return;
      }
      if (m.type === "preVote" || (m.type === "preVoteResp" && !m.reject)) {
        // Pre-votes never change our term.
      } else {
        const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
        // A vote request only moves our term: the election timer restarts when we hear from a
        // leader or grant the vote (handleVoteRequest), not when we reject it. Otherwise one node
        // with a stale log and a fast clock keeps every up-to-date node from ever timing out.
        const elapsed = this.electionElapsed;
        const wasFollower = this.role === "follower";
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
        if (m.type === "vote" && wasFollower) this.electionElapsed = elapsed;
      }
    } else if (m.term < this.term) {
      if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.send({ type: "appendResp", to: m.from });
      } else if (m.type === "preVote") {
        this.send({ type: "preVoteResp", to: m.from, reject: true });
      }
      return;
    }
    if (m.type === "preVote" || m.type === "vote") {
      handleVoteRequest(this, m);
      return;
    }
    if (this.role === "leader") this.stepLeader(m);
    else if (this.role === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "appendResp":
        handleAppendResponse(this, m);
        return;
      case "heartbeatResp":
        handleHeartbeatResponse(this, m);
        onReadAck(this, m);
        return;
      case "propose":
        acceptForwarded(this, m.entries ?? []);
        return;
      case "readIndex":
        leaderReadIndex(this, { from: m.from, context: m.context ?? new Uint8Array(0) });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const resp = this.role === "preCandidate" ? "preVoteResp" : "voteResp";
    if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
      this.becomeFollower(m.term, m.from);
      this.stepFollower(m);
    } else if (m.type === resp) {
      handleVoteResponse(this, m);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        if (m.type === "append") handleAppend(this, m);
        else if (m.type === "heartbeat") handleHeartbeat(this, m);
        else handleSnapshot(this, m);
        return;
      case "timeoutNow":
        hup(this, true);
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? new Uint8Array(0) });
        return;
      default:
        // Forwarded proposals/reads reaching a non-leader are dropped; the client retries.
        return;
    }
  }

  // --- leader helpers ---------------------------------------------------------------------------

  appendEntries(entries: Entry[]): void {
    const last = this.log.lastIndex();
    this.log.append(
      entries.map((e, i) => ({ index: last + 1 + i, term: this.term, type: e.type, data: e.data })),
    );
  }

  /** Commits the highest index stored on a quorum, but only if it belongs to our term. */
  maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    if (this.pendingReads.length > 0) releaseDeferredReads(this);
    return true;
  }

  /** The runtime persisted our log up to index: the leader now counts its own copy. */
  persistedTo(index: number): void {
    if (this.role !== "leader") return;
    const self = this.tracker.progress.get(this.id);
    if (self?.maybeUpdate(index) && this.maybeCommit()) bcastAppend(this);
  }
}
