/**
 * Requests made by the local application through RawNode, plus proposals forwarded by followers.
 *
 * Proposals: a leader appends them (stamped with its term and the next indexes) and broadcasts;
 * a follower forwards them to the leader it knows (term 0 marks the message as a forwarded
 * request); with no known leader the caller gets RaftError "noLeader" and retries later. While
 * a leadership transfer runs, the leader refuses proposals ("transferInProgress"): entries it
 * appended could be lost to the incoming leader's log or delay its catch-up forever.
 *
 * Membership (thesis §4.1, single-server changes): at most one conf entry may be uncommitted or
 * unapplied at a time ("confChangePending"), since two overlapping single-server changes could
 * produce disjoint majorities. A change takes effect when the application applies the committed
 * entry and calls applyConfChange; a leader that removed itself steps down then.
 */
import { encodeConfChange } from "./conf-change-codec.ts";
import { RaftError } from "./errors.ts";
import type { Raft } from "./raft.ts";
import { leaderReadIndex } from "./read-index.ts";
import { bcastAppend, sendAppend, sendTimeoutNow } from "./replication.ts";
import { type ConfChange, type ConfState, type Entry, NONE, type NodeId } from "./types.ts";

export function propose(r: Raft, entries: Entry[]): void {
  if (r.role !== "leader") {
    if (r.lead === NONE) throw new RaftError("noLeader");
    r.send({ type: "propose", to: r.lead, term: 0, entries });
    return;
  }
  checkAcceptingProposals(r);
  r.appendEntries(entries);
  bcastAppend(r);
}

export function proposeConfChange(r: Raft, cc: ConfChange): void {
  if (r.role !== "leader") throw new RaftError("notLeader", r.lead);
  checkAcceptingProposals(r);
  if (r.pendingConfIndex > r.log.applied) {
    throw new RaftError("confChangePending", r.id);
  }
  r.appendEntries([{ index: 0, term: 0, type: "conf", data: encodeConfChange(cc) }]);
  r.pendingConfIndex = r.log.lastIndex();
  bcastAppend(r);
}

function checkAcceptingProposals(r: Raft): void {
  if (r.leadTransferee !== NONE) throw new RaftError("transferInProgress", r.id);
  if (!r.tracker.progress.has(r.id)) throw new RaftError("notLeader", NONE);
}

/** Proposals forwarded by followers; dropped when we could not accept them locally. */
export function acceptForwarded(r: Raft, entries: Entry[]): void {
  if (entries.length === 0) return;
  if (r.leadTransferee !== NONE || !r.tracker.progress.has(r.id)) return;
  const first = r.log.lastIndex() + 1;
  const accepted = entries.map((e, i): Entry => {
    if (e.type !== "conf") return e;
    if (r.pendingConfIndex > r.log.applied) {
      return { index: 0, term: 0, type: "normal", data: new Uint8Array(0) };
    }
    r.pendingConfIndex = first + i;
    return e;
  });
  r.appendEntries(accepted);
  bcastAppend(r);
}

export function readIndex(r: Raft, context: Uint8Array): void {
  if (r.role === "leader") {
    leaderReadIndex(r, { from: r.id, context });
    return;
  }
  if (r.lead === NONE) throw new RaftError("noLeader");
  r.send({ type: "readIndex", to: r.lead, term: 0, context });
}

export function transferLeader(r: Raft, to: NodeId): void {
  if (r.role !== "leader") throw new RaftError("notLeader", r.lead);
  if (to === r.id) {
    r.leadTransferee = NONE;
    return;
  }
  const pr = r.tracker.progress.get(to);
  if (!pr || pr.learner) throw new RaftError("unavailable", r.id, `${to} is not a voter`);
  if (r.leadTransferee === to) return;
  r.leadTransferee = to;
  r.electionElapsed = 0; // the transfer must finish within one election timeout
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to);
}

export function applyConfChange(r: Raft, cc: ConfChange): ConfState {
  const leader = r.role === "leader";
  const added = r.tracker.applyChange(cc, r.log.lastIndex(), leader);
  if (leader) {
    if (!r.tracker.isVoter(r.id)) {
      r.becomeFollower(r.term, NONE); // a removed leader steps down
    } else {
      if (r.leadTransferee !== NONE && !r.tracker.isVoter(r.leadTransferee)) {
        r.leadTransferee = NONE;
      }
      if (r.maybeCommit()) bcastAppend(r);
      else for (const id of added) sendAppend(r, id);
    }
  }
  return r.tracker.confState();
}
