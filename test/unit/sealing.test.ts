/**
 * Session encryption of values (src/security/sealing.ts): the value and member formats, the
 * binding of values to their key name, and sealArgs/openReply driven by the command table's
 * sealing rules, the way the dispatcher uses them on an encrypted instance.
 */
import { describe, expect, it } from "vitest";
import { hashCommands } from "../../src/backends/kv/commands/hashes.ts";
import { listCommands } from "../../src/backends/kv/commands/lists.ts";
import { listBlockingCommands } from "../../src/backends/kv/commands/lists-blocking.ts";
import { setCommands } from "../../src/backends/kv/commands/sets.ts";
import { stringCommands } from "../../src/backends/kv/commands/strings.ts";
import { zsetCommands } from "../../src/backends/kv/commands/zsets.ts";
import type { CommandSpec } from "../../src/engine/command-spec.ts";
import {
  Double,
  MapReply,
  NULL_ARRAY,
  OK,
  Pairs,
  type Reply,
  SetReply,
} from "../../src/engine/reply.ts";
import { HeroError } from "../../src/errors.ts";
import {
  openReply,
  openValue,
  sealArgs,
  sealMember,
  sealValue,
} from "../../src/security/sealing.ts";

const KEY = new Uint8Array(32).fill(1);
const OTHER = new Uint8Array(32).fill(2);
const b = (s: string): Buffer => Buffer.from(s, "latin1");
const bufs = (...xs: string[]): Buffer[] => xs.map(b);
// The family tables the command table is built from (imported directly so these tests do not
// depend on the dispatcher, which table.ts pulls in through MULTI/EXEC).
const FAMILIES = [
  ...stringCommands,
  ...hashCommands,
  ...listCommands,
  ...listBlockingCommands,
  ...setCommands,
  ...zsetCommands,
];
const spec = (name: string): CommandSpec => {
  const s = FAMILIES.find((c) => c.name === name);
  if (s === undefined) throw new Error(`no command ${name}`);
  return s;
};

const WRONG_KEY = "cannot decrypt value: the session key is not the one it was written with";
const NEED_KEY = "this instance is encrypted: set the session key with USEKEY <key>";

function encryptionError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HeroError);
    expect((e as HeroError).code).toBe("ENCRYPTION");
    return (e as HeroError).message;
  }
  throw new Error("expected an ENCRYPTION error");
}

/** Turns Buffers into latin1 strings for comparisons. */
function plain(r: Reply): unknown {
  if (Buffer.isBuffer(r)) return r.toString("latin1");
  if (Array.isArray(r)) return r.map(plain);
  if (r instanceof MapReply) return { map: r.flat.map(plain) };
  if (r instanceof Pairs) return { pairs: r.flat.map(plain) };
  if (r instanceof SetReply) return { set: r.items.map(plain) };
  return r;
}

describe("values", () => {
  it("round-trips, binary and empty, with a fresh nonce each time", () => {
    for (const v of [b(""), b("hello"), Buffer.from([0, 255, 13, 10]), Buffer.alloc(70_000, 9)]) {
      const s = sealValue(v, b("k"), KEY);
      expect(s.length).toBe(v.length + 2 + 24 + 16);
      expect([s[0], s[1]]).toEqual([0xe5, 0x01]);
      expect(openValue(s, b("k"), KEY).equals(v)).toBe(true);
    }
    expect(sealValue(b("x"), b("k"), KEY).equals(sealValue(b("x"), b("k"), KEY))).toBe(false);
  });

  it("does not open under another key name", () => {
    const s = sealValue(b("secret"), b("user:1"), KEY);
    expect(encryptionError(() => openValue(s, b("user:2"), KEY))).toBe(WRONG_KEY);
    expect(encryptionError(() => openValue(s, b("user:1\x00"), KEY))).toBe(WRONG_KEY);
  });

  it("does not open with another session key, tampered or unsealed", () => {
    const s = sealValue(b("secret"), b("k"), KEY);
    expect(encryptionError(() => openValue(s, b("k"), OTHER))).toBe(WRONG_KEY);
    for (let i = 2; i < s.length; i += 7) {
      const t = Buffer.from(s);
      t[i] ^= 1;
      expect(encryptionError(() => openValue(t, b("k"), KEY))).toBe(WRONG_KEY);
    }
    expect(
      encryptionError(() =>
        openValue(b("plain text value, not sealed at all!!!!!!!!!"), b("k"), KEY),
      ),
    ).toBe(WRONG_KEY);
    expect(encryptionError(() => openValue(s.subarray(0, 41), b("k"), KEY))).toBe(WRONG_KEY);
    // A member is not a value.
    expect(encryptionError(() => openValue(sealMember(b("m"), KEY), b("k"), KEY))).toBe(WRONG_KEY);
  });
});

describe("members", () => {
  it("are deterministic per session key and differ across keys and plaintexts", () => {
    const a = sealMember(b("alice"), KEY);
    expect([a[0], a[1]]).toEqual([0xe5, 0x02]);
    expect(a.length).toBe(5 + 2 + 24 + 16);
    expect(sealMember(b("alice"), KEY).equals(a)).toBe(true);
    expect(sealMember(b("alice"), OTHER).equals(a)).toBe(false);
    expect(sealMember(b("alicf"), KEY).equals(a)).toBe(false);
    // Equal keys given as different arrays seal alike.
    expect(sealMember(b("alice"), new Uint8Array(32).fill(1)).equals(a)).toBe(true);
  });

  it("open through a members reply", () => {
    const s = sealMember(b("bob"), KEY);
    expect(plain(openReply(spec("SMEMBERS"), bufs("s"), new SetReply([s]), KEY))).toEqual({
      set: ["bob"],
    });
    expect(encryptionError(() => openReply(spec("SMEMBERS"), bufs("s"), [s], OTHER))).toBe(
      WRONG_KEY,
    );
  });
});

describe("sealArgs", () => {
  it("seals SET's value bound to its key and leaves options alone", () => {
    const args = bufs("k", "v", "EX", "10");
    const out = sealArgs(spec("SET"), "set", args, KEY);
    expect(out).not.toBe(args);
    expect(args[1].toString()).toBe("v");
    expect([out[0], out[2], out[3]].map(String)).toEqual(["k", "EX", "10"]);
    expect(openValue(out[1], b("k"), KEY).toString()).toBe("v");
    expect(encryptionError(() => openValue(out[1], b("other"), KEY))).toBe(WRONG_KEY);
  });

  it("binds each MSET value to its own key", () => {
    const out = sealArgs(spec("MSET"), "MSET", bufs("a", "1", "b", "2"), KEY);
    expect(out[0].toString()).toBe("a");
    expect(out[2].toString()).toBe("b");
    expect(openValue(out[1], b("a"), KEY).toString()).toBe("1");
    expect(openValue(out[3], b("b"), KEY).toString()).toBe("2");
    expect(encryptionError(() => openValue(out[3], b("a"), KEY))).toBe(WRONG_KEY);
  });

  it("seals hash values but keeps fields in clear", () => {
    const out = sealArgs(spec("HSET"), "hset", bufs("h", "f1", "v1", "f2", "v2"), KEY);
    expect([out[0], out[1], out[3]].map(String)).toEqual(["h", "f1", "f2"]);
    expect(openValue(out[2], b("h"), KEY).toString()).toBe("v1");
    expect(openValue(out[4], b("h"), KEY).toString()).toBe("v2");
  });

  it("seals list elements", () => {
    const out = sealArgs(spec("RPUSH"), "rpush", bufs("l", "x", "y"), KEY);
    expect(out.slice(1).map((v) => openValue(v, b("l"), KEY).toString())).toEqual(["x", "y"]);
  });

  it("seals set and sorted-set members deterministically, after ZADD's options", () => {
    const sadd = sealArgs(spec("SADD"), "sadd", bufs("s", "m1", "m2"), KEY);
    expect(sadd[1].equals(sealMember(b("m1"), KEY))).toBe(true);
    expect(sadd[2].equals(sealMember(b("m2"), KEY))).toBe(true);
    const zadd = sealArgs(spec("ZADD"), "zadd", bufs("z", "NX", "ch", "1.5", "m1", "2", "m2"), KEY);
    expect(zadd.slice(0, 4).map(String)).toEqual(["z", "NX", "ch", "1.5"]);
    expect(zadd[4].equals(sadd[1])).toBe(true);
    expect(zadd[5].toString()).toBe("2");
    expect(zadd[6].equals(sadd[2])).toBe(true);
    const score = sealArgs(spec("ZSCORE"), "zscore", bufs("z", "m1"), KEY);
    expect(score[1].equals(sadd[1])).toBe(true);
  });

  it("passes commands without values through, with or without a key", () => {
    const args = bufs("k");
    expect(sealArgs(spec("SCARD"), "scard", args, null)).toBe(args);
    expect(sealArgs(spec("SCARD"), "scard", args, KEY)).toBe(args);
    // A read whose reply needs opening passes its arguments unchanged when a key is set.
    expect(sealArgs(spec("GET"), "get", args, KEY)).toBe(args);
  });

  it("needs a key for anything that seals or opens", () => {
    expect(encryptionError(() => sealArgs(spec("SET"), "SET", bufs("k", "v"), null))).toBe(
      NEED_KEY,
    );
    expect(encryptionError(() => sealArgs(spec("GET"), "GET", bufs("k"), null))).toBe(NEED_KEY);
    expect(encryptionError(() => sealArgs(spec("SADD"), "SADD", bufs("s", "m"), null))).toBe(
      NEED_KEY,
    );
  });

  it("refuses commands that have no sealing rule", () => {
    for (const name of ["INCR", "APPEND", "LINSERT"]) {
      expect(encryptionError(() => sealArgs(spec(name), name, bufs("k", "v"), KEY))).toBe(
        `'${name.toLowerCase()}' is not supported on encrypted instances`,
      );
    }
  });
});

describe("openReply", () => {
  const v = (s: string, key: string): Buffer => sealValue(b(s), b(key), KEY);

  it("opens GET, passes nil and errors through, and needs the right key", () => {
    expect(plain(openReply(spec("GET"), bufs("k"), v("hi", "k"), KEY))).toBe("hi");
    expect(openReply(spec("GET"), bufs("k"), null, KEY)).toBeNull();
    expect(openReply(spec("GET"), bufs("k"), null, null)).toBeNull();
    const e = new HeroError("WRONGTYPE", "x");
    expect(openReply(spec("GET"), bufs("k"), e, null)).toBe(e);
    expect(encryptionError(() => openReply(spec("GET"), bufs("k"), v("hi", "k"), null))).toBe(
      NEED_KEY,
    );
    expect(encryptionError(() => openReply(spec("GET"), bufs("k"), v("hi", "k"), OTHER))).toBe(
      WRONG_KEY,
    );
    // A value copied under another key name does not open.
    expect(encryptionError(() => openReply(spec("GET"), bufs("j"), v("hi", "k"), KEY))).toBe(
      WRONG_KEY,
    );
  });

  it("leaves non-bulk replies of value commands alone", () => {
    expect(openReply(spec("SET"), bufs("k", "v"), OK, KEY)).toBe(OK);
  });

  it("opens MGET element by element under each key", () => {
    const r = openReply(spec("MGET"), bufs("a", "b", "c"), [v("1", "a"), null, v("3", "c")], KEY);
    expect(plain(r)).toEqual(["1", null, "3"]);
    expect(encryptionError(() => openReply(spec("MGET"), bufs("b", "a"), [v("1", "a")], KEY))).toBe(
      WRONG_KEY,
    );
  });

  it("opens list ranges and hash values", () => {
    expect(
      plain(openReply(spec("LRANGE"), bufs("l", "0", "-1"), [v("x", "l"), v("y", "l")], KEY)),
    ).toEqual(["x", "y"]);
    expect(plain(openReply(spec("HMGET"), bufs("h", "f", "g"), [v("1", "h"), null], KEY))).toEqual([
      "1",
      null,
    ]);
    expect(plain(openReply(spec("HVALS"), bufs("h"), [v("1", "h")], KEY))).toEqual(["1"]);
  });

  it("opens HGETALL values only, as a flat array or a map", () => {
    const flat = [b("f1"), v("1", "h"), b("f2"), v("2", "h")];
    expect(plain(openReply(spec("HGETALL"), bufs("h"), flat, KEY))).toEqual(["f1", "1", "f2", "2"]);
    expect(plain(openReply(spec("HGETALL"), bufs("h"), new MapReply(flat), KEY))).toEqual({
      map: ["f1", "1", "f2", "2"],
    });
  });

  it("opens HRANDFIELD only WITHVALUES, and HSCAN unless NOVALUES", () => {
    const pairs = new Pairs([b("f"), v("1", "h")]);
    expect(plain(openReply(spec("HRANDFIELD"), bufs("h", "1", "withvalues"), pairs, KEY))).toEqual({
      pairs: ["f", "1"],
    });
    expect(plain(openReply(spec("HRANDFIELD"), bufs("h", "2"), [b("f")], null))).toEqual(["f"]);
    const scan = [b("0"), [b("f"), v("1", "h")]];
    expect(plain(openReply(spec("HSCAN"), bufs("h", "0"), scan, KEY))).toEqual(["0", ["f", "1"]]);
    expect(
      plain(openReply(spec("HSCAN"), bufs("h", "0", "NOVALUES"), [b("0"), [b("f")]], null)),
    ).toEqual(["0", ["f"]]);
  });

  it("opens sealed members anywhere, leaving cursors and scores in clear", () => {
    const m = (s: string) => sealMember(b(s), KEY);
    const zr = new Pairs([m("a"), new Double(1), m("b"), new Double(2)]);
    expect(plain(openReply(spec("ZRANGE"), bufs("z", "0", "-1", "WITHSCORES"), zr, KEY))).toEqual({
      pairs: ["a", new Double(1), "b", new Double(2)],
    });
    const scan = [b("0"), [m("a"), b("1")]];
    expect(plain(openReply(spec("ZSCAN"), bufs("z", "0"), scan, KEY))).toEqual(["0", ["a", "1"]]);
  });

  it("opens BLPOP and LMPOP replies under the key they name", () => {
    expect(
      plain(openReply(spec("BLPOP"), bufs("a", "b", "0"), [b("b"), v("x", "b")], KEY)),
    ).toEqual(["b", "x"]);
    const lm = [b("l"), [v("1", "l"), v("2", "l")]];
    expect(plain(openReply(spec("LMPOP"), bufs("1", "l", "LEFT"), lm, KEY))).toEqual([
      "l",
      ["1", "2"],
    ]);
    expect(openReply(spec("LMPOP"), bufs("1", "l", "LEFT"), NULL_ARRAY, KEY)).toBe(NULL_ARRAY);
    expect(
      encryptionError(() => openReply(spec("BLPOP"), bufs("a", "0"), [b("a"), v("x", "b")], KEY)),
    ).toBe(WRONG_KEY);
  });

  it("does not touch replies of commands without a reply rule", () => {
    const r = [b("anything")];
    expect(openReply(spec("SCARD"), bufs("s"), r, null)).toBe(r);
    expect(openReply(spec("INCR"), bufs("k"), 1, null)).toBe(1);
  });
});
