/**
 * The discrete-event queue that drives a simulation run. Events are ordered by simulated time
 * and, for equal times, by insertion order, so a run is a pure function of its seed. One
 * simulation "step" pops exactly one event; the invariants are checked after each.
 */
import type { Message, NodeId } from "../../src/raft/index.ts";
import type { ClientReply, ClientRequest } from "./kv.ts";

export type SimEvent =
  | { kind: "tick"; node: NodeId }
  | { kind: "deliver"; msg: Message; sentAt: number }
  | { kind: "request"; node: NodeId; req: ClientRequest }
  | { kind: "reply"; client: number; reply: ClientReply }
  | { kind: "clientWake"; client: number; token: number }
  | { kind: "fault" }
  | { kind: "restart"; node: NodeId }
  | { kind: "sync"; node: NodeId; incarnation: number };

interface Slot {
  at: number;
  seq: number;
  ev: SimEvent;
}

export class EventQueue {
  #heap: Slot[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(at: number, ev: SimEvent): void {
    if (!Number.isFinite(at)) throw new Error(`event ${ev.kind} scheduled at ${at}`);
    const h = this.#heap;
    h.push({ at, seq: this.#seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): { at: number; ev: SimEvent } | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return { at: top.at, ev: top.ev };
  }
}

function before(x: Slot, y: Slot): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
