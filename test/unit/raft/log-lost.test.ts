/**
 * A node that kept its term and vote but lost its log in a restart (RaftConfig.logLost, used by
 * groups whose log lives in memory). It must not vote for a candidate that may miss entries it
 * had acknowledged: with its empty log it would grant any vote, and a candidate lacking committed
 * entries could win. It tells the leader its log is gone, so the leader resends from the start,
 * and once it holds what the leader committed it votes normally again. When every node lost its
 * log, empty candidates still win, so the group keeps working (with its data gone).
 */
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../../src/raft/index.ts";
import { Network } from "./harness.ts";

/** Restarts `id` with its term, vote and membership but an empty log and state machine. */
function restartWithLostLog(net: Network, id: number): void {
  const old = net.peer(id).storage.initialState();
  const storage = new MemoryStorage(old.conf);
  storage.setHardState({ term: old.hardState.term, vote: old.hardState.vote, commit: 0 });
  const p = net.add(id, storage, { logLost: true, applied: 0 });
  p.applied = [];
  p.appliedIndex = 0;
}

describe("a node that lost its log", () => {
  it("refuses to elect a candidate that may lack entries it had acknowledged", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    // "a" and "b" are committed by nodes 1 and 3 only.
    net.drop = (m) => m.to === 2 || m.from === 2;
    net.propose(1, "a");
    net.propose(1, "b");
    expect(net.peer(3).applied).toEqual(["a", "b"]);
    expect(net.peer(2).applied).toEqual([]);
    // Node 3 restarts without its log, node 1 goes away; node 2 asks for votes.
    restartWithLostLog(net, 3);
    net.partition(1);
    net.node(2).campaign();
    net.stabilize();
    // Granting would elect a leader without "a" and "b": committed writes lost.
    expect(net.node(2).status().role).not.toBe("leader");
    expect(net.leaders()).toEqual([1]); // only the stale, cut-off node 1 thinks it leads
  });

  it("gets the whole log resent by the leader, then votes normally again", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (const s of ["a", "b", "c"]) net.propose(1, s);
    restartWithLostLog(net, 3);
    // The leader believes node 3 holds everything; the heartbeat reply says otherwise.
    net.tickAll(2);
    expect(net.peer(3).applied).toEqual(["a", "b", "c"]);
    net.propose(1, "d");
    expect(net.peer(3).applied).toEqual(["a", "b", "c", "d"]);
    // Whole again: node 3 now helps elect node 2, which has the full log.
    net.partition(1);
    net.node(2).campaign();
    net.stabilize();
    expect(net.node(2).status().role).toBe("leader");
    net.propose(2, "e");
    expect(net.peer(3).applied.at(-1)).toBe("e");
  });

  it("still elects a leader when every node lost its log", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    for (const id of [1, 2, 3]) restartWithLostLog(net, id);
    net.node(2).campaign();
    net.stabilize();
    expect(net.node(2).status().role).toBe("leader");
    net.propose(2, "fresh");
    for (const id of [1, 2, 3]) expect(net.peer(id).applied).toEqual(["fresh"]);
  });
});
