/**
 * One simulation run, from a seed to a verdict. Everything about the run — network quality,
 * fault mix, core options, workload — is drawn from the seed, so `(seed, nodes, steps)` fully
 * determines it and a failure is reproduced by `npm run sim -- --seed S --nodes N`.
 *
 * Phases: `steps` events with faults and clients running, the invariants checked after each;
 * then calm (heal, restart everyone, clean network, no new operations) until the cluster has
 * one leader, every member has applied its whole log and no client waits; then the members'
 * replicas must agree and the client history must be linearizable. Nodes removed from the
 * membership are shut down during calm, as an operator would.
 */
import { checkOperations, kvModel } from "../support/linearizability/index.ts";
import { Cluster, type Scenario } from "./cluster.ts";
import { type FaultProfile, Nemesis } from "./faults.ts";
import { SafetyViolation } from "./invariants.ts";
import { CALM_NETWORK } from "./network.ts";
import type { SimNode } from "./node.ts";
import { Rng } from "./rng.ts";

export const DEFAULT_STEPS = 15_000;
/** Simulated time allowed for the calm phase before the run counts as stuck. */
const SETTLE_MS = 20_000;

export interface RunOptions {
  seed: number;
  nodes: number;
  steps?: number;
  /** Receives every event and note as it happens (for --trace). */
  trace?: (line: string) => void;
  /** Wall-clock budget for the linearizability check. */
  checkTimeoutMs?: number;
}

export interface RunFailure {
  invariant: string;
  detail: string;
  step: number;
  time: number;
  /** The events just before the failure. */
  recent: string[];
  /** Each node's state at the failure. */
  nodes: string[];
  /** The seed's drawn configuration (core options, clocks, network), in one line. */
  scenario: string;
}

export interface RunResult {
  seed: number;
  nodes: number;
  steps: number;
  ok: boolean;
  failure?: RunFailure;
  repro: string;
  fingerprint: number;
  stats: {
    simMs: number;
    events: number;
    elections: number;
    maxTerm: number;
    maxCommit: number;
    crashes: number;
    partitions: number;
    messages: number;
    byType: Record<string, number>;
    ops: number;
    indeterminate: number;
  };
}

/** The node count a seed runs with when none is given: odd seeds 3, even seeds 5. */
export function defaultNodes(seed: number): number {
  return seed % 2 === 1 ? 3 : 5;
}

export function reproCommand(seed: number, nodes: number, steps = DEFAULT_STEPS): string {
  const extra = steps === DEFAULT_STEPS ? "" : ` --steps ${steps}`;
  return `npm run sim -- --seed ${seed} --nodes ${nodes}${extra}`;
}

export function makeScenario(
  rng: Rng,
  nodes: number,
): { scenario: Scenario; faults: FaultProfile } {
  const membership = rng.chance(0.5);
  const scenario: Scenario = {
    nodes,
    spares: membership ? 2 : 0, // keep in step with tickPeriods
    net: {
      drop: rng.pick([0, 0.01, 0.03, 0.1, 0.25]),
      duplicate: rng.pick([0, 0.01, 0.05, 0.2]),
      minDelay: 1,
      maxDelay: rng.pick([3, 10, 25]),
      longDelayRate: rng.pick([0, 0.005, 0.02]),
      longDelay: 400,
    },
    clientDrop: rng.pick([0, 0, 0.02]),
    node: {
      electionTick: 10,
      heartbeatTick: rng.pick([1, 2, 3]),
      preVote: rng.chance(0.75),
      checkQuorum: rng.chance(0.75),
      maxSizePerMsg: rng.pick([undefined, 1, 256, 4096]),
      maxInflight: rng.pick([undefined, 1, 3, 64]),
      snapshotEvery: rng.pick([0, 5, 20, 60]),
      asyncStorage: rng.chance(0.5),
    },
    // Clocks drift a little; in some seeds one node's clock runs far faster or slower.
    tickPeriods: Array.from({ length: nodes + (membership ? 2 : 0) }, () =>
      rng.chance(0.1) ? rng.pick([rng.int(3, 6), rng.int(20, 40)]) : rng.int(9, 11),
    ),
    workload: {
      clients: rng.int(2, 7),
      keys: ["a", "b", "c"].slice(0, rng.int(1, 3)),
      deadline: 1500,
      retryAfter: 100,
      thinkMax: 30,
      epochMs: 3000,
    },
  };
  const faults: FaultProfile = {
    every: [rng.int(80, 200), rng.int(300, 900)],
    downtime: [30, rng.int(200, 1500)],
    weights: {
      split: 2,
      isolate: 2,
      oneWay: 1,
      heal: 3,
      crash: 2,
      bounce: 1,
      pause: 1,
      transfer: 0.5,
      campaign: 1,
      member: membership ? 2 : 0,
      none: 1,
    },
  };
  return { scenario, faults };
}

export function runSeed(opts: RunOptions): RunResult {
  const steps = opts.steps ?? DEFAULT_STEPS;
  const root = new Rng((opts.seed >>> 0) ^ Math.imul(opts.nodes, 0x9e3779b1));
  const { scenario, faults } = makeScenario(root.fork(), opts.nodes);
  const cluster = new Cluster(scenario, root.fork());
  cluster.trace = opts.trace;
  const nemesis = new Nemesis(cluster, root.fork(), faults);
  let failure: RunFailure | undefined;
  const failWith = (invariant: string, detail: string) => {
    failure = {
      invariant,
      detail,
      step: cluster.steps,
      time: cluster.now,
      recent: cluster.recent(),
      nodes: safely(() => cluster.describeNodes()),
      scenario: describeScenario(scenario),
    };
  };
  try {
    cluster.start();
    nemesis.start();
    while (cluster.steps < steps) cluster.step();
    const members = settle(cluster, nemesis);
    cluster.invariants.converged(members);
    const verdict = checkOperations(kvModel, cluster.workload.history, {
      timeoutMs: opts.checkTimeoutMs ?? 20_000,
    });
    if (verdict.verdict !== "ok") {
      const where = verdict.partition === undefined ? "" : ` (key ${verdict.partition})`;
      failWith(
        verdict.verdict === "illegal" ? "linearizability" : "linearizability undecided",
        `${verdict.verdict}${where}: ${verdict.info ?? ""}`,
      );
    }
  } catch (e) {
    if (e instanceof SafetyViolation) failWith(e.invariant, e.message);
    else if (e instanceof StuckError) failWith("liveness", e.message);
    else failWith("exception", e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  const inv = cluster.invariants;
  return {
    seed: opts.seed,
    nodes: opts.nodes,
    steps,
    ok: failure === undefined,
    failure,
    repro: reproCommand(opts.seed, opts.nodes, steps),
    fingerprint: cluster.fingerprint,
    stats: {
      simMs: cluster.now,
      events: cluster.steps,
      elections: inv.elections,
      maxTerm: inv.maxTerm,
      maxCommit: inv.maxCommit,
      crashes: nemesis.crashes,
      partitions: nemesis.partitions,
      messages: cluster.net.sent,
      byType: Object.fromEntries([...cluster.net.byType].sort()),
      ops: cluster.workload.history.length,
      indeterminate: cluster.workload.indeterminate,
    },
  };
}

class StuckError extends Error {}

function describeScenario(s: Scenario): string {
  const n = s.node;
  const core = `preVote=${n.preVote} checkQuorum=${n.checkQuorum} heartbeatTick=${n.heartbeatTick} maxSizePerMsg=${n.maxSizePerMsg ?? "default"} maxInflight=${n.maxInflight ?? "default"} snapshotEvery=${n.snapshotEvery || "never"} asyncStorage=${n.asyncStorage ?? false}`;
  const net = `drop=${s.net.drop} dup=${s.net.duplicate} delay=${s.net.minDelay}-${s.net.maxDelay}ms`;
  return `${core}; tick periods (ms) ${s.tickPeriods.join(",")}; ${net}; spares=${s.spares}`;
}

function safely(f: () => string[]): string[] {
  try {
    return f();
  } catch (e) {
    return [`(node states unavailable: ${e instanceof Error ? e.message : String(e)})`];
  }
}

/**
 * Calm phase: runs until one leader, its whole log applied on every member, every client
 * answered. Returns the members.
 */
function settle(cluster: Cluster, nemesis: Nemesis): SimNode[] {
  nemesis.calm();
  cluster.net.profile = CALM_NETWORK;
  cluster.scenario.clientDrop = 0;
  cluster.workload.issuing = false;
  const limit = cluster.now + SETTLE_MS;
  for (;;) {
    cluster.step();
    if (cluster.steps % 16 === 0) {
      const members = settled(cluster);
      if (members) return members;
    }
    if (cluster.now > limit) {
      const waiting = cluster.workload.idle() ? "" : " (clients still waiting)";
      throw new StuckError(`no convergence ${SETTLE_MS} ms after healing${waiting}`);
    }
  }
}

function settled(cluster: Cluster): SimNode[] | undefined {
  const leaders = cluster.leaders();
  if (leaders.length !== 1) return undefined;
  const leader = leaders[0];
  const members = cluster.members(leader);
  // Shut down nodes outside the leader's membership (removed ones), and bring back members an
  // earlier, staler leader's membership made us shut down.
  for (const n of cluster.nodes) {
    if (members.includes(n)) cluster.restart(n);
    else if (n.alive) cluster.crash(n);
  }
  if (!cluster.workload.idle()) return undefined;
  const st = leader.raft.status();
  if (st.commit !== st.lastIndex) return undefined;
  return members.every((n) => n.alive && n.applied === st.lastIndex) ? members : undefined;
}
