/**
 * Follower side of replication: AppendEntries, heartbeats and snapshot installation.
 *
 * Append (Raft §5.3): accept only if our entry at the leader's previous index has the leader's
 * previous term (Log Matching then guarantees the whole prefix agrees); drop our conflicting
 * suffix, adopt the leader's entries, and advance commit to min(leader commit, last new index).
 * On mismatch, reply with a hint for fast back-off: the last index ≤ the probed one whose term is
 * ≤ the leader's term there (findConflictByTerm), plus that term, so the leader can skip a whole
 * term of entries per round trip instead of one entry. An append below our commit index is stale
 * (it cannot conflict with committed entries): we answer with our commit index.
 *
 * Every response is queued in `msgs`, which the runtime sends only after persisting the entries
 * and hard state of the same Ready: an acknowledgement always means "durably stored".
 *
 * Snapshot: installed only if it is ahead of our commit index; if our log already holds its last
 * entry we just fast-forward commit. Installation replaces the log and the membership; the
 * runtime restores the state machine from Ready.snapshot.
 */
import { ProgressTracker } from "./progress.ts";
import type { Raft } from "./raft.ts";
import type { Message, Snapshot } from "./types.ts";

export function handleAppend(r: Raft, m: Message): void {
  const index = m.index ?? 0;
  if (index < r.log.committed) {
    r.send({ type: "appendResp", to: m.from, index: r.log.committed });
    return;
  }
  const logTerm = m.logTerm ?? 0;
  const lastNew = r.log.maybeAppend(index, logTerm, m.commit ?? 0, m.entries ?? []);
  if (lastNew !== undefined) {
    r.send({ type: "appendResp", to: m.from, index: lastNew });
    return;
  }
  const hint = r.log.findConflictByTerm(Math.min(index, r.log.lastIndex()), logTerm);
  r.send({
    type: "appendResp",
    to: m.from,
    index,
    reject: true,
    rejectHint: hint.index,
    hintTerm: hint.term,
  });
}

export function handleHeartbeat(r: Raft, m: Message): void {
  // The leader sends min(our match, its commit), so this never exceeds our log.
  r.log.commitTo(m.commit ?? 0);
  r.send({ type: "heartbeatResp", to: m.from, context: m.context });
}

export function handleSnapshot(r: Raft, m: Message): void {
  if (m.snapshot && restore(r, m.snapshot)) {
    r.send({ type: "appendResp", to: m.from, index: r.log.lastIndex() });
  } else {
    r.send({ type: "appendResp", to: m.from, index: r.log.committed });
  }
}

function restore(r: Raft, s: Snapshot): boolean {
  if (s.meta.index <= r.log.committed) return false;
  if (r.log.matchTerm(s.meta.index, s.meta.term)) {
    r.log.commitTo(s.meta.index);
    return false;
  }
  r.log.restore(s);
  r.tracker = new ProgressTracker(s.meta.conf, r.maxInflight);
  return true;
}
