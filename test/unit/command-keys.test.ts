/**
 * src/engine/command-keys.ts: the keys a command names and what it does with each, read from
 * the command table's KeySpec (first/last/step, numkeys, access) against real argument lists;
 * then every table entry is checked against a few argument lists (it must never throw, and a
 * write's first key must be written), and COMMAND GETKEYS / GETKEYSANDFLAGS answer from it.
 */
import { describe, expect, it } from "vitest";
import { type CommandKey, commandKeys } from "../../src/engine/command-keys.ts";
import type { CommandSpec, KeyAccess } from "../../src/engine/command-spec.ts";
import { type Reply, Simple } from "../../src/engine/reply.ts";
import type { CommandContext, TableEntry } from "../../src/resp/context.ts";
import { allCommands, lookup } from "../../src/resp/table.ts";

const b = (...xs: (string | number)[]): Buffer[] => xs.map((x) => Buffer.from(String(x)));

/** A table entry by name ("OBJECT|ENCODING" for a subcommand). */
function spec(name: string): TableEntry {
  const [top, sub] = name.split("|");
  const s = lookup(top);
  const found = sub === undefined ? s : s?.subcommands?.find((x) => x.name === sub);
  if (found === undefined) throw new Error(`no such command in the table: ${name}`);
  return found;
}

/** commandKeys for a command line without its name, as [key, access] pairs. */
function keysOf(name: string, ...args: (string | number)[]): [string, KeyAccess][] {
  return commandKeys(spec(name), b(...args)).map((k) => [k.key.toString(), k.access]);
}

/** Every entry of the table with its subcommands, named as "CLIENT|LIST". */
function everyEntry(): [string, TableEntry][] {
  const out: [string, TableEntry][] = [];
  for (const s of allCommands()) {
    out.push([s.name, s]);
    for (const sub of s.subcommands ?? []) out.push([`${s.name}|${sub.name}`, sub]);
  }
  return out;
}

describe("commandKeys", () => {
  it("finds a single key, with access from the write flag by default", () => {
    expect(keysOf("GET", "k")).toEqual([["k", "read"]]);
    expect(keysOf("SET", "k", "v", "EX", 10)).toEqual([["k", "write"]]);
    expect(keysOf("DEL", "a", "b")).toEqual([
      ["a", "write"],
      ["b", "write"],
    ]);
    expect(keysOf("EXISTS", "a", "b")).toEqual([
      ["a", "read"],
      ["b", "read"],
    ]);
  });

  it("says both for commands that change a value and answer it", () => {
    for (const name of ["INCR", "GETDEL", "GETEX", "LPOP", "SPOP", "ZPOPMIN", "SETBIT", "MOVE"]) {
      expect(keysOf(name, "k", 1, 1)[0], name).toEqual(["k", "both"]);
    }
    expect(keysOf("HINCRBY", "h", "f", 1)).toEqual([["h", "both"]]);
    expect(keysOf("GETSET", "k", "v")).toEqual([["k", "both"]]);
  });

  it("finds GEORADIUS's STORE / STOREDIST destination after its option word, written", () => {
    expect(keysOf("GEORADIUS", "src", "15", "37", "200", "km")).toEqual([["src", "read"]]);
    expect(keysOf("GEORADIUS", "src", "15", "37", "200", "km", "store", "dst")).toEqual([
      ["src", "read"],
      ["dst", "write"],
    ]);
    expect(keysOf("GEORADIUSBYMEMBER", "src", "m", "5", "km", "STOREDIST", "d2")).toEqual([
      ["src", "read"],
      ["d2", "write"],
    ]);
    // A trailing STORE with no key names none (the command reports the syntax error).
    expect(keysOf("GEORADIUS", "src", "15", "37", "200", "km", "STORE")).toEqual([["src", "read"]]);
  });

  it("counts SET … GET as reading the key too (it answers the old value)", () => {
    expect(keysOf("SET", "k", "v")).toEqual([["k", "write"]]);
    expect(keysOf("SET", "k", "v", "get")).toEqual([["k", "both"]]);
    expect(keysOf("SET", "k", "v", "EX", "10", "GET")).toEqual([["k", "both"]]);
  });

  it("steps over values (MSET step 2)", () => {
    expect(keysOf("MSET", "a", 1, "b", 2, "c", 3)).toEqual([
      ["a", "write"],
      ["b", "write"],
      ["c", "write"],
    ]);
    // An odd list (a missing value) still finds its keys, and reads nothing past the end.
    expect(keysOf("MSET", "a", 1, "b")).toEqual([
      ["a", "write"],
      ["b", "write"],
    ]);
  });

  it("counts a negative last from the end (BLPOP last -2: not the timeout)", () => {
    expect(keysOf("BLPOP", "a", "b", 5)).toEqual([
      ["a", "both"],
      ["b", "both"],
    ]);
    expect(keysOf("BZPOPMAX", "z", 0)).toEqual([["z", "both"]]);
    expect(keysOf("BLPOP", "a")).toEqual([]); // the only argument is the timeout
  });

  it("reads keys after a numkeys argument", () => {
    expect(keysOf("LMPOP", 2, "a", "b", "LEFT", "COUNT", 2)).toEqual([
      ["a", "both"],
      ["b", "both"],
    ]);
    expect(keysOf("BLMPOP", 0, 2, "a", "b", "RIGHT")).toEqual([
      ["a", "both"],
      ["b", "both"],
    ]);
    expect(keysOf("BZMPOP", 1.5, 1, "z", "MIN")).toEqual([["z", "both"]]);
    expect(keysOf("ZMPOP", 1, "z", "MAX")).toEqual([["z", "both"]]);
    expect(keysOf("SINTERCARD", 2, "s1", "s2", "LIMIT", 1)).toEqual([
      ["s1", "read"],
      ["s2", "read"],
    ]);
    expect(keysOf("ZUNION", 2, "z1", "z2", "WITHSCORES")).toEqual([
      ["z1", "read"],
      ["z2", "read"],
    ]);
    expect(keysOf("ZINTERCARD", 1, "z1")).toEqual([["z1", "read"]]);
    // The destination from the legacy range first, then the counted sources.
    expect(keysOf("ZUNIONSTORE", "d", 2, "z1", "z2", "WEIGHTS", 1, 2)).toEqual([
      ["d", "write"],
      ["z1", "read"],
      ["z2", "read"],
    ]);
    expect(keysOf("ZDIFFSTORE", "d", 1, "z1")).toEqual([
      ["d", "write"],
      ["z1", "read"],
    ]);
  });

  it("survives a malformed numkeys, finding what keys it can", () => {
    for (const bad of ["abc", "", "-1", "1.5", "0x2", " 2", "0"]) {
      expect(keysOf("LMPOP", bad, "a", "LEFT"), bad).toEqual([]);
      expect(keysOf("ZUNIONSTORE", "d", bad, "z1"), bad).toEqual([["d", "write"]]);
    }
    // Larger than the arguments left: the rest of them, never past the end.
    expect(keysOf("LMPOP", 5, "a", "b")).toEqual([
      ["a", "both"],
      ["b", "both"],
    ]);
    expect(keysOf("ZUNION", "99999999999999999999999", "z")).toEqual([["z", "read"]]);
    // Missing entirely.
    expect(keysOf("LMPOP")).toEqual([]);
    expect(keysOf("BZMPOP", 0)).toEqual([]);
    expect(keysOf("ZUNIONSTORE", "d")).toEqual([["d", "write"]]);
    // A count the command accepts is read as the same number (never fewer keys).
    expect(keysOf("LMPOP", "+1", "a", "LEFT")).toEqual([["a", "both"]]);
  });

  it("gives per-key access from an array whose last element repeats", () => {
    expect(keysOf("SUNIONSTORE", "d", "s1", "s2", "s3")).toEqual([
      ["d", "write"],
      ["s1", "read"],
      ["s2", "read"],
      ["s3", "read"],
    ]);
    expect(keysOf("COPY", "src", "dst", "REPLACE")).toEqual([
      ["src", "read"],
      ["dst", "write"],
    ]);
    for (const [name, args] of [
      ["LMOVE", ["src", "dst", "LEFT", "RIGHT"]],
      ["RPOPLPUSH", ["src", "dst"]],
      ["BLMOVE", ["src", "dst", "LEFT", "RIGHT", 0]],
      ["BRPOPLPUSH", ["src", "dst", 0]],
      ["SMOVE", ["src", "dst", "m"]],
      ["RENAME", ["src", "dst"]],
      ["RENAMENX", ["src", "dst"]],
    ] as const) {
      expect(keysOf(name, ...args), name).toEqual([
        ["src", "both"],
        ["dst", "write"],
      ]);
    }
    expect(keysOf("BITOP", "AND", "dest", "a", "b")).toEqual([
      ["dest", "write"],
      ["a", "read"],
      ["b", "read"],
    ]);
    expect(keysOf("ZRANGESTORE", "dst", "src", 0, -1)).toEqual([
      ["dst", "write"],
      ["src", "read"],
    ]);
  });

  it("falls back on the write flag when access is absent or an empty array", () => {
    const entry = (flags: CommandSpec["flags"], access?: KeyAccess[]) => ({
      flags,
      keys: { first: 1, last: -1, step: 1, access },
    });
    const accesses = (e: ReturnType<typeof entry>) => commandKeys(e, b("a")).map((k) => k.access);
    expect(accesses(entry(["write"]))).toEqual(["write"]);
    expect(accesses(entry(["readonly"]))).toEqual(["read"]);
    expect(accesses(entry([]))).toEqual(["read"]);
    expect(accesses(entry(["write"], []))).toEqual(["write"]);
    expect(commandKeys({ flags: ["write"] }, b("a", "b"))).toEqual([]);
  });

  it("reads a subcommand's keys with its name at position 1", () => {
    expect(keysOf("OBJECT|ENCODING", "ENCODING", "k")).toEqual([["k", "read"]]);
  });

  it("ignores a range it cannot walk (step 0 or first 0) rather than looping", () => {
    const odd = (first: number, last: number, step: number) =>
      commandKeys({ flags: [], keys: { first, last, step } }, b("a", "b", "c"));
    expect(odd(0, 0, 0)).toEqual([]);
    expect(odd(1, -1, 0)).toEqual([]);
    expect(odd(1, 100, 1).map((k) => k.key.toString())).toEqual(["a", "b", "c"]);
    expect(odd(5, -1, 1)).toEqual([]);
  });
});

describe("every command table entry", () => {
  const entries = everyEntry();
  const garbage = [
    [],
    b("x"),
    b(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    b("nope", "-3", "abc", "1e3", "", "2"),
    b("OBJECT-ish", "99999999999999999999999999"),
  ];

  it("covers the whole table, numkeys commands included", () => {
    expect(entries.length).toBeGreaterThan(150);
    for (const name of [
      "LMPOP",
      "BLMPOP",
      "ZMPOP",
      "BZMPOP",
      "SINTERCARD",
      "ZUNION",
      "ZINTER",
      "ZDIFF",
      "ZINTERCARD",
      "ZUNIONSTORE",
      "ZINTERSTORE",
      "ZDIFFSTORE",
    ]) {
      expect(spec(name).keys?.numkeys, name).toBeGreaterThan(0);
    }
  });

  it("never throws, and never answers a key that is not one of the arguments", () => {
    for (const [name, s] of entries) {
      for (const args of garbage) {
        let keys: CommandKey[] = [];
        expect(() => {
          keys = commandKeys(s, args);
        }, name).not.toThrow();
        for (const k of keys) {
          expect(args, name).toContain(k.key);
          expect(["read", "write", "both"], name).toContain(k.access);
        }
      }
    }
  });

  it("finds a key in every entry that has a key spec, and a write writes its first key", () => {
    // Commands whose first key is a source the command only reads (GEORADIUS* name their
    // destination after a STORE word, which a key spec cannot point at).
    const SOURCE_FIRST = new Set(["COPY", "GEORADIUS", "GEORADIUSBYMEMBER"]);
    let writes = 0;
    for (const [name, s] of entries) {
      if (s.keys === undefined) continue;
      // Ten arguments "1": any numkeys reads 1, so every spec finds at least one key.
      const keys = commandKeys(s, b(...Array(10).fill(1)));
      expect(keys.length, name).toBeGreaterThan(0);
      if (!s.flags.includes("write")) continue;
      writes++;
      const first = keys[0].access;
      if (SOURCE_FIRST.has(name)) expect(first, name).toBe("read");
      else expect(["write", "both"], name).toContain(first);
    }
    expect(writes).toBeGreaterThan(50);
  });

  it("covers every key a blocking command waits on", () => {
    const blocking = entries.filter(([, s]) => s.block !== undefined);
    expect(blocking.length).toBeGreaterThanOrEqual(7);
    const lines: Record<string, (string | number)[]> = {
      BLPOP: ["a", "b", 0],
      BRPOP: ["a", "b", 0],
      BLMOVE: ["a", "b", "LEFT", "LEFT", 0],
      BRPOPLPUSH: ["a", "b", 0],
      BLMPOP: [0, 2, "a", "b", "LEFT"],
      BZPOPMIN: ["a", "b", 0],
      BZPOPMAX: ["a", "b", 0],
      BZMPOP: [0, 2, "a", "b", "MIN"],
    };
    for (const [name, s] of blocking) {
      const args = b(...(lines[name] ?? []));
      expect(args.length, `${name}: add a sample line`).toBeGreaterThan(0);
      const found = commandKeys(s, args).map((k) => k.key.toString());
      for (const k of s.block!.keys(args)) expect(found, name).toContain(k.toString());
    }
  });

  it("flags Redis's @dangerous commands", () => {
    for (const name of [
      "FLUSHDB",
      "FLUSHALL",
      "KEYS",
      "INFO",
      "CONFIG",
      "CONFIG|GET",
      "CONFIG|SET",
      "CONFIG|RESETSTAT",
      "CLIENT|LIST",
      "CLIENT|KILL",
      "SAVE",
      "BGSAVE",
      "LASTSAVE",
    ]) {
      expect(spec(name).flags, name).toContain("dangerous");
    }
    for (const name of ["GET", "SET", "CLIENT|SETNAME", "PING"]) {
      expect(spec(name).flags, name).not.toContain("dangerous");
    }
  });
});

describe("COMMAND GETKEYS / GETKEYSANDFLAGS / INFO", () => {
  const run = (sub: string, ...args: (string | number)[]): Reply => {
    const s = spec(`COMMAND|${sub}`);
    return s.run!(undefined as unknown as CommandContext, b(...args)) as Reply;
  };
  const text = (r: Reply): unknown =>
    Array.isArray(r)
      ? r.map(text)
      : Buffer.isBuffer(r)
        ? r.toString()
        : r instanceof Simple
          ? r.value
          : r instanceof Error
            ? `ERR ${r.message}`
            : String(r);

  it("answers the keys of a command line", () => {
    expect(text(run("GETKEYS", "MSET", "a", 1, "b", 2))).toEqual(["a", "b"]);
    expect(text(run("GETKEYS", "lmpop", 2, "x", "y", "LEFT"))).toEqual(["x", "y"]);
    expect(text(run("GETKEYS", "ZUNIONSTORE", "d", 2, "z1", "z2"))).toEqual(["d", "z1", "z2"]);
    expect(text(run("GETKEYS", "OBJECT", "ENCODING", "k"))).toEqual(["k"]);
  });

  it("answers per key Redis's access flags", () => {
    expect(text(run("GETKEYSANDFLAGS", "LMOVE", "s", "d", "LEFT", "RIGHT"))).toEqual([
      ["s", ["RW", "access", "update"]],
      ["d", ["RW", "update"]],
    ]);
    expect(text(run("GETKEYSANDFLAGS", "GET", "k"))).toEqual([["k", ["RO", "access"]]]);
  });

  it("answers Redis's errors", () => {
    expect(text(run("GETKEYS", "NOSUCH", "k"))).toBe("ERR Invalid command specified");
    expect(text(run("GETKEYS", "OBJECT", "NOSUCH", "k"))).toBe("ERR Invalid command specified");
    expect(text(run("GETKEYS", "PING", "x"))).toBe("ERR The command has no key arguments");
    expect(text(run("GETKEYS", "KEYS", "*"))).toBe("ERR The command has no key arguments");
    expect(text(run("GETKEYS", "GET"))).toBe(
      "ERR Invalid number of arguments specified for command",
    );
    expect(text(run("GETKEYS", "GET", "a", "b"))).toBe(
      "ERR Invalid number of arguments specified for command",
    );
    expect(text(run("GETKEYS", "LMPOP", "abc", "a", "LEFT"))).toBe(
      "ERR Invalid arguments specified for command",
    );
  });

  it("lists dangerous as an ACL category, not a flag, and numkeys commands as movablekeys", () => {
    const info = (name: string) => (run("INFO", name) as Reply[])[0] as Reply[];
    const flush = text(info("FLUSHALL")) as unknown[];
    expect(flush[2]).toEqual(["write"]);
    expect(flush[6]).toContain("@dangerous");
    const lmpop = text(info("LMPOP")) as unknown[];
    expect(lmpop[2]).toEqual(["write", "movablekeys"]);
    expect(lmpop.slice(3, 6)).toEqual(["0", "0", "0"]);
    expect((text(info("ZUNIONSTORE")) as unknown[]).slice(3, 6)).toEqual(["1", "1", "1"]);
    expect((text(info("GET")) as unknown[])[2]).toEqual(["readonly", "fast"]);
  });
});
