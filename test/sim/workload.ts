/**
 * Simulated clients and the history they record for the linearizability checker.
 *
 * Each client runs one operation at a time (put, cas or get on a few shared keys). It sends the
 * operation to the node it believes leads, follows "retry" hints, and re-sends (same client id
 * and sequence number, so the session table applies a write once) when an attempt goes
 * unanswered. Past the operation's deadline it gives up: a write becomes indeterminate (it may
 * still take effect later: output undefined, ret Infinity); a read that never answered says
 * nothing and is left out. Times are simulated milliseconds.
 *
 * Keys are renamed every `epochMs` ("a@0", "a@1", …): the checker partitions by key, so this
 * bounds the size of each partition however long the run, and an indeterminate write (which
 * stays open forever in the search) only burdens its own epoch.
 */
import type { NodeId } from "../../src/raft/index.ts";
import type { KvInput, KvOutput, Operation } from "../support/linearizability/index.ts";
import type { ClientReply, ClientRequest, KvOp } from "./kv.ts";
import type { Rng } from "./rng.ts";

export interface WorkloadConfig {
  clients: number;
  keys: string[];
  nodes: NodeId[];
  /** Give up on an operation this long after invoking it. */
  deadline: number;
  /** Re-send an unanswered attempt after this long. */
  retryAfter: number;
  /** Pause between a client's operations: [0, thinkMax] ms. */
  thinkMax: number;
  /** Key generation length in ms (see above). */
  epochMs: number;
}

/** How the workload reaches the cluster and the clock. */
export interface WorkloadHost {
  now(): number;
  send(node: NodeId, req: ClientRequest): void;
  wake(client: number, at: number, token: number): void;
}

interface Pending {
  token: number;
  op: KvOp;
  input: KvInput;
  call: number;
  deadline: number;
}

interface Client {
  id: number;
  seq: number;
  leader: NodeId;
  timer: number;
  current: Pending | undefined;
  seen: Map<string, string | null>;
}

export class Workload {
  readonly history: Operation<KvInput, KvOutput>[] = [];
  /** When false, idle clients stop starting new operations (the run is settling). */
  issuing = true;
  completed = 0;
  indeterminate = 0;
  readonly #cfg: WorkloadConfig;
  readonly #rng: Rng;
  readonly #host: WorkloadHost;
  readonly #clients: Client[] = [];
  #tokens = 0;

  constructor(cfg: WorkloadConfig, rng: Rng, host: WorkloadHost) {
    this.#cfg = cfg;
    this.#rng = rng;
    this.#host = host;
    for (let id = 1; id <= cfg.clients; id++) {
      this.#clients.push({
        id,
        seq: 0,
        leader: rng.pick(cfg.nodes),
        timer: 0,
        current: undefined,
        seen: new Map(),
      });
    }
  }

  start(): void {
    for (const c of this.#clients) this.#schedule(c, this.#rng.int(0, this.#cfg.thinkMax));
  }

  /** True when no client has an operation in flight. */
  idle(): boolean {
    return this.#clients.every((c) => c.current === undefined);
  }

  onWake(clientId: number, token: number): void {
    const c = this.#clients[clientId - 1];
    if (token !== c.timer) return;
    const now = this.#host.now();
    const p = c.current;
    if (!p) {
      if (this.issuing) this.#issue(c, now);
      return;
    }
    if (now >= p.deadline) {
      this.#finish(c, undefined, Number.POSITIVE_INFINITY);
      return;
    }
    // The last attempt went unanswered: the guessed leader may be gone, so sometimes look elsewhere.
    if (this.#rng.chance(0.5)) c.leader = this.#rng.pick(this.#cfg.nodes);
    this.#attempt(c, p);
  }

  onReply(reply: ClientReply): void {
    const c = this.#clients[reply.client - 1];
    const p = c.current;
    if (!p || p.token !== reply.token) return; // an answer to an abandoned operation
    if (reply.kind === "done") {
      this.#finish(c, reply.output, this.#host.now());
      return;
    }
    c.leader = reply.leader > 0 ? reply.leader : this.#rng.pick(this.#cfg.nodes);
    this.#schedule(c, this.#rng.int(5, 25));
  }

  #issue(c: Client, now: number): void {
    const key = `${this.#rng.pick(this.#cfg.keys)}@${Math.floor(now / this.#cfg.epochMs)}`;
    const roll = this.#rng.next();
    let op: KvOp;
    let input: KvInput;
    if (roll < 0.4) {
      op = { client: c.id, seq: c.seq, key, op: "get" };
      input = { op: "get", key };
    } else {
      c.seq++;
      const value = `${c.id}.${c.seq}`;
      if (roll < 0.8) {
        op = { client: c.id, seq: c.seq, key, op: "put", value };
        input = { op: "put", key, value };
      } else {
        const from = c.seen.get(key) ?? null;
        op = { client: c.id, seq: c.seq, key, op: "cas", value, from };
        input = { op: "cas", key, from, to: value };
      }
    }
    const p = { token: ++this.#tokens, op, input, call: now, deadline: now + this.#cfg.deadline };
    c.current = p;
    // Mostly the believed leader; sometimes any node, so follower forwarding gets exercised.
    if (this.#rng.chance(0.2)) c.leader = this.#rng.pick(this.#cfg.nodes);
    this.#attempt(c, p);
  }

  #attempt(c: Client, p: Pending): void {
    this.#host.send(c.leader, { client: c.id, token: p.token, op: p.op });
    this.#schedule(c, this.#cfg.retryAfter + this.#rng.int(0, this.#cfg.retryAfter));
  }

  #finish(c: Client, output: KvOutput | undefined, ret: number): void {
    const p = c.current!;
    c.current = undefined;
    if (output === undefined) {
      if (p.op.op !== "get") {
        this.history.push({ client: c.id, input: p.input, output: undefined, call: p.call, ret });
        this.indeterminate++;
      }
    } else {
      this.history.push({ client: c.id, input: p.input, output, call: p.call, ret });
      this.completed++;
      if (p.op.op === "get") c.seen.set(p.op.key, output.value ?? null);
      else if (output.ok) c.seen.set(p.op.key, p.op.value!);
    }
    this.#schedule(c, this.#rng.int(0, this.#cfg.thinkMax));
  }

  #schedule(c: Client, delay: number): void {
    c.timer++;
    this.#host.wake(c.id, this.#host.now() + delay, c.timer);
  }
}
