/**
 * Snapshots in the Raft core: a follower that needs compacted entries receives the storage
 * snapshot, installs it through Ready.snapshot, and continues from the log; stale snapshots are
 * refused; a lost snapshot is re-sent.
 */
import { describe, expect, it } from "vitest";
import { MemoryStorage, type Message } from "../../../src/raft/index.ts";
import { enc, Network } from "./harness.ts";

function laggingFollower() {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, "a");
  net.partition(3);
  for (let i = 0; i < 8; i++) net.propose(1, `v${i}`);
  const snapIndex = net.compact(1);
  net.compact(2);
  return { net, snapIndex };
}

describe("snapshot install", () => {
  it("sends the snapshot to a follower behind the leader's first index", () => {
    const { net, snapIndex } = laggingFollower();
    expect(snapIndex).toBe(10);
    expect(net.peer(1).storage.firstIndex()).toBe(11);
    net.heal();
    net.tickAll(3);
    const snaps = net.delivered.filter((m) => m.type === "snapshot");
    expect(snaps).toHaveLength(1);
    expect(snaps[0]).toMatchObject({ from: 1, to: 3 });
    expect(snaps[0].snapshot!.meta).toMatchObject({ index: 10, term: 1 });
    const installed = net.peer(3).readies.filter((r) => r.snapshot !== null);
    expect(installed).toHaveLength(1);
    expect(installed[0].hardState?.commit).toBe(10);
    expect(installed[0].messages).toEqual([
      expect.objectContaining({ type: "appendResp", index: 10 }),
    ]);
    expect(net.peer(3).applied).toEqual(net.peer(1).applied);
    expect(net.node(3).status()).toMatchObject({ commit: 10, applied: 10, lastIndex: 10 });
    expect(net.peer(3).storage.firstIndex()).toBe(11);
    expect(net.node(1).status().progress[3]).toMatchObject({ match: 10, next: 11 });
    // Replication continues from the log afterwards.
    net.propose(1, "after");
    expect(net.peer(3).applied.at(-1)).toBe("after");
    expect(net.delivered.filter((m) => m.type === "snapshot")).toHaveLength(1);
  });

  it("re-sends a snapshot that was lost", () => {
    const { net } = laggingFollower();
    net.heal();
    let dropped = 0;
    net.drop = (m) => m.type === "snapshot" && dropped++ === 0;
    net.tickAll(6);
    expect(dropped).toBe(2);
    expect(net.peer(3).applied).toEqual(net.peer(1).applied);
  });
});

describe("snapshot receipt", () => {
  const snapAt = (index: number, term: number, voters = [1, 2, 3], learners: number[] = []) => ({
    meta: { index, term, conf: { voters, learners } },
    data: enc(JSON.stringify(["s"])),
  });

  it("ignores a snapshot that is not ahead of the commit index", () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, "a");
    const m: Message = { type: "snapshot", from: 1, to: 2, term: 1, snapshot: snapAt(2, 1) };
    net.node(2).step(m);
    const rd = net.node(2).ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.messages).toEqual([expect.objectContaining({ type: "appendResp", index: 2 })]);
  });

  it("fast-forwards the commit index when the log already holds the snapshot's last entry", () => {
    const storage = Network.storageWith({ voters: [1, 2], learners: [] }, [1, 1, 1], {
      term: 1,
      commit: 1,
    });
    const net = new Network([]);
    net.add(2, storage);
    net.node(2).step({ type: "snapshot", from: 1, to: 2, term: 1, snapshot: snapAt(3, 1) });
    const rd = net.node(2).ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.hardState?.commit).toBe(3);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it("replaces a divergent log and adopts the snapshot's membership", () => {
    const storage = Network.storageWith({ voters: [1, 2], learners: [] }, [1, 1, 2], {
      term: 2,
      commit: 1,
    });
    const net = new Network([]);
    net.add(2, storage);
    const snap = snapAt(5, 3, [1, 2, 3], [4]);
    net.node(2).step({ type: "snapshot", from: 1, to: 2, term: 3, snapshot: snap });
    net.drain(2);
    const rd = net.peer(2).readies[0];
    expect(rd.snapshot).toBe(snap);
    expect(rd.committed).toEqual([]);
    expect(net.node(2).status()).toMatchObject({
      term: 3,
      leader: 1,
      commit: 5,
      applied: 5,
      lastIndex: 5,
      conf: { voters: [1, 2, 3], learners: [4] },
    });
    expect(net.peer(2).applied).toEqual(["s"]);
    expect(storage.firstIndex()).toBe(6);
    // Entries after the snapshot append normally.
    const e = { index: 6, term: 3, type: "normal" as const, data: enc("n") };
    net.node(2).step({
      type: "append",
      from: 1,
      to: 2,
      term: 3,
      index: 5,
      logTerm: 3,
      entries: [e],
      commit: 6,
    });
    net.drain(2);
    expect(net.peer(2).applied).toEqual(["s", "n"]);
  });
});

describe("MemoryStorage", () => {
  const s = () => {
    const st = new MemoryStorage({ voters: [1], learners: [] });
    st.append(
      [1, 1, 2, 2].map((term, i) => ({ index: i + 1, term, type: "normal", data: enc("xx") })),
    );
    return st;
  };

  it("truncates a conflicting suffix on append", () => {
    const st = s();
    st.append([{ index: 3, term: 3, type: "normal", data: enc("y") }]);
    expect(st.lastIndex()).toBe(3);
    expect(st.term(3)).toBe(3);
    expect(() => st.append([{ index: 5, term: 3, type: "normal", data: enc("") }])).toThrow();
  });

  it("limits entries by bytes but returns at least one", () => {
    const st = s();
    expect(st.entries(1, 5, 3)).toHaveLength(1);
    expect(st.entries(1, 5, 4)).toHaveLength(2);
    expect(st.entries(1, 5)).toHaveLength(4);
  });

  it("compacts only what a snapshot covers, and reports compacted/unavailable indexes", () => {
    const st = s();
    expect(() => st.compact(2)).toThrow(/snapshot/);
    st.createSnapshot(3, { voters: [1], learners: [] }, enc("{}"));
    st.compact(2);
    expect(st.firstIndex()).toBe(3);
    expect(st.term(2)).toBe(1);
    expect(() => st.term(1)).toThrow(expect.objectContaining({ code: "compacted" }));
    expect(() => st.entries(2, 3)).toThrow(expect.objectContaining({ code: "compacted" }));
    expect(() => st.term(5)).toThrow(expect.objectContaining({ code: "unavailable" }));
    expect(st.initialState().conf).toEqual({ voters: [1], learners: [] });
  });

  it("applySnapshot discards the log", () => {
    const st = s();
    st.applySnapshot({
      meta: { index: 9, term: 4, conf: { voters: [1, 2], learners: [] } },
      data: enc(""),
    });
    expect([st.firstIndex(), st.lastIndex(), st.term(9)]).toEqual([10, 9, 4]);
    expect(st.initialState().conf.voters).toEqual([1, 2]);
  });
});
