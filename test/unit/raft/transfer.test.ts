/**
 * Leadership transfer and proposal forwarding in the Raft core. A transfer catches the target
 * up, sends timeoutNow, and the target campaigns at once (no pre-vote, past leader stickiness);
 * the leader refuses proposals meanwhile and gives up after an election timeout. Followers
 * forward proposals to the leader they know.
 */
import { describe, expect, it } from "vitest";
import { RaftError } from "../../../src/raft/index.ts";
import { enc, Network } from "./harness.ts";

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e.code;
    throw e;
  }
  return undefined;
}

describe("leadership transfer", () => {
  it("hands over to an up-to-date follower, which campaigns without pre-vote", () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.propose(1, "a");
    net.delivered = [];
    net.node(1).transferLeader(2);
    net.drain(1);
    expect(net.queue).toEqual([expect.objectContaining({ type: "timeoutNow", to: 2 })]);
    net.stabilize();
    expect(net.leaders()).toEqual([2]);
    expect(net.node(2).status().term).toBe(2);
    expect(net.node(1).status()).toMatchObject({ role: "follower", leader: 2 });
    const campaign = net.delivered.filter((m) => m.from === 2 && m.type.endsWith("ote"));
    expect(campaign.map((m) => m.type)).toEqual(["vote", "vote"]);
    net.propose(2, "b");
    expect(net.peer(1).applied).toEqual(["a", "b"]);
  });

  it("catches a lagging target up before sending timeoutNow", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.partition(3);
    net.propose(1, "a");
    net.propose(1, "b");
    net.heal();
    net.delivered = [];
    net.node(1).transferLeader(3);
    net.drain(1);
    expect(net.queue.map((m) => m.type)).toEqual(["append"]);
    net.stabilize();
    const order = net.delivered.filter((m) => m.to === 3).map((m) => m.type);
    expect(order.indexOf("timeoutNow")).toBeGreaterThan(order.indexOf("append"));
    expect(net.leaders()).toEqual([3]);
    expect(net.peer(3).applied).toEqual(["a", "b"]);
  });

  it("refuses proposals while the transfer runs and drops forwarded ones", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.partition(2); // timeoutNow will be lost
    net.node(1).transferLeader(2);
    expect(codeOf(() => net.node(1).propose(enc("x")))).toBe("transferInProgress");
    expect(codeOf(() => net.node(1).proposeConfChange({ type: "remove", node: 3 }))).toBe(
      "transferInProgress",
    );
    net.node(3).propose(enc("fwd"));
    net.stabilize();
    expect(net.node(1).status().lastIndex).toBe(1);
  });

  it("gives up after an election timeout and accepts proposals again", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.partition(2);
    net.node(1).transferLeader(2);
    net.stabilize();
    net.tickAll(9);
    expect(codeOf(() => net.node(1).propose(enc("x")))).toBe("transferInProgress");
    net.tickAll(1);
    expect(codeOf(() => net.node(1).propose(enc("x")))).toBe(undefined);
    net.stabilize();
    expect(net.leaders()).toEqual([1]);
    expect(net.peer(3).applied).toEqual(["x"]);
  });

  it("only a leader transfers, and only to a voter", () => {
    const net = new Network([1, 2], {}, [3]);
    net.elect(1);
    expect(codeOf(() => net.node(2).transferLeader(1))).toBe("notLeader");
    expect(codeOf(() => net.node(1).transferLeader(3))).toBe("unavailable");
    expect(codeOf(() => net.node(1).transferLeader(9))).toBe("unavailable");
  });

  it("a learner ignores timeoutNow", () => {
    const net = new Network([1, 2], {}, [3]);
    net.elect(1);
    net.node(3).step({ type: "timeoutNow", from: 1, to: 3, term: 1 });
    net.drain(3);
    expect(net.node(3).status()).toMatchObject({ role: "follower", term: 1 });
    expect(net.queue).toEqual([]);
  });
});

describe("proposal forwarding", () => {
  it("a follower forwards proposals to the leader", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(3).propose(enc("via-3"));
    net.drain(3);
    expect(net.queue).toEqual([
      expect.objectContaining({ type: "propose", from: 3, to: 1, term: 0 }),
    ]);
    net.stabilize();
    for (const id of [1, 2, 3]) expect(net.peer(id).applied).toEqual(["via-3"]);
    expect(net.peer(1).storage.term(2)).toBe(1);
  });

  it("without a known leader a proposal fails with noLeader", () => {
    const net = new Network([1, 2, 3]);
    expect(codeOf(() => net.node(2).propose(enc("x")))).toBe("noLeader");
    net.node(2).campaign();
    expect(net.node(2).status().role).toBe("candidate");
    expect(codeOf(() => net.node(2).propose(enc("x")))).toBe("noLeader");
  });

  it("a forwarded proposal reaching a non-leader is dropped", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(2).step({ type: "propose", from: 3, to: 2, term: 0, entries: [] });
    net.node(2).step({
      type: "propose",
      from: 3,
      to: 2,
      term: 0,
      entries: [{ index: 0, term: 0, type: "normal", data: enc("lost") }],
    });
    net.stabilize();
    expect(net.node(1).status().lastIndex).toBe(1);
  });
});
