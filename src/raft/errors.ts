/**
 * Errors the Raft core reports to its caller (the runtime), never to a Redis client directly:
 * the runtime maps them (e.g. "noLeader" → TRYAGAIN, "notLeader" → redirect to `leader`).
 *
 * These are expected, recoverable conditions of a distributed log, so they carry a stable code
 * and the leader this node currently believes in (NONE when unknown). Broken invariants inside
 * the core are bugs, not RaftErrors: they throw `RaftInvariantError` and must crash the node.
 */
import { NONE, type NodeId } from "./types.ts";

export type RaftErrorCode =
  | "noLeader" // no leader known: the request cannot be forwarded yet
  | "notLeader" // a leader-only operation was called on a follower or candidate
  | "confChangePending" // a membership change is already in flight
  | "transferInProgress" // the leader is handing over leadership and refuses proposals
  | "compacted" // the requested log index was discarded by compaction
  | "unavailable"; // the index or snapshot does not exist (yet), or the target is not a voter

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /** The leader known when the error was raised (NONE when unknown). */
  readonly leader: NodeId;
  constructor(code: RaftErrorCode, leader: NodeId = NONE, message?: string) {
    super(message ?? `raft: ${code}`);
    this.name = "RaftError";
    this.code = code;
    this.leader = leader;
  }
}

/** A violated safety invariant (e.g. truncating a committed entry): a bug, never recoverable. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = "RaftInvariantError";
  }
}
