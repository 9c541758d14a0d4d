/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4).
 *
 * A linearizable read needs an index that is at least every write acknowledged before the read
 * began. The leader records its commit index when the request arrives, then proves it was still
 * leader at that moment by collecting heartbeat acknowledgements, carrying the request's context,
 * from a quorum. Once proven, the read may be served by any replica whose applied index reaches
 * the recorded one.
 *
 * Requests are queued in arrival order. An acknowledgement for a context also proves leadership
 * for every request queued before it (the heartbeat that carried it was sent after they
 * arrived), so reaching quorum on one context releases it and everything ahead of it.
 * Contexts identify requests and must be unique among pending ones: a duplicate is dropped
 * (never answered), as the leader could not tell the two acknowledgements apart.
 * Every pending request is discarded when the node leaves leadership; nothing here can then
 * produce a read state, which is how a deposed leader never answers with a stale index.
 */
import type { NodeId } from "./types.ts";

export interface ReadRequest {
  /** The requester: this node (NONE or own id) or a follower that forwarded it. */
  from: NodeId;
  context: Uint8Array;
}

interface Pending {
  index: number;
  req: ReadRequest;
  acks: Set<NodeId>;
}

export class ReadOnly {
  private pending = new Map<string, Pending>();
  private queue: string[] = [];

  /** Registers a request at the leader's current commit index; false for a duplicate context. */
  add(index: number, req: ReadRequest): boolean {
    const key = contextKey(req.context);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { index, req, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records that `from` acknowledged a heartbeat carrying `context`; returns the ack set. */
  recvAck(from: NodeId, context: Uint8Array): Set<NodeId> | undefined {
    const p = this.pending.get(contextKey(context));
    if (!p) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /** Releases the request for `context` and every request queued before it. */
  release(context: Uint8Array): { index: number; req: ReadRequest }[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: { index: number; req: ReadRequest }[] = [];
    for (const k of done) {
      const p = this.pending.get(k)!;
      this.pending.delete(k);
      out.push({ index: p.index, req: p.req });
    }
    return out;
  }

  /** The newest pending context, re-sent on periodic heartbeats in case an earlier one was lost. */
  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)!.req.context;
  }

  size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

function contextKey(c: Uint8Array): string {
  let s = "";
  for (let i = 0; i < c.length; i++) s += c[i].toString(16).padStart(2, "0");
  return s;
}
