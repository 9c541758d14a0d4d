/**
 * Backup and restore through every way in: db_backup/db_restore over JSON-RPC (curl), the HTTP
 * streams, `herodb backup` / `herodb restore`, and SAVE/BGSAVE/LASTSAVE over RESP. Round trips of
 * in-memory, persistent and encrypted instances (every data type, TTLs, sealed values that stay
 * sealed); a damaged or foreign file, and one that does not fit the target, refused with nothing
 * changed; and a restore through one node of a 3-node cluster seen on every node.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  curlDownload,
  curlGet,
  curlRpc,
  ioredisClient,
  redisCli,
  skipWithout,
} from "../helpers/clients.ts";
import { startCluster, waitFor } from "../helpers/cluster.ts";
import { runCli, startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "backup-secret-0123456789";

async function fill(r: Redis): Promise<void> {
  await r.set("s", "string value");
  await r.set("ttl", "expires later", "EX", 3600);
  await r.rpush("list", "a", "b", "c");
  await r.hset("hash", { f1: "v1", f2: "v2" });
  await r.sadd("set", "x", "y");
  await r.zadd("zset", 1, "one", 2, "two");
  for (let i = 0; i < 500; i++) await r.set(`k:${i}`, `v${i}`.repeat(20));
}

async function expectFilled(r: Redis): Promise<void> {
  expect(await r.get("s")).toBe("string value");
  const ttl = await r.ttl("ttl");
  expect(ttl).toBeGreaterThan(3000);
  expect(await r.lrange("list", 0, -1)).toEqual(["a", "b", "c"]);
  expect(await r.hgetall("hash")).toEqual({ f1: "v1", f2: "v2" });
  expect((await r.smembers("set")).sort()).toEqual(["x", "y"]);
  expect(await r.zrange("zset", "0", "-1", "WITHSCORES")).toEqual(["one", "1", "two", "2"]);
  expect(await r.dbsize()).toBe(506);
  expect(await r.get("k:499")).toBe("v499".repeat(20));
}

describe.skipIf(skipWithout("curl", "redis-cli"))("backup and restore on one server", () => {
  let srv: TestServer;
  const clients: Redis[] = [];
  const client = (db: number) => {
    const c = ioredisClient(srv.port, db);
    clients.push(c);
    return c;
  };
  const rpc = async <T>(method: string, params: unknown): Promise<T> => srv.call<T>(method, params);

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("round-trips an in-memory instance through a file, replacing its state", async () => {
    const index = await rpc<number>("db_createInstance", { name: "mem", backend_type: "InMemory" });
    const r = client(index);
    await fill(r);
    const file = join(srv.dataDir, "mem.backup");
    const b = await rpc<{ path: string; bytes: number }>("db_backup", {
      instance_index: index,
      path: file,
    });
    expect(b.path).toBe(file);
    expect(readFileSync(file).subarray(0, 14).toString()).toBe("HERODB-BACKUP\n");
    expect(b.bytes).toBe(readFileSync(file).length);
    // A backup never overwrites a file.
    const again = await srv.rpc("db_backup", { instance_index: index, path: file });
    expect(again.error?.code).toBe(-32004);
    await r.flushdb();
    await r.set("written-after", "gone after the restore");
    const restored = await rpc<{ instance_index: number }>("db_restore", {
      path: file,
      instance_index: index,
    });
    expect(restored.instance_index).toBe(index);
    await expectFilled(r);
    expect(await r.get("written-after")).toBeNull();
    await r.set("written-later", "kept"); // the instance takes writes after a restore
    expect(await r.get("written-later")).toBe("kept");
  });

  it("round-trips a persistent instance with the CLI, into a new instance that survives a restart", async () => {
    const index = await rpc<number>("db_createInstance", {
      name: "disk",
      backend_type: { Redb: "disk" },
    });
    await fill(client(index));
    const file = join(srv.dataDir, "disk.backup");
    const env = { HERODB_ADMIN_SECRET: SECRET };
    const api = `http://127.0.0.1:${srv.apiPort}`;
    const b = await runCli(["backup", "--api", api, "--instance", String(index), "--out", file], {
      env,
    });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(new RegExp(`^wrote ${file} \\(\\d+ bytes, instance ${index}\\)\\n$`));
    expect(b.stderr).toMatch(/backup of instance \d+: .*MiB/); // progress
    const r = await runCli(["restore", "--api", api, "--in", file, "--name", "disk-copy"], { env });
    expect(r.code, r.stderr).toBe(0);
    const m = /into instance (\d+) 'disk-copy'/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const copy = Number(m?.[1]);
    expect(r.stderr).toMatch(/upload of .*100%/);
    const listed = await rpc<{ index: number; backend_type: unknown }>("db_getInstance", {
      instance_index: copy,
    });
    expect(listed.backend_type).toEqual({ Redb: "disk-copy" });
    await expectFilled(client(copy));
    for (const c of clients.splice(0)) c.disconnect();
    await srv.restart();
    await expectFilled(client(copy));
    await expectFilled(client(index));
  }, 60_000);

  it("keeps encrypted values sealed: readable with the session key after a restore, refused into a plain instance", async () => {
    const enc = await rpc<number>("db_createInstance", {
      name: "vault",
      backend_type: "InMemory",
      encryption_enabled: true,
    });
    const a = client(0);
    const key = String(await a.call("KEYGEN"));
    await a.call("USEKEY", key);
    await a.select(enc);
    await a.set("secret", "my sensitive data");
    const file = join(srv.dataDir, "vault.backup");
    await rpc("db_backup", { instance_index: enc, path: file });
    expect(readFileSync(file).includes(Buffer.from("my sensitive data"))).toBe(false);
    const copy = (
      await rpc<{ instance_index: number }>("db_restore", { path: file, name: "vault2" })
    ).instance_index;
    const info = await rpc<{ encrypted: boolean }>("db_getInstance", { instance_index: copy });
    expect(info.encrypted).toBe(true);
    await a.select(copy);
    expect(await a.get("secret")).toBe("my sensitive data");
    const plain = await rpc<number>("db_createInstance", {
      name: "plain",
      backend_type: "InMemory",
    });
    const refused = await srv.rpc("db_restore", { path: file, instance_index: plain });
    expect(refused.error?.code).toBe(-32602);
    expect(refused.error?.message).toMatch(
      /backup is of an encrypted instance; instance \d+ is not encrypted/,
    );
  });

  it("refuses a damaged, truncated or foreign file and changes nothing", async () => {
    const index = await rpc<number>("db_createInstance", {
      name: "target",
      backend_type: "InMemory",
    });
    const r = client(index);
    await r.set("untouched", "yes");
    const src = await rpc<number>("db_createInstance", { name: "src", backend_type: "InMemory" });
    await fill(client(src));
    const good = join(srv.dataDir, "src.backup");
    await rpc("db_backup", { instance_index: src, path: good });
    const bytes = readFileSync(good);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    const cases: [string, Buffer, RegExp][] = [
      ["flipped", flipped, /checksum does not match/],
      [
        "truncated",
        bytes.subarray(0, bytes.length - 100),
        /checksum does not match|header is damaged/,
      ],
      ["foreign", randomBytes(4096), /not a HeroDB backup/],
      ["empty", Buffer.alloc(0), /too short/],
    ];
    for (const [name, data, why] of cases) {
      const file = join(srv.dataDir, `${name}.backup`);
      writeFileSync(file, data);
      const res = await srv.rpc("db_restore", { path: file, instance_index: index });
      expect(res.error?.code, name).toBe(-32602);
      expect(res.error?.message, name).toMatch(why);
      // Over HTTP too, with the same answer.
      const http = await curlRpcRaw(srv, `/restore?instance=${index}`, data);
      expect(http.status, name).toBe(400);
      expect(http.body, name).toMatch(why);
    }
    expect(await r.dbsize()).toBe(1);
    expect(await r.get("untouched")).toBe("yes");
    const before = (await rpc<{ index: number }[]>("db_listInstances", {})).length;
    const noNew = await srv.rpc("db_restore", {
      path: join(srv.dataDir, "flipped.backup"),
      name: "n",
    });
    expect(noNew.error?.code).toBe(-32602);
    expect((await rpc<{ index: number }[]>("db_listInstances", {})).length).toBe(before);
  });

  it("streams backups over HTTP only with the admin secret", async () => {
    const index = await rpc<number>("db_createInstance", { name: "web", backend_type: "InMemory" });
    await client(index).set("a", "1");
    expect((await curlGet(srv.apiPort, `/backup/${index}`)).status).toBe(401);
    const ok = await curlGet(srv.apiPort, `/backup/${index}`, {
      authorization: `Bearer ${SECRET}`,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.startsWith("HERODB-BACKUP\n")).toBe(true);
    expect(
      (await curlGet(srv.apiPort, "/backup/999", { authorization: `Bearer ${SECRET}` })).status,
    ).toBe(404);
    const denied = await curlRpcRaw(srv, `/restore?instance=${index}`, Buffer.from("x"), false);
    expect(denied.status).toBe(401);
  });

  it("SAVE and BGSAVE snapshot every Raft group (admin only); LASTSAVE moves", async () => {
    const disk = await rpc<number>("db_createInstance", {
      name: "saved",
      backend_type: { Redb: "saved" },
    });
    await client(disk).set("x", "1");
    const denied = await redisCli(srv.port, ["SAVE"]);
    expect(denied.stdout).toMatch(/NOPERM/);
    const first = Number((await redisCli(srv.port, ["LASTSAVE"])).stdout.trim());
    await new Promise((r) => setTimeout(r, 1100));
    const auth = ["-a", SECRET, "--no-auth-warning"];
    expect((await redisCli(srv.port, [...auth, "SAVE"])).stdout.trim()).toBe("OK");
    const second = Number((await redisCli(srv.port, ["LASTSAVE"])).stdout.trim());
    expect(second).toBeGreaterThan(first);
    await waitFor("the snapshot in the log", () =>
      new RegExp(`group ${disk}: snapshot at index \\d+ \\(\\d+ bytes\\); log compacted`).test(
        srv.stderr(),
      ),
    );
    expect((await redisCli(srv.port, [...auth, "BGSAVE"])).stdout.trim()).toBe(
      "Background saving started",
    );
    expect((await redisCli(srv.port, [...auth, "BGSAVE", "NOW"])).stdout).toMatch(/syntax error/);
  });
});

/** POSTs `data` as application/octet-stream with curl (the admin secret unless `auth` is false). */
async function curlRpcRaw(srv: TestServer, path: string, data: Buffer, auth = true) {
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  if (auth) headers.authorization = `Bearer ${SECRET}`;
  return curlRpc(srv.apiPort, data, headers, { path });
}

describe.skipIf(skipWithout("curl"))("restore in a cluster", () => {
  it("a restore through one node reaches every node", async () => {
    const cluster = await startCluster({ nodes: 3 });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "src", backend_type: { Redb: "src" } });
      const w = ioredisClient(cluster.node(1).respPort, index);
      clients.push(w);
      await fill(w);
      // Backup through node 2 (it waits for its read index: every acknowledged write is in it).
      const file = join(cluster.dir, "src.backup");
      const status = await curlDownload(cluster.node(2).apiPort, `/backup/${index}`, file, {
        authorization: `Bearer ${cluster.adminSecret}`,
      });
      expect(status).toBe(200);
      // Restore through node 3 into a new instance.
      const restored = await cluster
        .node(3)
        .server.call<{ instance_index: number }>(
          "db_restore",
          { path: file, name: "copy" },
          { auth: cluster.adminSecret },
        );
      for (const n of cluster.nodes) {
        const r = ioredisClient(n.respPort, restored.instance_index);
        clients.push(r);
        await waitFor(
          `the restored instance on node ${n.id}`,
          async () => (await r.dbsize()) === 506,
        );
        await expectFilled(r);
      }
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});
