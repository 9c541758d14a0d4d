/**
 * Encryption at rest on a persistent (Redb) instance: what a session writes with USEKEY must never
 * reach the disk in clear, neither in the instance's LMDB environment nor in the node's Raft log
 * (where every write is fsync'd as an op before it is applied), nor in DB0, the audit log or any
 * other file under the data dir. Likewise the admin secret, the instance's access key and the
 * session key itself.
 *
 * Each round writes distinctive markers through every value-carrying family (string values, hash
 * values, list elements, set and sorted-set members, also inside MULTI/EXEC), takes the server
 * down (round 1: clean stop; round 2: SIGKILL right after the acknowledged writes, so the Raft log
 * holds entries not yet applied to the instance's environment), scans every file's raw bytes, then
 * restarts and reads everything back with the key.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesUnder } from "../helpers/files.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const tag = randomBytes(6).toString("hex");
const ADMIN_SECRET = `ADMIN-SECRET-MARKER-${tag}`;
const ACCESS_KEY = `ACCESS-KEY-MARKER-${tag}`;
const mark = (round: number, what: string) => `PLAINTEXT-MARKER-${tag}-r${round}-${what}`;

let server: TestServer;
let vault = 0;
/** An unencrypted Redb instance: its plaintext must be found, proving the scan can see values. */
let control = 0;
const CONTROL = (round: number) => `CONTROL-MARKER-${tag}-r${round}`;
let sessionKey = "";
const clients: Redis[] = [];

/** A session holding the instance's access key and the session encryption key. */
async function session(): Promise<Redis> {
  const r = new Redis({
    host: "127.0.0.1",
    port: server.port,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  r.on("error", () => {});
  clients.push(r);
  await r.connect();
  expect(await r.call("USEKEY", sessionKey)).toBe("OK");
  expect(await r.call("SELECT", String(vault), "KEY", ACCESS_KEY)).toBe("OK");
  return r;
}

async function writeControl(round: number): Promise<void> {
  const c = new Redis({ host: "127.0.0.1", port: server.port, db: control, lazyConnect: true });
  await c.connect();
  expect(await c.set(`control:${round}`, CONTROL(round))).toBe("OK");
  c.disconnect();
}

function closeClients(): void {
  for (const r of clients.splice(0)) r.disconnect();
}

/** For each needle found in any file's raw bytes: "file: needle". */
function leaks(needles: (string | Buffer)[]): { files: number; bytes: number; found: string[] } {
  const found: string[] = [];
  const files = filesUnder(server.dataDir);
  let bytes = 0;
  for (const f of files) {
    const data = readFileSync(f);
    bytes += data.length;
    for (const n of needles) {
      if (data.includes(n)) found.push(`${f.slice(server.dataDir.length + 1)}: ${String(n)}`);
    }
  }
  return { files: files.length, bytes, found };
}

/** The plaintext markers of a round: a fixed prefix is enough to catch any one of them. */
const roundNeedles = (round: number) => [`PLAINTEXT-MARKER-${tag}-r${round}`];

async function writeRound(r: Redis, round: number): Promise<void> {
  const p = `r${round}`;
  expect(await r.set(`${p}:str`, mark(round, "string"))).toBe("OK");
  expect(await r.set(`${p}:ttl`, mark(round, "string-ex"), "EX", 3600)).toBe("OK");
  expect(await r.mset(`${p}:m1`, mark(round, "mset1"), `${p}:m2`, mark(round, "mset2"))).toBe("OK");
  expect(await r.getset(`${p}:str`, mark(round, "string-v2"))).toBe(mark(round, "string"));
  expect(await r.hset(`${p}:hash`, "f1", mark(round, "hval1"), "f2", mark(round, "hval2"))).toBe(2);
  expect(await r.hsetnx(`${p}:hash`, "f3", mark(round, "hval3"))).toBe(1);
  expect(await r.rpush(`${p}:list`, mark(round, "elem1"), mark(round, "elem2"))).toBe(2);
  expect(await r.lpush(`${p}:list`, mark(round, "elem0"))).toBe(3);
  expect(await r.lset(`${p}:list`, 1, mark(round, "elem1b"))).toBe("OK");
  expect(await r.sadd(`${p}:set`, mark(round, "smem1"), mark(round, "smem2"))).toBe(2);
  expect(await r.smove(`${p}:set`, `${p}:set2`, mark(round, "smem2"))).toBe(1);
  expect(await r.zadd(`${p}:zset`, 1, mark(round, "zmem1"), 2, mark(round, "zmem2"))).toBe(2);
  expect(await r.zincrby(`${p}:zset`, 5, mark(round, "zmem1"))).toBe("6");
  const tx = await r
    .multi()
    .set(`${p}:tx-str`, mark(round, "tx-string"))
    .hset(`${p}:tx-hash`, "f", mark(round, "tx-hval"))
    .rpush(`${p}:tx-list`, mark(round, "tx-elem"))
    .sadd(`${p}:tx-set`, mark(round, "tx-smem"))
    .zadd(`${p}:tx-zset`, 7, mark(round, "tx-zmem"))
    .exec();
  expect(tx).toEqual([
    [null, "OK"],
    [null, 1],
    [null, 1],
    [null, 1],
    [null, 1],
  ]);
}

async function readRound(r: Redis, round: number): Promise<void> {
  const p = `r${round}`;
  expect(await r.get(`${p}:str`)).toBe(mark(round, "string-v2"));
  expect(await r.get(`${p}:ttl`)).toBe(mark(round, "string-ex"));
  expect(await r.mget(`${p}:m1`, `${p}:m2`)).toEqual([mark(round, "mset1"), mark(round, "mset2")]);
  expect(await r.hgetall(`${p}:hash`)).toEqual({
    f1: mark(round, "hval1"),
    f2: mark(round, "hval2"),
    f3: mark(round, "hval3"),
  });
  expect(await r.lrange(`${p}:list`, 0, -1)).toEqual([
    mark(round, "elem0"),
    mark(round, "elem1b"),
    mark(round, "elem2"),
  ]);
  expect(await r.smembers(`${p}:set`)).toEqual([mark(round, "smem1")]);
  expect(await r.smembers(`${p}:set2`)).toEqual([mark(round, "smem2")]);
  expect(await r.sismember(`${p}:set`, mark(round, "smem1"))).toBe(1);
  expect(await r.zrange(`${p}:zset`, "0", "-1", "WITHSCORES")).toEqual([
    mark(round, "zmem2"),
    "2",
    mark(round, "zmem1"),
    "6",
  ]);
  expect(await r.get(`${p}:tx-str`)).toBe(mark(round, "tx-string"));
  expect(await r.hget(`${p}:tx-hash`, "f")).toBe(mark(round, "tx-hval"));
  expect(await r.lrange(`${p}:tx-list`, 0, -1)).toEqual([mark(round, "tx-elem")]);
  expect(await r.smembers(`${p}:tx-set`)).toEqual([mark(round, "tx-smem")]);
  expect(await r.zscore(`${p}:tx-zset`, mark(round, "tx-zmem"))).toBe("7");
}

/** Secrets that must never be written: admin secret, access key, the session key (b64 and raw). */
const secrets = () => [ADMIN_SECRET, ACCESS_KEY, sessionKey, Buffer.from(sessionKey, "base64")];

beforeAll(async () => {
  server = await startServer({ secret: ADMIN_SECRET });
  vault = await server.call<number>("db_createInstance", {
    name: "vault-at-rest",
    backend_type: { Redb: "vault-data" },
    encryption_enabled: true,
  });
  expect(
    await server.call("db_updateSecurity", {
      instance_index: vault,
      visibility: "Private",
      add_keys: [{ key: ACCESS_KEY, permission: "ReadWrite" }],
    }),
  ).toBe(true);
  control = await server.call<number>("db_createInstance", {
    name: "control-plain",
    backend_type: { Redb: "control-data" },
  });
  const k = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true });
  await k.connect();
  sessionKey = String(await k.call("KEYGEN"));
  k.disconnect();
  expect(Buffer.from(sessionKey, "base64")).toHaveLength(32);
});

afterAll(async () => {
  closeClients();
  await server?.cleanup();
});

describe("round 1: clean stop", () => {
  it("the markers are written and read back before the stop", async () => {
    const r = await session();
    await writeRound(r, 1);
    await readRound(r, 1);
    await writeControl(1);
    closeClients();
  });

  it("no file under the data dir holds a marker or a secret", async () => {
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    const scan = leaks([...roundNeedles(1), ...secrets()]);
    console.log(`encrypted-at-rest round 1: scanned ${scan.files} files, ${scan.bytes} bytes`);
    expect(scan.files).toBeGreaterThan(3);
    expect(scan.found).toEqual([]);
    // The scan does see plaintext: the unencrypted control value is in the log and in its store.
    const seen = leaks([CONTROL(1)]).found.map((f) => f.split("/")[0]);
    expect(seen).toContain("raft");
    expect(seen).toContain("control-data");
  });

  it("after a restart, the key reads everything back", async () => {
    await server.restart();
    await readRound(await session(), 1);
    closeClients();
  });
});

describe("round 2: SIGKILL right after the writes", () => {
  it("no file holds a marker or a secret, even with entries only in the Raft log", async () => {
    const r = await session();
    await writeControl(2);
    await writeRound(r, 2);
    expect((await server.kill()).signal).toBe("SIGKILL");
    closeClients();
    const scan = leaks([...roundNeedles(1), ...roundNeedles(2), ...secrets()]);
    console.log(`encrypted-at-rest round 2: scanned ${scan.files} files, ${scan.bytes} bytes`);
    expect(scan.found).toEqual([]);
    expect(leaks([CONTROL(2)]).found.map((f) => f.split("/")[0])).toContain("raft");
  });

  it("after a restart, the key reads both rounds back; without it values stay closed", async () => {
    await server.restart();
    const r = await session();
    await readRound(r, 1);
    await readRound(r, 2);
    const bare = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true });
    clients.push(bare);
    await bare.connect();
    expect(await bare.call("SELECT", String(vault), "KEY", ACCESS_KEY)).toBe("OK");
    await expect(bare.get("r2:str")).rejects.toThrow(/USEKEY/);
    expect(await bare.exists("r2:str", "r1:hash")).toBe(2);
    closeClients();
  });

  it("a later clean stop leaves no marker or secret either", async () => {
    await server.stop();
    const scan = leaks([...roundNeedles(1), ...roundNeedles(2), ...secrets()]);
    expect(scan.found).toEqual([]);
    await server.restart();
  });

  it("the server's own output holds no secret", () => {
    const out = server.stdout() + server.stderr();
    for (const s of [
      ADMIN_SECRET,
      ACCESS_KEY,
      sessionKey,
      ...roundNeedles(1),
      ...roundNeedles(2),
    ]) {
      expect(out.includes(s), s).toBe(false);
    }
  });
});
