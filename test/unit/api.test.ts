/**
 * The JSON-RPC control plane end to end over real transports: fastify on an ephemeral port
 * (driven with fetch) and the Unix socket (driven with node:net), against a real catalog and a
 * fake InstanceHost that records what the control plane asks of it.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ControlPlane,
  type ControlPlane as ControlPlaneT,
  type InstanceHost,
} from "../../src/api/control-plane.ts";
import { renderOpenRpcMarkdown } from "../../src/api/docs.ts";
import { errorCode } from "../../src/api/errors.ts";
import { type HttpServer, startHttp } from "../../src/api/http.ts";
import { METHODS } from "../../src/api/methods.ts";
import { buildOpenRpcDocument } from "../../src/api/openrpc.ts";
import { type JsonSchema, SUPPORTED_KEYWORDS } from "../../src/api/schema.ts";
import { startUds, type UdsServer } from "../../src/api/uds.ts";
import { Catalog } from "../../src/db0/catalog.ts";
import type { InstanceRecord } from "../../src/db0/types.ts";
import { hashAccessKey } from "../../src/security/access-keys.ts";
import { AuditLog } from "../../src/security/audit.ts";
import { TEST_KDF } from "../../src/security/kdf.ts";

const SECRET = "api-test-secret";

class FakeHost implements InstanceHost {
  calls: string[] = [];
  failNextOpen = false;
  async open(record: InstanceRecord): Promise<void> {
    this.calls.push(`open ${record.index} ${record.name}`);
    if (this.failNextOpen) {
      this.failNextOpen = false;
      throw new Error("disk on fire");
    }
  }
  async close(index: number): Promise<void> {
    this.calls.push(`close ${index}`);
  }
  rename(index: number, name: string): void {
    this.calls.push(`rename ${index} ${name}`);
  }
  securityChanged(index: number): void {
    this.calls.push(`security ${index}`);
  }
}

let dir: string;
let host: FakeHost;
let plane: ControlPlaneT;
let audit: AuditLog;
let http: HttpServer;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "herodb-api-"));
  host = new FakeHost();
  audit = new AuditLog(join(dir, "audit.log"));
  const catalog = await Catalog.open(join(dir, "data"), SECRET, { kdf: TEST_KDF });
  plane = new ControlPlane({ catalog, host, audit });
  http = await startHttp({ plane, port: 0 });
  url = `http://127.0.0.1:${http.port}/`;
});

afterAll(async () => {
  await http.close();
  audit.close();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: replies are arbitrary JSON, checked by assertions
type Json = any;

interface Rpc {
  status: number;
  body: Json;
}

async function post(body: unknown, auth: string | null = SECRET): Promise<Rpc> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(url, { method: "POST", headers, body: text });
  const raw = await res.text();
  return { status: res.status, body: raw === "" ? null : JSON.parse(raw) };
}

let nextId = 1;
async function call(method: string, params?: unknown, auth: string | null = SECRET): Promise<Rpc> {
  const req: Record<string, unknown> = { jsonrpc: "2.0", method, id: nextId++ };
  if (params !== undefined) req.params = params;
  return post(req, auth);
}

async function ok(method: string, params?: unknown): Promise<Json> {
  const r = await call(method, params);
  expect(r.body.error, `${method} ${JSON.stringify(params)}`).toBeUndefined();
  expect(r.status).toBe(200);
  return r.body.result;
}

/** The codes `method` declares in the method table (rpc.discover); null for an unknown method. */
function declaredCodes(method: string): number[] | null {
  return METHODS.find((m) => m.name === method)?.errors.map(errorCode) ?? null;
}

async function fails(method: string, params: unknown, code: number): Promise<string> {
  const r = await call(method, params);
  expect(r.body.error?.code, JSON.stringify(r.body)).toBe(code);
  // Every error a method answers must be one it declares (docs/api.md lists them).
  const declared = declaredCodes(method);
  if (declared !== null) expect(declared, `${method} declares ${code}`).toContain(code);
  return r.body.error.message;
}

describe("HTTP control plane", () => {
  it("answers health_check and rpc.discover without a secret", async () => {
    const h = await call("health_check", {}, null);
    expect(h).toEqual({ status: 200, body: { jsonrpc: "2.0", id: h.body.id, result: "OK" } });
    const d = await call("rpc.discover", undefined, null);
    expect(d.status).toBe(200);
    const doc = d.body.result;
    expect(doc.openrpc).toMatch(/^1\.3/);
    expect(doc.methods.map((m: { name: string }) => m.name)).toEqual(METHODS.map((m) => m.name));
    const create = doc.methods.find((m: { name: string }) => m.name === "db_createInstance");
    expect(create["x-requires-admin-secret"]).toBe(true);
    expect(create.params.map((p: { name: string }) => p.name)).toEqual([
      "name",
      "backend_type",
      "encryption_enabled",
    ]);
    const codes = Object.values(doc.components.errors).map((e) => (e as { code: number }).code);
    expect(codes).toEqual(expect.arrayContaining([-32001, -32002, -32003, -32004, -32005]));
  });

  it("requires the bearer secret for admin methods (401, -32002)", async () => {
    for (const auth of [null, "wrong-secret"]) {
      const r = await call("db_listInstances", {}, auth);
      expect(r.status).toBe(401);
      expect(r.body.error).toEqual({ code: -32002, message: "unauthorized" });
    }
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Basic ${SECRET}` },
      body: JSON.stringify({ jsonrpc: "2.0", method: "db_listInstances", id: 1 }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("creates, lists, gets, renames, secures and deletes instances", async () => {
    host.calls = [];
    const index = await ok("db_createInstance", { name: "cache", backend_type: "InMemory" });
    expect(index).toBe(1);
    expect(host.calls).toEqual(["open 1 cache"]);
    expect(
      await ok("db_createInstance", {
        name: "enc",
        backend_type: "inmemory",
        encryption_enabled: true,
      }),
    ).toBe(2);

    const list = await ok("db_listInstances");
    expect(list).toHaveLength(2);
    expect(list[0]).toEqual({
      index: 1,
      name: "cache",
      backend_type: "InMemory",
      created_at: expect.any(Number),
      encrypted: false,
      visibility: "Public",
    });
    expect(list[1]).toMatchObject({ name: "enc", encrypted: true });

    expect(await ok("db_renameInstance", { instance_index: 1, name: "cache2" })).toBe(true);
    expect(host.calls.at(-1)).toBe("rename 1 cache2");

    const key = "k-0123456789abcdef";
    expect(
      await ok("db_updateSecurity", {
        instance_index: 1,
        visibility: "Private",
        add_keys: [{ key, permission: "ReadWrite" }],
      }),
    ).toBe(true);
    expect(host.calls.at(-1)).toBe("security 1");
    expect(plane.catalog.checkAccessKey(1, key)).toBe("ReadWrite");
    const got = await ok("db_getInstance", { instance_index: 1 });
    expect(got).toMatchObject({ name: "cache2", visibility: "Private" });
    expect(got.keys).toEqual([
      { hash: hashAccessKey(key), permission: "ReadWrite", created_at: expect.any(Number) },
    ]);
    await ok("db_updateSecurity", { instance_index: 1, remove_keys: [hashAccessKey(key)] });
    expect(plane.catalog.checkAccessKey(1, key)).toBeNull();

    expect(await ok("db_deleteInstance", { instance_index: 2 })).toBe(true);
    expect(host.calls.at(-1)).toBe("close 2");
    expect((await ok("db_listInstances")).map((r: { index: number }) => r.index)).toEqual([1]);
    expect(await ok("db_createInstance", { name: "enc", backend_type: "InMemory" })).toBe(3);

    const log = readFileSync(join(dir, "audit.log"), "utf8");
    expect(log).not.toContain(key);
    expect(log).not.toContain(SECRET);
    const lines = log
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(
      expect.objectContaining({
        _event: "admin_call",
        _method: "db_updateSecurity",
        _instance: 1,
        _outcome: "ok",
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        _event: "auth_failure",
        _outcome: "denied",
        _error: "WRONG_SECRET",
      }),
    );
    expect(lines.some((l) => l._method === "health_check")).toBe(false);
  });

  it("answers application errors with stable codes", async () => {
    expect(
      await fails(
        "db_createInstance",
        { name: "t", backend_type: { lancedb: "t" }, encryption_enabled: true },
        -32003,
      ),
    ).toBe("encryption is not supported for backend LanceDb");
    await fails("db_createInstance", { name: "s", backend_type: "Redb" }, -32602); // needs a path
    expect(
      await fails(
        "db_createInstance",
        { name: "f", backend_type: { Tantivy: "f" }, encryption_enabled: true },
        -32003,
      ),
    ).toBe("encryption is not supported for backend Tantivy");
    expect(
      await fails(
        "db_createInstance",
        { name: "s", backend_type: "SQL", encryption_enabled: true },
        -32003,
      ),
    ).toBe("encryption is not supported for backend Sql");
    await ok("db_createInstance", { name: "dup", backend_type: "InMemory" });
    expect(
      await fails("db_createInstance", { name: "dup", backend_type: "InMemory" }, -32004),
    ).toMatch(/dup/);
    await fails("db_getInstance", { instance_index: 999 }, -32001);
    await fails("db_deleteInstance", { instance_index: 999 }, -32001);
    await fails("db_renameInstance", { instance_index: 999, name: "x" }, -32001);
    await fails("nope", {}, -32601);
  });

  it("answers only errors each method declares", async () => {
    for (const auth of [null, "wrong-secret"]) {
      const r = await call("db_listInstances", {}, auth);
      expect(declaredCodes("db_listInstances")).toContain(r.body.error.code);
    }
    for (const m of ["health_check", "rpc.discover", "db_listInstances", "cluster_status"]) {
      await fails(m, { extra: 1 }, -32602);
      await fails(m, [null], -32602);
    }
    await fails("db_renameInstance", { instance_index: 1, name: "a\nb" }, -32602);
    await fails("db_updateSecurity", { instance_index: 999 }, -32001);
    // This server runs alone: the cluster methods say so.
    await fails("cluster_status", {}, -32003);
    await fails("cluster_removeNode", { node_id: 2 }, -32003);
    await fails("cluster_transferLeader", { node_id: 2, group: 0 }, -32003);
    await fails("cluster_removeNode", { node_id: 0 }, -32602);
  });

  it("validates params, naming the bad field", async () => {
    expect(await fails("db_createInstance", { backend_type: "InMemory" }, -32602)).toMatch(
      /\bname is required/,
    );
    expect(await fails("db_createInstance", { name: 5, backend_type: "InMemory" }, -32602)).toMatch(
      /name must be a string/,
    );
    expect(await fails("db_createInstance", { name: "x", backend_type: "Bogus" }, -32602)).toMatch(
      /backend_type/,
    );
    expect(await fails("db_createInstance", { name: "x", backend_type: "Redb" }, -32602)).toMatch(
      /needs a path/,
    );
    expect(await fails("db_createInstance", { name: "x", backend_type: 7 }, -32602)).toMatch(
      /backend_type/,
    );
    expect(
      await fails("db_createInstance", { name: "x", backend_type: "InMemory", extra: 1 }, -32602),
    ).toMatch(/extra/);
    expect(await fails("db_getInstance", { instance_index: "1" }, -32602)).toMatch(
      /instance_index must be an integer/,
    );
    expect(await fails("db_getInstance", { instance_index: 0 }, -32602)).toMatch(
      /instance_index must be >= 1/,
    );
    expect(
      await fails(
        "db_updateSecurity",
        { instance_index: 1, add_keys: [{ key: "k", permission: "Write" }] },
        -32602,
      ),
    ).toMatch(/add_keys\[0\]\.permission must be one of "Read", "ReadWrite"/);
    expect(
      await fails("db_updateSecurity", { instance_index: 1, visibility: "Hidden" }, -32602),
    ).toMatch(/visibility/);
    const r = await call("db_getInstance", { instance_index: 0 });
    expect(r.body.error.data).toEqual({ field: "instance_index" });
  });

  it("accepts positional params", async () => {
    const index = await ok("db_createInstance", ["positional", "InMemory", false]);
    expect(await ok("db_getInstance", [index])).toMatchObject({ name: "positional" });
    expect(await ok("db_renameInstance", [index, "positional2"])).toBe(true);
    await fails("db_getInstance", [index, "extra"], -32602);
  });

  it("rolls the record back when the host cannot open the instance", async () => {
    const before = (await ok("db_listInstances")).length;
    host.failNextOpen = true;
    const msg = await fails(
      "db_createInstance",
      { name: "doomed", backend_type: "InMemory" },
      -32005,
    );
    expect(msg).toMatch(/doomed.*disk on fire/);
    expect(await ok("db_listInstances")).toHaveLength(before);
    const next = await ok("db_createInstance", { name: "doomed", backend_type: "InMemory" });
    expect(plane.catalog.get(next)?.name).toBe("doomed");
  });

  it("handles batches, notifications and protocol errors", async () => {
    const batch = await post([
      {
        jsonrpc: "2.0",
        method: "db_createInstance",
        params: { name: "b1", backend_type: "InMemory" },
        id: "a",
      },
      { jsonrpc: "2.0", method: "health_check", id: "b" },
      { jsonrpc: "2.0", method: "health_check" },
      { foo: 1 },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body).toHaveLength(3);
    expect(batch.body[0]).toMatchObject({ id: "a", result: expect.any(Number) });
    expect(batch.body[1]).toMatchObject({ id: "b", result: "OK" });
    expect(batch.body[2].error.code).toBe(-32600);

    const one = await post([{ jsonrpc: "2.0", method: "health_check", id: 9 }]);
    expect(one.body).toEqual([{ jsonrpc: "2.0", id: 9, result: "OK" }]);

    const note = await post({ jsonrpc: "2.0", method: "health_check" });
    expect(note).toEqual({ status: 204, body: null });

    const empty = await post([]);
    expect(empty.body.error.code).toBe(-32600);

    const mixed = await post(
      [
        { jsonrpc: "2.0", method: "health_check", id: 1 },
        { jsonrpc: "2.0", method: "db_listInstances", id: 2 },
      ],
      null,
    );
    expect(mixed.status).toBe(401);
    expect(mixed.body[0].result).toBe("OK");
    expect(mixed.body[1].error.code).toBe(-32002);

    const bad = await post("{not json");
    expect(bad.status).toBe(200);
    expect(bad.body).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error" },
    });
    expect((await post("")).body.error.code).toBe(-32700);
  });

  it("accepts a body without a JSON content type (curl -d)", async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: '{"jsonrpc":"2.0","method":"health_check","id":1}',
    });
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
  });

  it("refuses bodies over 1 MiB with 413 and a JSON-RPC error", async () => {
    const big = JSON.stringify({
      jsonrpc: "2.0",
      method: "health_check",
      params: ["x".repeat(1024 * 1024)],
      id: 1,
    });
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
    expect((await call("health_check")).body.result).toBe("OK");
  });

  it("answers unknown routes with a JSON error", async () => {
    const res = await fetch(url.replace(/\/$/, "/other"));
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).error.code).toBe(-32600);
  });

  it("reports a busy port as one clear error", async () => {
    await expect(startHttp({ plane, port: http.port })).rejects.toThrow(
      new RegExp(`HTTP API cannot listen on 127.0.0.1:${http.port}: address already in use`),
    );
  });
});

/** Send `payload` on a fresh connection, half-close, and collect the reply lines. */
function udsExchange(path: string, payload: string): Promise<Json[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("error", reject);
    s.on("end", () => {
      resolve(
        data
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l)),
      );
      s.destroy();
    });
    s.on("connect", () => s.end(payload));
  });
}

describe("Unix socket control plane", () => {
  let sockDir: string;
  let uds: UdsServer;
  let path: string;

  beforeAll(async () => {
    sockDir = mkdtempSync(join(tmpdir(), "herodb-uds-"));
    path = join(sockDir, "herodb.sock");
    uds = await startUds(path, plane);
  });
  afterAll(async () => {
    await uds.close();
    rmSync(sockDir, { recursive: true, force: true });
  });

  it("creates the socket with mode 0600", () => {
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("answers one line per request, in order, without a bearer", async () => {
    const replies = await udsExchange(
      path,
      [
        '{"jsonrpc":"2.0","method":"health_check","id":1}',
        '{"jsonrpc":"2.0","method":"db_createInstance","params":{"name":"via-uds","backend_type":"InMemory"},"id":2}',
        "",
        '{"jsonrpc":"2.0","method":"health_check"}',
        "not json",
        '[{"jsonrpc":"2.0","method":"db_listInstances","id":3}]',
      ].join("\n"),
    );
    expect(replies).toHaveLength(4);
    expect(replies[0]).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
    expect(replies[1]).toMatchObject({ id: 2, result: expect.any(Number) });
    expect(replies[2].error.code).toBe(-32700);
    expect(replies[3][0].result.some((r: { name: string }) => r.name === "via-uds")).toBe(true);
  });

  it("answers a final line without a newline (echo | socat)", async () => {
    const replies = await udsExchange(path, '{"jsonrpc":"2.0","method":"health_check","id":7}');
    expect(replies).toEqual([{ jsonrpc: "2.0", id: 7, result: "OK" }]);
  });

  it("closes a connection whose line is too long", async () => {
    const replies = await udsExchange(path, "x".repeat(1024 * 1024 + 10));
    expect(replies).toHaveLength(1);
    expect(replies[0].error.code).toBe(-32600);
  });

  it("refuses a live socket, replaces a stale one, and removes the file on close", async () => {
    await expect(startUds(path, plane)).rejects.toThrow(/another server is listening/);
    // A server killed with SIGKILL leaves its socket file behind with nobody listening.
    const stalePath = join(sockDir, "stale.sock");
    const child = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(stalePath)}, () => console.log("up"))`,
    ]);
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    child.kill("SIGKILL");
    await new Promise<void>((r) => child.once("exit", () => r()));
    expect(statSync(stalePath).isSocket()).toBe(true);
    const second = await startUds(stalePath, plane);
    const replies = await udsExchange(
      stalePath,
      '{"jsonrpc":"2.0","method":"health_check","id":1}',
    );
    expect(replies[0].result).toBe("OK");
    await second.close();
    expect(() => statSync(stalePath)).toThrow();
  });

  it("refuses a path that is not a socket", async () => {
    const file = join(sockDir, "plain");
    rmSync(file, { force: true });
    writeFileSync(file, "x");
    await expect(startUds(file, plane)).rejects.toThrow(/exists and is not a socket/);
  });
});

describe("method table", () => {
  function keywords(s: JsonSchema, out: Set<string>): void {
    for (const [k, v] of Object.entries(s)) {
      out.add(k);
      if (k === "items" || (k === "additionalProperties" && typeof v === "object"))
        keywords(v as JsonSchema, out);
      if (k === "properties")
        for (const sub of Object.values(v as object)) keywords(sub as JsonSchema, out);
      if (k === "oneOf") for (const sub of v as JsonSchema[]) keywords(sub, out);
    }
  }

  it("uses only schema keywords the validator enforces", () => {
    const used = new Set<string>();
    for (const m of METHODS) for (const p of m.params) keywords(p.schema, used);
    for (const k of used) expect(SUPPORTED_KEYWORDS.has(k), k).toBe(true);
  });

  it("declares each error code once per method, with a message", () => {
    const doc = buildOpenRpcDocument(METHODS, "1.2.3");
    for (const m of doc.methods) {
      const errors = m.errors as { code: number; message: string }[];
      const codes = errors.map((e) => e.code);
      expect(new Set(codes).size, m.name as string).toBe(codes.length);
      for (const e of errors) expect(e.message, `${m.name} ${e.code}`).not.toBe("");
    }
  });

  it("renders the OpenRPC document as Markdown", () => {
    const md = renderOpenRpcMarkdown(buildOpenRpcDocument(METHODS, "1.2.3"));
    for (const m of METHODS) expect(md).toContain(`## ${m.name}`);
    expect(md).toContain("| -32003 | UnsupportedBackend |");
  });
});
