/**
 * Bad input on the JSON-RPC control plane, over both transports: HTTP (fetch and curl) and the
 * Unix socket (a plain net socket and socat).
 *
 * Each kind of mistake must come back as its JSON-RPC 2.0 error code (-32700 parse, -32600 not a
 * request, -32601 unknown method, -32602 bad params naming the field, -32001 no such instance),
 * never as a crash, an HTML page or a closed connection; and the server must keep serving.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlRpc, rawResp, socatUds } from "../helpers/clients.ts";
import { type RpcResponse, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let mem: number;

beforeAll(async () => {
  server = await startServer();
  mem = await server.call<number>("db_createInstance", {
    name: "rpc-bad",
    backend_type: "InMemory",
  });
});

afterAll(async () => {
  await server?.cleanup();
});

const auth = () => ({ authorization: `Bearer ${server.secret}` });
const req = (method: string, params?: unknown, id: number | string = 1) =>
  params === undefined ? { jsonrpc: "2.0", method, id } : { jsonrpc: "2.0", method, params, id };

function errorOf(body: unknown): { code: number; message: string; data?: unknown } {
  const r = body as RpcResponse;
  expect(r.jsonrpc).toBe("2.0");
  expect(r.result).toBeUndefined();
  expect(r.error).toBeDefined();
  return r.error!;
}

describe("HTTP: protocol-level mistakes", () => {
  it("invalid JSON is -32700 with id null", async () => {
    const r = await server.http("{bad json", auth());
    expect(r.status).toBe(200);
    expect(errorOf(r.json).code).toBe(-32700);
    expect((r.json as RpcResponse).id).toBeNull();
  });

  it("invalid JSON via curl is -32700", async () => {
    const r = await curlRpc(server.apiPort, '{"jsonrpc":"2.0",', auth());
    expect(errorOf(r.json).code).toBe(-32700);
  });

  it("valid JSON that is not a request is -32600", async () => {
    for (const body of ["42", '"hello"', "null", '{"jsonrpc":"2.0","id":7}', '{"foo":1}']) {
      const r = await server.http(body, auth());
      expect(errorOf(r.json).code, body).toBe(-32600);
    }
  });

  it("an empty batch is -32600", async () => {
    const r = await server.http("[]", auth());
    expect(errorOf(r.json).code).toBe(-32600);
  });

  it("an unknown method is -32601 and keeps the id", async () => {
    const r = await server.rpc("db_doesNotExist", {});
    expect(r.error?.code).toBe(-32601);
    const c = await curlRpc(server.apiPort, req("nope", undefined, "abc"), auth());
    expect(errorOf(c.json).code).toBe(-32601);
    expect((c.json as RpcResponse).id).toBe("abc");
  });
});

describe("HTTP: bad params are -32602 naming the field", () => {
  const expectParams = (r: RpcResponse, field: string) => {
    expect(r.error?.code).toBe(-32602);
    expect(r.error?.message).toContain(field);
  };

  it("missing name", async () => {
    expectParams(await server.rpc("db_createInstance", { backend_type: "InMemory" }), "name");
  });

  it("backend_type 42", async () => {
    expectParams(
      await server.rpc("db_createInstance", { name: "x42", backend_type: 42 }),
      "backend_type",
    );
  });

  it("an unknown backend", async () => {
    const r = await server.rpc("db_createInstance", { name: "xfoo", backend_type: "FooDb" });
    expectParams(r, "backend_type");
    expect(r.error?.message).toContain("FooDb");
  });

  it("add_keys with a bad permission", async () => {
    const r = await server.rpc("db_updateSecurity", {
      instance_index: mem,
      add_keys: [{ key: "k1", permission: "Admin" }],
    });
    expectParams(r, "permission");
    expect(r.error?.message).toContain("add_keys");
  });

  it("instance_index of the wrong type, an unknown param, params not an object", async () => {
    expectParams(await server.rpc("db_getInstance", { instance_index: "one" }), "instance_index");
    expectParams(
      await server.rpc("db_getInstance", { instance_index: mem, colour: "red" }),
      "colour",
    );
    const r = await server.rpc("db_getInstance", "nope");
    expect([-32602, -32600]).toContain(r.error?.code);
  });

  it("encryption_enabled not a boolean", async () => {
    expectParams(
      await server.rpc("db_createInstance", {
        name: "xenc",
        backend_type: "InMemory",
        encryption_enabled: "yes",
      }),
      "encryption_enabled",
    );
  });

  it("none of the rejected calls created an instance", async () => {
    const list = await server.call<{ name: string }[]>("db_listInstances");
    expect(list.map((i) => i.name)).toEqual(["rpc-bad"]);
  });
});

describe("HTTP: application errors, limits, batches", () => {
  it("db_getInstance of a missing index is -32001 (no such instance)", async () => {
    const r = await server.rpc("db_getInstance", { instance_index: 9999 });
    expect(r.error?.code).toBe(-32001);
    expect(r.error?.message).toMatch(/9999/);
    const d = await server.rpc("db_deleteInstance", { instance_index: 9999 });
    expect(d.error?.code).toBe(-32001);
  });

  it("a 2 MiB body is HTTP 413 with a JSON-RPC error", async () => {
    const filler = "a".repeat(2 * 1024 * 1024);
    const body = JSON.stringify(
      req("db_createInstance", { name: filler, backend_type: "InMemory" }),
    );
    const r = await server.http(body, auth());
    expect(r.status).toBe(413);
    const e = errorOf(r.json);
    expect(e.code).toBeLessThan(0);
    expect(e.message).toMatch(/limit|large|exceed/i);
  });

  it("a 2 MiB body via curl is HTTP 413 too, every time", async () => {
    // curl sends "Expect: 100-continue" and uploads while the server answers; the 413 must reach
    // it every time, not only when the upload happens to finish before the server closes.
    const body = "x".repeat(2 * 1024 * 1024);
    for (let i = 0; i < 20; i++) {
      const r = await curlRpc(server.apiPort, body, auth());
      expect(r.status, `attempt ${i + 1}`).toBe(413);
      expect(errorOf(r.json).code).toBeLessThan(0);
    }
  });

  it("a batch of mixed good and bad calls answers each", async () => {
    const batch = [
      req("health_check", undefined, 1),
      { nonsense: true },
      req("no_such_method", {}, 3),
      req("db_createInstance", { backend_type: "InMemory" }, 4),
      req("db_getInstance", { instance_index: mem }, 5),
      req("db_getInstance", { instance_index: 9999 }, 6),
    ];
    const r = await server.http(batch, auth());
    expect(r.status).toBe(200);
    const replies = r.json as RpcResponse[];
    expect(Array.isArray(replies)).toBe(true);
    expect(replies).toHaveLength(6);
    const byId = new Map(replies.map((x) => [x.id, x]));
    expect(byId.get(1)?.result).toBe("OK");
    expect(replies.find((x) => x.id === null)?.error?.code).toBe(-32600);
    expect(byId.get(3)?.error?.code).toBe(-32601);
    expect(byId.get(4)?.error?.code).toBe(-32602);
    expect(byId.get(5)?.result).toMatchObject({ name: "rpc-bad" });
    expect(byId.get(6)?.error?.code).toBe(-32001);
  });
});

/** One Unix-socket connection that writes lines and reads reply lines one at a time. */
class LineClient {
  readonly sock: Socket;
  private buf = "";
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(path: string) {
    this.sock = connect(path);
    this.sock.setEncoding("utf8");
    this.sock.on("data", (d: string) => {
      this.buf += d;
      this.wake();
    });
    this.sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    this.sock.on("error", () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(line: string): void {
    this.sock.write(`${line}\n`);
  }

  /** The next reply line, parsed; rejects after timeoutMs or if the socket closes first. */
  async next(timeoutMs = 5000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return JSON.parse(line);
      }
      if (this.closed) throw new Error("socket closed before a reply line");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no reply line within the time limit");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

describe("Unix socket", () => {
  it("invalid JSON answers -32700 and the connection keeps serving the next line", async () => {
    const c = new LineClient(server.socketPath);
    try {
      c.send("{not json");
      expect(errorOf(await c.next()).code).toBe(-32700);
      c.send(JSON.stringify(req("health_check", undefined, 2)));
      expect(await c.next()).toEqual({ jsonrpc: "2.0", id: 2, result: "OK" });
      c.send("[1,2]");
      const batch = (await c.next()) as RpcResponse[];
      expect(batch.map((x) => x.error?.code)).toEqual([-32600, -32600]);
      c.send(JSON.stringify(req("db_nope", {}, 3)));
      expect(errorOf(await c.next()).code).toBe(-32601);
      c.send(JSON.stringify(req("db_createInstance", { name: "u", backend_type: 42 }, 4)));
      const e = errorOf(await c.next());
      expect(e.code).toBe(-32602);
      expect(e.message).toContain("backend_type");
      c.send(JSON.stringify(req("db_getInstance", { instance_index: 4242 }, 5)));
      expect(errorOf(await c.next()).code).toBe(-32001);
      c.send(JSON.stringify(req("db_getInstance", { instance_index: mem }, 6)));
      expect(((await c.next()) as RpcResponse<{ name: string }>).result?.name).toBe("rpc-bad");
      expect(c.closed).toBe(false);
    } finally {
      c.close();
    }
  });

  it("the same through socat, several lines in one go", async () => {
    const out = await socatUds(
      server.socketPath,
      ["{bad", "42", JSON.stringify(req("health_check", undefined, 9))].join("\n"),
    );
    const lines = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as RpcResponse);
    expect(lines.map((l) => l.error?.code ?? l.result)).toEqual([-32700, -32600, "OK"]);
  });
});

describe("afterwards", () => {
  it("the server is still healthy on every interface", async () => {
    expect((await server.rpc("health_check", {}, { auth: false })).result).toBe("OK");
    const c = await curlRpc(server.apiPort, req("health_check"));
    expect((c.json as RpcResponse).result).toBe("OK");
    const u = await socatUds(server.socketPath, JSON.stringify(req("health_check")));
    expect(JSON.parse(u).result).toBe("OK");
    expect(server.proc.exitCode).toBeNull();
    expect(await rawResp(server.port, "PING\r\n")).toBe("+PONG\r\n");
    expect(await server.call("db_getInstance", { instance_index: mem })).toMatchObject({
      name: "rpc-bad",
    });
  });
});
