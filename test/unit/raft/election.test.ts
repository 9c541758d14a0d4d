/**
 * Leader election in the Raft core: timeouts, vote rules, persistence of votes, pre-vote and
 * check-quorum. Scripted message by message over the hand-driven network in ./harness.ts.
 */
import { describe, expect, it } from "vitest";
import { MemoryStorage, type Message, RawNode } from "../../../src/raft/index.ts";
import { Network, seeded } from "./harness.ts";

const conf3 = { voters: [1, 2, 3], learners: [] };

function ticksToCampaign(random: () => number, electionTick = 10): number {
  const node = new RawNode({
    id: 1,
    electionTick,
    heartbeatTick: 1,
    storage: new MemoryStorage(conf3),
    random,
  });
  for (let t = 1; t <= 4 * electionTick; t++) {
    node.tick();
    if (node.status().role !== "follower") return t;
  }
  return -1;
}

describe("election timeouts", () => {
  it("randomizes the timeout in [electionTick, 2*electionTick) from cfg.random", () => {
    expect(ticksToCampaign(() => 0)).toBe(10);
    expect(ticksToCampaign(() => 0.5)).toBe(15);
    expect(ticksToCampaign(() => 0.999999)).toBe(19);
    const seen = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const t = ticksToCampaign(seeded(seed));
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it("is reproducible for a given seed", () => {
    expect(ticksToCampaign(seeded(7))).toBe(ticksToCampaign(seeded(7)));
  });
});

describe("single node", () => {
  it("elects itself on campaign() and commits its no-op alone", () => {
    const net = new Network([1]);
    net.node(1).campaign();
    net.stabilize();
    const s = net.node(1).status();
    expect(s.role).toBe("leader");
    expect(s.term).toBe(1);
    expect(s.lastIndex).toBe(1);
    expect(s.commit).toBe(1);
    net.propose(1, "x");
    expect(net.peer(1).applied).toEqual(["x"]);
    expect(net.node(1).status().commit).toBe(2);
  });

  it("elects itself when its election timer fires", () => {
    const net = new Network([1]);
    net.tickAll(20);
    expect(net.node(1).status().role).toBe("leader");
  });
});

describe("three nodes", () => {
  it("elect exactly one leader that everyone follows", () => {
    const net = new Network([1, 2, 3]);
    let ticks = 0;
    while (net.leaders().length === 0 && ticks < 100) {
      net.tickAll();
      ticks++;
    }
    const [leader] = net.leaders();
    expect(net.leaders()).toHaveLength(1);
    for (const id of [1, 2, 3]) {
      const s = net.node(id).status();
      expect(s.leader).toBe(leader);
      expect(s.term).toBe(net.node(leader).status().term);
      expect(s.commit).toBe(1); // the new leader's no-op
    }
  });

  it("puts the vote in the hard state of the same Ready as the vote response", () => {
    const net = new Network([1, 2, 3]);
    net.node(1).campaign();
    const self = net.node(1).ready();
    expect(self.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(self.mustSync).toBe(true);
    net.node(1).advance(self);
    const req = self.messages.find((m) => m.to === 2)!;
    expect(req.type).toBe("vote");
    net.node(2).step(req);
    const rd = net.node(2).ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages).toEqual([
      expect.objectContaining({ type: "voteResp", from: 2, to: 1, term: 1 }),
    ]);
    expect(rd.messages[0].reject).toBeFalsy();
  });

  it("keeps a persisted vote across a restart: one vote per term", () => {
    const net = new Network([1, 2, 3]);
    net.node(1).campaign();
    net.drain(1);
    net.deliverWhere((m) => m.to === 2); // 2 votes for 1 and persists it
    net.queue = [];
    net.restart(2);
    expect(net.node(2).status()).toMatchObject({ term: 1, vote: 1 });
    const rival: Message = { type: "vote", from: 3, to: 2, term: 1, index: 5, logTerm: 1 };
    net.node(2).step(rival);
    net.drain(2);
    expect(net.queue).toEqual([expect.objectContaining({ type: "voteResp", reject: true })]);
  });

  it("refuses candidates whose log is less up to date", () => {
    const s1 = Network.storageWith(conf3, [1, 1], { term: 1 });
    const s2 = Network.storageWith(conf3, [1, 1, 1], { term: 1 });
    const net = new Network([]);
    net.add(1, s1);
    net.add(2, s2);
    net.node(1).campaign();
    net.drain(1);
    net.deliverWhere((m) => m.to === 2);
    expect(net.take((m) => m.from === 2)).toEqual([
      expect.objectContaining({ type: "voteResp", reject: true, term: 2 }),
    ]);
    // A higher last term wins over a longer log.
    const conf345 = { voters: [3, 4, 5], learners: [] };
    const s3 = Network.storageWith(conf345, [1, 2], { term: 2 });
    const s4 = Network.storageWith(conf345, [1, 1, 1, 1], { term: 2 });
    const net2 = new Network([]);
    net2.add(3, s3);
    net2.add(4, s4);
    net2.node(3).campaign();
    net2.drain(3);
    net2.deliverWhere((m) => m.to === 4);
    const [resp] = net2.take((m) => m.from === 4);
    expect(resp).toMatchObject({ type: "voteResp", term: 3 });
    expect(resp.reject).toBeFalsy();
  });

  it("resolves a split vote through randomized timeouts", () => {
    const net = new Network([1, 2, 3, 4]);
    net.node(1).campaign();
    net.node(2).campaign();
    net.drain(1);
    net.drain(2);
    // 3 hears from 1 first, 4 from 2 first: 2 votes each, 3 needed.
    net.deliverWhere((m) => m.from === 1 && m.to === 3);
    net.deliverWhere((m) => m.from === 2 && m.to === 4);
    net.stabilize();
    expect(net.leaders()).toEqual([]);
    expect(net.node(1).status().term).toBe(1);
    let ticks = 0;
    while (net.leaders().length === 0 && ticks < 100) {
      net.tickAll();
      ticks++;
    }
    expect(net.leaders()).toHaveLength(1);
    expect(net.node(net.leaders()[0]).status().term).toBeGreaterThan(1);
  });

  it("a candidate returns to follower on an append from the term's leader", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(3).campaign(); // term 2, nobody else hears of it yet
    net.drain(3);
    net.queue = [];
    expect(net.node(3).status().role).toBe("candidate");
    net
      .node(3)
      .step({ type: "append", from: 2, to: 3, term: 2, index: 1, logTerm: 1, entries: [] });
    expect(net.node(3).status()).toMatchObject({ role: "follower", leader: 2, term: 2 });
  });
});

describe("stale terms", () => {
  it("ignores a vote request from an older term", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.elect(2); // term 2
    net.node(3).step({ type: "vote", from: 1, to: 3, term: 1, index: 99, logTerm: 9 });
    net.drain(3);
    expect(net.queue).toEqual([]);
    expect(net.node(3).status()).toMatchObject({ term: 2, vote: 2 });
  });

  it("answers a deposed leader's append with the newer term, which makes it step down", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.partition(1);
    net.elect(2);
    net.heal();
    expect(net.node(1).status().role).toBe("leader"); // still believes it
    net.tick(1); // heartbeat at term 1
    net.stabilize();
    expect(net.node(1).status()).toMatchObject({ role: "follower", term: 2 });
    net.tick(2);
    net.stabilize();
    expect(net.node(1).status()).toMatchObject({ role: "follower", term: 2, leader: 2 });
    expect(net.node(1).status().commit).toBe(net.node(2).status().commit);
  });
});

describe("pre-vote", () => {
  function partitionedCampaigns(preVote: boolean) {
    const net = new Network([1, 2, 3], { preVote });
    net.elect(1);
    net.propose(1, "a");
    net.partition(3);
    for (let i = 0; i < 100; i++) net.tick(3);
    net.stabilize();
    const isolatedTerm = net.node(3).status().term;
    net.heal();
    net.tickAll(3);
    return { net, isolatedTerm };
  }

  it("keeps a partitioned node's term, so it rejoins without disrupting the leader", () => {
    const { net, isolatedTerm } = partitionedCampaigns(true);
    expect(isolatedTerm).toBe(1);
    expect(net.leaders()).toEqual([1]);
    expect(net.node(1).status().term).toBe(1);
    expect(net.node(3).status()).toMatchObject({ role: "follower", leader: 1, term: 1 });
  });

  it("without pre-vote the same partition inflates terms and deposes the leader", () => {
    const { net, isolatedTerm } = partitionedCampaigns(false);
    expect(isolatedTerm).toBeGreaterThan(5);
    expect(net.node(1).status().term).toBeGreaterThanOrEqual(isolatedTerm);
  });

  it("a granted pre-vote changes no term or vote anywhere", () => {
    const net = new Network([1, 2, 3], { preVote: true });
    net.node(1).campaign();
    net.drain(1);
    expect(net.node(1).status()).toMatchObject({ role: "preCandidate", term: 0 });
    expect(net.queue.map((m) => [m.type, m.term])).toEqual([
      ["preVote", 1],
      ["preVote", 1],
    ]);
    net.deliverWhere((m) => m.to === 2);
    expect(net.node(2).status()).toMatchObject({ term: 0, vote: 0 });
    net.stabilize();
    expect(net.node(1).status()).toMatchObject({ role: "leader", term: 1 });
  });
});

describe("check-quorum", () => {
  it("a leader cut off from the quorum steps down within two election timeouts", () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.partition(1);
    for (let i = 0; i < 9; i++) net.tick(1);
    expect(net.node(1).status().role).toBe("leader");
    for (let i = 0; i < 11; i++) net.tick(1);
    expect(net.node(1).status()).toMatchObject({ role: "follower", leader: 0, term: 1 });
  });

  it("a leader that hears from its followers stays", () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.tickAll(100);
    expect(net.leaders()).toEqual([1]);
    expect(net.node(1).status().term).toBe(1);
  });

  it("followers that heard from a leader recently ignore vote requests", () => {
    const sticky = (checkQuorum: boolean) => {
      const net = new Network([1, 2, 3], { checkQuorum });
      net.elect(1);
      net.node(3).campaign();
      net.drain(3);
      net.deliverWhere((m) => m.from === 3 && m.to === 2);
      return { net, replies: net.take((m) => m.from === 2) };
    };
    const on = sticky(true);
    expect(on.replies).toEqual([]);
    expect(on.net.node(2).status()).toMatchObject({ term: 1, leader: 1 });
    const off = sticky(false);
    expect(off.replies).toEqual([expect.objectContaining({ type: "voteResp", term: 2 })]);
    expect(off.replies[0].reject).toBeFalsy();
  });

  it("with pre-vote, a node that forces a campaign cannot depose a healthy leader", () => {
    const net = new Network([1, 2, 3], { checkQuorum: true, preVote: true });
    net.elect(1);
    net.node(3).campaign();
    net.stabilize();
    net.tickAll(5);
    expect(net.leaders()).toEqual([1]);
    expect(net.node(3).status()).toMatchObject({ term: 1, leader: 1 });
  });
});

describe("non-voters", () => {
  it("a learner never campaigns", () => {
    const net = new Network([1, 2], {}, [3]);
    net.partition(3);
    net.node(3).campaign();
    for (let i = 0; i < 100; i++) net.tick(3);
    expect(net.node(3).status()).toMatchObject({ role: "follower", term: 0 });
    expect(net.queue.filter((m) => m.from === 3)).toEqual([]);
  });
});
