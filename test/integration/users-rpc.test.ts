/**
 * ACL users over JSON-RPC: user_create, user_update, user_get, user_list, user_delete (admin
 * methods), user_token (a bearer token for a user's name and password), Basic auth, and the
 * user's rights deciding which methods it may call. The same users serve RESP: one created here
 * logs in with redis-cli, one changed there is seen here.
 */
import { createClient } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCli } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let srv: TestServer;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A JSON-RPC call with an Authorization header (or none). */
async function callAs(
  authorization: string | null,
  method: string,
  params: unknown = {},
): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const headers: Record<string, string> = authorization === null ? {} : { authorization };
  const r = await srv.http({ jsonrpc: "2.0", id: 1, method, params }, headers);
  return r.json as { result?: unknown; error?: { code: number; message: string } };
}

beforeAll(async () => {
  srv = await startServer({ secret: "users-rpc-admin-secret" });
});

afterAll(async () => {
  await srv?.stop();
});

describe("user_* methods", () => {
  it("creates, describes and lists users without their password hashes", async () => {
    expect(
      await srv.call("user_create", {
        name: "ops",
        password: "ops-password-1",
        rules: ["on", "~*", "&*", "+@all"],
      }),
    ).toBe(true);
    expect(
      await srv.call("user_create", {
        name: "reader",
        password: "reader-password-1",
        rules: ["on", "~app:*", "+@read", "db:reports=R"],
      }),
    ).toBe(true);
    const got = await srv.call<Record<string, unknown>>("user_get", { name: "reader" });
    expect(got).toMatchObject({
      name: "reader",
      enabled: true,
      nopass: false,
      passwords: 1,
      commands: "-@all +@read",
      keys: "~app:*",
      instances: "db:reports=R",
    });
    const list = await srv.call<{ name: string }[]>("user_list");
    expect(list.map((u) => u.name)).toEqual(["default", "ops", "reader"]);
    const text = JSON.stringify([got, list]);
    expect(text).not.toContain("reader-password-1");
    expect(text).not.toContain("SCRAM-SHA-256");
  });

  it("refuses a taken name, an unknown user and a bad rule with JSON-RPC errors", async () => {
    const taken = await srv.rpc("user_create", { name: "ops", password: "x" });
    expect(taken.error).toMatchObject({ code: -32004 });
    const missing = await srv.rpc("user_update", { name: "nobody", rules: ["on"] });
    expect(missing.error).toMatchObject({ code: -32602 });
    const bad = await srv.rpc("user_update", { name: "ops", rules: ["+nosuchcommand"] });
    expect(bad.error?.message).toMatch(/Error in ACL SETUSER modifier '\+nosuchcommand'/);
    expect((await srv.rpc("user_get", { name: "nobody" })).error).toMatchObject({ code: -32602 });
    const noSecret = await callAs(null, "user_list");
    expect(noSecret.error).toMatchObject({ code: -32002 });
  });

  it("a user created over JSON-RPC logs in over RESP, with its rules", async () => {
    const r = await redisCli(srv.port, [], {
      flags: ["--no-auth-warning", "--user", "ops", "--pass", "ops-password-1"],
      input: "ACL WHOAMI\nCLIENT INFO\n",
    });
    const [who, info] = r.stdout.split("\n");
    expect(who).toBe("ops");
    expect(info).toMatch(/ user=ops /);
    const anon = await redisCli(srv.port, ["ACL", "WHOAMI"]);
    expect(anon.stdout.trim()).toBe("default");
    const denied = await redisCli(srv.port, ["ACL", "WHOAMI"], {
      flags: ["--no-auth-warning", "--user", "reader", "--pass", "reader-password-1"],
    });
    expect(denied.stdout).toMatch(/NOPERM User reader has no permissions to run the 'acl\|whoami'/);
  });
});

describe("acting as a user over HTTP", () => {
  it("user_token needs no admin secret, and the token opens admin methods to a user with @admin", async () => {
    const t = await callAs(null, "user_token", { name: "ops", password: "ops-password-1" });
    expect(typeof t.result).toBe("string");
    const token = t.result as string;
    expect(token).not.toContain("ops-password-1");
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).result).toEqual([]);
    expect((await callAs(basic("ops", "ops-password-1"), "user_list")).result).toHaveLength(3);
  });

  it("a user without the @admin category is refused admin methods, by token or Basic", async () => {
    const t = await callAs(null, "user_token", { name: "reader", password: "reader-password-1" });
    const token = t.result as string;
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).error).toMatchObject({
      code: -32002,
    });
    expect(
      (await callAs(basic("reader", "reader-password-1"), "db_listInstances", [])).error,
    ).toMatchObject({ code: -32002 });
    // Methods open to everyone stay open.
    expect((await callAs(`Bearer ${token}`, "health_check", [])).result).toBeDefined();
  });

  it("wrong passwords get no token and no access; a changed password revokes tokens", async () => {
    expect(
      (await callAs(null, "user_token", { name: "ops", password: "wrong" })).error,
    ).toMatchObject({ code: -32002 });
    expect((await callAs(basic("ops", "wrong"), "db_listInstances", [])).error).toMatchObject({
      code: -32002,
    });
    const token = (await callAs(null, "user_token", { name: "ops", password: "ops-password-1" }))
      .result as string;
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).result).toEqual([]);
    expect(
      await srv.call("user_update", { name: "ops", rules: ["resetpass", ">ops-password-2"] }),
    ).toBe(true);
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).error).toMatchObject({
      code: -32002,
    });
    // A token whose signature was tampered with is refused.
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await callAs(`Bearer ${forged}`, "db_listInstances", [])).error).toMatchObject({
      code: -32002,
    });
  });

  it("wrong passwords over HTTP are answered later and later (per user and address)", async () => {
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const r = await callAs(null, "user_token", { name: "guessme", password: `guess-${i}` });
      expect(r.error).toMatchObject({ code: -32002 });
      times.push(Date.now() - t0);
    }
    // The first three are answered at once; from the fourth on, 100 ms doubling.
    expect(times[5]).toBeGreaterThanOrEqual(times[0] + 150);
  });

  it("a token expires", async () => {
    const token = (
      await callAs(null, "user_token", {
        name: "ops",
        password: "ops-password-2",
        ttl_seconds: 1,
      })
    ).result as string;
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).result).toEqual([]);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await callAs(`Bearer ${token}`, "db_listInstances", [])).error).toMatchObject({
      code: -32002,
    });
  });

  it("user_delete removes a user everywhere; the default user stays", async () => {
    expect(await srv.call("user_delete", { name: "reader" })).toBe(true);
    expect(await srv.call("user_delete", { name: "reader" })).toBe(false);
    const r = await redisCli(srv.port, ["PING"], {
      flags: ["--no-auth-warning", "--user", "reader", "--pass", "reader-password-1"],
    });
    expect(r.stdout + r.stderr).toMatch(/WRONGPASS|AUTH failed/);
    expect((await srv.rpc("user_delete", { name: "default" })).error?.message).toMatch(
      /default' user cannot be removed/,
    );
  });

  it("the audit log names the users and holds no password", async () => {
    const { readFileSync } = await import("node:fs");
    const audit = readFileSync(`${srv.dataDir}/audit.log`, "utf8");
    expect(audit).toMatch(/"_method":"user_create".*|"_event":"admin_call"/);
    expect(audit).toMatch(/"_user":"ops"/);
    expect(audit).toMatch(
      /"_event":"auth_failure"[^\n]*"_user":"ops"|"_user":"ops"[^\n]*auth_failure/,
    );
    for (const secret of ["ops-password-1", "ops-password-2", "reader-password-1"]) {
      expect(audit).not.toContain(secret);
      expect(srv.stderr()).not.toContain(secret);
    }
  });
});

describe("libSQL as a user", () => {
  it("a user token or Basic opens a private SQL instance with the user's db: rights", async () => {
    const index = await srv.call<number>("db_createInstance", {
      name: "ledger",
      backend_type: "Sql",
    });
    await srv.call("db_updateSecurity", { instance_index: index, visibility: "Private" });
    const admin = createClient({
      url: `http://127.0.0.1:${srv.apiPort}/sql/${index}/libsql`,
      authToken: srv.secret,
    });
    await admin.execute("CREATE TABLE t (v INTEGER)");
    await admin.execute("INSERT INTO t VALUES (1)");
    admin.close();
    await srv.call("user_create", {
      name: "auditor",
      password: "auditor-password-1",
      rules: ["on", "+@read", "db:ledger=R"],
    });
    const token = (
      await callAs(null, "user_token", { name: "auditor", password: "auditor-password-1" })
    ).result as string;
    const c = createClient({
      url: `http://127.0.0.1:${srv.apiPort}/sql/ledger/libsql`,
      authToken: token,
    });
    try {
      expect((await c.execute("SELECT v FROM t")).rows.map((r) => r.v)).toEqual([1]);
      await expect(c.execute("INSERT INTO t VALUES (2)")).rejects.toThrow(/read-only|NOPERM/);
    } finally {
      c.close();
    }
    // Without the db: rule the private instance stays closed to the user.
    await srv.call("user_update", { name: "auditor", rules: ["resetdbs"] });
    const r = await srv.http(
      { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] },
      { authorization: basic("auditor", "auditor-password-1") },
      "/sql/ledger/libsql/v2/pipeline",
    );
    expect(r.status).toBe(401);
  });
});
