/**
 * Single-server membership changes in the Raft core: learners replicate without voting or
 * counting toward commit, promotion makes them voters, removal shrinks the quorum, a removed
 * leader steps down, and only one change may be in flight at a time.
 */
import { describe, expect, it } from "vitest";
import {
  type ConfChange,
  decodeConfChange,
  encodeConfChange,
  MemoryStorage,
  RaftError,
} from "../../../src/raft/index.ts";
import { Network } from "./harness.ts";

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e.code;
    throw e;
  }
  return undefined;
}

function change(net: Network, leader: number, cc: ConfChange): void {
  net.node(leader).proposeConfChange(cc);
  net.stabilize();
}

/** Voters 1-3 with node 4 started empty (it knows the initial membership). */
function withNewNode() {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, "a");
  net.add(4, new MemoryStorage({ voters: [1, 2, 3], learners: [] }));
  return net;
}

describe("learners", () => {
  it("an added learner receives the log", () => {
    const net = withNewNode();
    change(net, 1, { type: "addLearner", node: 4 });
    for (const id of [1, 2, 3, 4]) {
      expect(net.peer(id).conf).toEqual({ voters: [1, 2, 3], learners: [4] });
    }
    net.propose(1, "b");
    expect(net.peer(4).applied).toEqual(["a", "b"]);
    expect(net.node(1).status().progress[4]).toMatchObject({ learner: true, match: 4 });
  });

  it("a learner does not count toward commit", () => {
    const net = withNewNode();
    change(net, 1, { type: "addLearner", node: 4 });
    net.partition(2, 3); // 1 and 4 together: one voter of three
    net.propose(1, "b");
    expect(net.peer(4).storage.lastIndex()).toBe(4);
    expect(net.node(1).status().commit).toBe(3);
    net.heal();
    net.tickAll(2);
    expect(net.node(1).status().commit).toBe(4);
  });

  it("a learner never campaigns and its votes do not count", () => {
    const net = new Network([1], {}, [2]);
    net.elect(1);
    net.propose(1, "x");
    expect(net.node(1).status().commit).toBe(2); // alone is a quorum of one voter
    net.partition(1);
    net.tickAll(50);
    expect(net.node(2).status()).toMatchObject({ role: "follower", term: 1 });
  });
});

describe("promotion and removal", () => {
  it("a promoted learner votes and counts toward the quorum", () => {
    const net = withNewNode();
    change(net, 1, { type: "addLearner", node: 4 });
    change(net, 1, { type: "promote", node: 4 });
    expect(net.peer(4).conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.node(1).status().progress[4].learner).toBe(false);
    net.partition(1, 4); // 2 of 4 voters: no quorum
    net.propose(1, "b");
    const stuck = net.node(1).status().commit;
    net.partition(3);
    net.tickAll(2);
    expect(net.node(1).status().commit).toBe(stuck + 1); // 1, 2 and 4 are a quorum
    net.heal();
    net.partition(1);
    let ticks = 0;
    while (!net.leaders().some((id) => id !== 1) && ticks++ < 100) net.tickAll();
    expect(net.leaders().filter((id) => id !== 1)).toHaveLength(1);
  });

  it("a removed follower stops counting and never campaigns", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    change(net, 1, { type: "remove", node: 3 });
    expect(net.peer(1).conf).toEqual({ voters: [1, 2], learners: [] });
    expect(net.node(1).status().progress[3]).toBeUndefined();
    net.partition(3);
    net.propose(1, "b");
    expect(net.peer(2).applied).toEqual(["b"]);
    net.tickAll(60);
    expect(net.node(3).status().role).toBe("follower");
    expect(net.delivered.filter((m) => m.from === 3 && m.type === "vote")).toEqual([]);
  });

  it("a removed leader steps down and the rest elect a new one", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    change(net, 1, { type: "remove", node: 1 });
    expect(net.node(1).status().role).toBe("follower");
    expect(net.node(1).status().conf.voters).toEqual([2, 3]);
    let ticks = 0;
    while (net.leaders().length === 0 && ticks++ < 100) net.tickAll();
    const [leader] = net.leaders();
    expect([2, 3]).toContain(leader);
    net.propose(leader, "after");
    expect(net.peer(leader === 2 ? 3 : 2).applied).toEqual(["after"]);
    net.tickAll(60);
    expect(net.leaders()).toEqual([leader]);
  });
});

describe("one change at a time", () => {
  it("refuses a second change until the first is applied", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).proposeConfChange({ type: "addLearner", node: 4 });
    expect(codeOf(() => net.node(1).proposeConfChange({ type: "addLearner", node: 5 }))).toBe(
      "confChangePending",
    );
    net.stabilize();
    expect(codeOf(() => net.node(1).proposeConfChange({ type: "addLearner", node: 5 }))).toBe(
      undefined,
    );
  });

  it("a new leader waits for conf entries of earlier terms to apply", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).proposeConfChange({ type: "addLearner", node: 4 });
    net.drain(1);
    net.deliverWhere((m) => m.to === 2); // 2 stores the conf entry; its commit never arrives
    net.take();
    net.partition(1);
    net.node(2).campaign();
    net.drain(2);
    net.deliverWhere((m) => m.type === "vote");
    net.deliverWhere((m) => m.type === "voteResp");
    expect(net.node(2).status().role).toBe("leader");
    expect(codeOf(() => net.node(2).proposeConfChange({ type: "addLearner", node: 5 }))).toBe(
      "confChangePending",
    );
    net.stabilize(); // the no-op commits the inherited conf entry, which is then applied
    expect(net.peer(2).conf.learners).toEqual([4]);
    expect(codeOf(() => net.node(2).proposeConfChange({ type: "addLearner", node: 5 }))).toBe(
      undefined,
    );
  });

  it("only the leader takes changes", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    let err: unknown;
    try {
      net.node(2).proposeConfChange({ type: "remove", node: 3 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RaftError);
    expect(err).toMatchObject({ code: "notLeader", leader: 1 });
  });
});

describe("conf change codec", () => {
  it("round-trips every change type and rejects garbage", () => {
    for (const cc of [
      { type: "addLearner", node: 7 },
      { type: "promote", node: 123456789 },
      { type: "remove", node: 1 },
    ] as ConfChange[]) {
      expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    }
    expect(() => decodeConfChange(new Uint8Array(3))).toThrow();
    const bad = encodeConfChange({ type: "remove", node: 1 });
    bad[1] = 9;
    expect(() => decodeConfChange(bad)).toThrow();
  });
});
