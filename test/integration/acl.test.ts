/**
 * ACL users on one server, as clients meet them: a table of rules and commands (keys by pattern,
 * %R~/%W~ selectors, channels, categories, subcommands, "(…)" selectors, db: instance rules,
 * MULTI/EXEC) run as fresh users with ioredis and checked with ACL DRYRUN; the default user with
 * a password (NOAUTH, redis-cli --user/--pass, AUTH pw, SELECT n KEY <access key>); a user
 * deleted or switched off while connected; ACL LOG entries, grouping and RESET; who may run admin
 * commands; no plain password in ACL GETUSER/LIST and `<pw` removing one; failed AUTH slowed per
 * user; and the audit log's records, with no password or admin secret in any file of the data
 * dir or in the server's output.
 */
import { randomUUID } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
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
import { redisCli, respCommand, skipWithout } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = `admin-${randomUUID()}`;
const ACCESS_KEY = `access-${randomUUID()}`;
/** Every password and secret this file uses: none may reach a file or the server's output. */
const secrets: string[] = [SECRET, ACCESS_KEY];
function password(): string {
  const pw = `pw-${randomUUID()}`;
  secrets.push(pw);
  return pw;
}

/** Runs one redis-cli session (one command per stdin line) and returns its non-empty lines. */
async function session(port: number, input: string[], flags: string[] = []): Promise<string[]> {
  const r = await redisCli(port, [], { input: `${input.join("\n")}\n`, flags });
  expect(r.timedOut).toBe(false);
  return r.stdout.split("\n").filter((l) => l !== "");
}

/** One command on a new TCP connection from `localAddress`; its reply line and how long it took. */
function timedCommand(
  port: number,
  localAddress: string,
  args: string[],
): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let got = "";
    const sock = connect({ host: "127.0.0.1", port, localAddress });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply to ${args[0]} within 15 s`));
    }, 15_000);
    sock.on("connect", () => sock.write(respCommand(...args)));
    sock.on("data", (d) => {
      got += d.toString("utf8");
      if (!got.includes("\r\n")) return;
      clearTimeout(timer);
      sock.destroy();
      resolve({ reply: got.slice(0, got.indexOf("\r\n")), ms: performance.now() - started });
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Resolves once `c` has ended, or rejects after `ms`. */
function ended(c: Redis, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.status === "end") return resolve();
    const t = setTimeout(
      () => reject(new Error(`connection still ${c.status} after ${ms} ms`)),
      ms,
    );
    c.once("end", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** ACL LOG entries as objects (RESP2 gives each as a flat field/value list). */
async function aclLog(admin: Redis): Promise<Record<string, unknown>[]> {
  const raw = (await admin.call("ACL", "LOG")) as unknown[][];
  return raw.map((e) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < e.length; i += 2) o[String(e[i])] = e[i + 1];
    return o;
  });
}

describe.skipIf(skipWithout("redis-cli"))("ACL users on one server", () => {
  let srv: TestServer;
  let admin: Redis;

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    for (const [name, want] of [
      ["main", 1],
      ["reports", 2],
      ["ledger", 3],
    ] as const) {
      expect(await srv.call("db_createInstance", { name, backend_type: "InMemory" })).toBe(want);
    }
    for (const index of [2, 3]) {
      await srv.call("db_updateSecurity", { instance_index: index, visibility: "Private" });
    }
    await srv.call("db_updateSecurity", {
      instance_index: 2,
      add_keys: [{ key: ACCESS_KEY, permission: "ReadWrite" }],
    });
    admin = await adminConnection(srv.port, SECRET);
  });

  afterAll(async () => {
    admin?.disconnect();
    await srv?.cleanup();
  });

  describe("the table: rules, then commands run as the user", () => {
    ACL_CASES.forEach((c, i) => {
      it(c.name, async () => {
        const user = `case${i}`;
        const pw = password();
        await createCaseUser(admin, c, user, pw);
        const lines = await runCase(c, { port: srv.port, adminSecret: SECRET, user, password: pw });
        expect(lines).toEqual(expectedLines(c));
      });
    });
  });

  it("default user with a password: NOAUTH until AUTH, --user/--pass, SELECT n KEY <key>", async () => {
    const pw = password();
    expect(await admin.call("ACL", "SETUSER", "default", `>${pw}`)).toBe("OK");
    try {
      const plain = await session(srv.port, ["PING", "SELECT 1", "GET k1"]);
      expect(plain).toEqual(Array(3).fill("NOAUTH Authentication required."));
      const cli = await redisCli(srv.port, ["SET", "dflt", "yes"], {
        flags: ["--no-auth-warning", "--user", "default", "--pass", pw, "-n", "1"],
      });
      expect(cli.stdout).toBe("OK\n");
      expect(await session(srv.port, [`AUTH ${pw}`, "SELECT 1", "GET dflt"])).toEqual([
        "OK",
        "OK",
        "yes",
      ]);
      // A password on `default` makes clients log in; it grants no admin command.
      const save = await session(srv.port, [`AUTH ${pw}`, "CONFIG RESETSTAT"]);
      expect(save[0]).toBe("OK");
      expect(save[1]).toMatch(/^NOPERM .*admin command/);
      const keyed = await session(srv.port, [
        `SELECT 2 KEY ${ACCESS_KEY}`,
        "SET via-key 1",
        "GET via-key",
      ]);
      expect(keyed).toEqual(["OK", "OK", "1"]);
      expect((await session(srv.port, ["SELECT 2 KEY not-a-key"]))[0]).toMatch(/^WRONGPASS /);
    } finally {
      expect(await admin.call("ACL", "SETUSER", "default", "nopass")).toBe("OK");
    }
    expect(await session(srv.port, ["PING", "SELECT 1", "GET dflt"])).toEqual([
      "PONG",
      "OK",
      "yes",
    ]);
  });

  for (const how of ["ACL DELUSER", "ACL SETUSER off"] as const) {
    it(`${how} while the user is connected: the connection closes at once`, async () => {
      const user = `gone-${how.endsWith("off") ? "off" : "del"}`;
      const pw = password();
      expect(await admin.call("ACL", "SETUSER", user, "on", `>${pw}`, "~*", "+@all")).toBe("OK");
      const c = await connectAs(srv.port, { username: user, password: pw });
      try {
        expect(await c.call("SELECT", "1")).toBe("OK");
        expect(await c.call("SET", "live", "1")).toBe("OK");
        if (how === "ACL DELUSER") expect(await admin.call("ACL", "DELUSER", user)).toBe(1);
        else expect(await admin.call("ACL", "SETUSER", user, "off")).toBe("OK");
        await ended(c);
        await expect(c.call("GET", "live")).rejects.toThrow(/closed|NOAUTH/i);
      } finally {
        c.disconnect();
      }
      const again = await session(srv.port, [`AUTH ${user} ${pw}`]);
      expect(again[0]).toMatch(/^WRONGPASS /);
    });
  }

  it("ACL LOG: a denied command, key and AUTH, grouped by count, and RESET", async () => {
    const user = "logged";
    const pw = password();
    await admin.call("ACL", "SETUSER", user, "on", `>${pw}`, "~app:*", "+select", "+get", "+set");
    expect(await admin.call("ACL", "LOG", "RESET")).toBe("OK");
    const c = await connectAs(srv.port, { username: user, password: pw });
    try {
      await c.call("SELECT", "1");
      await expect(c.call("DEL", "app:1")).rejects.toThrow(/^NOPERM /);
      await expect(c.call("DEL", "app:1")).rejects.toThrow(/^NOPERM /);
      await expect(c.call("GET", "secret:1")).rejects.toThrow(/^NOPERM /);
    } finally {
      c.disconnect();
    }
    expect((await session(srv.port, [`AUTH ${user} wrong-password-for-log`]))[0]).toMatch(
      /^WRONGPASS /,
    );
    secrets.push("wrong-password-for-log");
    const log = await aclLog(admin);
    const pick = (e: Record<string, unknown>) => [e.reason, e.object, e.username, e.count];
    expect(log.map(pick)).toEqual([
      ["auth", "AUTH", user, 1],
      ["key", "secret:1", user, 1],
      ["command", "del", user, 2],
    ]);
    for (const e of log) {
      expect(e.context).toBe("toplevel");
      expect(String(e["client-info"])).toMatch(/^id=\d+ addr=127\.0\.0\.1:\d+ /);
    }
    expect(JSON.stringify(log)).not.toContain("wrong-password-for-log");
    expect(await admin.call("ACL", "LOG", "RESET")).toBe("OK");
    expect(await aclLog(admin)).toEqual([]);
  });

  it("admin commands: a user with a password and +@all may, a nopass user may not", async () => {
    const pw = password();
    await admin.call("ACL", "SETUSER", "boss", "on", `>${pw}`, "+@all", "~*");
    await admin.call("ACL", "SETUSER", "open", "on", "nopass", "+@all", "~*");
    const boss = await connectAs(srv.port, { username: "boss", password: pw });
    const open = await connectAs(srv.port, { username: "open", password: "anything" });
    try {
      expect(await boss.call("ACL", "SETUSER", "made-by-boss", "on", "+get")).toBe("OK");
      expect(await boss.call("ACL", "USERS")).toContain("made-by-boss");
      await expect(open.call("SAVE")).rejects.toThrow(/^NOPERM 'save' is an admin command/);
      await expect(open.call("ACL", "SETUSER", "x", "on")).rejects.toThrow(
        /^NOPERM 'acl setuser' is an admin command/,
      );
    } finally {
      boss.disconnect();
      open.disconnect();
    }
  });

  it("ACL GETUSER and ACL LIST show no plain password; `<pw` removes it", async () => {
    const pw = password();
    await admin.call("ACL", "SETUSER", "hidden", "on", `>${pw}`, "+@all", "~*");
    const getuser = JSON.stringify(await admin.call("ACL", "GETUSER", "hidden"));
    const list = JSON.stringify(await admin.call("ACL", "LIST"));
    expect(getuser).not.toContain(pw);
    expect(list).not.toContain(pw);
    expect(list).toMatch(/user hidden on .*#SCRAM-SHA-256\$/);
    expect(await session(srv.port, [`AUTH hidden ${pw}`])).toEqual(["OK"]);
    expect(await admin.call("ACL", "SETUSER", "hidden", `<${pw}`)).toBe("OK");
    expect((await session(srv.port, [`AUTH hidden ${pw}`]))[0]).toMatch(/^WRONGPASS /);
    const fields = (await admin.call("ACL", "GETUSER", "hidden")) as unknown[];
    expect(fields[fields.indexOf("passwords") + 1]).toEqual([]);
  });

  it("repeated wrong AUTH for one user from new connections gets slower", async () => {
    await admin.call("ACL", "SETUSER", "target", "on", `>${password()}`, "+@all", "~*");
    // A loopback address of its own, so failures elsewhere in this file do not count here.
    const from = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await timedCommand(srv.port, from, ["AUTH", "target", `guess-${i}`]);
      expect(r.reply).toBe("-WRONGPASS invalid username-password pair or user is disabled.");
      times.push(r.ms);
    }
    expect(times[4] - times[0]).toBeGreaterThanOrEqual(100);
    expect(times[5]).toBeGreaterThan(times[4]);
  });

  it("the audit log has auth, auth_failure, acl_setuser and acl_denied with user and client", () => {
    const records = readFileSync(join(srv.dataDir, "audit.log"), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const event of ["auth", "auth_failure", "acl_setuser", "acl_denied"]) {
      const found = records.filter((r) => r._event === event);
      expect(found.length, event).toBeGreaterThan(0);
      for (const r of found) {
        expect(typeof r._user, `${event} _user`).toBe("string");
        expect(String(r._client), `${event} _client`).toMatch(/^127\.0\.\d+\.\d+:\d+$/);
      }
    }
    const denied = records.find((r) => r._event === "acl_denied" && r._user === "logged");
    expect(denied?._method).toBe("DEL");
  });

  it("no password or the admin secret in any file under the data dir or in the server's output", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) files.push(p);
      }
    };
    walk(srv.dataDir);
    expect(files.length).toBeGreaterThan(2);
    const found: string[] = [];
    const outputs: [string, Buffer][] = [
      ["stderr", Buffer.from(srv.stderr())],
      ["stdout", Buffer.from(srv.stdout())],
      ...files.map((f): [string, Buffer] => [f, readFileSync(f)]),
    ];
    for (const [where, bytes] of outputs) {
      for (const s of secrets) {
        if (bytes.includes(Buffer.from(s))) found.push(`${s.slice(0, 8)}… in ${where}`);
      }
    }
    expect(found).toEqual([]);
  });
});
