/**
 * The reply encoder (src/resp/encode.ts): the exact bytes of every reply class for RESP2 and
 * RESP3, including how RESP3-only types degrade for RESP2 clients, nesting, and the output
 * buffer growing past its initial size.
 */
import { describe, expect, it } from "vitest";
import {
  Bool,
  Double,
  formatDouble,
  MapReply,
  NULL_ARRAY,
  NullArray,
  OK,
  Pairs,
  PONG,
  Push,
  QUEUED,
  type Reply,
  Sequence,
  SetReply,
  Simple,
  Verbatim,
} from "../../src/engine/reply.ts";
import { err, HeroError, syntaxError, wrongArity, wrongType } from "../../src/errors.ts";
import { encode, OutBuf } from "../../src/resp/encode.ts";

function bytes(r: Reply, proto: 2 | 3, out = new OutBuf()): Buffer {
  encode(r, proto, out);
  return out.take();
}
const enc = (r: Reply, proto: 2 | 3): string => bytes(r, proto).toString("latin1");

/** [reply, RESP2, RESP3] */
type Case = [string, Reply, string, string];

const cases: Case[] = [
  ["null", null, "$-1\r\n", "_\r\n"],
  ["simple", new Simple("OK"), "+OK\r\n", "+OK\r\n"],
  [
    "shared simples",
    [OK, QUEUED, PONG],
    "*3\r\n+OK\r\n+QUEUED\r\n+PONG\r\n",
    "*3\r\n+OK\r\n+QUEUED\r\n+PONG\r\n",
  ],
  ["integer", 42, ":42\r\n", ":42\r\n"],
  ["negative integer", -7, ":-7\r\n", ":-7\r\n"],
  ["zero", 0, ":0\r\n", ":0\r\n"],
  ["bigint", 18446744073709551615n, ":18446744073709551615\r\n", ":18446744073709551615\r\n"],
  ["negative bigint", -(2n ** 63n), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"],
  ["string", "hello", "$5\r\nhello\r\n", "$5\r\nhello\r\n"],
  ["utf-8 string counts bytes", "héllo", "$6\r\nh\xc3\xa9llo\r\n", "$6\r\nh\xc3\xa9llo\r\n"],
  ["empty string", "", "$0\r\n\r\n", "$0\r\n\r\n"],
  [
    "binary buffer",
    Buffer.from([0, 13, 10, 255]),
    "$4\r\n\x00\r\n\xff\r\n",
    "$4\r\n\x00\r\n\xff\r\n",
  ],
  ["empty array", [], "*0\r\n", "*0\r\n"],
  ["double", new Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
  ["integral double", new Double(3), "$1\r\n3\r\n", ",3\r\n"],
  ["negative double", new Double(-0.25), "$5\r\n-0.25\r\n", ",-0.25\r\n"],
  ["inf", new Double(Number.POSITIVE_INFINITY), "$3\r\ninf\r\n", ",inf\r\n"],
  ["-inf", new Double(Number.NEGATIVE_INFINITY), "$4\r\n-inf\r\n", ",-inf\r\n"],
  ["true", new Bool(true), ":1\r\n", "#t\r\n"],
  ["false", new Bool(false), ":0\r\n", "#f\r\n"],
  ["null array", NULL_ARRAY, "*-1\r\n", "_\r\n"],
  ["fresh null array", new NullArray(), "*-1\r\n", "_\r\n"],
  [
    "map",
    new MapReply(["a", 1, "b", null]),
    "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n",
    "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n",
  ],
  ["empty map", new MapReply([]), "*0\r\n", "%0\r\n"],
  ["set", new SetReply(["x", "y"]), "*2\r\n$1\r\nx\r\n$1\r\ny\r\n", "~2\r\n$1\r\nx\r\n$1\r\ny\r\n"],
  [
    "push",
    new Push(["message", "ch", "hi"]),
    "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
  ],
  ["verbatim", new Verbatim("a:1\r\n"), "$5\r\na:1\r\n\r\n", "=9\r\ntxt:a:1\r\n\r\n"],
  [
    "verbatim counts utf-8 bytes",
    new Verbatim("é"),
    "$2\r\n\xc3\xa9\r\n",
    "=6\r\ntxt:\xc3\xa9\r\n",
  ],
  [
    "pairs",
    new Pairs(["m1", new Double(1), "m2", new Double(2.5)]),
    "*4\r\n$2\r\nm1\r\n$1\r\n1\r\n$2\r\nm2\r\n$3\r\n2.5\r\n",
    "*2\r\n*2\r\n$2\r\nm1\r\n,1\r\n*2\r\n$2\r\nm2\r\n,2.5\r\n",
  ],
  ["empty pairs", new Pairs([]), "*0\r\n", "*0\r\n"],
  [
    "sequence",
    new Sequence([
      ["subscribe", "a", 1],
      ["subscribe", "b", 2],
    ]),
    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
  ],
  ["empty sequence", new Sequence([]), "", ""],
  [
    "nested arrays with nulls and errors",
    [1, ["a", [null, []]], err("boom")],
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*2\r\n$-1\r\n*0\r\n-ERR boom\r\n",
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*2\r\n_\r\n*0\r\n-ERR boom\r\n",
  ],
  [
    "map of sets and doubles",
    new MapReply(["s", new SetReply([new Double(Number.POSITIVE_INFINITY)]), "b", new Bool(true)]),
    "*4\r\n$1\r\ns\r\n*1\r\n$3\r\ninf\r\n$1\r\nb\r\n:1\r\n",
    "%2\r\n$1\r\ns\r\n~1\r\n,inf\r\n$1\r\nb\r\n#t\r\n",
  ],
];

describe("encode", () => {
  for (const [name, reply, two, three] of cases) {
    it(`${name} (RESP2)`, () => expect(enc(reply, 2)).toBe(two));
    it(`${name} (RESP3)`, () => expect(enc(reply, 3)).toBe(three));
  }

  it("answers an unknown value with an error instead of throwing", () => {
    const odd = { what: "ever" } as unknown as Reply;
    expect(enc(odd, 2)).toBe("-ERR internal: unencodable reply\r\n");
  });
});

describe("errors", () => {
  const errorCases: [HeroError, string][] = [
    [err("unknown command 'FOO'"), "-ERR unknown command 'FOO'\r\n"],
    [syntaxError(), "-ERR syntax error\r\n"],
    [wrongType(), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
    [wrongArity("GET"), "-ERR wrong number of arguments for 'get' command\r\n"],
    [new HeroError("NOAUTH", "Authentication required."), "-NOAUTH Authentication required.\r\n"],
    [new HeroError("NOPERM", "no permission"), "-NOPERM no permission\r\n"],
    [new HeroError("WRONGPASS", "invalid key"), "-WRONGPASS invalid key\r\n"],
    [new HeroError("EXECABORT", "Transaction discarded"), "-EXECABORT Transaction discarded\r\n"],
    [new HeroError("NOPROTO", "unsupported protocol"), "-NOPROTO unsupported protocol\r\n"],
    [new HeroError("ENCRYPTION", "no key"), "-ERR no key\r\n"],
    [new HeroError("LIMIT", "too big"), "-ERR too big\r\n"],
    [new HeroError("INTERNAL", "oops"), "-ERR oops\r\n"],
  ];
  for (const [e, line] of errorCases) {
    it(`${e.code}: ${e.message}`, () => {
      expect(enc(e, 2)).toBe(line);
      expect(enc(e, 3)).toBe(line);
    });
  }

  it("keeps an error on one line whatever its message holds", () => {
    expect(enc(err("a\r\nb\nc\rd"), 2)).toBe("-ERR a b c d\r\n");
  });

  it("writes non-ASCII messages as UTF-8", () => {
    expect(bytes(err("clé"), 3).equals(Buffer.from("-ERR clé\r\n", "utf8"))).toBe(true);
  });
});

describe("formatDouble", () => {
  it("writes integers without a fraction and infinities as Redis does", () => {
    expect(formatDouble(0)).toBe("0");
    expect(formatDouble(-12)).toBe("-12");
    expect(formatDouble(1e16)).toBe("10000000000000000");
    expect(formatDouble(0.1)).toBe("0.1");
    expect(formatDouble(Number.POSITIVE_INFINITY)).toBe("inf");
    expect(formatDouble(Number.NEGATIVE_INFINITY)).toBe("-inf");
  });

  it("round-trips every finite double through its text", () => {
    const samples = [
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      Number.EPSILON,
      1 / 3,
      -2 / 3,
      123456789.12345679,
      1e-7,
      1e21,
      2 ** 53 + 2,
      -(2 ** 60),
    ];
    for (const x of samples) expect(Number(formatDouble(x)), String(x)).toBe(x);
  });
});

describe("OutBuf", () => {
  it("grows past its initial size and can be reused after take", () => {
    const out = new OutBuf(4);
    const big = Buffer.alloc(100_000, 7);
    const first = bytes([big, "tail"], 2, out);
    expect(first.length).toBe(4 + 9 + 100_000 + 2 + 10);
    expect(first.subarray(13, 13 + 100_000).equals(big)).toBe(true);
    expect(first.toString("latin1").endsWith("$4\r\ntail\r\n")).toBe(true);
    expect(bytes(1, 2, out).toString()).toBe(":1\r\n");
  });

  it("hands out bytes that later replies never overwrite", () => {
    // take() passes its bytes to the socket without a copy; the buffer moves on past them.
    const out = new OutBuf(64);
    const taken: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      encode(Buffer.from(`value-${i}`), 2, out);
      taken.push(out.take());
    }
    expect(taken.map((b) => b.toString())).toEqual(
      Array.from({ length: 40 }, (_, i) => `$${`value-${i}`.length}\r\nvalue-${i}\r\n`),
    );
  });

  it("writes integer and bulk headers at the edges of the digit fast path", () => {
    for (const n of [0, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, -1, -0, 2 ** 53 - 1, 1.5]) {
      expect(bytes(n, 2).toString(), String(n)).toBe(`:${n}\r\n`);
    }
    for (const len of [0, 9, 10, 99, 100, 1000, 65536]) {
      const v = Buffer.alloc(len, 120);
      expect(bytes(v, 2).toString("latin1"), String(len)).toBe(`$${len}\r\n${"x".repeat(len)}\r\n`);
    }
  });

  it("encodes many pipelined replies into one buffer", () => {
    const out = new OutBuf(16);
    for (let i = 0; i < 1000; i++) encode(i, 3, out);
    const text = out.take().toString();
    expect(text.split("\r\n")).toHaveLength(1001);
    expect(text.startsWith(":0\r\n:1\r\n")).toBe(true);
    expect(text.endsWith(":999\r\n")).toBe(true);
  });
});
