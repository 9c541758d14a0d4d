/**
 * The control plane's gate and the audit trail. Admin JSON-RPC methods over HTTP need the Bearer
 * secret (401 with error -32002 otherwise) while health_check and rpc.discover stay open; the
 * audit log (<data-dir>/audit.log, one JSON object per line) records admin calls and
 * authentication failures with the client's address and never the secrets themselves. Last,
 * repeated wrong keys on one RESP connection are answered more and more slowly.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlRpc, redisCli, respCommand, skipWithout } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = `admin-${randomUUID()}`;
const WRONG_SECRET = `wrong-${randomUUID()}`;
const ACCESS_KEY = `key-${randomUUID()}`;
const WRONG_KEY = `guess-${randomUUID()}`;
const ADDRESS = /^127\.0\.0\.1:\d+$/;

interface AuditLine {
  version: string;
  short_message: string;
  timestamp: number;
  level: number;
  _event: string;
  _outcome: string;
  _client?: string;
  _method?: string;
  _instance?: number;
  _error?: string;
  _key_id?: string;
}

/** One RESP connection that sends a command and reads its one-line reply (+OK, -ERR ...). */
class LineConn {
  readonly sock: Socket;
  private buf = "";
  private waiting: ((line: string) => void) | null = null;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("utf8");
      this.deliver();
    });
  }

  static open(port: number): Promise<LineConn> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: "127.0.0.1", port });
      sock.once("connect", () => resolve(new LineConn(sock)));
      sock.once("error", reject);
    });
  }

  private deliver(): void {
    const end = this.buf.indexOf("\r\n");
    if (end < 0 || this.waiting === null) return;
    const line = this.buf.slice(0, end);
    this.buf = this.buf.slice(end + 2);
    const w = this.waiting;
    this.waiting = null;
    w(line);
  }

  send(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args[0]} in 15 s`)), 15_000);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.sock.write(respCommand(...args));
      this.deliver();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

const rpcBody = (method: string, params?: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", method, id: 1, ...(params === undefined ? {} : { params }) });

describe.skipIf(skipWithout("curl", "redis-cli"))("control-plane authorisation and audit", () => {
  let srv: TestServer;
  const auditLines = (): AuditLine[] =>
    readFileSync(join(srv.dataDir, "audit.log"), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as AuditLine);

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    expect(await srv.call("db_createInstance", { name: "guarded", backend_type: "InMemory" })).toBe(
      1,
    );
    expect(
      await srv.call("db_updateSecurity", {
        instance_index: 1,
        visibility: "Private",
        add_keys: [{ key: ACCESS_KEY, permission: "ReadWrite" }],
      }),
    ).toBe(true);
  });

  afterAll(async () => {
    await srv?.cleanup();
  });

  describe("HTTP JSON-RPC", () => {
    it("an admin method without a bearer is 401 with error -32002", async () => {
      const r = await curlRpc(srv.apiPort, rpcBody("db_listInstances"));
      expect(r.status).toBe(401);
      expect((r.json as { error: { code: number } }).error.code).toBe(-32002);
      expect((r.json as { id: number }).id).toBe(1);
      expect(r.body).not.toContain("guarded");
    });

    it("an admin method with a wrong bearer is 401 with error -32002", async () => {
      const r = await curlRpc(srv.apiPort, rpcBody("db_listInstances"), {
        Authorization: `Bearer ${WRONG_SECRET}`,
      });
      expect(r.status).toBe(401);
      expect((r.json as { error: { code: number } }).error.code).toBe(-32002);
      expect(r.body).not.toContain("guarded");
    });

    it("a write method with a wrong bearer changes nothing", async () => {
      const r = await srv.rpc(
        "db_createInstance",
        { name: "sneaky", backend_type: "InMemory" },
        { auth: WRONG_SECRET },
      );
      expect(r.error?.code).toBe(-32002);
      const r2 = await srv.http(rpcBody("db_deleteInstance", { instance_index: 1 }), {
        authorization: `Basic ${Buffer.from(`admin:${SECRET}`).toString("base64")}`,
      });
      expect(r2.status).toBe(401);
      expect((r2.json as { error: { code: number } }).error.code).toBe(-32002);
      const names = (await srv.call<{ name: string }[]>("db_listInstances")).map((i) => i.name);
      expect(names).toEqual(["guarded"]);
    });

    it("health_check and rpc.discover need no bearer", async () => {
      const health = await curlRpc(srv.apiPort, rpcBody("health_check"));
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
      const discover = await curlRpc(srv.apiPort, rpcBody("rpc.discover"));
      expect(discover.status).toBe(200);
      const doc = (discover.json as { result: { methods: { name: string }[] } }).result;
      expect(doc.methods.map((m) => m.name)).toContain("db_updateSecurity");
    });

    it("the right bearer is accepted", async () => {
      const r = await curlRpc(srv.apiPort, rpcBody("db_getInstance", { instance_index: 1 }), {
        Authorization: `Bearer ${SECRET}`,
      });
      expect(r.status).toBe(200);
      expect((r.json as { result: { name: string } }).result.name).toBe("guarded");
    });
  });

  describe("audit log", () => {
    beforeAll(async () => {
      // A RESP auth failure to be recorded next to the HTTP ones.
      const r = await redisCli(srv.port, [], { input: `SELECT 1 KEY ${WRONG_KEY}\n` });
      expect(r.stdout).toMatch(/^WRONGPASS /);
    });

    it("every line is a JSON object with the GELF basics", () => {
      const lines = auditLines();
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) {
        expect(l.version).toBe("1.1");
        expect(typeof l.short_message).toBe("string");
        expect(typeof l.timestamp).toBe("number");
        expect(typeof l._event).toBe("string");
      }
    });

    it("records admin calls with the client address", () => {
      const calls = auditLines().filter((l) => l._event === "admin_call" && l._outcome === "ok");
      const methods = calls.map((l) => l._method);
      expect(methods).toEqual(
        expect.arrayContaining([
          "db_createInstance",
          "db_updateSecurity",
          "db_listInstances",
          "db_getInstance",
        ]),
      );
      const update = calls.find((l) => l._method === "db_updateSecurity");
      expect(update?._instance).toBe(1);
      for (const l of calls) expect(l._client).toMatch(ADDRESS);
    });

    it("records HTTP auth failures (no bearer, wrong bearer) with the client address", () => {
      const failures = auditLines().filter(
        (l) => l._event === "auth_failure" && l._outcome === "denied",
      );
      const listings = failures.filter((l) => l._method === "db_listInstances");
      expect(listings.length).toBeGreaterThanOrEqual(2);
      expect(failures.map((l) => l._method)).toEqual(
        expect.arrayContaining(["db_createInstance", "db_deleteInstance"]),
      );
      for (const l of failures) expect(l._client).toMatch(ADDRESS);
      // Nothing was created by the refused calls.
      const created = auditLines().filter(
        (l) => l._method === "db_createInstance" && l._outcome === "ok",
      );
      expect(created).toHaveLength(1);
    });

    it("records RESP auth failures with the client address and instance", () => {
      const failures = auditLines().filter((l) => l._event === "instance_auth_failure");
      expect(failures.length).toBeGreaterThanOrEqual(1);
      const f = failures[failures.length - 1];
      expect(f._client).toMatch(ADDRESS);
      expect(f._instance).toBe(1);
      expect(f._outcome).toBe("denied");
    });

    it("never contains the admin secret or any key in clear", () => {
      const text = readFileSync(join(srv.dataDir, "audit.log"), "utf8");
      for (const secret of [SECRET, WRONG_SECRET, ACCESS_KEY, WRONG_KEY]) {
        expect(text).not.toContain(secret);
      }
      expect(text).not.toContain(Buffer.from(`admin:${SECRET}`).toString("base64"));
    });
  });

  it("repeated auth failures on one connection get slower", async () => {
    const conn = await LineConn.open(srv.port);
    try {
      const took: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const t0 = performance.now();
        const reply = await conn.send("SELECT", "1", "KEY", `${WRONG_KEY}-${i}`);
        took.push(performance.now() - t0);
        expect(reply).toMatch(/^-WRONGPASS /);
      }
      // Generous: only that the sixth is clearly held back compared with the first.
      expect(took[5] - took[0], `reply times in ms: ${took.map(Math.round)}`).toBeGreaterThan(150);
      // The right key still opens the instance on the same connection.
      expect(await conn.send("SELECT", "1", "KEY", ACCESS_KEY)).toBe("+OK");
      expect(await conn.send("SET", "k", "v")).toBe("+OK");
    } finally {
      conn.close();
    }
  });
});
