/**
 * The RESP request reader (src/resp/parser.ts) on hand-written streams: arrays and inline
 * commands, every possible split of a stream into two reads and byte-at-a-time delivery, the
 * header limits (checked before a body is buffered), protocol errors, and large bulks arriving
 * in many reads. Randomised coverage lives in fuzz-parser.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_LIMITS,
  type ParserLimits,
  ProtocolError,
  type Request,
  RequestParser,
  splitInline,
} from "../../src/resp/parser.ts";

type Out = (string[] | { error: string })[];

/** Parser output as strings (latin1, so every byte survives) and `{error}` for a ProtocolError. */
function show(items: (Request | ProtocolError)[]): Out {
  return items.map((x) =>
    x instanceof ProtocolError
      ? { error: x.message }
      : [x.name, ...x.args.map((b) => b.toString("latin1"))],
  );
}

function feedAll(chunks: (string | Buffer)[], limits?: ParserLimits): Out {
  const p = new RequestParser(limits);
  const out: Out = [];
  for (const c of chunks) {
    out.push(...show(p.feed(Buffer.isBuffer(c) ? c : Buffer.from(c, "latin1"))));
    // The server answers a protocol error and closes the connection: nothing more is read.
    if (out.length > 0 && "error" in out[out.length - 1]) break;
  }
  return out;
}

const resp = (...args: string[]): string =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`).join("")}`;

const SMALL: ParserLimits = { maxBulk: 16, maxArgs: 4, maxInline: 32 };

describe("RESP arrays", () => {
  it("parses one command and a pipeline in one read", () => {
    expect(feedAll([resp("GET", "k")])).toEqual([["GET", "k"]]);
    expect(feedAll([resp("SET", "k", "v") + resp("GET", "k") + resp("PING")])).toEqual([
      ["SET", "k", "v"],
      ["GET", "k"],
      ["PING"],
    ]);
  });

  it("keeps binary bulks exact, including CR, LF and empty strings", () => {
    const bin = "\x00\r\n\xff$*\r";
    expect(feedAll([resp("SET", bin, "")])).toEqual([["SET", bin, ""]]);
  });

  it("ignores empty and null multibulk headers", () => {
    expect(feedAll(["*0\r\n*-1\r\n", resp("PING")])).toEqual([["PING"]]);
  });

  it("accepts LF-only header lines", () => {
    expect(feedAll(["*1\n$4\nPING\r\n"])).toEqual([["PING"]]);
  });

  it("returns copies, not views of the caller's buffer", () => {
    const p = new RequestParser();
    const chunk = Buffer.from(resp("SET", "key", "value"));
    const [cmd] = p.feed(chunk) as Request[];
    chunk.fill(0x41);
    expect([cmd.name, ...cmd.args.map(String)]).toEqual(["SET", "key", "value"]);
  });
});

describe("argument copies", () => {
  /** A read buffer of its own (Buffer.from would take a slice of Node's shared pool). */
  const read = (text: string): Buffer => {
    const b = Buffer.alloc(Buffer.byteLength(text, "latin1"));
    b.write(text, "latin1");
    return b;
  };
  const viewOf = (a: Buffer, of: Buffer): boolean =>
    a.buffer === of.buffer &&
    a.byteOffset >= of.byteOffset &&
    a.byteOffset + a.length <= of.byteOffset + of.length;

  it("gives views of the bytes read to a command that keeps no arguments", () => {
    const p = new RequestParser(DEFAULT_LIMITS, (name) => name !== "GET");
    const chunk = read(resp("GET", "k") + resp("SET", "k", "v"));
    const [get, set] = p.feed(chunk) as Request[];
    expect(viewOf(get.args[0], chunk)).toBe(true);
    expect(viewOf(set.args[0], chunk)).toBe(false);
    chunk.fill(0x41);
    expect(set.args.map(String)).toEqual(["k", "v"]);
  });

  it("copies a small read once for all its commands and a large one per command", () => {
    const p = new RequestParser();
    const text = resp("SET", "a", "1") + resp("SET", "b", "2");
    const small = p.feed(read(text)) as Request[];
    const [a, b] = [small[0].args[0], small[1].args[0]];
    // One copy, laid out as the read was.
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset - a.byteOffset).toBe(text.indexOf("\r\nb\r\n") - text.indexOf("\r\na\r\n"));
    // Over 4 KiB: each command gets a copy of its own (of its arguments only), so a stored
    // value does not keep the other commands of its read alive.
    const value = "v".repeat(5000);
    const big = resp("SET", "a", value) + resp("SET", "b", value);
    const large = p.feed(read(big)) as Request[];
    const [v1, v2] = [large[0].args[1], large[1].args[1]];
    const inStream = big.lastIndexOf(value) - big.indexOf(value);
    expect(v1.buffer === v2.buffer && v2.byteOffset - v1.byteOffset === inStream).toBe(false);
    expect(large.map((r) => r.args.map(String))).toEqual([
      ["a", value],
      ["b", value],
    ]);
  });
});

describe("inline commands", () => {
  it("splits on spaces and tabs, CRLF or LF terminated", () => {
    expect(feedAll(["PING\r\n", "SET  k\tv\n"])).toEqual([["PING"], ["SET", "k", "v"]]);
  });

  it("skips blank lines", () => {
    expect(feedAll(["\r\n\n   \r\nPING\r\n"])).toEqual([["PING"]]);
  });

  it("honours double quotes with escapes", () => {
    expect(feedAll(['SET k "hello world"\r\n'])).toEqual([["SET", "k", "hello world"]]);
    expect(feedAll(['SET k "a\\nb\\r\\t\\b\\a\\x41\\xfF\\"\\\\"\r\n'])).toEqual([
      ["SET", "k", 'a\nb\r\t\b\x07A\xff"\\'],
    ]);
    expect(feedAll(['SET k ""\r\n'])).toEqual([["SET", "k", ""]]);
    // An incomplete \x escape keeps the x.
    expect(feedAll(['SET k "\\xZ1"\r\n'])).toEqual([["SET", "k", "xZ1"]]);
  });

  it("honours single quotes, where only \\' is an escape", () => {
    expect(feedAll(["SET k 'it\\'s \\n'\r\n"])).toEqual([["SET", "k", "it's \\n"]]);
  });

  it("refuses unbalanced quotes and text glued to a closing quote", () => {
    const bad = { error: "Protocol error: unbalanced quotes in request" };
    expect(feedAll(['SET k "abc\r\n'])).toEqual([bad]);
    expect(feedAll(["SET k 'abc\r\n"])).toEqual([bad]);
    expect(feedAll(['SET k "abc"def\r\n'])).toEqual([bad]);
  });

  it("splitInline agrees with the parser", () => {
    expect(splitInline("a \"b c\" 'd'")?.map(String)).toEqual(["a", "b c", "d"]);
    expect(splitInline("   ")).toEqual([]);
    expect(splitInline('"x')).toBeNull();
  });

  it("mixes with arrays in one stream", () => {
    expect(feedAll([`PING\r\n${resp("GET", "k")}ECHO hi\r\n`])).toEqual([
      ["PING"],
      ["GET", "k"],
      ["ECHO", "hi"],
    ]);
  });
});

describe("split reads", () => {
  const stream =
    resp("SET", "key", "a\r\nb") +
    "PING\r\n" +
    resp("MSET", "k1", "", "k2", "x".repeat(40)) +
    '  ECHO "q w"\r\n' +
    "*0\r\n" +
    resp("GET", "key");
  const expected = feedAll([stream]);

  it("gives the same commands at every split point", () => {
    expect(expected).toHaveLength(5);
    for (let i = 1; i < stream.length; i++) {
      expect(feedAll([stream.slice(0, i), stream.slice(i)]), `split at ${i}`).toEqual(expected);
    }
  });

  it("gives the same commands at every pair of split points", () => {
    for (let i = 1; i < stream.length; i += 3) {
      for (let j = i + 1; j < stream.length; j += 2) {
        const parts = [stream.slice(0, i), stream.slice(i, j), stream.slice(j)];
        expect(feedAll(parts), `split at ${i},${j}`).toEqual(expected);
      }
    }
  });

  it("gives the same commands one byte at a time", () => {
    expect(feedAll([...stream])).toEqual(expected);
  });

  it("tolerates empty reads", () => {
    expect(feedAll(["", resp("PING").slice(0, 5), "", resp("PING").slice(5), ""])).toEqual([
      ["PING"],
    ]);
  });

  it("reports bytes buffered for a partial command and clears them when it completes", () => {
    const p = new RequestParser();
    const whole = resp("SET", "k", "value");
    p.feed(Buffer.from(whole.slice(0, 10)));
    expect(p.buffered).toBe(10);
    p.feed(Buffer.from(whole.slice(10)));
    expect(p.buffered).toBe(0);
  });
});

describe("large bulks", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("assembles a 1 MiB value sent in 1 KiB reads, joining the parts only a few times", () => {
    const value = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff;
    const whole = Buffer.concat([
      Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n`),
      value,
      Buffer.from("\r\n"),
    ]);
    const p = new RequestParser();
    const concat = vi.spyOn(Buffer, "concat");
    const got: Request[] = [];
    for (let off = 0; off < whole.length; off += 1024) {
      for (const c of p.feed(whole.subarray(off, off + 1024))) got.push(c as Request);
    }
    expect(concat.mock.calls.length).toBeLessThanOrEqual(4);
    expect(got).toHaveLength(1);
    expect(got[0].args[1].equals(value)).toBe(true);
    expect(p.buffered).toBe(0);
  });
});

describe("limits", () => {
  it("refuses a bulk length over the limit from the header alone", () => {
    expect(feedAll(["*2\r\n$3\r\nGET\r\n$17\r\n"], SMALL)).toEqual([
      { error: "Protocol error: invalid bulk length" },
    ]);
    expect(feedAll(["*1\r\n$16\r\n", `${"x".repeat(16)}\r\n`], SMALL)).toEqual([["x".repeat(16)]]);
    expect(feedAll(["*1\r\n$4294967296\r\n"])).toEqual([
      { error: "Protocol error: invalid bulk length" },
    ]);
  });

  it("refuses an argument count over the limit from the header alone", () => {
    expect(feedAll(["*5\r\n"], SMALL)).toEqual([
      { error: "Protocol error: invalid multibulk length" },
    ]);
    expect(feedAll([resp("A", "B", "C", "D")], SMALL)).toEqual([["A", "B", "C", "D"]]);
    expect(feedAll([`*${DEFAULT_LIMITS.maxArgs + 1}\r\n`])).toEqual([
      { error: "Protocol error: invalid multibulk length" },
    ]);
  });

  it("refuses an inline command with too many arguments", () => {
    expect(feedAll(["a b c d e\r\n"], SMALL)).toEqual([
      { error: "Protocol error: invalid multibulk length" },
    ]);
  });

  it("refuses an inline line over the limit, with or without its newline", () => {
    const long = "x".repeat(33);
    expect(feedAll([`${long}\r\n`], SMALL)).toEqual([
      { error: "Protocol error: too big inline request" },
    ]);
    expect(feedAll([long], SMALL)).toEqual([{ error: "Protocol error: too big inline request" }]);
    // Split so that no single read is over the limit.
    expect(feedAll(["x".repeat(20), "x".repeat(20)], SMALL)).toEqual([
      { error: "Protocol error: too big inline request" },
    ]);
    // The limit counts the line with its CR.
    expect(feedAll([`${"x".repeat(31)}\r\n`], SMALL)).toEqual([["x".repeat(31)]]);
  });

  it("refuses header lines that never end", () => {
    expect(feedAll([`*${"1".repeat(40)}`], SMALL)).toEqual([
      { error: "Protocol error: too big mbulk count string" },
    ]);
    expect(feedAll([`*1\r\n$${"1".repeat(40)}`], SMALL)).toEqual([
      { error: "Protocol error: too big bulk count string" },
    ]);
  });
});

describe("protocol errors", () => {
  const cases: [string, string][] = [
    ["*x\r\n", "Protocol error: invalid multibulk length"],
    ["*\r\n", "Protocol error: invalid multibulk length"],
    ["*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"],
    ["*1\r\n$-1\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$abc\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$4\r\nPINGxx", "Protocol error: bulk string not terminated by CRLF"],
    ["*1\r\n$4\r\nPING\n\r", "Protocol error: bulk string not terminated by CRLF"],
  ];
  for (const [input, message] of cases) {
    it(`${JSON.stringify(input)} → ${message}`, () => {
      expect(feedAll([input])).toEqual([{ error: message }]);
      // The same error when the stream arrives a byte at a time.
      expect(feedAll([...input])).toEqual([{ error: message }]);
    });
  }

  it("returns the commands before the error, the error last, and drops the rest", () => {
    const p = new RequestParser();
    const out = show(p.feed(Buffer.from(`${resp("PING")}*1\r\n:1\r\n${resp("ECHO", "x")}`)));
    expect(out).toEqual([["PING"], { error: "Protocol error: expected '$', got ':'" }]);
    expect(p.buffered).toBe(0);
  });

  it("starts clean after reset", () => {
    const p = new RequestParser();
    p.feed(Buffer.from("*2\r\n$3\r\nGE"));
    p.reset();
    expect(p.buffered).toBe(0);
    expect(show(p.feed(Buffer.from(resp("PING"))))).toEqual([["PING"]]);
  });
});
