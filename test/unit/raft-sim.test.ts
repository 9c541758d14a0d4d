/**
 * Deterministic simulation of the Raft core (test/sim): many seeded runs of 3- and 5-node
 * clusters under drops, delays, duplicates, partitions and crashes, with Raft's safety
 * invariants checked after every event and the client history checked for linearizability at
 * the end. A failing seed prints the command that replays it (`npm run sim -- --seed S ...`).
 *
 * Two planted bugs (skipped fsyncs, no session dedup) check that the harness can fail at all.
 * The seed count and steps are sized well inside a minute on a 2-core CI machine; `npm run sim`
 * explores far more seeds.
 */
import { describe, expect, test } from "vitest";
import { EventQueue } from "../sim/events.ts";
import { KvMachine } from "../sim/kv.ts";
import { SimNode } from "../sim/node.ts";
import { Rng } from "../sim/rng.ts";
import { DEFAULT_STEPS, defaultNodes, type RunResult, runSeed } from "../sim/run.ts";

const SEEDS = 250;

function explain(r: RunResult): string {
  if (r.ok) return "ok";
  const f = r.failure!;
  return [
    `seed ${r.seed} (${r.nodes} nodes) failed at step ${f.step}, t=${f.time}ms`,
    `${f.invariant}: ${f.detail}`,
    `scenario: ${f.scenario}`,
    "nodes at failure:",
    ...f.nodes.map((l) => `  ${l}`),
    "last events:",
    ...f.recent.map((l) => `  ${l}`),
    `reproduce: ${r.repro}`,
  ].join("\n");
}

describe("simulation harness", () => {
  test("the PRNG is deterministic and roughly uniform", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(new Rng(43).next()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  test("the event queue pops by time, then by insertion order", () => {
    const q = new EventQueue();
    q.push(5, { kind: "restart", node: 1 });
    q.push(3, { kind: "restart", node: 2 });
    q.push(5, { kind: "restart", node: 3 });
    q.push(1, { kind: "restart", node: 4 });
    const order: number[] = [];
    for (let e = q.pop(); e; e = q.pop()) if (e.ev.kind === "restart") order.push(e.ev.node);
    expect(order).toEqual([4, 2, 1, 3]);
  });

  test("the state machine applies a retried write once and replays its answer", () => {
    const kv = new KvMachine();
    expect(kv.apply({ client: 1, seq: 1, key: "a", op: "put", value: "x" })).toEqual({ ok: true });
    expect(kv.apply({ client: 1, seq: 2, key: "a", op: "cas", from: "x", value: "y" })).toEqual({
      ok: true,
    });
    // A duplicate of seq 2 must not apply again (it would now fail) but repeat its result.
    expect(kv.apply({ client: 1, seq: 2, key: "a", op: "cas", from: "x", value: "y" })).toEqual({
      ok: true,
    });
    kv.apply({ client: 2, seq: 1, key: "a", op: "put", value: "z" });
    expect(kv.apply({ client: 1, seq: 1, key: "a", op: "put", value: "x" }).ok).toBe(false);
    expect(kv.get("a")).toBe("z");
    expect(KvMachine.restore(kv.serialize()).fingerprint()).toBe(kv.fingerprint());
  });

  test("a run is a pure function of its seed", () => {
    const a = runSeed({ seed: 7, nodes: 3, steps: 1500 });
    const b = runSeed({ seed: 7, nodes: 3, steps: 1500 });
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.stats).toEqual(b.stats);
    expect(runSeed({ seed: 8, nodes: 3, steps: 1500 }).fingerprint).not.toBe(a.fingerprint);
  });
});

/** Runs seeds until one fails; returns the failed invariant (undefined if none did). */
function firstFailure(seeds: number): string | undefined {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = runSeed({ seed, nodes: defaultNodes(seed), steps: 10_000, checkTimeoutMs: 10_000 });
    if (!r.ok) return r.failure!.invariant;
  }
  return undefined;
}

// The harness must have teeth: planted runtime bugs have to be caught.
describe("simulation harness catches planted bugs", () => {
  test("a runtime that skips fsyncs loses committed entries", () => {
    const sync = SimNode.prototype.sync;
    let n = 0;
    SimNode.prototype.sync = function (this: SimNode) {
      if (++n % 3 !== 0) sync.call(this);
    };
    try {
      expect(["committed entries lost", "ready contract"]).toContain(firstFailure(20));
    } finally {
      SimNode.prototype.sync = sync;
    }
  });

  test("a state machine without session dedup breaks linearizability", () => {
    const apply = KvMachine.prototype.apply;
    KvMachine.prototype.apply = function (this: KvMachine, op) {
      this.sessions.delete(op.client);
      return apply.call(this, op);
    };
    try {
      expect(firstFailure(40)).toBe("linearizability");
    } finally {
      KvMachine.prototype.apply = apply;
    }
  });
});

describe(`raft simulation: ${SEEDS} seeds × ${DEFAULT_STEPS} steps`, () => {
  const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
  test.each(seeds)("seed %i", (seed) => {
    const r = runSeed({ seed, nodes: defaultNodes(seed), checkTimeoutMs: 10_000 });
    expect(r.ok, explain(r)).toBe(true);
    // A run that never elected anyone or committed nothing tested little.
    expect(r.stats.elections).toBeGreaterThan(0);
  });
});
