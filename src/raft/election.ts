/**
 * Leader election (Raft §5.2, §5.4.1; thesis §9.6 pre-vote, §3.10 leadership transfer).
 *
 * A campaign asks every voter for its vote for term+1, sending our last log index and term.
 * A node grants at most one vote per term, and only to a candidate whose log is at least as up to
 * date as its own (higher last term, or same last term and at least as long); the vote is
 * recorded in the hard state, which the runtime persists before sending the response (both go
 * out in the same Ready). Election Safety follows: two quorums intersect, so at most one
 * candidate wins a term.
 *
 * With pre-vote, a node first asks "would you vote for me in term+1?" without changing its own
 * term or anyone's vote. Nodes answer yes only if the log check passes and (with check-quorum) no
 * leader was heard within the election timeout. Only with a quorum of yes does the real election
 * run, so a node cut off from the cluster keeps its term and rejoins without disruption.
 *
 * A leadership transfer sends timeoutNow; the target campaigns at once, skipping pre-vote, and
 * tags its vote requests so recipients bypass leader stickiness (they know a leader but should
 * still vote: that leader asked for the handover).
 */
import type { Raft } from "./raft.ts";
import type { Message } from "./types.ts";
import { NONE } from "./types.ts";

/** Context carried by vote requests of a transfer campaign ("raft:transfer"). */
export const TRANSFER_CONTEXT = Uint8Array.of(
  0x72,
  0x61,
  0x66,
  0x74,
  0x3a,
  0x74,
  0x72,
  0x61,
  0x6e,
  0x73,
  0x66,
  0x65,
  0x72,
);

export function isTransferContext(c: Uint8Array | undefined): boolean {
  if (c === undefined || c.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < c.length; i++) if (c[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

/** Starts an election if this node may: a voter, not leader, with no unapplied conf change. */
export function hup(r: Raft, transfer: boolean): void {
  if (r.role === "leader" || !r.promotable()) return;
  // A committed but unapplied membership change may remove us or change the quorum.
  if (hasUnappliedConfChange(r)) return;
  if (r.preVote && !transfer) campaign(r, "preVote", false);
  else campaign(r, "vote", transfer);
}

function campaign(r: Raft, type: "preVote" | "vote", transfer: boolean): void {
  let term: number;
  if (type === "preVote") {
    r.becomePreCandidate();
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    term = r.term;
  }
  r.tracker.recordVote(r.id, true);
  if (r.tracker.tally().result === "won") {
    // Single voter: nobody else to ask.
    if (type === "preVote") campaign(r, "vote", false);
    else r.becomeLeader();
    return;
  }
  const index = r.log.lastIndex();
  const logTerm = r.log.lastTerm();
  const context = transfer ? TRANSFER_CONTEXT : undefined;
  for (const id of r.tracker.voters) {
    if (id !== r.id) r.send({ type, to: id, term, index, logTerm, context });
  }
}

/** Answers a (pre)vote request whose term is ≥ ours (term rules already applied by step). */
export function handleVoteRequest(r: Raft, m: Message): void {
  const resp = m.type === "vote" ? "voteResp" : "preVoteResp";
  const canVote =
    r.vote === m.from ||
    (r.vote === NONE && r.lead === NONE) ||
    (m.type === "preVote" && m.term > r.term);
  if (canVote && r.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
    // A granted response carries the requested term (for pre-votes, the future term).
    r.send({ type: resp, to: m.from, term: m.term });
    if (m.type === "vote") {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    r.send({ type: resp, to: m.from, reject: true });
  }
}

/** Counts a (pre)vote response addressed to our current campaign. */
export function handleVoteResponse(r: Raft, m: Message): void {
  r.tracker.recordVote(m.from, !m.reject);
  const result = r.tracker.tally().result;
  if (result === "won") {
    if (r.role === "preCandidate") campaign(r, "vote", false);
    else r.becomeLeader();
  } else if (result === "lost") {
    r.becomeFollower(r.term, NONE);
  }
}

function hasUnappliedConfChange(r: Raft): boolean {
  if (r.log.committed <= r.log.applied) return false;
  const pending = r.log.slice(r.log.applied + 1, r.log.committed + 1) ?? [];
  return pending.some((e) => e.type === "conf");
}
