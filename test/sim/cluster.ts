/**
 * A whole simulated cluster: N nodes, the network, the clients and the invariant checker, all
 * driven by one event queue in simulated time. `step()` pops one event, lets the node it targets
 * run its Ready loop to completion, then checks the invariants — so a violation is reported at
 * the exact event that caused it, with the events leading up to it.
 *
 * Node clocks are independent: each node ticks with its own period and phase (and not at all
 * while crashed or paused). Faults come from ./faults.ts. Some scenarios add spare nodes, which
 * stay off until a membership change adds them.
 */
import type { Message, NodeId } from "../../src/raft/index.ts";
import { EventQueue, type SimEvent } from "./events.ts";
import { Invariants } from "./invariants.ts";
import type { ClientReply, ClientRequest } from "./kv.ts";
import { type NetworkProfile, SimNetwork } from "./network.ts";
import { type NodeConfig, SimNode } from "./node.ts";
import type { Rng } from "./rng.ts";
import { Workload, type WorkloadConfig } from "./workload.ts";

export interface Scenario {
  /** Voters of the initial membership (ids 1..nodes). */
  nodes: number;
  /** Extra nodes (ids nodes+1…) that start empty and may join through membership changes. */
  spares: number;
  net: NetworkProfile;
  /** Loss probability on client ↔ node links (each way). */
  clientDrop: number;
  node: Omit<NodeConfig, "voters">;
  /** Per node tick period, in simulated ms. */
  tickPeriods: number[];
  workload: Omit<WorkloadConfig, "nodes">;
}

const RECENT = 60;

export class Cluster {
  readonly scenario: Scenario;
  readonly queue = new EventQueue();
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  readonly invariants: Invariants;
  readonly workload: Workload;
  now = 0;
  steps = 0;
  /** FNV-1a over the event sequence: equal for equal runs. */
  fingerprint = 0x811c9dc5;
  /** Called for each fault event; set by the fault injector. */
  onFault: () => void = () => {};
  trace: ((line: string) => void) | undefined;
  readonly #rng: Rng;
  readonly #nodeRngs: Rng;
  readonly #recent: string[] = [];
  readonly #touched = new Set<SimNode>();

  constructor(scenario: Scenario, rng: Rng) {
    this.scenario = scenario;
    this.#rng = rng.fork();
    this.#nodeRngs = rng.fork();
    this.net = new SimNetwork(rng.fork(), this.queue, scenario.net);
    this.invariants = new Invariants(scenario.nodes);
    const voters = Array.from({ length: scenario.nodes }, (_, i) => i + 1);
    const pool = Array.from({ length: scenario.nodes + scenario.spares }, (_, i) => i + 1);
    const hooks = {
      send: (m: Message) => this.net.send(m, this.now),
      reply: (req: ClientRequest, reply: ClientReply) => {
        if (this.#rng.chance(this.scenario.clientDrop)) return;
        this.queue.push(this.now + this.#rng.int(1, 5), {
          kind: "reply",
          client: req.client,
          reply,
        });
      },
      ready: this.invariants.ready.bind(this.invariants),
      appended: this.invariants.appended.bind(this.invariants),
      synced: this.invariants.synced.bind(this.invariants),
      sending: this.invariants.sending.bind(this.invariants),
      scheduleSync: (n: SimNode) =>
        this.queue.push(this.now + this.#rng.int(0, 4), {
          kind: "sync",
          node: n.id,
          incarnation: n.incarnation,
        }),
      applying: this.invariants.applying.bind(this.invariants),
    };
    // Spares start from the same index-0 state as everyone (the initial membership, which they
    // are not part of): that membership is not in the log, so a node starting from an empty
    // one would rebuild a wrong membership when it replays the log (e.g. itself as the only
    // voter after its promotion, and then elect itself alone).
    for (const id of pool) this.nodes.push(new SimNode(id, { ...scenario.node, voters }, hooks));
    this.workload = new Workload({ ...scenario.workload, nodes: pool }, rng.fork(), {
      now: () => this.now,
      send: (node, req) => {
        if (this.#rng.chance(this.scenario.clientDrop)) return;
        this.queue.push(this.now + this.#rng.int(1, 5), { kind: "request", node, req });
      },
      wake: (client, at, token) => this.queue.push(at, { kind: "clientWake", client, token }),
    });
  }

  node(id: NodeId): SimNode {
    return this.nodes[id - 1];
  }

  start(): void {
    for (const n of this.nodes) {
      if (n.id <= this.scenario.nodes) this.#boot(n);
      this.queue.push(this.#rng.int(0, this.scenario.tickPeriods[n.id - 1]), {
        kind: "tick",
        node: n.id,
      });
    }
    this.#checkTouched();
    this.workload.start();
  }

  /** Pops and runs one event, then checks every invariant. */
  step(): void {
    const next = this.queue.pop();
    if (!next) throw new Error("the event queue ran dry (ticks should keep it busy)");
    this.now = next.at;
    this.steps++;
    this.#record(next.ev);
    this.#handle(next.ev);
    this.#checkTouched();
  }

  crash(n: SimNode): void {
    n.crash();
    this.note(`crash ${n.id}`);
  }

  /** Boots a spare that is about to join. */
  join(n: SimNode): void {
    if (n.started) return;
    this.#boot(n);
    this.note(`spare ${n.id} starts`);
  }

  restart(n: SimNode): void {
    if (n.alive || !n.started) return;
    this.#boot(n);
    this.note(
      `restart ${n.id} (term ${n.disk.hardState.term}, disk log ${n.disk.snapshot.meta.index}+${n.disk.entries.length})`,
    );
  }

  /** Runs a core call on a node and has its state checked after the step. */
  touch(n: SimNode, f: () => void): void {
    this.#touched.add(n);
    f();
  }

  /** The nodes in `leader`'s membership (voters and learners). */
  members(leader: SimNode): SimNode[] {
    const conf = leader.raft.status().conf;
    const ids = new Set([...conf.voters, ...conf.learners]);
    return this.nodes.filter((n) => ids.has(n.id));
  }

  leaders(): SimNode[] {
    return this.nodes.filter((n) => n.alive && n.raft.status().role === "leader");
  }

  note(line: string): void {
    this.#push(`  ${line}`);
  }

  /** One line per node: role, term, log and membership as the node sees them. */
  describeNodes(): string[] {
    return this.nodes.map((n) => {
      if (!n.alive) return `node ${n.id}: ${n.started ? "down" : "spare"}`;
      const s = n.raft.status();
      const conf = `voters=${s.conf.voters.join(",")} learners=${s.conf.learners.join(",") || "-"}`;
      return `node ${n.id}: ${s.role} term=${s.term} vote=${s.vote} leader=${s.leader} commit=${s.commit} applied=${n.applied} last=${s.lastIndex} ${conf}`;
    });
  }

  /** The last events before now, oldest first. */
  recent(): string[] {
    return this.#recent.slice();
  }

  #boot(n: SimNode): void {
    this.#touched.add(n);
    n.boot(this.#nodeRngs.fork());
  }

  #handle(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick": {
        const n = this.node(ev.node);
        if (n.alive && this.now >= n.pausedUntil) this.touch(n, () => n.tick());
        this.queue.push(this.now + this.scenario.tickPeriods[n.id - 1], ev);
        return;
      }
      case "deliver": {
        const n = this.nodes[ev.msg.to - 1];
        if (!n?.alive || !this.net.open(ev.msg.from, ev.msg.to)) return;
        if (this.#stalled(n, ev)) return;
        this.touch(n, () => n.step(ev.msg));
        return;
      }
      case "request": {
        const n = this.node(ev.node);
        if (!n.alive || this.#stalled(n, ev)) return;
        this.touch(n, () => n.request(ev.req));
        return;
      }
      case "reply":
        this.workload.onReply(ev.reply);
        return;
      case "clientWake":
        this.workload.onWake(ev.client, ev.token);
        return;
      case "fault":
        this.onFault();
        return;
      case "restart":
        this.restart(this.node(ev.node));
        return;
      case "sync": {
        const n = this.node(ev.node);
        if (!n.alive || this.#stalled(n, ev)) return;
        this.touch(n, () => n.syncNow(ev.incarnation));
        return;
      }
    }
  }

  /** A paused node's input waits in its inbox until it resumes (in arrival order). */
  #stalled(n: SimNode, ev: SimEvent): boolean {
    if (this.now >= n.pausedUntil) return false;
    this.queue.push(n.pausedUntil, ev);
    return true;
  }

  #checkTouched(): void {
    for (const n of this.#touched) {
      if (n.alive) this.invariants.observe(n, n.raft.status());
    }
    this.#touched.clear();
    this.invariants.durable(this.nodes);
  }

  #record(ev: SimEvent): void {
    let h = this.fingerprint;
    const mix = (x: number) => {
      h = Math.imul(h ^ (x & 0xffff), 16777619) >>> 0;
      h = Math.imul(h ^ (x >>> 16), 16777619) >>> 0;
    };
    mix(this.now);
    mix(ev.kind.length);
    if (ev.kind === "deliver") {
      mix(ev.msg.from * 64 + ev.msg.to);
      mix(ev.msg.term);
      mix(ev.msg.type.length);
    } else if (
      ev.kind === "tick" ||
      ev.kind === "request" ||
      ev.kind === "restart" ||
      ev.kind === "sync"
    ) {
      mix(ev.node);
    }
    this.fingerprint = h;
    if (ev.kind === "tick" && !this.trace) return; // too many to be worth the ring
    this.#push(describe(this.now, ev));
  }

  #push(line: string): void {
    if (this.trace) this.trace(line);
    this.#recent.push(line);
    if (this.#recent.length > RECENT) this.#recent.shift();
  }
}

function describe(at: number, ev: SimEvent): string {
  switch (ev.kind) {
    case "deliver": {
      const m = ev.msg;
      const parts = [`${at} ${m.from}→${m.to} ${m.type} t${m.term}`];
      if (m.index !== undefined) parts.push(`i${m.index}/${m.logTerm ?? "-"}`);
      if (m.entries?.length) {
        parts.push(`[${m.entries[0].index}..${m.entries[m.entries.length - 1].index}]`);
      }
      if (m.commit !== undefined) parts.push(`c${m.commit}`);
      if (m.reject) parts.push(`reject hint=${m.rejectHint ?? "-"}/${m.hintTerm ?? "-"}`);
      if (m.snapshot) parts.push(`snap ${m.snapshot.meta.index}/${m.snapshot.meta.term}`);
      return parts.join(" ");
    }
    case "tick":
      return `${at} tick ${ev.node}`;
    case "request":
      return `${at} client ${ev.req.client} → node ${ev.node}: ${JSON.stringify(ev.req.op)}`;
    case "reply":
      return `${at} node → client ${ev.client}: ${JSON.stringify(ev.reply)}`;
    case "clientWake":
      return `${at} client ${ev.client} wakes`;
    case "fault":
      return `${at} fault`;
    case "restart":
      return `${at} restart ${ev.node}`;
    case "sync":
      return `${at} sync ${ev.node}`;
  }
}
