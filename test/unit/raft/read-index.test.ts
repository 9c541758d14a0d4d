/**
 * ReadIndex in the Raft core: the leader confirms leadership with a heartbeat quorum before
 * releasing a read state, defers reads until it has committed in its term, answers forwarded
 * requests from followers, and never answers once deposed.
 */
import { describe, expect, it } from "vitest";
import { RaftError } from "../../../src/raft/index.ts";
import { dec, enc, Network } from "./harness.ts";

const ctxOf = (net: Network, id: number) =>
  net.peer(id).readStates.map((r) => ({ index: r.index, ctx: dec(r.context) }));

describe("ReadIndex on the leader", () => {
  it("a single voter answers at once with its commit index", () => {
    const net = new Network([1]);
    net.elect(1);
    net.propose(1, "a");
    net.node(1).readIndex(enc("r1"));
    net.drain(1);
    expect(ctxOf(net, 1)).toEqual([{ index: 2, ctx: "r1" }]);
  });

  it("releases the read state only after a quorum acknowledges a heartbeat carrying it", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    net.node(1).readIndex(enc("r1"));
    net.drain(1);
    const beats = net.take();
    expect(beats.map((m) => [m.type, m.to, dec(m.context!)])).toEqual([
      ["heartbeat", 2, "r1"],
      ["heartbeat", 3, "r1"],
    ]);
    expect(ctxOf(net, 1)).toEqual([]);
    net.deliver(beats[0]);
    expect(ctxOf(net, 1)).toEqual([]); // the ack has not reached the leader yet
    net.deliverWhere((m) => m.type === "heartbeatResp");
    expect(ctxOf(net, 1)).toEqual([{ index: 2, ctx: "r1" }]);
    // A late second ack releases nothing more.
    net.deliver(beats[1]);
    net.stabilize();
    expect(ctxOf(net, 1)).toHaveLength(1);
  });

  it("an acknowledgement for a later read also confirms earlier ones", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).readIndex(enc("r1"));
    net.drain(1);
    net.take(); // r1's heartbeats are lost
    net.propose(1, "a");
    net.node(1).readIndex(enc("r2"));
    net.stabilize();
    expect(ctxOf(net, 1)).toEqual([
      { index: 1, ctx: "r1" },
      { index: 2, ctx: "r2" },
    ]);
  });

  it("defers reads until the leader has committed an entry of its term", () => {
    const net = new Network([1, 2, 3]);
    net.node(1).campaign();
    net.drain(1);
    net.deliverWhere((m) => m.type === "vote");
    net.deliverWhere((m) => m.type === "voteResp");
    expect(net.node(1).status()).toMatchObject({ role: "leader", commit: 0 });
    const appends = net.take();
    net.node(1).readIndex(enc("r1"));
    net.drain(1);
    expect(net.queue).toEqual([]); // no heartbeat round yet
    for (const m of appends) net.deliver(m);
    net.stabilize();
    expect(ctxOf(net, 1)).toEqual([{ index: 1, ctx: "r1" }]);
  });

  it("a follower's read is forwarded to the leader and answered with readIndexResp", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    net.node(2).readIndex(enc("f1"));
    net.drain(2);
    expect(net.queue).toEqual([
      expect.objectContaining({ type: "readIndex", from: 2, to: 1, term: 0 }),
    ]);
    net.stabilize();
    expect(net.delivered.filter((m) => m.type === "readIndexResp")).toEqual([
      expect.objectContaining({ from: 1, to: 2, index: 2 }),
    ]);
    expect(ctxOf(net, 2)).toEqual([{ index: 2, ctx: "f1" }]);
    expect(ctxOf(net, 1)).toEqual([]);
  });

  it("a node that knows no leader refuses with noLeader", () => {
    const net = new Network([1, 2, 3]);
    expect(() => net.node(2).readIndex(enc("x"))).toThrow(RaftError);
    try {
      net.node(2).readIndex(enc("x"));
    } catch (e) {
      expect((e as RaftError).code).toBe("noLeader");
    }
  });
});

describe("a deposed leader never answers", () => {
  it("when a newer leader exists, the old one gets higher-term replies, not acks", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).readIndex(enc("stale"));
    net.drain(1);
    const beats = net.take();
    net.partition(1);
    net.elect(2);
    net.propose(2, "w");
    net.heal();
    for (const m of beats) net.deliver(m);
    net.stabilize();
    net.tickAll(3);
    expect(net.node(1).status()).toMatchObject({ role: "follower", term: 2 });
    expect(ctxOf(net, 1)).toEqual([]);
  });

  it("a leader that stepped down drops its pending reads even if acks arrive later", () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.node(1).readIndex(enc("late"));
    net.drain(1);
    const beats = net.take();
    net.partition(1);
    for (let i = 0; i < 20; i++) net.tick(1);
    expect(net.node(1).status()).toMatchObject({ role: "follower", term: 1 });
    net.heal();
    for (const m of beats) net.deliver(m); // 2 and 3 still see term 1 and ack
    net.deliverWhere((m) => m.type === "heartbeatResp");
    expect(net.delivered.filter((m) => m.type === "heartbeatResp")).toHaveLength(2);
    expect(ctxOf(net, 1)).toEqual([]);
  });

  it("pending reads die with the leadership: re-elected later, it never answers them", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(1).readIndex(enc("old"));
    net.drain(1);
    net.take(); // its heartbeats are lost
    net.partition(1);
    net.elect(2);
    net.propose(2, "w"); // committed at index 2 after the read was registered at index 1
    net.heal();
    net.tickAll(2);
    expect(net.node(1).status()).toMatchObject({ role: "follower", term: 2 });
    net.elect(1);
    net.tickAll(3);
    expect(net.node(1).status()).toMatchObject({ role: "leader", term: 3 });
    expect(ctxOf(net, 1)).toEqual([]);
  });
});
