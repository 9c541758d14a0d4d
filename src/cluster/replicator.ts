/**
 * What the instance layer sees of a Raft group (./raft-group.ts implements it): a way to propose
 * ops and to wait before a linearizable read. Kept apart so that instances depend on this small
 * contract, not on the group's machinery.
 */
import type { Op, WriteOutcome } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import type { Message } from "../raft/types.ts";

/** Proposes ops through consensus; resolves with apply's reply. */
export interface Replicator {
  submit(op: Op): Promise<Reply | symbol>;
  /** The same, with the outcome told to `to` instead of a promise (the pipelined write path). */
  submitTo(op: Op, to: WriteOutcome): void;
  /**
   * Null when a read may run on local state now; otherwise resolves once local state holds every
   * write acknowledged before the call (a linearizable read), or rejects when that cannot be
   * confirmed (no leader).
   */
  readBarrier(): Promise<void> | null;
  /** Whether this node leads the instance's group (only the leader proposes expiries). */
  readonly leads: boolean;
  close(): Promise<void>;
}

/** How this node's groups reach the other nodes of a cluster. */
export interface GroupNetwork {
  nodeId: number;
  /** The node that bootstrapped the cluster: group 0 (and older instances) start with it. */
  bootstrapId: number;
  send(groupId: number, messages: Message[]): void;
}
