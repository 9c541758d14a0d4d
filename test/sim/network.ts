/**
 * The simulated network between Raft nodes: every message gets a random delay (so messages
 * reorder), may be dropped or duplicated, and is checked against the current partition when it
 * arrives (a link cut while a message is in flight loses it). Partitions are sets of cut
 * directed links, so one-way partitions are just half of a two-way one. Messages are deep-copied
 * on send, as a real transport would serialize them: no node can see another's objects.
 */
import type { Message, NodeId } from "../../src/raft/index.ts";
import type { EventQueue } from "./events.ts";
import type { Rng } from "./rng.ts";

export interface NetworkProfile {
  /** Probability that a message is lost. */
  drop: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicate: number;
  /** Usual one-way delay range, in simulated ms. */
  minDelay: number;
  maxDelay: number;
  /** Probability of a much longer delay (up to `longDelay` ms): stale messages arriving late. */
  longDelayRate: number;
  longDelay: number;
}

export const CALM_NETWORK: NetworkProfile = {
  drop: 0,
  duplicate: 0,
  minDelay: 1,
  maxDelay: 5,
  longDelayRate: 0,
  longDelay: 0,
};

export class SimNetwork {
  profile: NetworkProfile;
  readonly #cut = new Set<string>();
  readonly #rng: Rng;
  readonly #queue: EventQueue;
  sent = 0;
  dropped = 0;
  /** Messages sent, by type (coverage: did snapshots, transfers, forwards happen?). */
  readonly byType = new Map<string, number>();

  constructor(rng: Rng, queue: EventQueue, profile: NetworkProfile) {
    this.#rng = rng;
    this.#queue = queue;
    this.profile = profile;
  }

  send(msg: Message, now: number): void {
    this.sent++;
    this.byType.set(msg.type, (this.byType.get(msg.type) ?? 0) + 1);
    const p = this.profile;
    if (this.#rng.chance(p.drop)) {
      this.dropped++;
      return;
    }
    const copies = this.#rng.chance(p.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.#queue.push(now + this.#delay(), {
        kind: "deliver",
        msg: structuredClone(msg),
        sentAt: now,
      });
    }
  }

  /** Whether a message may pass from → to right now. */
  open(from: NodeId, to: NodeId): boolean {
    return !this.#cut.has(linkKey(from, to));
  }

  /** Cuts from → to (one way). */
  cut(from: NodeId, to: NodeId): void {
    if (from !== to) this.#cut.add(linkKey(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  describeCuts(): string {
    return [...this.#cut].sort().join(" ") || "none";
  }

  #delay(): number {
    const p = this.profile;
    if (this.#rng.chance(p.longDelayRate)) return this.#rng.int(p.maxDelay, p.longDelay);
    return this.#rng.int(p.minDelay, p.maxDelay);
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
