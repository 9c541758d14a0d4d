/**
 * Access control on the data plane, as a user meets it through redis-cli: a private instance with
 * a Read key and a ReadWrite key (set with curl and the admin Bearer secret), what SELECT answers
 * with no key, a wrong key and each right key, AUTH before SELECT, key revocation (by the key and
 * by its SHA-256 digest), and DB0 opened read-only with the admin secret. Each redis-cli session
 * is one connection fed by stdin, so a multi-step exchange is exactly what a user would type.
 */
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allCommands } from "../../src/resp/table.ts";
import { curlRpc, redisCli, skipWithout } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = `admin-${randomUUID()}`;
const READ_KEY = `reader-${randomUUID()}`;
const WRITE_KEY = `writer-${randomUUID()}`;
const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** Runs one redis-cli session (one command per stdin line) and returns its non-empty lines. */
async function session(port: number, input: string[], flags: string[] = []): Promise<string[]> {
  const r = await redisCli(port, [], { input: `${input.join("\n")}\n`, flags });
  expect(r.timedOut).toBe(false);
  return r.stdout.split("\n").filter((l) => l !== "");
}

describe.skipIf(skipWithout("redis-cli", "curl"))("private instances and access keys", () => {
  let srv: TestServer;

  async function updateSecurity(params: Record<string, unknown>): Promise<unknown> {
    const r = await curlRpc(
      srv.apiPort,
      { jsonrpc: "2.0", method: "db_updateSecurity", params, id: 7 },
      { Authorization: `Bearer ${SECRET}` },
    );
    expect(r.status).toBe(200);
    return r.json;
  }

  /** An ioredis connection that does not reconnect (a closed one stays closed). */
  async function connected(): Promise<Redis> {
    const c = new Redis({
      host: "127.0.0.1",
      port: srv.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    await c.connect();
    return c;
  }

  /** An ioredis connection (no reconnects) that selected instance 1 with `key` and read from it. */
  async function liveSession(key: string): Promise<Redis> {
    const client = await connected();
    expect(await client.call("SELECT", "1", "KEY", key)).toBe("OK");
    expect(await client.get("greeting")).toBe("hello");
    return client;
  }

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    expect(await srv.call("db_createInstance", { name: "shop", backend_type: "InMemory" })).toBe(1);
    expect(await srv.call("db_createInstance", { name: "open", backend_type: "InMemory" })).toBe(2);
    // Data written while the instance is still public.
    expect(await session(srv.port, ["SELECT 1", "SET greeting hello"])).toEqual(["OK", "OK"]);
  });

  afterAll(async () => {
    await srv?.cleanup();
  });

  it("db_updateSecurity (curl, Bearer) makes instance 1 private with a Read and a ReadWrite key", async () => {
    const reply = await updateSecurity({
      instance_index: 1,
      visibility: "Private",
      add_keys: [
        { key: READ_KEY, permission: "Read" },
        { key: WRITE_KEY, permission: "ReadWrite" },
      ],
    });
    expect(reply).toEqual({ jsonrpc: "2.0", id: 7, result: true });
    const detail = await srv.call<{
      visibility: string;
      keys: { hash: string; permission: string }[];
    }>("db_getInstance", { instance_index: 1 });
    expect(detail.visibility).toBe("Private");
    expect(detail.keys.map((k) => [k.hash, k.permission]).sort()).toEqual(
      [
        [sha256hex(READ_KEY), "Read"],
        [sha256hex(WRITE_KEY), "ReadWrite"],
      ].sort(),
    );
    expect(JSON.stringify(detail)).not.toContain(READ_KEY);
    expect(JSON.stringify(detail)).not.toContain(WRITE_KEY);
  });

  it("SELECT without a key answers NOAUTH", async () => {
    const out = await session(srv.port, ["SELECT 1", "GET greeting"]);
    expect(out[0]).toMatch(/^NOAUTH /);
    expect(out[1]).not.toBe("hello");
  });

  it("SELECT with a wrong key answers WRONGPASS", async () => {
    const out = await session(srv.port, ["SELECT 1 KEY not-a-key", "GET greeting"]);
    expect(out[0]).toBe("WRONGPASS invalid username-password pair or user is disabled.");
    expect(out[1]).not.toBe("hello");
  });

  it("the Read key reads; writes get NOPERM and change nothing", async () => {
    const out = await session(srv.port, [
      `SELECT 1 KEY ${READ_KEY}`,
      "GET greeting",
      "EXISTS greeting",
      "SET greeting changed",
      "DEL greeting",
      "GET greeting",
    ]);
    expect(out.slice(0, 3)).toEqual(["OK", "hello", "1"]);
    expect(out[3]).toMatch(/^NOPERM /);
    expect(out[4]).toMatch(/^NOPERM /);
    expect(out[5]).toBe("hello");
  });

  it("the ReadWrite key reads and writes", async () => {
    const out = await session(srv.port, [
      `SELECT 1 KEY ${WRITE_KEY}`,
      "GET greeting",
      "SET counter 1",
      "INCR counter",
      "GET counter",
    ]);
    expect(out).toEqual(["OK", "hello", "OK", "2", "2"]);
  });

  it("AUTH <key> then SELECT n opens the instance with that key's permission", async () => {
    expect(await session(srv.port, [`AUTH ${WRITE_KEY}`, "SELECT 1", "SET via-auth yes"])).toEqual([
      "OK",
      "OK",
      "OK",
    ]);
    const read = await session(srv.port, [
      `AUTH ${READ_KEY}`,
      "SELECT 1",
      "GET via-auth",
      "SET x y",
    ]);
    expect(read.slice(0, 3)).toEqual(["OK", "OK", "yes"]);
    expect(read[3]).toMatch(/^NOPERM /);
  });

  it("redis-cli -a <key> -n 1 works (AUTH, then SELECT)", async () => {
    const r = await redisCli(srv.port, ["GET", "greeting"], {
      flags: ["--no-auth-warning", "-a", READ_KEY, "-n", "1"],
    });
    expect(r.stdout).toBe("hello\n");
  });

  it("a public instance needs no key", async () => {
    expect(await session(srv.port, ["SELECT 2", "SET k v", "GET k"])).toEqual(["OK", "OK", "v"]);
  });

  describe("DB0", () => {
    it("SELECT 0 KEY <admin-secret> opens the catalog read-only", async () => {
      const out = await session(srv.port, [`SELECT 0 KEY ${SECRET}`, "HGETALL instance:1"]);
      expect(out[0]).toBe("OK");
      const fields = new Map<string, string>();
      for (let i = 1; i + 1 < out.length; i += 2) fields.set(out[i], out[i + 1]);
      expect(fields.get("name")).toBe("shop");
      expect(fields.get("visibility")).toBe("Private");
      expect(fields.get("encrypted")).toBe("false");
      expect(fields.get(`key:${sha256hex(READ_KEY).slice(0, 12)}`)).toBe("Read");
      expect(fields.get(`key:${sha256hex(WRITE_KEY).slice(0, 12)}`)).toBe("ReadWrite");
      expect(out.join("\n")).not.toContain(READ_KEY);
    });

    it("writes to DB0 get NOPERM", async () => {
      const out = await session(srv.port, [
        `SELECT 0 KEY ${SECRET}`,
        "SET x y",
        "HSET instance:1 visibility Public",
        "HGET instance:1 visibility",
      ]);
      expect(out[0]).toBe("OK");
      expect(out[1]).toMatch(/^NOPERM /);
      expect(out[2]).toMatch(/^NOPERM /);
      expect(out[3]).toBe("Private");
    });

    it("a wrong secret, an access key, or no secret is refused", async () => {
      const wrong = await session(srv.port, ["SELECT 0 KEY not-the-secret", "HGETALL instance:1"]);
      expect(wrong[0]).toMatch(/^WRONGPASS /);
      expect(wrong.join("\n")).not.toContain("shop");
      const accessKey = await session(srv.port, [`SELECT 0 KEY ${WRITE_KEY}`]);
      expect(accessKey[0]).toMatch(/^WRONGPASS /);
      const none = await session(srv.port, ["SELECT 0"]);
      expect(none[0]).toMatch(/^NOAUTH /);
    });
  });

  describe("revocation", () => {
    it("removing the Read key by the key itself refuses it on the next SELECT", async () => {
      const live = await liveSession(READ_KEY);
      expect(await updateSecurity({ instance_index: 1, remove_keys: [READ_KEY] })).toEqual({
        jsonrpc: "2.0",
        id: 7,
        result: true,
      });
      const out = await session(srv.port, [`SELECT 1 KEY ${READ_KEY}`, "GET greeting"]);
      expect(out[0]).toMatch(/^WRONGPASS /);
      expect(out[1]).not.toBe("hello");
      // docs/security.md: sessions already on the instance are re-checked and lose access.
      try {
        await expect(live.get("greeting")).rejects.toThrow(
          /NOAUTH|NOPERM|WRONGPASS|no instance selected/,
        );
      } finally {
        live.disconnect();
      }
      const auth = await session(srv.port, [`AUTH ${READ_KEY}`, "SELECT 1"]);
      expect(auth[0]).toMatch(/^WRONGPASS /);
      expect(auth[1]).toMatch(/^NOAUTH /);
      // The other key is untouched.
      expect(await session(srv.port, [`SELECT 1 KEY ${WRITE_KEY}`, "GET greeting"])).toEqual([
        "OK",
        "hello",
      ]);
    });

    it("removing the ReadWrite key by its SHA-256 hex digest refuses it", async () => {
      expect(
        await updateSecurity({ instance_index: 1, remove_keys: [sha256hex(WRITE_KEY)] }),
      ).toEqual({ jsonrpc: "2.0", id: 7, result: true });
      const out = await session(srv.port, [`SELECT 1 KEY ${WRITE_KEY}`, "SET a b"]);
      expect(out[0]).toMatch(/^WRONGPASS /);
      expect(out[1]).not.toBe("OK");
      const detail = await srv.call<{ keys: unknown[] }>("db_getInstance", { instance_index: 1 });
      expect(detail.keys).toEqual([]);
    });

    it("making the instance public again opens it without a key", async () => {
      await updateSecurity({ instance_index: 1, visibility: "Public" });
      expect(await session(srv.port, ["SELECT 1", "GET greeting"])).toEqual(["OK", "hello"]);
    });
  });

  describe("admin commands (flagged admin in the command table)", () => {
    /** Arguments to try each admin command with; every admin command in the table needs one. */
    const EXAMPLES: Record<string, (ownId: number) => string[]> = {
      "CONFIG|SET": () => ["CONFIG", "SET", "maxmemory", "1"],
      "CONFIG|RESETSTAT": () => ["CONFIG", "RESETSTAT"],
      "CLIENT|KILL": (ownId) => ["CLIENT", "KILL", "ID", String(ownId + 1000)],
      SAVE: () => ["SAVE"],
      BGSAVE: () => ["BGSAVE"],
      "LANCE.EMBEDDING": () => ["LANCE.EMBEDDING", "CONFIG", "DEL", "dataset"],
      "ACL|DELUSER": () => ["ACL", "DELUSER", "nobody"],
      "ACL|DRYRUN": () => ["ACL", "DRYRUN", "default", "GET", "k"],
      "ACL|GETUSER": () => ["ACL", "GETUSER", "default"],
      "ACL|LIST": () => ["ACL", "LIST"],
      "ACL|LOG": () => ["ACL", "LOG"],
      "ACL|SETUSER": () => ["ACL", "SETUSER", "nobody", "on"],
      "ACL|USERS": () => ["ACL", "USERS"],
    };
    const adminCommands = allCommands().flatMap((c) => [
      ...(c.flags.includes("admin") ? [c.name] : []),
      ...(c.subcommands ?? [])
        .filter((s) => s.flags.includes("admin"))
        .map((s) => `${c.name}|${s.name}`),
    ]);

    async function client(auth: string | null): Promise<Redis> {
      const c = await connected();
      if (auth !== null) expect(await c.call("AUTH", auth)).toBe("OK");
      return c;
    }

    it("the table marks at least CONFIG SET, CONFIG RESETSTAT and CLIENT KILL, each with an example", () => {
      expect(adminCommands).toEqual(expect.arrayContaining(Object.keys(EXAMPLES)));
      expect(Object.keys(EXAMPLES)).toEqual(expect.arrayContaining(adminCommands));
    });

    for (const [label, auth] of [
      ["no credentials", null],
      ["a ReadWrite access key", "WRITE"],
      ["a Read access key", "READ"],
    ] as const) {
      it(`each is refused with NOPERM for ${label}`, async () => {
        const key = auth === "WRITE" ? WRITE_KEY : auth === "READ" ? READ_KEY : null;
        if (key !== null) {
          await updateSecurity({
            instance_index: 2,
            add_keys: [{ key, permission: auth === "WRITE" ? "ReadWrite" : "Read" }],
          });
        }
        const c = await client(key);
        try {
          const id = Number(await c.call("CLIENT", "ID"));
          for (const name of adminCommands) {
            await expect(c.call(...(EXAMPLES[name](id) as [string, ...string[]]))).rejects.toThrow(
              /^NOPERM .*admin command/,
            );
          }
        } finally {
          c.disconnect();
        }
      });
    }

    it("each runs for a session that presented the admin secret", async () => {
      const c = await client(SECRET);
      try {
        const id = Number(await c.call("CLIENT", "ID"));
        expect(await c.call("CONFIG", "RESETSTAT")).toBe("OK");
        expect(await c.call("CLIENT", "KILL", "ID", String(id + 1000))).toBe(0);
        await expect(
          c.call(...(EXAMPLES["CONFIG|SET"](id) as [string, ...string[]])),
        ).rejects.toThrow(/not supported/);
      } finally {
        c.disconnect();
      }
    });

    it("a session that presented the admin secret stays admin after SELECT n KEY <access key>", async () => {
      await updateSecurity({
        instance_index: 2,
        add_keys: [{ key: READ_KEY, permission: "Read" }],
      });
      const c = await client(SECRET);
      try {
        expect(await c.call("SELECT", "2", "KEY", READ_KEY)).toBe("OK");
        expect(await c.call("CONFIG", "RESETSTAT")).toBe("OK");
      } finally {
        c.disconnect();
      }
      const k = await client(null);
      try {
        expect(await k.call("SELECT", "2", "KEY", SECRET)).toBe("OK");
        expect(await k.call("CONFIG", "RESETSTAT")).toBe("OK");
      } finally {
        k.disconnect();
      }
    });

    it("an admin session ends another connection with CLIENT KILL", async () => {
      const victim = await client(null);
      const admin = await client(SECRET);
      try {
        const id = Number(await victim.call("CLIENT", "ID"));
        const closed = new Promise((done) => victim.once("end", done));
        expect(await admin.call("CLIENT", "KILL", "ID", String(id))).toBe(1);
        await closed;
      } finally {
        victim.disconnect();
        admin.disconnect();
      }
    });
  });

  it("the audit log never holds the access keys or the admin secret in clear", () => {
    const text = readFileSync(join(srv.dataDir, "audit.log"), "utf8");
    expect(text).toContain("instance_auth_failure");
    for (const secret of [SECRET, READ_KEY, WRITE_KEY, "not-a-key", "not-the-secret"]) {
      expect(text).not.toContain(secret);
    }
  });
});
