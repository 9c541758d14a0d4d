/**
 * The README's quick tour, replayed against a real server with the real tools a user would type:
 * curl for the HTTP control plane, socat for the Unix socket, redis-cli (RESP2 and RESP3) for the
 * data plane. If a step of the tour stops working, this file says which one. The secret is the
 * README's "changeme"; ports and the socket are the helper's, everything else is word for word.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlRpc, redisCli, skipWithout, socatUds } from "../helpers/clients.ts";
import { runCli, startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "changeme";
const JSON_HEADERS = { "Content-Type": "application/json" };
const ADMIN_HEADERS = { ...JSON_HEADERS, Authorization: `Bearer ${SECRET}` };
const METHOD_NAMES = [
  "health_check",
  "db_createInstance",
  "db_listInstances",
  "db_getInstance",
  "db_deleteInstance",
  "db_renameInstance",
  "db_updateSecurity",
  "cluster_status",
  "cluster_removeNode",
  "cluster_transferLeader",
  "db_backup",
  "db_restore",
  "user_create",
  "user_update",
  "user_delete",
  "user_list",
  "user_get",
  "user_token",
  "rpc.discover",
];

/** redis-cli's raw output as lines, without the blank line it prints after an error. */
function lines(out: string): string[] {
  return out.split("\n").filter((l) => l !== "");
}

describe.skipIf(skipWithout("redis-cli", "socat", "curl"))("README quick tour", () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
  });

  afterAll(async () => {
    await srv?.cleanup();
  });

  it("health_check over HTTP answers without a secret", async () => {
    const r = await curlRpc(
      srv.apiPort,
      '{"jsonrpc":"2.0","method":"health_check","params":{},"id":1}',
      JSON_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
  });

  it("db_createInstance with the Bearer secret returns index 1", async () => {
    const r = await curlRpc(
      srv.apiPort,
      '{"jsonrpc":"2.0","method":"db_createInstance","params":{"name":"my-cache","backend_type":"InMemory"},"id":1}',
      ADMIN_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ jsonrpc: "2.0", id: 1, result: 1 });
  });

  it("health_check over the Unix socket with socat", async () => {
    const out = await socatUds(srv.socketPath, '{"jsonrpc":"2.0","method":"health_check","id":1}');
    expect(lines(out)).toHaveLength(1);
    expect(JSON.parse(out)).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
  });

  for (const proto of [2, 3] as const) {
    it(`redis-cli -${proto}: LIST shows the instance`, async () => {
      const r = await redisCli(srv.port, ["LIST"], { proto });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("1: my-cache (INMEMORY)\n");
    });

    it(`redis-cli -${proto}: -n 1 SET then GET user:1`, async () => {
      const set = await redisCli(srv.port, ["-n", "1", "SET", "user:1", "HeroDB User"], { proto });
      expect(set.stdout).toBe("OK\n");
      const get = await redisCli(srv.port, ["-n", "1", "GET", "user:1"], { proto });
      expect(get.stdout).toBe("HeroDB User\n");
    });

    it(`redis-cli -${proto}: SELECT 1, SET and GET in one session`, async () => {
      const r = await redisCli(srv.port, [], {
        proto,
        input: `SELECT 1\nSET user:${proto} "HeroDB User"\nGET user:${proto}\nGET user:1\n`,
      });
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(["OK", "OK", "HeroDB User", "HeroDB User"]);
    });
  }

  it("redis-cli's formatted LIST reads as the README shows it", async () => {
    const r = await redisCli(srv.port, ["LIST"], { flags: ["--no-raw"] });
    expect(r.stdout).toBe('1) "1: my-cache (INMEMORY)"\n');
  });

  describe("encryption walkthrough", () => {
    let vault: number;

    beforeAll(async () => {
      const r = await curlRpc(
        srv.apiPort,
        '{"jsonrpc":"2.0","method":"db_createInstance","params":{"name":"vault","backend_type":"InMemory","encryption_enabled":true},"id":2}',
        ADMIN_HEADERS,
      );
      expect(r.json).toEqual({ jsonrpc: "2.0", id: 2, result: 2 });
      vault = (r.json as { result: number }).result;
    });

    it("KEYGEN returns a base64 256-bit key", async () => {
      const r = await redisCli(srv.port, ["KEYGEN"]);
      const key = r.stdout.trim();
      expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(key, "base64")).toHaveLength(32);
    });

    it("KEYGEN, USEKEY, SELECT, SET and GET through one redis-cli session", async () => {
      const key = (await redisCli(srv.port, ["KEYGEN"])).stdout.trim();
      for (const proto of [2, 3] as const) {
        const r = await redisCli(srv.port, [], {
          proto,
          input:
            `USEKEY ${key}\nSELECT ${vault}\n` +
            `SET secret${proto} "my sensitive data"\nGET secret${proto}\n`,
        });
        expect(r.code).toBe(0);
        expect(lines(r.stdout)).toEqual(["OK", "OK", "OK", "my sensitive data"]);
      }
    });

    it("a session without the key gets a clear error, another key cannot decrypt", async () => {
      const key = (await redisCli(srv.port, ["KEYGEN"])).stdout.trim();
      const other = (await redisCli(srv.port, ["KEYGEN"])).stdout.trim();
      const write = await redisCli(srv.port, [], {
        input: `USEKEY ${key}\nSELECT ${vault}\nSET guarded "my sensitive data"\n`,
      });
      expect(lines(write.stdout)).toEqual(["OK", "OK", "OK"]);

      const none = await redisCli(srv.port, [], { input: `SELECT ${vault}\nGET guarded\n` });
      const noneOut = lines(none.stdout);
      expect(noneOut[0]).toBe("OK");
      expect(noneOut[1]).toMatch(/USEKEY/);
      expect(none.stdout).not.toContain("my sensitive data");

      const wrong = await redisCli(srv.port, [], {
        input: `USEKEY ${other}\nSELECT ${vault}\nGET guarded\n`,
      });
      const wrongOut = lines(wrong.stdout);
      expect(wrongOut.slice(0, 2)).toEqual(["OK", "OK"]);
      expect(wrongOut[2]).toMatch(/cannot decrypt value/);
      expect(wrong.stdout).not.toContain("my sensitive data");

      // Key names stay in clear; the stored value is not the plain text.
      const keys = await redisCli(srv.port, [], { input: `SELECT ${vault}\nEXISTS guarded\n` });
      expect(lines(keys.stdout)).toEqual(["OK", "1"]);
    });

    it("LIST shows both instances", async () => {
      const r = await redisCli(srv.port, ["LIST"]);
      expect(r.stdout).toBe("1: my-cache (INMEMORY)\n2: vault (INMEMORY)\n");
    });

    it("the access-control example: alice may SET app:1, not DEL it", async () => {
      const setuser = await redisCli(srv.port, [
        "-a",
        SECRET,
        "ACL",
        "SETUSER",
        "alice",
        "on",
        ">alice-pw",
        "~app:*",
        "+@read",
        "+set",
        "+select",
        "db:1=RW",
      ]);
      expect(setuser.stdout.trim()).toBe("OK");
      const as = ["--user", "alice", "--pass", "alice-pw", "-n", "1"];
      const set = await redisCli(srv.port, [...as, "SET", "app:1", "hi"]);
      expect(set.stdout.trim()).toBe("OK");
      const del = await redisCli(srv.port, [...as, "DEL", "app:1"]);
      expect(del.stdout.trim()).toBe(
        "NOPERM User alice has no permissions to run the 'del' command",
      );
    });
  });

  it("db_listInstances describes every instance with its fields", async () => {
    const r = await curlRpc(
      srv.apiPort,
      '{"jsonrpc":"2.0","method":"db_listInstances","id":4}',
      ADMIN_HEADERS,
    );
    expect(r.status).toBe(200);
    const body = r.json as { id: number; result: Record<string, unknown>[] };
    expect(body.id).toBe(4);
    const now = Math.floor(Date.now() / 1000);
    expect(body.result).toEqual([
      {
        index: 1,
        name: "my-cache",
        backend_type: "InMemory",
        created_at: expect.any(Number),
        encrypted: false,
        visibility: "Public",
      },
      {
        index: 2,
        name: "vault",
        backend_type: "InMemory",
        created_at: expect.any(Number),
        encrypted: true,
        visibility: "Public",
      },
    ]);
    for (const inst of body.result) {
      expect(Number.isInteger(inst.created_at)).toBe(true);
      expect(Math.abs((inst.created_at as number) - now)).toBeLessThan(600);
    }
  });

  it("rpc.discover returns an OpenRPC document listing the methods", async () => {
    const r = await curlRpc(
      srv.apiPort,
      '{"jsonrpc":"2.0","method":"rpc.discover","id":5}',
      JSON_HEADERS,
    );
    expect(r.status).toBe(200);
    const doc = (r.json as { result: { openrpc: string; methods: { name: string }[] } }).result;
    expect(doc.openrpc).toMatch(/^1\.\d+\.\d+$/);
    expect(doc.methods.map((m) => m.name).sort()).toEqual([...METHOD_NAMES].sort());
  });

  it("COMMAND COUNT matches COMMAND LIST", async () => {
    const count = await redisCli(srv.port, ["COMMAND", "COUNT"]);
    const n = Number(count.stdout.trim());
    expect(Number.isInteger(n)).toBe(true);
    expect(n).toBeGreaterThan(100);
    const list = lines((await redisCli(srv.port, ["COMMAND", "LIST"])).stdout);
    expect(list).toHaveLength(n);
    for (const name of ["get", "set", "select", "list", "keygen", "usekey"]) {
      expect(list).toContain(name);
    }
  });

  it("COMMAND DOCS GET describes GET (redis-cli -2)", async () => {
    const r = await redisCli(srv.port, ["COMMAND", "DOCS", "GET"], { proto: 2 });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("get");
    const at = (field: string) => out[out.indexOf(field) + 1];
    expect(out).toContain("summary");
    expect(at("summary")).toMatch(/value of a key/i);
    expect(at("group")).toBe("string");
  });

  it("COMMAND DOCS GET describes GET (redis-cli -3, a map)", async () => {
    // redis-cli prints a RESP3 map's entries as "field value" lines, as it does for redis-server.
    const r = await redisCli(srv.port, ["COMMAND", "DOCS", "GET"], { proto: 3 });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^get summary .*value of a key/i);
    expect(out).toContain("group string");
  });

  describe("SQL walkthrough", () => {
    let shop: number;

    beforeAll(async () => {
      const r = await curlRpc(
        srv.apiPort,
        '{"jsonrpc":"2.0","method":"db_createInstance","params":{"name":"shop","backend_type":"Sql"},"id":4}',
        ADMIN_HEADERS,
      );
      shop = (r.json as { result: number }).result;
    });

    it("SQL.EXEC creates and inserts, SQL.QUERY reads, as redis-cli prints them", async () => {
      const n = ["-n", String(shop)];
      const create = await redisCli(srv.port, [
        ...n,
        "SQL.EXEC",
        "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
      ]);
      expect(lines(create.stdout)).toEqual(["0", "0"]);
      const insert = await redisCli(srv.port, [
        ...n,
        "SQL.EXEC",
        "INSERT INTO items(name, price) VALUES (?, ?)",
        "apple",
        "1.5",
      ]);
      expect(lines(insert.stdout)).toEqual(["1", "1"]);
      const query = await redisCli(srv.port, [...n, "SQL.QUERY", "SELECT name, price FROM items"]);
      expect(lines(query.stdout)).toEqual(["name", "price", "apple", "1.5"]);
    });

    it("herodb sql reads from a pipe and prints a table", async () => {
      const r = await runCli(["sql", "--port", String(srv.port), "--instance", "shop"], {
        input: "SELECT id, name FROM items;\n",
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("id | name\n---+------\n1  | apple\n(1 row)\n");
    });
  });
});
