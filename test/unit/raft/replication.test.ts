/**
 * Log replication in the Raft core: persistence ordering, batching, pipelining, repair of
 * divergent logs with fast back-off, and the rule that only current-term entries are committed
 * by counting replicas (the Figure 8 scenario of the Raft paper).
 */
import { describe, expect, it } from "vitest";
import { type Message, RawNode } from "../../../src/raft/index.ts";
import { enc, Network } from "./harness.ts";

const conf = (...voters: number[]) => ({ voters, learners: [] });

function logTerms(net: Network, id: number): number[] {
  const s = net.peer(id).storage;
  const out: number[] = [];
  for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(s.term(i));
  return out;
}

describe("basic replication", () => {
  it("applies the same proposals in the same order on every node", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (const v of ["a", "b", "c"]) net.propose(1, v);
    for (const id of [1, 2, 3]) {
      expect(net.peer(id).applied).toEqual(["a", "b", "c"]);
      expect(net.node(id).status().commit).toBe(4);
    }
  });

  it("a new leader appends an empty entry of its term first", () => {
    const net = new Network([1, 2, 3]);
    net.node(2).campaign();
    net.stabilize();
    const s = net.peer(2).storage;
    expect(s.lastIndex()).toBe(1);
    expect(s.entries(1, 2)[0]).toMatchObject({ index: 1, term: 1, type: "normal" });
    expect(s.entries(1, 2)[0].data.length).toBe(0);
  });

  it("a follower acknowledges entries in the Ready that persists them", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).propose(enc("x"));
    net.drain(1);
    net.deliverWhere((m) => m.to === 2 && m.type === "append");
    const rd = net.peer(2).readies.at(-1)!;
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.mustSync).toBe(true);
    expect(rd.messages).toEqual([expect.objectContaining({ type: "appendResp", index: 2 })]);
  });

  it("the leader counts its own entries only after advance()", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const n1 = net.node(1);
    n1.propose(enc("x"));
    const rd = n1.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(n1.status().progress[1].match).toBe(1);
    // Both followers ack before the leader's own write completes: the quorum of 2 is met.
    for (const m of rd.messages) net.node(m.to).step(m);
    for (const id of [2, 3]) {
      const f = net.node(id).ready();
      net.persist(id, f);
      net.node(id).advance(f);
      for (const m of f.messages) n1.step(m);
    }
    expect(n1.status().commit).toBe(2);
    net.persist(1, rd);
    n1.advance(rd);
    expect(n1.status().progress[1].match).toBe(2);
  });

  it("a single voter commits only once its own write is acknowledged", () => {
    const net = new Network([1]);
    net.elect(1);
    const n1 = net.node(1);
    n1.propose(enc("x"));
    const rd = n1.ready();
    expect(rd.committed).toEqual([]);
    expect(n1.status().commit).toBe(1);
    net.persist(1, rd);
    n1.advance(rd);
    expect(n1.status().commit).toBe(2);
    const next = n1.ready();
    expect(next.committed.map((e) => e.index)).toEqual([2]);
    expect(next.hardState).toEqual({ term: 1, vote: 1, commit: 2 });
    expect(next.mustSync).toBe(false);
  });
  it("heartbeats carry the commit index to followers that missed its broadcast", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).propose(enc("x"));
    net.drain(1);
    net.deliverWhere((m) => m.type === "append");
    net.deliverWhere((m) => m.type === "appendResp");
    expect(net.node(1).status().commit).toBe(2);
    net.take(); // the appends announcing commit 2 are lost
    expect(net.node(2).status().commit).toBe(1);
    net.tick(1);
    expect(net.queue.map((m) => [m.type, m.commit])).toEqual([
      ["heartbeat", 2],
      ["heartbeat", 2],
    ]);
    net.stabilize();
    expect(net.peer(2).applied).toEqual(["x"]);
  });
});

describe("batching and pipelining", () => {
  it("splits a catch-up into messages of at most maxSizePerMsg bytes", () => {
    const net = new Network([1, 2, 3], { maxSizePerMsg: 250 });
    net.elect(1);
    net.partition(3);
    for (let i = 0; i < 10; i++) net.propose(1, "x".repeat(100));
    net.heal();
    net.delivered = [];
    net.tickAll(3);
    const appends = net.delivered.filter((m) => m.type === "append" && m.to === 3);
    const carried = appends.flatMap((m) => m.entries ?? []);
    expect(carried.filter((e) => e.data.length === 100)).toHaveLength(10);
    for (const m of appends) {
      const bytes = (m.entries ?? []).reduce((n, e) => n + e.data.length, 0);
      expect((m.entries ?? []).length === 1 || bytes <= 250).toBe(true);
    }
    expect(appends.length).toBeGreaterThanOrEqual(5);
    expect(net.peer(3).applied).toHaveLength(10);
  });

  it("pipelines up to maxInflight appends without waiting for acks", () => {
    const net = new Network([1, 2, 3], { maxInflight: 2 });
    net.elect(1);
    const held: Message[] = [];
    for (let i = 0; i < 5; i++) {
      net.node(1).propose(enc(`p${i}`));
      net.drain(1);
      held.push(...net.take((m) => m.to === 2));
    }
    const appends = held.filter((m) => m.type === "append");
    expect(appends.map((m) => m.entries?.map((e) => e.index))).toEqual([[2], [3]]);
    // One ack frees a slot; the leader sends everything still missing in one batch.
    net.deliver(appends[0]);
    net.deliverWhere((m) => m.from === 2);
    const more = net.take((m) => m.to === 2 && m.type === "append");
    expect(more.map((m) => m.entries?.map((e) => e.index))).toEqual([[4, 5, 6]]);
  });
});

describe("repairing divergent logs", () => {
  it("backs off a whole term per round trip (fast conflict back-off)", () => {
    const leaderLog = [1, 1, 1, 3, 3, 3, 3, 3, 3, 3];
    const net = new Network([]);
    net.add(1, Network.storageWith(conf(1, 2, 3), leaderLog, { term: 3, commit: 3 }));
    net.add(
      2,
      Network.storageWith(conf(1, 2, 3), [1, 1, 1, ...Array(17).fill(2)], { term: 2, commit: 3 }),
    );
    net.add(3, Network.storageWith(conf(1, 2, 3), leaderLog, { term: 3, commit: 3 }));
    net.elect(1);
    const rejects = net.delivered.filter(
      (m) => m.from === 2 && m.type === "appendResp" && m.reject,
    );
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ index: 10, rejectHint: 10, hintTerm: 2 });
    expect(logTerms(net, 2)).toEqual([...leaderLog, 4]);
    expect(net.node(2).status().commit).toBe(11);
  });

  it("jumps straight to a short follower's last index", () => {
    const net = new Network([]);
    net.add(1, Network.storageWith(conf(1, 2), [1, 1, 1, 1, 1, 1], { term: 1, commit: 1 }));
    net.add(2, Network.storageWith(conf(1, 2), [1], { term: 1, commit: 1 }));
    net.elect(1);
    const rejects = net.delivered.filter((m) => m.from === 2 && m.reject);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ rejectHint: 1, hintTerm: 1 });
    expect(logTerms(net, 2)).toEqual([1, 1, 1, 1, 1, 1, 2]);
  });

  it("truncates a follower's extra uncommitted entries", () => {
    const net = new Network([]);
    net.add(1, Network.storageWith(conf(1, 2, 3), [1, 1, 3], { term: 3, commit: 2 }));
    net.add(2, Network.storageWith(conf(1, 2, 3), [1, 1, 2, 2, 2, 2], { term: 2, commit: 2 }));
    net.add(3, Network.storageWith(conf(1, 2, 3), [1, 1, 3], { term: 3, commit: 2 }));
    net.elect(1);
    expect(logTerms(net, 2)).toEqual([1, 1, 3, 4]);
    expect(net.peer(2).applied).toEqual(["e1t1", "e2t1", "e3t3"]);
    for (const id of [1, 2, 3]) expect(net.node(id).status().commit).toBe(4);
  });
});

describe("commit only current-term entries", () => {
  it("does not commit an earlier-term entry on a majority until one of its own term is", () => {
    const net = new Network([], { maxSizePerMsg: 1 });
    net.add(1, Network.storageWith(conf(1, 2, 3), [1, 2], { term: 2, commit: 1 }));
    net.add(2, Network.storageWith(conf(1, 2, 3), [1], { term: 2, commit: 1 }));
    net.add(3, Network.storageWith(conf(1, 2, 3), [1], { term: 2, commit: 1 }));
    net.node(1).campaign();
    net.drain(1);
    net.deliverWhere((m) => m.type === "vote");
    net.deliverWhere((m) => m.type === "voteResp");
    expect(net.node(1).status().role).toBe("leader");
    net.deliverWhere((m) => m.to === 3); // 3 drops the probe
    // Only node 2 talks to the leader: it gets entry 2 (term 2), then the no-op is held back.
    net.deliverWhere((m) => m.to === 2);
    net.deliverWhere((m) => m.from === 2);
    net.deliverWhere((m) => m.to === 2 && m.entries?.[0]?.index === 2);
    net.deliverWhere((m) => m.from === 2);
    expect(net.node(1).status().progress[2].match).toBe(2);
    expect(net.node(1).status().progress[1].match).toBe(3);
    // Entry 2 is on 2 of 3 nodes but is from term 2: not committed.
    expect(net.node(1).status().commit).toBe(1);
    net.deliverWhere((m) => m.to === 2 && m.entries?.[0]?.index === 3);
    net.deliverWhere((m) => m.from === 2);
    expect(net.node(1).status().commit).toBe(3);
  });

  it("Figure 8: an entry replicated to a majority in a later term can still be overwritten", () => {
    const c = conf(1, 2, 3, 4, 5);
    const net = new Network([], { maxSizePerMsg: 1 });
    net.add(1, Network.storageWith(c, [1, 2], { term: 3, commit: 1 }));
    net.add(2, Network.storageWith(c, [1, 2], { term: 3, commit: 1 }));
    net.add(3, Network.storageWith(c, [1], { term: 3, commit: 1 }));
    net.add(4, Network.storageWith(c, [1], { term: 3, commit: 1 }));
    net.add(5, Network.storageWith(c, [1, 3], { term: 3, commit: 1 }));
    net.node(1).campaign(); // term 4; 5 refuses (its last term 3 > 2), 2-4 grant
    net.drain(1);
    net.deliverWhere((m) => m.type === "vote");
    net.deliverWhere((m) => m.type === "voteResp");
    expect(net.node(1).status()).toMatchObject({ role: "leader", term: 4 });
    net.take((m) => m.to === 2 || m.to === 5); // 2 and 5 hear nothing more from 1
    // 3 and 4 get entry 2 (term 2) but never the no-op (term 4).
    net.deliverWhere((m) => m.to === 3 || m.to === 4);
    net.deliverWhere((m) => m.from === 3 || m.from === 4);
    net.deliverWhere((m) => (m.to === 3 || m.to === 4) && m.entries?.[0]?.index === 2);
    net.deliverWhere((m) => m.from === 3 || m.from === 4);
    net.take((m) => m.from === 1 || m.to === 1);
    expect(net.peer(3).storage.term(2)).toBe(2);
    // Entry 2 is on 1, 2, 3 and 4, yet it must not be committed by leader 1 in term 4.
    expect(net.node(1).status().commit).toBe(1);
    // Leader 1 crashes; 5 wins term 5 with votes from 2, 3 and 4 and overwrites entry 2.
    net.drop = (m) => m.to === 1 || m.from === 1;
    net.node(5).campaign();
    net.stabilize();
    expect(net.node(5).status()).toMatchObject({ role: "leader", term: 5 });
    for (const id of [2, 3, 4, 5]) {
      expect(logTerms(net, id)).toEqual([1, 3, 5]);
      expect(net.node(id).status().commit).toBe(3);
      expect(net.peer(id).applied).toEqual(["e1t1", "e2t3"]);
    }
    // When 1 comes back, its uncommitted term-2 entry is replaced as well.
    net.heal();
    net.tickAll(2);
    expect(logTerms(net, 1)).toEqual([1, 3, 5]);
    expect(net.peer(1).applied).toEqual(["e1t1", "e2t3"]);
  });
});

describe("restart", () => {
  it("resumes from storage and replays committed entries after cfg.applied", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    net.propose(1, "b");
    const storage = net.peer(2).storage;
    const node = new RawNode({
      id: 2,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      random: () => 0,
      applied: 2,
    });
    expect(node.status()).toMatchObject({ term: 1, vote: 1, commit: 3, applied: 2, lastIndex: 3 });
    const rd = node.ready();
    expect(rd.hardState).toBeNull();
    expect(rd.committed.map((e) => e.index)).toEqual([3]);
  });

  it("treats an applied index beyond the stored commit as committed (lost commit-only write)", () => {
    const net = new Network([1]);
    net.elect(1);
    net.propose(1, "a");
    const storage = net.peer(1).storage;
    storage.setHardState({ term: 1, vote: 1, commit: 1 }); // the unsynced commit 2 was lost
    const node = new RawNode({
      id: 1,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      random: () => 0,
      applied: 2,
    });
    expect(node.status()).toMatchObject({ commit: 2, applied: 2 });
    const rd = node.ready();
    expect(rd.committed).toEqual([]);
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 2 });
  });
});
