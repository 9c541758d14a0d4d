/**
 * ACL rules that change under a connection, and commands whose keys are not where a plain key
 * range would put them: EXEC checks its commands again; a subscribed or blocked connection of a
 * user removed or stripped of its channel ends at once; OBJECT's key is found after its
 * subcommand; full-text commands need every key.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawConn } from "../helpers/raw-resp.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "acl-revocation-admin-secret";
let srv: TestServer;
let admin: Redis;
let kv: number;
let ft: number;

function connect(user?: string, password?: string, db?: number): Redis {
  return new Redis({
    host: "127.0.0.1",
    port: srv.port,
    ...(user === undefined ? {} : { username: user, password }),
    ...(db === undefined ? {} : { db }),
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
}

/** Resolves when the connection closes, or rejects after `ms`. */
function closed(c: Redis, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.status === "end" || c.status === "close") return resolve();
    const timer = setTimeout(() => reject(new Error("the connection stayed open")), ms);
    c.once("end", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

beforeAll(async () => {
  srv = await startServer({ secret: SECRET });
  kv = await srv.call<number>("db_createInstance", { name: "kv", backend_type: "InMemory" });
  ft = await srv.call<number>("db_createInstance", { name: "ft", backend_type: "FullText" });
  admin = connect();
  await admin.connect();
  expect(await admin.call("AUTH", SECRET)).toBe("OK");
}, 60_000);

afterAll(async () => {
  admin?.disconnect();
  await srv?.stop();
});

describe("rules changed under a connection", () => {
  it("EXEC checks its commands again: a command revoked after MULTI is refused inside EXEC", async () => {
    await admin.call(
      "ACL",
      "SETUSER",
      "ivan",
      "on",
      ">ivan-pw",
      "~*",
      "+@all",
      "-@admin",
      "db:*=RW",
    );
    // Raw RESP, so MULTI and the queued commands reach the server before the rules change.
    const ivan = await RawConn.open(srv.port);
    try {
      const text = async (...args: string[]) => (await ivan.send(...args)).toString("latin1");
      expect(await text("AUTH", "ivan", "ivan-pw")).toBe("+OK\r\n");
      expect(await text("SELECT", String(kv))).toBe("+OK\r\n");
      await admin.call("SELECT", String(kv));
      await admin.set("keep", "1");
      expect(await text("MULTI")).toBe("+OK\r\n");
      expect(await text("SET", "ikey", "written-after-revoke")).toBe("+QUEUED\r\n");
      expect(await text("FLUSHDB")).toBe("+QUEUED\r\n");
      await admin.call("ACL", "SETUSER", "ivan", "-set", "-flushdb");
      const exec = await text("EXEC");
      expect(exec).toMatch(/^\*2\r\n-NOPERM [^\r]*'set'[^\r]*\r\n-NOPERM [^\r]*'flushdb'/);
      expect(await admin.get("ikey")).toBeNull();
      expect(await admin.get("keep")).toBe("1");
    } finally {
      ivan.close();
    }
  });

  it("a subscribed user stripped of its channel, or removed, is disconnected at once", async () => {
    await admin.call("ACL", "SETUSER", "carol", "on", ">carol-pw", "&news", "+@all", "-@admin");
    const carol = connect("carol", "carol-pw", kv);
    await carol.connect();
    const got: string[] = [];
    carol.on("message", (_ch, m) => got.push(m));
    await carol.subscribe("news");
    await admin.call("SELECT", String(kv));
    await admin.publish("news", "before");
    await admin.call("ACL", "SETUSER", "carol", "resetchannels");
    await closed(carol);
    await admin.publish("news", "after");
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(["before"]);

    await admin.call("ACL", "SETUSER", "dave", "on", ">dave-pw", "~*", "+@all", "-@admin");
    const dave = connect("dave", "dave-pw", kv);
    await dave.connect();
    const pop = dave.blpop("dlist", 0).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    await admin.call("ACL", "DELUSER", "dave");
    await closed(dave);
    await admin.rpush("dlist", "secret-after-delete");
    const popped = await pop;
    expect(popped).not.toEqual(["dlist", "secret-after-delete"]);
    expect(await admin.lrange("dlist", 0, -1)).toEqual(["secret-after-delete"]);
  });
});

describe("keys the checks find", () => {
  it("OBJECT's key is the one after its subcommand, for the gate and for ACL DRYRUN", async () => {
    await admin.call(
      "ACL",
      "SETUSER",
      "alice",
      "on",
      ">alice-pw",
      "~a*",
      "+@all",
      "-@admin",
      "db:*=RW",
    );
    await admin.call("SELECT", String(kv));
    await admin.set("b", "x");
    await admin.set("a1", "y");
    const alice = connect("alice", "alice-pw", kv);
    await alice.connect();
    try {
      await expect(alice.call("OBJECT", "ENCODING", "b")).rejects.toThrow(
        /NOPERM No permissions to access a key/,
      );
      expect(await alice.call("OBJECT", "ENCODING", "a1")).toBe("embstr");
    } finally {
      alice.disconnect();
    }
    expect(await admin.call("ACL", "DRYRUN", "alice", "OBJECT", "ENCODING", "b")).toBe(
      "No permissions to access the 'b' key",
    );
    expect(await admin.call("ACL", "DRYRUN", "alice", "OBJECT", "ENCODING", "a1")).toBe("OK");
  });

  it("full-text commands need every key: an index reaches hashes no pattern bounds", async () => {
    await admin.call("SELECT", String(ft));
    await admin.hset("bsecret", "f", "top secret hash value");
    const alice = connect("alice", "alice-pw", ft);
    await alice.connect();
    try {
      await expect(alice.hgetall("bsecret")).rejects.toThrow(/NOPERM/);
      await expect(
        alice.call("FT.CREATE", "aidx", "ON", "HASH", "PREFIX", "1", "b", "SCHEMA", "f", "TEXT"),
      ).rejects.toThrow(/NOPERM No permissions to access a key/);
      await expect(alice.call("FT.SEARCH", "aidx", "secret")).rejects.toThrow(/NOPERM/);
    } finally {
      alice.disconnect();
    }
    await admin.call("ACL", "SETUSER", "alice", "allkeys");
    const again = connect("alice", "alice-pw", ft);
    await again.connect();
    try {
      expect(
        await again.call(
          "FT.CREATE",
          "aidx",
          "ON",
          "HASH",
          "PREFIX",
          "1",
          "b",
          "SCHEMA",
          "f",
          "TEXT",
        ),
      ).toBe("OK");
    } finally {
      again.disconnect();
    }
  });
});
