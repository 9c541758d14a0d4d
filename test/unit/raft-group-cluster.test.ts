/**
 * Three RaftGroups in one process, joined by an in-memory network the test controls, each with
 * its own log store (in a temp dir) and an in-memory backend: what the cluster runtime adds to the Raft core. A follower's write
 * is forwarded to the leader and answered by the follower's own apply; a linearizable read on a
 * follower sees a write acknowledged elsewhere; and a forwarded proposal that reaches a leader of
 * a later term is skipped by every replica while the proposer retries it, so the write applies
 * exactly once (an INCR that ran twice would read 2).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryBackend } from "../../src/backends/memory/backend.ts";
import { NodeLogStore } from "../../src/cluster/log-store.ts";
import { RaftGroup } from "../../src/cluster/raft-group.ts";
import type { Op } from "../../src/engine/contract.ts";
import type { Message } from "../../src/raft/types.ts";

interface Replica {
  id: number;
  group: RaftGroup;
  backend: MemoryBackend;
  store: NodeLogStore;
}

/** Decides a message's fate: deliver it, drop it, or keep it for later. */
type Route = (m: Message) => "deliver" | "drop" | "hold";

function cluster(ids: number[]) {
  const replicas = new Map<number, Replica>();
  let route: Route = () => "deliver";
  const held: Message[] = [];
  const deliver = (m: Message) => setImmediate(() => replicas.get(m.to)?.group.step(m));
  const dir = mkdtempSync(join(tmpdir(), "herodb-groups-"));
  for (const id of ids) {
    const backend = new MemoryBackend();
    const store = NodeLogStore.open(join(dir, `node${id}`));
    const group = new RaftGroup({
      groupId: 5,
      nodeId: id,
      log: store.group(5, { voters: ids, learners: [] }),
      flushLog: () => store.flush(),
      machine: backend,
      onApplied: () => {},
      send: (messages) => {
        for (const m of messages) {
          const fate = route(m);
          if (fate === "deliver") deliver(m);
          else if (fate === "hold") held.push(m);
        }
      },
      tickMs: 10,
    });
    replicas.set(id, { id, group, backend, store });
  }
  for (const r of replicas.values()) r.group.start();
  return {
    replicas,
    get: (id: number) => replicas.get(id) as Replica,
    setRoute(r: Route) {
      route = r;
    },
    release() {
      for (const m of held.splice(0)) deliver(m);
    },
    /** The leader, once every replica knows it. */
    async leader(): Promise<Replica> {
      await until(() => [...replicas.values()].some((r) => r.group.leads));
      const l = [...replicas.values()].find((r) => r.group.leads) as Replica;
      await until(() => [...replicas.values()].every((r) => r.group.node.leader === l.id));
      return l;
    },
    async close() {
      for (const r of replicas.values()) {
        await r.group.close();
        await r.store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(probe: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const op = (cmd: string, ...args: string[]): Op => ({
  cmd,
  args: args.map((a) => Buffer.from(a)),
  now: Date.now(),
});

const value = (r: Replica, key: string) =>
  r.backend.read({ cmd: "GET", args: [Buffer.from(key)] }, Date.now());

let open: { close(): Promise<void> } | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

describe("RaftGroup in a cluster", () => {
  it("forwards a follower's write and answers it from the follower's own apply", async () => {
    const c = cluster([1, 2, 3]);
    open = c;
    const leader = await c.leader();
    const follower = [...c.replicas.values()].find((r) => r !== leader) as Replica;
    expect(await follower.group.submit(op("SET", "k", "v"))).toMatchObject({ value: "OK" });
    expect(value(follower, "k")).toEqual(Buffer.from("v"));
    await until(() => [...c.replicas.values()].every((r) => value(r, "k") !== null));
  });

  it("makes a follower's read wait until it has applied what the leader acknowledged", async () => {
    const c = cluster([1, 2, 3]);
    open = c;
    const leader = await c.leader();
    const follower = [...c.replicas.values()].find((r) => r !== leader) as Replica;
    // Appends to this follower are held back: the leader commits with the third node alone.
    c.setRoute((m) => (m.to === follower.id && m.type === "append" ? "hold" : "deliver"));
    await leader.group.submit(op("SET", "fresh", "1"));
    expect(value(follower, "fresh")).toBe(null); // its own copy is behind
    const read = follower.group.readBarrier();
    expect(read).not.toBe(null);
    let done = false;
    void read?.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // confirmed index not applied yet: the read waits
    c.setRoute(() => "deliver");
    c.release();
    await read;
    expect(value(follower, "fresh")).toEqual(Buffer.from("1"));
  });

  it("applies a write exactly once when its forwarded proposal reaches a leader of a later term", async () => {
    const c = cluster([1, 2, 3]);
    open = c;
    const first = await c.leader();
    const [proposer, other] = [...c.replicas.values()].filter((r) => r !== first);
    // The proposer's forwarded proposal is held in the network.
    c.setRoute((m) => (m.from === proposer.id && m.type === "propose" ? "hold" : "deliver"));
    const reply = proposer.group.submit(op("INCR", "n"));
    await until(() => proposer.group.node.status().commit > 0);
    await new Promise((r) => setTimeout(r, 30));
    // Leadership moves away and back: the first leader leads again, in a later term.
    first.group.transferLeader(other.id);
    await until(() => other.group.leads);
    other.group.transferLeader(first.id);
    await until(() => first.group.leads);
    // The old proposal now arrives, and the leader of the new term appends it.
    c.setRoute(() => "deliver");
    c.release();
    expect(await reply).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    for (const r of c.replicas.values()) expect(value(r, "n")).toEqual(Buffer.from("1"));
  });
});
