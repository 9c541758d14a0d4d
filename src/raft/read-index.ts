/**
 * The leader's ReadIndex protocol (thesis §6.4), on top of the ReadOnly queue.
 *
 * 1. A leader that has not yet committed an entry of its own term does not know the true commit
 *    index (entries of earlier terms may be committed without it knowing), so it defers reads
 *    until its no-op commits.
 * 2. It records its commit index with the request and counts its own acknowledgement.
 * 3. It broadcasts a heartbeat carrying the request's context; acknowledgements from a quorum of
 *    voters prove no newer leader existed when the request arrived (a newer leader would have
 *    raised their terms, and they would answer with a higher-term message instead).
 * 4. Then the read state (index, context) is released: into readStates for a local request, or
 *    as a readIndexResp to the follower that forwarded it.
 * A single voter is its own quorum and answers at once (after step 1).
 */
import type { Raft } from "./raft.ts";
import type { ReadRequest } from "./read-only.ts";
import { bcastHeartbeat } from "./replication.ts";
import type { Message } from "./types.ts";

export function leaderReadIndex(r: Raft, req: ReadRequest): void {
  if (r.log.term(r.log.committed) !== r.term) {
    r.pendingReads.push(req);
    return;
  }
  if (r.tracker.hasQuorum(new Set([r.id]))) {
    respond(r, req, r.log.committed);
    return;
  }
  if (!r.readOnly.add(r.log.committed, req)) return;
  r.readOnly.recvAck(r.id, req.context);
  bcastHeartbeat(r, req.context);
}

/** A heartbeat response: count it for the read it carries, release reads that reached quorum. */
export function onReadAck(r: Raft, m: Message): void {
  if (m.context === undefined) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (!acks || !r.tracker.hasQuorum(acks)) return;
  for (const { index, req } of r.readOnly.release(m.context)) respond(r, req, index);
}

/** Called once the leader commits an entry of its term: serve the reads that waited for it. */
export function releaseDeferredReads(r: Raft): void {
  if (r.log.term(r.log.committed) !== r.term) return;
  const waiting = r.pendingReads;
  r.pendingReads = [];
  for (const req of waiting) leaderReadIndex(r, req);
}

function respond(r: Raft, req: ReadRequest, index: number): void {
  if (req.from === r.id) r.readStates.push({ index, context: req.context });
  else r.send({ type: "readIndexResp", to: req.from, index, context: req.context });
}
