/**
 * Leader side of log replication (Raft §5.3, thesis §10.2 batching and pipelining).
 *
 * For each follower the leader keeps a Progress (see ./progress.ts). Appends carry the entry
 * before `next` (index, term) so the follower can check Log Matching, up to maxSizePerMsg bytes
 * of entries, and the leader's commit index.
 * - Probe: one append per round trip; a rejection moves `next` back using the follower's hint
 *   (its conflicting index and term) and our own findConflictByTerm, skipping whole terms.
 * - Replicate: appends are pipelined; `next` advances optimistically on send, bounded by
 *   maxInflight unacknowledged messages; a rejection drops back to probe at match+1.
 * - Snapshot: when `next` falls below our first retained index, send the storage snapshot and
 *   pause until the follower acknowledges it (or a heartbeat response shows it is reachable, in
 *   which case we probe again: a lost snapshot is simply re-sent after the probe fails).
 *
 * Commit (§5.4.2): the leader commits the highest index stored on a quorum of voters, counting
 * its own copy only once the runtime has persisted it (Raft.persistedTo, from advance), and only
 * if that entry has the current term; earlier-term entries commit indirectly beneath it. This is
 * what makes the Figure 8 scenario safe. A commit advance is broadcast right away.
 *
 * Heartbeats carry min(follower match, commit), so a follower never commits beyond what it is
 * known to store in agreement with us, and optionally a read context (./read-index.ts).
 */
import type { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import type { Message } from "./types.ts";

/** Sends one append (or a snapshot) to `to` unless its progress is paused. */
export function sendAppend(r: Raft, to: number, sendIfEmpty = true): boolean {
  const pr = r.tracker.progress.get(to);
  if (!pr || to === r.id || pr.paused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  const entries =
    prevTerm === undefined
      ? undefined
      : pr.next > r.log.lastIndex()
        ? []
        : r.log.slice(pr.next, r.log.lastIndex() + 1, r.maxSizePerMsg);
  if (prevTerm === undefined || entries === undefined) return sendSnapshot(r, to, pr);
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({
    type: "append",
    to,
    index: prevIndex,
    logTerm: prevTerm,
    entries,
    commit: r.log.committed,
  });
  if (entries.length > 0) pr.sentEntries(entries[entries.length - 1].index);
  else if (pr.state === "probe") pr.probeSent = true;
  return true;
}

function sendSnapshot(r: Raft, to: number, pr: Progress): boolean {
  // Only to a follower known to be alive: a snapshot is expensive to send into the void.
  if (!pr.recentActive) return false;
  let snapshot: ReturnType<typeof r.log.snapshot>;
  try {
    snapshot = r.log.snapshot();
  } catch {
    return false; // the runtime cannot produce one right now; retry on the next probe
  }
  if (snapshot.meta.index === 0) return false;
  pr.becomeSnapshot(snapshot.meta.index);
  r.send({ type: "snapshot", to, snapshot });
  return true;
}

/** Sends what `to` is missing: one message in probe, as many as the pipeline allows otherwise. */
export function sendPending(r: Raft, to: number, sendIfEmpty: boolean): void {
  if (!sendAppend(r, to, sendIfEmpty)) return;
  const pr = r.tracker.progress.get(to);
  while (pr && pr.state === "replicate" && pr.next <= r.log.lastIndex()) {
    if (!sendAppend(r, to, false)) return;
  }
}

export function bcastAppend(r: Raft): void {
  for (const id of r.tracker.progress.keys()) if (id !== r.id) sendPending(r, id, true);
}

export function bcastHeartbeat(r: Raft, context?: Uint8Array): void {
  const ctx = context ?? r.readOnly.lastPendingContext();
  for (const [id, pr] of r.tracker.progress) {
    if (id === r.id) continue;
    const commit = Math.min(pr.match, r.log.committed);
    r.send({ type: "heartbeat", to: id, commit, context: ctx });
  }
}

export function sendTimeoutNow(r: Raft, to: number): void {
  r.send({ type: "timeoutNow", to });
}

export function handleAppendResponse(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (m.reject) {
    let hint = m.rejectHint ?? 0;
    if ((m.hintTerm ?? 0) > 0) hint = r.log.findConflictByTerm(hint, m.hintTerm ?? 0).index;
    if (pr.maybeDecrTo(m.index ?? 0, hint)) {
      if (pr.state === "replicate") pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const wasPaused = pr.paused();
  if (!pr.maybeUpdate(m.index ?? 0)) return;
  if (pr.state === "probe") pr.becomeReplicate();
  else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
  else if (pr.state === "replicate") pr.inflights.freeLE(pr.match);
  if (r.maybeCommit()) bcastAppend(r);
  else sendPending(r, m.from, wasPaused);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

export function handleHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.state === "snapshot") pr.becomeProbe();
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from);
}
