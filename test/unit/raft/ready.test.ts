/**
 * The Ready/advance protocol of RawNode, and the purity rule of src/raft (no I/O, no clocks, no
 * ambient randomness, imports only within the folder).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { enc, Network } from "./harness.ts";

describe("Ready and advance", () => {
  it("refuses a second ready() before advance()", () => {
    const net = new Network([1]);
    net.node(1).campaign();
    net.node(1).ready();
    expect(() => net.node(1).ready()).toThrow(/advance/);
  });

  it("entries appended after ready() come out in the next Ready", () => {
    const net = new Network([1]);
    net.elect(1);
    const n = net.node(1);
    n.propose(enc("a"));
    const rd1 = n.ready();
    n.propose(enc("b"));
    net.persist(1, rd1);
    n.advance(rd1);
    const rd2 = n.ready();
    expect(rd2.entries.map((e) => e.index)).toEqual([3]);
    expect(rd2.committed.map((e) => e.index)).toEqual([2]);
  });

  it("advance() does not mark as stable entries replaced since ready()", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const f = net.node(2);
    const e = (term: number, data: string) => ({
      index: 2,
      term,
      type: "normal" as const,
      data: enc(data),
    });
    f.step({
      type: "append",
      from: 1,
      to: 2,
      term: 1,
      index: 1,
      logTerm: 1,
      entries: [e(1, "old")],
      commit: 1,
    });
    const rd = f.ready();
    expect(rd.entries).toEqual([e(1, "old")]);
    // Before the runtime finishes, a new leader of term 2 overwrites index 2.
    f.step({
      type: "append",
      from: 3,
      to: 2,
      term: 2,
      index: 1,
      logTerm: 1,
      entries: [e(2, "new")],
      commit: 1,
    });
    net.persist(2, rd);
    f.advance(rd);
    const rd2 = f.ready();
    expect(rd2.entries).toEqual([e(2, "new")]);
    net.persist(2, rd2);
    f.advance(rd2);
    expect(net.peer(2).storage.term(2)).toBe(2);
    expect(f.hasReady()).toBe(false);
  });

  it("reports no hard state and no sync for a Ready that only carries messages", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    expect(net.node(2).hasReady()).toBe(false);
    net.node(2).step({ type: "heartbeat", from: 1, to: 2, term: 1, commit: 1 });
    const rd = net.node(2).ready();
    expect(rd).toMatchObject({ hardState: null, entries: [], committed: [], mustSync: false });
    expect(rd.messages).toEqual([expect.objectContaining({ type: "heartbeatResp", to: 1 })]);
  });

  it("ignores messages addressed to another node", () => {
    const net = new Network([1, 2, 3]);
    net.node(2).step({ type: "vote", from: 1, to: 3, term: 5, index: 0, logTerm: 0 });
    expect(net.node(2).status().term).toBe(0);
    expect(net.node(2).hasReady()).toBe(false);
  });

  it("exposes progress in status() only on the leader", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    expect(net.node(2).status().progress).toEqual({});
    expect(net.node(1).status().progress).toEqual({
      1: { match: 2, next: 3, learner: false },
      2: { match: 2, next: 3, learner: false },
      3: { match: 2, next: 3, learner: false },
    });
  });
});

describe("purity of src/raft", () => {
  const dir = join(import.meta.dirname, "../../../src/raft");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

  it("has no I/O, clocks, timers or ambient randomness, and imports only its own files", () => {
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const src = readFileSync(join(dir, f), "utf8");
      const code = src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      for (const banned of [
        "Date.now",
        "Math.random",
        "setTimeout",
        "setInterval",
        "process.",
        "require(",
      ]) {
        expect(code.includes(banned), `${f} uses ${banned}`).toBe(false);
      }
      for (const m of code.matchAll(/from\s+"([^"]+)"/g)) {
        expect(m[1], `${f} imports ${m[1]}`).toMatch(/^\.\/[\w-]+\.ts$/);
      }
    }
  });
});
