/**
 * Bad input on the RESP port, over raw TCP: malformed frames, oversized headers, unknown commands,
 * wrong arity, wrong types, missing SELECT, namespace mismatches, split and inline input.
 *
 * Why raw bytes: client libraries never send malformed RESP, so only a raw socket can prove the
 * parser refuses it the way Redis does (protocol errors close the connection; command errors keep
 * it open). A second, well-behaved ioredis client stays connected the whole time and must keep
 * answering during and after the abuse: one client's garbage must never hurt another.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rawResp, rawRespBytes, respCommand } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let mem: number;
let bystander: Redis;

const BULK_TOO_BIG = "-ERR Protocol error: invalid bulk length\r\n";
const MBULK_TOO_BIG = "-ERR Protocol error: invalid multibulk length\r\n";

beforeAll(async () => {
  server = await startServer();
  mem = await server.call<number>("db_createInstance", {
    name: "bad-resp",
    backend_type: "InMemory",
  });
  bystander = new Redis({ host: "127.0.0.1", port: server.port, db: mem, lazyConnect: true });
  await bystander.connect();
  await bystander.set("bystander", "still here");
});

afterAll(async () => {
  bystander?.disconnect();
  await server?.cleanup();
});

afterEach(async () => {
  // The well-behaved client is unaffected by whatever the test just sent.
  expect(await bystander.ping()).toBe("PONG");
  expect(await bystander.get("bystander")).toBe("still here");
});

const sel = () => respCommand("SELECT", mem);

describe("malformed RESP closes the connection with a protocol error", () => {
  it("a bulk header that is not a number", async () => {
    const r = await rawRespBytes(server.port, "*1\r\n$x\r\n");
    expect(r.data.toString()).toBe(BULK_TOO_BIG);
    expect(r.closed).toBe(true);
  });

  it("an integer where a bulk string must be", async () => {
    const r = await rawRespBytes(server.port, "*2\r\n$3\r\nGET\r\n:5\r\n");
    expect(r.data.toString()).toMatch(/^-ERR Protocol error[^\r\n]*\r\n$/);
    expect(r.data.toString()).toBe("-ERR Protocol error: expected '$', got ':'\r\n");
    expect(r.closed).toBe(true);
  });

  it("commands before the broken frame are answered first", async () => {
    const r = await rawRespBytes(server.port, [
      Buffer.concat([respCommand("PING"), respCommand("ECHO", "a"), Buffer.from("*1\r\n$x\r\n")]),
    ]);
    expect(r.data.toString()).toBe(`+PONG\r\n$1\r\na\r\n${BULK_TOO_BIG}`);
    expect(r.closed).toBe(true);
  });

  it("a bulk string not followed by CRLF", async () => {
    const r = await rawRespBytes(server.port, "*1\r\n$4\r\nPINGxx\r\n");
    expect(r.data.toString()).toMatch(/^-ERR Protocol error[^\r\n]*\r\n$/);
    expect(r.closed).toBe(true);
  });

  it("an unbalanced quote in an inline command", async () => {
    const r = await rawRespBytes(server.port, 'SET a "b\r\n');
    expect(r.data.toString()).toMatch(/^-ERR Protocol error[^\r\n]*\r\n$/);
    expect(r.closed).toBe(true);
  });
});

describe("oversized headers are refused at once", () => {
  // The body is never sent: a server that waited for it would neither answer nor close before
  // the helper's overall timeout, so `closed` proves the refusal did not wait.
  it("$4294967296 bulk header", async () => {
    const r = await rawRespBytes(server.port, "*2\r\n$3\r\nSET\r\n$4294967296\r\n", {
      timeoutMs: 10_000,
    });
    expect(r.data.toString()).toBe(BULK_TOO_BIG);
    expect(r.closed).toBe(true);
  });

  it("*1000000 array header", async () => {
    const r = await rawRespBytes(server.port, "*1000000\r\n", { timeoutMs: 10_000 });
    expect(r.data.toString()).toBe(MBULK_TOO_BIG);
    expect(r.closed).toBe(true);
  });

  it("a negative bulk length inside an array", async () => {
    const r = await rawRespBytes(server.port, "*1\r\n$-5\r\n");
    expect(r.data.toString()).toBe(BULK_TOO_BIG);
    expect(r.closed).toBe(true);
  });

  it("an inline line over 64 KiB without a newline", async () => {
    const r = await rawRespBytes(server.port, Buffer.alloc(70 * 1024, "a"), { timeoutMs: 10_000 });
    expect(r.data.toString()).toBe("-ERR Protocol error: too big inline request\r\n");
    expect(r.closed).toBe(true);
  });

  it("an inline line over 64 KiB sent in pieces", async () => {
    const piece = Buffer.alloc(16 * 1024, "b");
    const r = await rawRespBytes(server.port, [piece, piece, piece, piece, piece], {
      timeoutMs: 10_000,
    });
    expect(r.data.toString()).toBe("-ERR Protocol error: too big inline request\r\n");
    expect(r.closed).toBe(true);
  });
});

describe("command errors keep the connection open", () => {
  it("unknown command names the command and its first arguments", async () => {
    const r = await rawRespBytes(server.port, [respCommand("foo", "bar", "baz"), "PING\r\n"]);
    expect(r.data.toString()).toBe(
      "-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n+PONG\r\n",
    );
    expect(r.closed).toBe(false);
  });

  it("unknown command without arguments", async () => {
    expect(await rawResp(server.port, "FOO\r\nPING\r\n")).toBe(
      "-ERR unknown command 'FOO', with args beginning with: \r\n+PONG\r\n",
    );
  });

  it("wrong arity", async () => {
    const r = await rawRespBytes(server.port, [
      Buffer.concat([sel(), respCommand("GET"), respCommand("GET", "a", "b"), respCommand("PING")]),
    ]);
    expect(r.data.toString()).toBe(
      "+OK\r\n" +
        "-ERR wrong number of arguments for 'get' command\r\n" +
        "-ERR wrong number of arguments for 'get' command\r\n" +
        "+PONG\r\n",
    );
    expect(r.closed).toBe(false);
  });

  it("WRONGTYPE", async () => {
    const out = await rawResp(
      server.port,
      Buffer.concat([
        sel(),
        respCommand("SET", "wt:str", "x"),
        respCommand("LPUSH", "wt:str", "y"),
        respCommand("HGET", "wt:str", "f"),
        respCommand("GET", "wt:str"),
      ]),
    );
    const wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    expect(out).toBe(`+OK\r\n+OK\r\n${wrongtype}${wrongtype}$1\r\nx\r\n`);
  });

  it("GET before SELECT names SELECT", async () => {
    const out = await rawResp(
      server.port,
      Buffer.concat([respCommand("GET", "k"), respCommand("PING")]),
    );
    const [first, second] = out.split("\r\n");
    expect(first).toMatch(/^-\S+ .*SELECT/);
    expect(second).toBe("+PONG");
  });

  it("SELECT of a missing instance is an error and changes nothing", async () => {
    const out = await rawResp(
      server.port,
      Buffer.concat([
        respCommand("SELECT", 9999),
        respCommand("SELECT", "abc"),
        respCommand("GET", "k"),
      ]),
    );
    const lines = out.split("\r\n");
    expect(lines[0]).toBe("-ERR no such instance: 9999");
    expect(lines[1]).toMatch(/^-ERR /);
    expect(lines[2]).toMatch(/^-\S+ .*SELECT/);
  });

  it("unknown subcommand", async () => {
    expect(await rawResp(server.port, "CLIENT FOO\r\nPING\r\n")).toBe(
      "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n+PONG\r\n",
    );
  });

  it("a namespace prefix that does not match the instance is refused", async () => {
    const out = await rawResp(
      server.port,
      Buffer.concat([
        sel(),
        respCommand("REDB", "GET", "ns:k"),
        respCommand("INMEMORY", "SET", "ns:k", "v"),
        respCommand("GET", "ns:k"),
        respCommand("inmemory", "GET", "ns:k"),
      ]),
    );
    const lines = out.split("\r\n");
    expect(lines[0]).toBe("+OK");
    expect(lines[1]).toMatch(/^-ERR .*REDB/);
    expect(lines.slice(2).join("\r\n")).toBe("+OK\r\n$1\r\nv\r\n$1\r\nv\r\n");
  });

  it("a namespace prefix before SELECT names SELECT", async () => {
    const out = await rawResp(server.port, respCommand("INMEMORY", "GET", "k"));
    expect(out).toMatch(/^-\S+ .*SELECT.*\r\n$/);
  });
});

describe("split and inline input", () => {
  const expected = "+OK\r\n+OK\r\n$2\r\nv1\r\n+PONG\r\n$3\r\nhé\r\n";
  const build = () =>
    Buffer.concat([
      respCommand("SELECT", mem),
      respCommand("SET", "split:k", "v1"),
      respCommand("GET", "split:k"),
      Buffer.from("PING\r\n"),
      respCommand("ECHO", "hé"),
    ]);

  it("a pipeline sent one byte at a time", async () => {
    const bytes = build();
    const chunks = Array.from(bytes, (b) => Buffer.from([b]));
    const r = await rawRespBytes(server.port, chunks, {
      chunkDelayMs: 2,
      idleMs: 1500,
      timeoutMs: 20_000,
    });
    expect(r.data.toString()).toBe(expected);
    expect(r.closed).toBe(false);
  });

  it("a pipeline split in two at every byte boundary", async () => {
    const bytes = build();
    const results: string[] = [];
    // A few connections at a time keeps the run short without flooding the server.
    for (let start = 1; start < bytes.length; start += 8) {
      const batch: Promise<string>[] = [];
      for (let i = start; i < Math.min(start + 8, bytes.length); i++) {
        batch.push(
          rawResp(server.port, [bytes.subarray(0, i), bytes.subarray(i)], { chunkDelayMs: 5 }),
        );
      }
      results.push(...(await Promise.all(batch)));
    }
    expect(results).toHaveLength(bytes.length - 1);
    for (const [i, out] of results.entries()) expect(out, `split at byte ${i + 1}`).toBe(expected);
  });

  it("many pipelined commands in one write", async () => {
    const n = 500;
    const parts = [sel()];
    for (let i = 0; i < n; i++) parts.push(respCommand("INCR", "pipe:counter"));
    const out = await rawResp(server.port, Buffer.concat(parts), { idleMs: 500 });
    const lines = out.split("\r\n").filter((l) => l !== "");
    expect(lines).toHaveLength(n + 1);
    expect(lines[n]).toBe(`:${n}`);
  });

  it("inline commands work like telnet", async () => {
    const out = await rawResp(
      server.port,
      `PING\r\nSELECT ${mem}\r\nSET a "b c"\r\nGET a\r\nSET q 'it''s'\r\nECHO "tab\\there"\nGET a\r\n`,
    );
    const lines = out.split("\r\n");
    expect(lines.slice(0, 5)).toEqual(["+PONG", "+OK", "+OK", "$3", "b c"]);
    // `'it''s'`: a closing quote followed by a non-space is a protocol error, as in Redis.
    expect(lines[5]).toMatch(/^-ERR Protocol error/);
    expect(await rawResp(server.port, `SELECT ${mem}\r\nECHO "tab\\there"\nGET a\n\r\n`)).toBe(
      "+OK\r\n$8\r\ntab\there\r\n$3\r\nb c\r\n",
    );
  });

  it("blank inline lines are ignored", async () => {
    expect(await rawResp(server.port, "\r\n\r\n   \r\nPING\r\n")).toBe("+PONG\r\n");
  });
});

describe("the server survives all of it", () => {
  it("answers new connections and the bystander afterwards", async () => {
    expect(await rawResp(server.port, respCommand("PING"))).toBe("+PONG\r\n");
    expect(await bystander.dbsize()).toBeGreaterThan(0);
    expect((await server.rpc("health_check")).result).toBe("OK");
    expect(server.proc.exitCode).toBeNull();
  });
});
