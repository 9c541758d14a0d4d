/**
 * The fault injector ("nemesis"): at random intervals it partitions the network (two-way splits,
 * an isolated node, one-way cuts), heals it, crashes nodes (restarting them later from disk),
 * bounces nodes (crash and restart at once: what the disk holds is all that counts), pauses nodes
 * (a stalled process: no ticks, its inbox waits, then everything arrives at once), and pokes the
 * core's own leadership APIs (transferLeader, campaign, two campaigns at once to split votes),
 * and, in seeds with spare nodes, changes the membership one server at a time.
 * The leader is a favoured victim, since faults around the leader test Raft hardest.
 */
import { type ConfChange, RaftError } from "../../src/raft/index.ts";
import type { Cluster } from "./cluster.ts";
import type { SimNode } from "./node.ts";
import type { Rng } from "./rng.ts";

export interface FaultProfile {
  /** Time between two faults: uniform in [min, max] ms. */
  every: [number, number];
  /** How long a crashed node stays down: uniform in [min, max] ms. */
  downtime: [number, number];
  /** Relative weights of the fault kinds. */
  weights: Record<FaultKind, number>;
}

export type FaultKind =
  | "split"
  | "isolate"
  | "oneWay"
  | "heal"
  | "crash"
  | "bounce"
  | "pause"
  | "transfer"
  | "campaign"
  | "member"
  | "none";

export class Nemesis {
  readonly #cluster: Cluster;
  readonly #rng: Rng;
  readonly #profile: FaultProfile;
  active = true;
  /** Nodes ever proposed for removal: not offered for re-adding. */
  readonly #retired = new Set<number>();
  crashes = 0;
  partitions = 0;

  constructor(cluster: Cluster, rng: Rng, profile: FaultProfile) {
    this.#cluster = cluster;
    this.#rng = rng;
    this.#profile = profile;
    cluster.onFault = () => this.#fault();
  }

  start(): void {
    this.#schedule();
  }

  /** Stops faults, heals every link, restarts every crashed node. */
  calm(): void {
    this.active = false;
    this.#cluster.net.heal();
    for (const n of this.#cluster.nodes) this.#cluster.restart(n);
    this.#cluster.note("calm: healed, all nodes up");
  }

  #schedule(): void {
    const [lo, hi] = this.#profile.every;
    this.#cluster.queue.push(this.#cluster.now + this.#rng.int(lo, hi), { kind: "fault" });
  }

  #fault(): void {
    if (!this.active) return;
    this.#schedule();
    const kind = this.#pickKind();
    const c = this.#cluster;
    const ids = c.nodes.map((n) => n.id);
    switch (kind) {
      case "split": {
        const order = this.#rng.shuffled(ids);
        const cutAt = this.#rng.int(1, ids.length - 1);
        const a = order.slice(0, cutAt);
        const b = order.slice(cutAt);
        c.net.split(a, b);
        this.partitions++;
        c.note(`split ${a.join(",")} | ${b.join(",")}`);
        return;
      }
      case "isolate": {
        const victim = this.#victim(c.nodes)!.id;
        c.net.split(
          [victim],
          ids.filter((id) => id !== victim),
        );
        this.partitions++;
        c.note(`isolate ${victim}`);
        return;
      }
      case "oneWay": {
        const links = this.#rng.int(1, ids.length);
        const cut: string[] = [];
        for (let i = 0; i < links; i++) {
          const from = this.#rng.pick(ids);
          const to = this.#rng.pick(ids);
          if (from === to) continue;
          c.net.cut(from, to);
          cut.push(`${from}>${to}`);
        }
        this.partitions++;
        c.note(`cut ${cut.join(" ") || "nothing"}`);
        return;
      }
      case "heal":
        c.net.heal();
        c.note("heal");
        return;
      case "crash": {
        const up = c.nodes.filter((n) => n.alive);
        if (up.length <= 2) return;
        const victim = this.#victim(up)!;
        c.crash(victim);
        this.crashes++;
        const [lo, hi] = this.#profile.downtime;
        c.queue.push(c.now + this.#rng.int(lo, hi), { kind: "restart", node: victim.id });
        return;
      }
      case "bounce": {
        const up = c.nodes.filter((n) => n.alive);
        if (up.length === 0) return;
        const victim = this.#victim(up)!;
        c.crash(victim);
        this.crashes++;
        c.queue.push(c.now + this.#rng.int(1, 20), { kind: "restart", node: victim.id });
        return;
      }
      case "pause": {
        const victim = this.#victim(c.nodes.filter((n) => n.alive && c.now >= n.pausedUntil));
        if (!victim) return;
        const [lo, hi] = this.#profile.downtime;
        victim.pausedUntil = c.now + this.#rng.int(lo, hi);
        c.note(`pause ${victim.id} until ${victim.pausedUntil}`);
        return;
      }
      case "transfer": {
        const leader = c.leaders()[0];
        if (!leader) return;
        const to = this.#rng.pick(ids.filter((id) => id !== leader.id));
        c.note(`transferLeader ${leader.id} → ${to}`);
        c.touch(leader, () => tolerate(() => leader.raft.transferLeader(to)));
        c.touch(leader, () => leader.drain());
        return;
      }
      case "campaign": {
        const up = c.nodes.filter((n) => n.alive);
        if (up.length === 0) return;
        const who = this.#rng.chance(0.5)
          ? this.#rng.shuffled(up).slice(0, 2)
          : [this.#rng.pick(up)];
        c.note(`campaign ${who.map((n) => n.id).join(" and ")}`);
        for (const n of who) {
          c.touch(n, () => tolerate(() => n.raft.campaign()));
          c.touch(n, () => n.drain());
        }
        return;
      }
      case "member":
        this.#membership();
        return;
      case "none":
        return;
    }
  }

  /**
   * One single-server membership change through the leader: add a fresh spare as a learner,
   * promote a learner, or remove a member (never below two voters). Removed nodes keep running
   * (a removed server that does not know it is gone is part of the test) but are never re-added:
   * ids are not reused, as in etcd.
   */
  #membership(): void {
    const c = this.#cluster;
    const leader = c.leaders()[0];
    if (!leader) return;
    const conf = leader.raft.status().conf;
    const options: (() => void)[] = [];
    const members = [...conf.voters, ...conf.learners];
    const spare = c.nodes.find((n) => !members.includes(n.id) && !this.#retired.has(n.id));
    if (spare) {
      options.push(() => {
        c.join(spare);
        this.#change(leader, { type: "addLearner", node: spare.id });
      });
    }
    for (const id of conf.learners) {
      options.push(() => this.#change(leader, { type: "promote", node: id }));
    }
    for (const id of members) {
      if (conf.voters.includes(id) && conf.voters.length <= 2) continue;
      options.push(() => this.#change(leader, { type: "remove", node: id }));
    }
    if (options.length > 0) this.#rng.pick(options)();
  }

  #change(leader: SimNode, cc: ConfChange): void {
    const c = this.#cluster;
    if (cc.type === "remove") this.#retired.add(cc.node);
    c.note(`propose ${cc.type} ${cc.node} at leader ${leader.id}`);
    c.touch(leader, () => tolerate(() => leader.raft.proposeConfChange(cc)));
    c.touch(leader, () => leader.drain());
  }

  /** The leader half the time (when there is one), else any node of `among`. */
  #victim(among: SimNode[]): SimNode | undefined {
    if (among.length === 0) return undefined;
    const leader = among.find((n) => n.alive && n.raft.status().role === "leader");
    if (leader && this.#rng.chance(0.5)) return leader;
    return this.#rng.pick(among);
  }

  #pickKind(): FaultKind {
    const entries = Object.entries(this.#profile.weights) as [FaultKind, number][];
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let roll = this.#rng.next() * total;
    for (const [kind, w] of entries) {
      roll -= w;
      if (roll < 0) return kind;
    }
    return "none";
  }
}

function tolerate(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
}
