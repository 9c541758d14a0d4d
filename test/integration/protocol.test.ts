/**
 * The RESP protocol itself, byte for byte: HELLO negotiation (RESP2/RESP3, AUTH, SETNAME), the
 * RESP3 reply types on the wire (map, double, set, null, push), their RESP2 forms, and the
 * connection commands QUIT, RESET, PING, ECHO, CLIENT, COMMAND and COMMANDS.
 *
 * Client libraries hide the wire types (a map and a flat array look the same to most of them),
 * so these checks read raw bytes from a socket. One test also runs node-redis in RESP3 mode to
 * show a real RESP3 client handshakes and decodes the same replies.
 */
import { connect, type Socket } from "node:net";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawResp, rawRespBytes, respCommand } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let mem: number;
let priv: number;
const READER_KEY = "proto-reader-key";

beforeAll(async () => {
  server = await startServer();
  mem = await server.call<number>("db_createInstance", { name: "proto", backend_type: "InMemory" });
  priv = await server.call<number>("db_createInstance", {
    name: "proto-private",
    backend_type: "InMemory",
  });
  await server.call("db_updateSecurity", {
    instance_index: priv,
    visibility: "Private",
    add_keys: [{ key: READER_KEY, permission: "ReadWrite" }],
  });
  const r = new Redis({ host: "127.0.0.1", port: server.port, db: mem, lazyConnect: true });
  await r.connect();
  await r.hset("h", "f", "v");
  await r.zadd("z", 1.5, "a");
  await r.sadd("s", "x");
  r.disconnect();
});

afterAll(async () => {
  await server?.cleanup();
});

/** A raw connection that stays open, for exchanges that need several round trips. */
class RawConn {
  private readonly sock: Socket;
  private buf = "";
  private wake: (() => void) | null = null;
  closed = false;

  constructor(port: number) {
    this.sock = connect({ host: "127.0.0.1", port });
    this.sock.setEncoding("utf8");
    this.sock.on("data", (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    this.sock.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    this.sock.on("error", () => {});
  }

  send(...args: (string | number)[]): this {
    this.sock.write(respCommand(...args));
    return this;
  }

  /** Waits (bounded) for exactly `expected.length` characters and returns them. */
  async read(expected: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < expected.length && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    const got = this.buf.slice(0, expected.length);
    this.buf = this.buf.slice(expected.length);
    return got;
  }

  /** Sends one command and returns its reply, which must be exactly `expected`. */
  async expect(expected: string, ...args: (string | number)[]): Promise<void> {
    this.send(...args);
    expect(await this.read(expected), args.join(" ")).toBe(expected);
  }

  close(): void {
    this.sock.destroy();
  }
}

const cmds = (...list: (string | number)[][]) => Buffer.concat(list.map((a) => respCommand(...a)));
const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

describe("HELLO", () => {
  it("HELLO 3 answers a map with server, version, proto and id", async () => {
    const out = await rawResp(server.port, cmds(["HELLO", 3], ["CLIENT", "ID"]));
    expect(out).toMatch(/^%\d+\r\n/);
    expect(out).toContain(`${bulk("server")}${bulk("herodb")}`);
    expect(out).toMatch(/\$7\r\nversion\r\n\$\d+\r\n\d+\.\d+\.\d+[^\r]*\r\n/);
    expect(out).toContain(`${bulk("proto")}:3\r\n`);
    const id = /\$2\r\nid\r\n:(\d+)\r\n/.exec(out)?.[1];
    expect(id).toBeDefined();
    expect(out.endsWith(`:${id}\r\n`)).toBe(true); // CLIENT ID agrees
  });

  it("HELLO 2 switches back to RESP2 (a flat array)", async () => {
    const out = await rawResp(server.port, cmds(["HELLO", 3], ["HELLO", 2]));
    // The RESP3 map ends with its empty "modules" array; the RESP2 reply follows.
    const second = out.slice(out.indexOf("*0\r\n") + 4);
    expect(second).toMatch(/^\*14\r\n/);
    expect(second).toContain(`${bulk("proto")}:2\r\n`);
  });

  it("HELLO with no version reports the current protocol", async () => {
    const out = await rawResp(server.port, cmds(["HELLO"]));
    expect(out).toMatch(/^\*\d+\r\n/);
    expect(out).toContain(`${bulk("proto")}:2\r\n`);
  });

  it("HELLO 4 is -NOPROTO and leaves the protocol alone", async () => {
    const out = await rawResp(server.port, cmds(["HELLO", 4], ["SELECT", mem], ["GET", "nope"]));
    expect(out).toMatch(/^-NOPROTO [^\r\n]+\r\n\+OK\r\n\$-1\r\n$/);
  });

  it("HELLO 3 AUTH default <key> SETNAME n", async () => {
    const out = await rawResp(
      server.port,
      cmds(
        ["HELLO", 3, "AUTH", "default", READER_KEY, "SETNAME", "proto-client"],
        ["CLIENT", "GETNAME"],
        ["SELECT", priv],
        ["SET", "pk", "pv"],
        ["GET", "pk"],
      ),
    );
    expect(out).toMatch(/^%\d+\r\n/);
    expect(out.endsWith(`${bulk("proto-client")}+OK\r\n+OK\r\n${bulk("pv")}`)).toBe(true);
  });

  it("HELLO 3 AUTH with a wrong key is refused and changes nothing", async () => {
    const out = await rawResp(
      server.port,
      cmds(["HELLO", 3, "AUTH", "default", "wrong", "SETNAME", "x"], ["CLIENT", "GETNAME"]),
    );
    expect(out).toMatch(/^-WRONGPASS [^\r]*\r\n\$-1\r\n$/);
  });
});

describe("RESP3 types on the wire", () => {
  it("% map, , double, ~ set, _ null", async () => {
    const out = await rawResp(
      server.port,
      cmds(
        ["HELLO", 3],
        ["SELECT", mem],
        ["HGETALL", "h"],
        ["ZSCORE", "z", "a"],
        ["SMEMBERS", "s"],
        ["GET", "missing"],
        ["HGETALL", "missing"],
        ["ZSCORE", "z", "missing"],
      ),
    );
    const after = out.slice(out.indexOf("+OK\r\n") + 5);
    expect(after).toBe(`%1\r\n${bulk("f")}${bulk("v")},1.5\r\n~1\r\n${bulk("x")}_\r\n%0\r\n_\r\n`);
  });

  it("RESP2 gets the * and $ forms of the same replies", async () => {
    const out = await rawResp(
      server.port,
      cmds(
        ["SELECT", mem],
        ["HGETALL", "h"],
        ["ZSCORE", "z", "a"],
        ["SMEMBERS", "s"],
        ["GET", "missing"],
        ["HGETALL", "missing"],
        ["ZSCORE", "z", "missing"],
      ),
    );
    expect(out).toBe(
      `+OK\r\n*2\r\n${bulk("f")}${bulk("v")}${bulk("1.5")}*1\r\n${bulk("x")}$-1\r\n*0\r\n$-1\r\n`,
    );
  });

  it("> push frames for SUBSCRIBE and messages in RESP3", async () => {
    const s = new RawConn(server.port);
    const p = new RawConn(server.port);
    try {
      await s.expect("+OK\r\n", "SELECT", mem);
      await p.expect("+OK\r\n", "SELECT", mem);
      // Skip the HELLO map: a PING right behind it marks where it ends.
      s.send("HELLO", 3).send("PING");
      expect(await drainUntil(s, "+PONG\r\n")).toMatch(/^%\d+\r\n/);
      await s.expect(`>3\r\n${bulk("subscribe")}${bulk("ch")}:1\r\n`, "SUBSCRIBE", "ch");
      await p.expect(":1\r\n", "PUBLISH", "ch", "hello");
      expect(await s.read(`>3\r\n${bulk("message")}${bulk("ch")}${bulk("hello")}`)).toBe(
        `>3\r\n${bulk("message")}${bulk("ch")}${bulk("hello")}`,
      );
      // RESP3 subscribers may run ordinary commands.
      await s.expect("+PONG\r\n", "PING");
      await s.expect(`>3\r\n${bulk("unsubscribe")}${bulk("ch")}:0\r\n`, "UNSUBSCRIBE", "ch");
    } finally {
      s.close();
      p.close();
    }
  });

  it("RESP2 subscribers get arrays, and only pub/sub commands", async () => {
    const s = new RawConn(server.port);
    const p = new RawConn(server.port);
    try {
      await s.expect("+OK\r\n", "SELECT", mem);
      await p.expect("+OK\r\n", "SELECT", mem);
      await s.expect(`*3\r\n${bulk("subscribe")}${bulk("ch2")}:1\r\n`, "SUBSCRIBE", "ch2");
      await p.expect(":1\r\n", "PUBLISH", "ch2", "hi");
      const msg = `*3\r\n${bulk("message")}${bulk("ch2")}${bulk("hi")}`;
      expect(await s.read(msg)).toBe(msg);
      await s.expect(`*2\r\n${bulk("pong")}${bulk("")}`, "PING");
      s.send("GET", "k");
      const line = await drainUntil(s, "\r\n");
      expect(line).toMatch(/^-ERR Can't execute 'get'/);
    } finally {
      s.close();
      p.close();
    }
  });
});

/** Reads from `c` until `marker` has been seen; returns everything up to and including it. */
async function drainUntil(c: RawConn, marker: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let got = "";
  while (!got.endsWith(marker)) {
    if (Date.now() > deadline || c.closed) throw new Error(`never saw ${JSON.stringify(marker)}`);
    got += await c.read("x", Math.max(1, deadline - Date.now()));
  }
  return got;
}

describe("connection commands", () => {
  it("QUIT replies +OK and closes; later commands are not run", async () => {
    const r = await rawRespBytes(server.port, cmds(["PING"], ["QUIT"], ["PING"]));
    expect(r.data.toString()).toBe("+PONG\r\n+OK\r\n");
    expect(r.closed).toBe(true);
  });

  it("RESET answers +RESET, deselects and returns to RESP2", async () => {
    const out = await rawResp(
      server.port,
      cmds(
        ["HELLO", 3],
        ["CLIENT", "SETNAME", "before-reset"],
        ["SELECT", mem],
        ["RESET"],
        ["GET", "k"],
        ["CLIENT", "GETNAME"],
      ),
    );
    const tail = out.slice(out.indexOf("+RESET\r\n"));
    const lines = tail.split("\r\n");
    expect(lines[0]).toBe("+RESET");
    expect(lines[1]).toMatch(/^-\S+ .*SELECT/);
    expect(lines.slice(2).join("\r\n")).toBe("$-1\r\n"); // RESP2 null: proto and name reset
  });

  it("PING and ECHO", async () => {
    expect(
      await rawResp(
        server.port,
        cmds(["PING"], ["PING", "hi there"], ["ECHO", "é\r\nx"], ["ECHO", ""]),
      ),
    ).toBe(`+PONG\r\n${bulk("hi there")}${bulk("é\r\nx")}${bulk("")}`);
    expect(await rawResp(server.port, cmds(["PING", "a", "b"]))).toBe(
      "-ERR wrong number of arguments for 'ping' command\r\n",
    );
  });

  it("CLIENT ID and CLIENT INFO", async () => {
    const out = await rawResp(
      server.port,
      cmds(["CLIENT", "ID"], ["CLIENT", "SETNAME", "infotest"], ["CLIENT", "INFO"]),
    );
    const id = /^:(\d+)\r\n/.exec(out)?.[1];
    expect(Number(id)).toBeGreaterThan(0);
    expect(out).toContain("+OK\r\n");
    expect(out).toContain(`id=${id} `);
    expect(out).toContain("name=infotest ");
    expect(out).toMatch(/resp=2/);
    const r3 = await rawResp(server.port, cmds(["HELLO", 3], ["CLIENT", "INFO"]));
    // RESP3: a verbatim string ("=<len>\r\ntxt:...").
    expect(r3).toMatch(/=\d+\r\ntxt:id=\d+ /);
    expect(r3).toMatch(/resp=3/);
  });

  it("two connections get different CLIENT IDs", async () => {
    const [x, y] = await Promise.all([
      rawResp(server.port, cmds(["CLIENT", "ID"])),
      rawResp(server.port, cmds(["CLIENT", "ID"])),
    ]);
    expect(x).toMatch(/^:\d+\r\n$/);
    expect(x).not.toBe(y);
  });

  it("COMMAND COUNT is a positive integer; COMMAND INFO GET reports arity 2", async () => {
    const count = await rawResp(server.port, cmds(["COMMAND", "COUNT"]));
    expect(count).toMatch(/^:\d+\r\n$/);
    expect(Number(count.slice(1))).toBeGreaterThan(50);
    const info = await rawResp(server.port, cmds(["COMMAND", "INFO", "GET"]));
    expect(info.startsWith(`*1\r\n*10\r\n${bulk("get")}:2\r\n`)).toBe(true);
    const none = await rawResp(server.port, cmds(["COMMAND", "INFO", "nosuchcmd"]));
    expect(none).toBe("*1\r\n$-1\r\n"); // Redis: a null entry per unknown name
  });

  it("COMMANDS lists GET when an in-memory instance is selected", async () => {
    const out = await rawResp(server.port, cmds(["SELECT", mem], ["COMMANDS"]), { idleMs: 300 });
    expect(out.startsWith("+OK\r\n*")).toBe(true);
    const names = out.split("\r\n").filter((l) => !/^[$*+:]/.test(l));
    expect(names).toContain("GET");
    expect(names).toContain("HSET");
    expect(names).toContain("PING");
  });
});

describe("a real RESP3 client", () => {
  it("node-redis with RESP 3 handshakes and decodes maps, sets and doubles", async () => {
    const client = createClient({
      url: `redis://127.0.0.1:${server.port}/${mem}`,
      RESP: 3,
      socket: { connectTimeout: 5000, reconnectStrategy: false },
    });
    client.on("error", () => {});
    await client.connect();
    try {
      expect(await client.hGetAll("h")).toEqual({ f: "v" });
      expect(await client.zScore("z", "a")).toBe(1.5);
      expect([...(await client.sMembers("s"))]).toEqual(["x"]);
      expect(await client.get("missing")).toBeNull();
    } finally {
      client.destroy();
    }
  });
});
