/**
 * RawNode: the Raft core's public face. It wraps the state machine (./raft.ts) and turns its
 * pending work into Ready batches.
 *
 * Protocol with the runtime (single-threaded; steps may arrive between ready() and advance()):
 *   while (node.hasReady()) {
 *     const rd = node.ready();
 *     install rd.snapshot; append rd.entries; write rd.hardState   (fsync when rd.mustSync)
 *     send rd.messages; apply rd.committed (conf entries → applyConfChange); serve rd.readStates
 *     node.advance(rd);
 *   }
 * Ordering is what makes it safe: every message in a Ready may depend on that Ready's entries
 * and hard state (a vote grant on the persisted vote, an append ack on the persisted entries), so
 * they must be durable first. The leader counts its own log copy toward commit only in
 * advance(), i.e. after its entries were persisted; committed entries are therefore durable on a
 * quorum that includes every copy the leader counted. advance() is tolerant of log changes made
 * by steps since ready(): it only marks as stable what still has the term it was handed out with.
 */
import { hup } from "./election.ts";
import { RaftInvariantError } from "./errors.ts";
import { Raft } from "./raft.ts";
import {
  applyConfChange,
  propose,
  proposeConfChange,
  readIndex,
  transferLeader,
} from "./requests.ts";
import type {
  ConfChange,
  ConfState,
  HardState,
  Message,
  NodeId,
  RaftConfig,
  Ready,
  Role,
  Status,
} from "./types.ts";

export class RawNode {
  private readonly raft: Raft;
  /** The hard state last handed out (or loaded from storage): what stable storage holds. */
  private prevHard: HardState;
  private outstanding = false;

  private readonly asyncStorage: boolean;

  constructor(cfg: RaftConfig) {
    this.raft = new Raft(cfg);
    this.asyncStorage = cfg.asyncStorage ?? false;
    this.prevHard = cfg.storage.initialState().hardState;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Feeds a message received from a peer; messages addressed to another node are ignored. */
  step(m: Message): void {
    if (m.to !== this.raft.id) return;
    this.raft.step(m);
  }

  /** Leader: appends; follower: forwards to the known leader; no leader → RaftError "noLeader". */
  propose(data: Uint8Array): void {
    propose(this.raft, [{ index: 0, term: 0, type: "normal", data }]);
  }

  /** Leader only ("notLeader"); one at a time ("confChangePending"). */
  proposeConfChange(cc: ConfChange): void {
    proposeConfChange(this.raft, cc);
  }

  /** Asks for a linearizable read index; the answer arrives in a later ready().readStates. */
  readIndex(context: Uint8Array): void {
    readIndex(this.raft, context);
  }

  transferLeader(to: NodeId): void {
    transferLeader(this.raft, to);
  }

  campaign(): void {
    hup(this.raft, false);
  }

  /** Called by the app when it applies a committed conf entry; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return applyConfChange(this.raft, cc);
  }

  hasReady(): boolean {
    const r = this.raft;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.unstableEntries().length > 0 ||
      r.log.unstableSnapshot() !== null ||
      r.log.hasNextCommitted() ||
      !sameHardState(r.hardState(), this.prevHard)
    );
  }

  ready(): Ready {
    if (this.outstanding) throw new RaftInvariantError("ready() called again before advance()");
    this.outstanding = true;
    const r = this.raft;
    const hs = r.hardState();
    const changed = !sameHardState(hs, this.prevHard);
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstableSnapshot();
    const messages = r.msgs;
    r.msgs = [];
    const readStates = r.readStates;
    r.readStates = [];
    return {
      hardState: changed ? hs : null,
      entries,
      snapshot,
      committed: r.log.nextCommitted(),
      messages,
      readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hs.term !== this.prevHard.term ||
        hs.vote !== this.prevHard.vote,
    };
  }

  /** Acknowledges that everything in `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    this.outstanding = false;
    const r = this.raft;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.meta.index);
      r.log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.committed.length > 0) r.log.appliedTo(rd.committed[rd.committed.length - 1].index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      if (r.log.stableTo(last.index, last.term) && !this.asyncStorage) {
        this.persisted(last.index, last.term);
      }
    }
  }

  /**
   * With asynchronous storage writes: every entry handed out up to `index` (which has `term`) is
   * now durable. Report in the order the Readys were taken; a report for an entry replaced
   * meanwhile is ignored (a later one covers what is still there).
   */
  persisted(index: number, term: number): void {
    const r = this.raft;
    if (r.log.durableTo(index, term)) r.persistedTo(index);
  }

  /** The current term, and the leader this node knows of (NONE when none): cheap, for hot paths. */
  get term(): number {
    return this.raft.term;
  }

  get role(): Role {
    return this.raft.role;
  }

  get leader(): NodeId {
    return this.raft.lead;
  }

  get isLeader(): boolean {
    return this.raft.role === "leader";
  }

  /**
   * A leader that may serve reads from its own state: it has committed an entry of its term (so
   * it knows the true commit index) and everything committed has been handed out for applying.
   * Only meaningful for a lone voter, whose leadership needs no confirmation.
   */
  get servesLocalReads(): boolean {
    const r = this.raft;
    return (
      r.role === "leader" &&
      r.log.term(r.log.committed) === r.term &&
      r.log.applied >= r.log.committed
    );
  }

  status(): Status {
    const r = this.raft;
    const progress: Status["progress"] = {};
    if (r.role === "leader") {
      for (const [id, pr] of r.tracker.progress) {
        progress[id] = { match: pr.match, next: pr.next, learner: pr.learner };
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      conf: r.tracker.confState(),
      progress,
    };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
