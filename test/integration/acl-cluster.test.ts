/**
 * ACL users in a 3-node cluster: users created through node 1 hold on every node at once (AUTH
 * waits for the node's catalog to catch up), so the core cases of the ACL table (allowed read and
 * write, denied key, command and channel, a db: instance rule) give the same answers on a fresh
 * connection to each node; a rule changed through node 2 is what a new connection on node 3
 * meets; a user deleted through node 3 can no longer log in on node 1.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ACL_CASES,
  adminConnection,
  connectAs,
  createCaseUser,
  expectedLines,
  runCase,
} from "../helpers/acl-cases.ts";
import { rawResp, respCommand } from "../helpers/clients.ts";
import { type StatusView, startCluster, type TestCluster, waitFor } from "../helpers/cluster.ts";

const SECRET = `cluster-admin-${randomUUID()}`;
const CORE = ACL_CASES.filter((c) => c.core === true);

describe("ACL users in a 3-node cluster", () => {
  let cluster: TestCluster;
  const admins = new Map<number, Redis>();
  const port = (id: number) => cluster.node(id).respPort;

  /** A RESP2 AUTH on a new connection to node `id`; the reply line. */
  async function authOn(id: number, user: string, pw: string): Promise<string> {
    const reply = await rawResp(port(id), respCommand("AUTH", user, pw), { timeoutMs: 15_000 });
    return reply.split("\r\n")[0];
  }

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, secret: SECRET });
    await waitFor("3 voters in group 0 on every node", async () => {
      for (const n of cluster.nodes) {
        const s = await n.server.call<StatusView>("cluster_status");
        const g = s.groups.find((x) => x.group === 0);
        if (g === undefined || g.voters.length !== 3 || g.leader === 0) return false;
      }
      return true;
    });
    for (const [name, want] of [
      ["main", 1],
      ["reports", 2],
      ["ledger", 3],
    ] as const) {
      expect(await cluster.createInstance({ name, backend_type: "InMemory" })).toBe(want);
    }
    for (const index of [2, 3]) {
      await cluster
        .node(1)
        .server.call("db_updateSecurity", { instance_index: index, visibility: "Private" });
    }
    for (const n of cluster.nodes) admins.set(n.id, await adminConnection(n.respPort, SECRET));
    // Every instance takes writes through every node before the table runs.
    for (const n of cluster.nodes) {
      const a = admins.get(n.id)!;
      for (const db of [1, 2, 3]) {
        await waitFor(
          `a write to instance ${db} through node ${n.id}`,
          async () => {
            await a.call("SELECT", String(db));
            return (await a.call("SET", `warm:${n.id}`, "1")) === "OK";
          },
          30_000,
        );
      }
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of admins.values()) a.disconnect();
    await cluster?.stop();
  });

  it("users made through node 1 give the same answers on every node at once", async () => {
    expect(CORE.length).toBeGreaterThanOrEqual(4);
    const users = CORE.map((c, i) => ({ c, user: `core${i}`, pw: `pw-${randomUUID()}` }));
    for (const u of users) await createCaseUser(admins.get(1)!, u.c, u.user, u.pw);
    // Followers first: they are the ones that might lag behind node 1.
    for (const id of [3, 2, 1]) {
      for (const u of users) {
        const lines = await runCase(u.c, {
          port: port(id),
          adminSecret: SECRET,
          user: u.user,
          password: u.pw,
          dryrun: false,
        });
        expect(lines, `node ${id}: ${u.c.name}`).toEqual(expectedLines(u.c, false));
      }
    }
  }, 120_000);

  it("a rule changed through node 2 holds for a new connection on node 3; DELUSER via node 3 ends AUTH on node 1", async () => {
    const pw = `pw-${randomUUID()}`;
    expect(
      await admins.get(1)!.call("ACL", "SETUSER", "mover", "on", `>${pw}`, "~*", "+@all"),
    ).toBe("OK");
    const before = await connectAs(port(3), { username: "mover", password: pw });
    try {
      await before.call("SELECT", "1");
      expect(await before.call("SET", "moved", "1")).toBe("OK");
    } finally {
      before.disconnect();
    }

    expect(await admins.get(2)!.call("ACL", "SETUSER", "mover", "-set")).toBe("OK");
    const after = await connectAs(port(3), { username: "mover", password: pw });
    try {
      await after.call("SELECT", "1");
      await expect(after.call("SET", "moved", "2")).rejects.toThrow(
        "NOPERM User mover has no permissions to run the 'set' command",
      );
      expect(await after.call("GET", "moved")).toBe("1");
      expect(await after.call("INCR", "moved")).toBe(2);
    } finally {
      after.disconnect();
    }

    expect(await authOn(1, "mover", pw)).toBe("+OK");
    expect(await admins.get(3)!.call("ACL", "DELUSER", "mover")).toBe(1);
    expect(await authOn(1, "mover", pw)).toBe(
      "-WRONGPASS invalid username-password pair or user is disabled.",
    );
    for (const id of [2, 3]) expect(await authOn(id, "mover", pw)).toMatch(/^-WRONGPASS /);
  }, 60_000);
});
