/**
 * Client write bookkeeping of a Raft group: queued writes become entries (split at 1 MiB), the
 * proposer finds its waiting writes by the entry's identity (and only its own), a refused
 * proposal and an expired write are answered TRYAGAIN.
 */
import { describe, expect, it } from "vitest";
import { decodeProposal, proposalId } from "../../src/cluster/op-codec.ts";
import { Proposals } from "../../src/cluster/proposals.ts";
import type { Op } from "../../src/engine/contract.ts";
import type { Reply } from "../../src/engine/reply.ts";
import { HeroError } from "../../src/errors.ts";

const op = (key: string, value = "v"): Op => ({
  cmd: "SET",
  args: [Buffer.from(key), Buffer.from(value)],
  now: 1_700_000_000_000,
});

/** Queues a write; the promise settles with what its outcome is told. */
const add = (p: Proposals, o: Op): Promise<Reply | symbol> =>
  new Promise((applied, failed) => p.add(o, { applied, failed }, performance.now()));

describe("Proposals", () => {
  it("turns the queue into one entry whose ops find their waiting writes", async () => {
    const p = new Proposals(1, 10_000);
    const replies = [add(p, op("a")), add(p, op("b")), add(p, op("c"))];
    expect([p.queued, p.inFlight]).toEqual([3, 3]);
    const entries: Uint8Array[] = [];
    p.proposeQueued((data) => entries.push(data), 1);
    expect(entries).toHaveLength(1);
    expect(p.queued).toBe(0);
    const id = proposalId(entries[0]);
    expect(id.count).toBe(3);
    expect(decodeProposal(entries[0]).ops.map((o) => String(o.args[0]))).toEqual(["a", "b", "c"]);
    const holders = p.holders(id);
    expect(holders.map((w) => String(w?.op.args[0]))).toEqual(["a", "b", "c"]);
    for (let k = 0; k < holders.length; k++) {
      p.settle(id.firstRequest + k)?.to.applied(`reply-${k}`);
    }
    expect(await Promise.all(replies)).toEqual(["reply-0", "reply-1", "reply-2"]);
    expect(p.inFlight).toBe(0);
  });

  it("holds nothing for another node's entry or an earlier life's", () => {
    const mine = new Proposals(1, 10_000);
    const other = new Proposals(2, 10_000);
    const restarted = new Proposals(1, 10_000);
    void add(mine, op("x"));
    void add(other, op("x"));
    let data: Uint8Array = new Uint8Array();
    other.proposeQueued((d) => {
      data = d;
    }, 1);
    void add(restarted, op("y"));
    const foreign = mine.holders(proposalId(data));
    expect(foreign).toEqual([undefined]);
    expect(foreign.every((w) => w === undefined)).toBe(true);
    let own: Uint8Array = new Uint8Array();
    mine.proposeQueued((d) => {
      own = d;
    }, 1);
    expect(restarted.holders(proposalId(own))).toEqual([undefined]); // same node, new life
  });

  it("splits a large queue at 1 MiB per entry, keeping request order", () => {
    const p = new Proposals(1, 10_000);
    const big = "x".repeat(400 * 1024);
    for (let i = 0; i < 5; i++) void add(p, op(`k${i}`, big));
    const entries: Uint8Array[] = [];
    p.proposeQueued((data) => entries.push(data), 1);
    const ids = entries.map(proposalId);
    expect(ids.map((id) => id.count)).toEqual([2, 2, 1]);
    expect(ids.map((id) => id.firstRequest)).toEqual([1, 3, 5]);
  });

  it("answers TRYAGAIN when there is no leader, and when a write waits too long", async () => {
    const p = new Proposals(1, 50);
    const refused = add(p, op("a"));
    p.proposeQueued(() => {
      throw new Error("not leader");
    }, 1);
    await expect(refused).rejects.toMatchObject({ code: "TRYAGAIN" });
    const slow = add(p, op("b"));
    p.proposeQueued(() => {}, 1);
    p.expire(performance.now()); // not yet
    expect(p.inFlight).toBe(1);
    p.expire(performance.now() + 100);
    await expect(slow).rejects.toBeInstanceOf(HeroError);
    expect(p.inFlight).toBe(0);
  });

  it("proposes again, in request order, the writes of an earlier term once a later term applies", async () => {
    const p = new Proposals(1, 10_000);
    const a = add(p, op("a"));
    const b = add(p, op("b"));
    const first: Uint8Array[] = [];
    p.proposeQueued((d) => first.push(d), 3);
    expect(proposalId(first[0]).term).toBe(3);
    const c = add(p, op("c"));
    expect(p.requeueBefore(3)).toBe(0); // same term: nothing is known to be lost
    // Write a settles from its entry; b's entry was lost with the leader of term 3.
    p.settle(1)?.to.applied("done-a");
    expect(p.requeueBefore(4)).toBe(1);
    expect(p.queued).toBe(2);
    const again: Uint8Array[] = [];
    p.proposeQueued((d) => again.push(d), 4);
    // b (request 2) and c (request 3) are consecutive: one entry of term 4.
    expect(again.map(proposalId)).toMatchObject([{ firstRequest: 2, count: 2, term: 4 }]);
    expect(decodeProposal(again[0]).ops.map((o) => o.args[0].toString())).toEqual(["b", "c"]);
    p.settle(2)?.to.applied("done-b");
    p.settle(3)?.to.applied("done-c");
    await expect(Promise.all([a, b, c])).resolves.toEqual(["done-a", "done-b", "done-c"]);
  });

  it("splits an entry where a requeued write leaves a gap in request numbers", () => {
    const p = new Proposals(1, 10_000);
    for (const k of ["a", "b", "c"]) void add(p, op(k));
    p.proposeQueued(() => {}, 1);
    p.settle(2)?.to.applied("b");
    p.requeueBefore(2);
    const out: Uint8Array[] = [];
    p.proposeQueued((d) => out.push(d), 2);
    expect(out.map(proposalId).map((id) => [id.firstRequest, id.count])).toEqual([
      [1, 1],
      [3, 1],
    ]);
  });

  it("fails queued writes with the given error but proposed ones as undetermined", async () => {
    const p = new Proposals(1, 10_000);
    const proposed = add(p, op("a"));
    p.proposeQueued(() => {}, 2);
    const queued = add(p, op("b"));
    p.failAll(new HeroError("TRYAGAIN", "shutting down"));
    // The proposed write's entry may still commit on the other nodes: not "certainly not applied".
    await expect(proposed).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(queued).rejects.toMatchObject({ code: "TRYAGAIN" });
  });
});
