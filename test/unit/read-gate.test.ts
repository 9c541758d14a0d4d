/**
 * ReadGate: reads queued together share one read-index request, whose context names the node (two
 * nodes' requests never collide at the leader); a confirmed read waits until the local state has
 * applied its index; unanswered reads fail with CLUSTERDOWN at their deadline, and a read without
 * a leader fails at once.
 */
import { describe, expect, it } from "vitest";
import { ReadGate } from "../../src/cluster/read-gate.ts";

function settled(p: Promise<void>): { state: () => string } {
  let state = "pending";
  p.then(
    () => {
      state = "resolved";
    },
    (e: { code?: string }) => {
      state = `rejected ${e.code}`;
    },
  );
  return { state: () => state };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("ReadGate", () => {
  it("asks once for every queued read and serves them once the index is applied", async () => {
    const gate = new ReadGate(7, 1000);
    const a = settled(gate.wait(0));
    const b = settled(gate.wait(0));
    const asked: Uint8Array[] = [];
    gate.issue((ctx) => asked.push(ctx));
    expect(asked.length).toBe(1);
    expect(Buffer.from(asked[0]).readUInt32BE(0)).toBe(7);
    expect(gate.hasQueued).toBe(false);
    gate.confirmed({ index: 10, context: asked[0] }, 9);
    await tick();
    expect([a.state(), b.state()]).toEqual(["pending", "pending"]);
    gate.applied(10);
    await tick();
    expect([a.state(), b.state()]).toEqual(["resolved", "resolved"]);
  });

  it("ignores read states carrying another node's context", async () => {
    const mine = new ReadGate(1, 1000);
    const other = new ReadGate(2, 1000);
    const r = settled(mine.wait(0));
    void other.wait(0).catch(() => {});
    let ctxMine: Uint8Array = new Uint8Array();
    let ctxOther: Uint8Array = new Uint8Array();
    mine.issue((c) => {
      ctxMine = c;
    });
    other.issue((c) => {
      ctxOther = c;
    });
    expect(Buffer.from(ctxMine).equals(Buffer.from(ctxOther))).toBe(false);
    mine.confirmed({ index: 1, context: ctxOther }, 5);
    await tick();
    expect(r.state()).toBe("pending");
    mine.confirmed({ index: 1, context: ctxMine }, 5);
    await tick();
    expect(r.state()).toBe("resolved");
  });

  it("fails reads with CLUSTERDOWN when there is no leader, and at their deadline", async () => {
    const gate = new ReadGate(1, 100);
    const noLeader = settled(gate.wait(0));
    gate.issue(() => {
      throw new Error("noLeader");
    });
    const late = settled(gate.wait(0));
    gate.issue(() => {});
    gate.expire(50);
    await tick();
    expect(late.state()).toBe("pending");
    gate.expire(150);
    await tick();
    expect([noLeader.state(), late.state()]).toEqual([
      "rejected CLUSTERDOWN",
      "rejected CLUSTERDOWN",
    ]);
  });
});
