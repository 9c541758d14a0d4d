/**
 * The ACL permission check (src/security/acl/check.ts) against the real command table's
 * categories: command and category rules, subcommands, key patterns with read/write rights,
 * channels (PSUBSCRIBE's literal rule), selectors, which denial is reported, `db:` rules, and
 * that only a user allowed everything is `unrestricted`.
 */
import { describe, expect, it } from "vitest";
import { allCommands } from "../../src/resp/table.ts";
import {
  ALL_CATEGORIES,
  categoryIndex,
  commandsInCategory,
  isCategory,
} from "../../src/security/acl/categories.ts";
import {
  type ChannelRef,
  compileUser,
  denialMessage,
  type KeyRef,
} from "../../src/security/acl/check.ts";
import { applyRules, prepareRules } from "../../src/security/acl/rules.ts";
import { type AclUser, defaultUser, newUser } from "../../src/security/acl/user.ts";

const names = new Set(
  allCommands().flatMap((s) => [
    s.name,
    ...(s.subcommands ?? []).map((x) => `${s.name}|${x.name}`),
  ]),
);
const index = categoryIndex(allCommands());
const lookup = (name: string) => index.get(name);

function setUser(rules: readonly string[], base: AclUser = newUser("u")): AclUser {
  return applyRules(
    base,
    prepareRules(rules, base, (n) => names.has(n), isCategory),
  );
}

const r = (key: string): KeyRef => ({ key: Buffer.from(key), access: "read" });
const w = (key: string): KeyRef => ({ key: Buffer.from(key), access: "write" });
const rw = (key: string): KeyRef => ({ key: Buffer.from(key), access: "both" });
const ch = (channel: string): ChannelRef => ({ channel: Buffer.from(channel), pattern: false });
const pat = (channel: string): ChannelRef => ({ channel: Buffer.from(channel), pattern: true });

/** [rules, command, keys, channels, expected: "ok" or "reason:object"] */
type Case = [string[], string, KeyRef[], ChannelRef[], string];

const cases: Case[] = [
  // commands and categories
  [["+get", "~*"], "GET", [r("a")], [], "ok"],
  [["+get", "~*"], "SET", [w("a")], [], "command:set"],
  [["+@all", "-flushdb"], "FLUSHDB", [], [], "command:flushdb"],
  [["+@all", "-flushdb"], "FLUSHALL", [], [], "ok"],
  [["+@read", "-@dangerous", "allkeys"], "GET", [r("k")], [], "ok"],
  [["+@read", "-@dangerous", "allkeys"], "KEYS", [], [], "command:keys"],
  [["+@read", "-@dangerous", "allkeys"], "SET", [w("k")], [], "command:set"],
  [["+@all", "-@dangerous"], "CONFIG|SET", [], [], "command:config|set"],
  [["+@all", "-@admin"], "CLIENT|KILL", [], [], "command:client|kill"],
  [["+@all", "-@admin"], "CLIENT|ID", [], [], "ok"],
  [["-@all", "+@string", "allkeys"], "INCR", [rw("n")], [], "ok"],
  [["-@all", "+@string", "allkeys"], "HSET", [w("h")], [], "command:hset"],
  [["+@write", "-set", "allkeys"], "SET", [w("k")], [], "command:set"],
  [["-set", "+@write", "allkeys"], "SET", [w("k")], [], "ok"],
  [["+@sql"], "SQL.QUERY", [], [], "ok"],
  [["+@sql", "-@write"], "SQL.EXEC", [], [], "command:sql.exec"],
  // subcommands
  [["+client|id"], "CLIENT|ID", [], [], "ok"],
  [["+client|id"], "CLIENT|KILL", [], [], "command:client|kill"],
  [["+client", "-client|kill"], "CLIENT|SETNAME", [], [], "ok"],
  [["+client", "-client|kill"], "CLIENT|KILL", [], [], "command:client|kill"],
  [["-client", "+client|list"], "CLIENT|LIST", [], [], "ok"],
  // keys
  [["+@all", "~a*"], "GET", [r("a1")], [], "ok"],
  [["+@all", "~a*"], "GET", [r("b1")], [], "key:b1"],
  [["+@all", "~a*"], "MGET", [r("a1"), r("b1"), r("c1")], [], "key:b1"],
  [["+@all", "~a[0-9]"], "GET", [r("a7")], [], "ok"],
  [["+@all", "~a[0-9]"], "GET", [r("ab")], [], "key:ab"],
  [["+@all", "%R~r*", "%W~w*"], "GET", [r("r1")], [], "ok"],
  [["+@all", "%R~r*", "%W~w*"], "SET", [w("r1")], [], "key:r1"],
  [["+@all", "%R~r*", "%W~w*"], "SET", [w("w1")], [], "ok"],
  [["+@all", "%R~r*", "%W~w*"], "GET", [r("w1")], [], "key:w1"],
  [["+@all", "%R~r*", "%W~w*"], "INCR", [rw("r1")], [], "key:r1"],
  [["+@all", "%R~x*", "%W~x*"], "INCR", [rw("x1")], [], "ok"],
  // one pattern must grant both rights when both are needed (Redis)
  [["+@all", "%R~a*", "%W~*"], "INCR", [rw("a1")], [], "key:a1"],
  [["+@all", "%R~a*", "%W~*"], "SET", [w("a1")], [], "ok"],
  [["+@all", "%R~src*", "%W~dst*"], "COPY", [r("src1"), w("dst1")], [], "ok"],
  [["+@all", "%R~src*", "%W~dst*"], "COPY", [r("dst1"), w("src1")], [], "key:dst1"],
  // channels
  [["+@all", "&news.*"], "PUBLISH", [], [ch("news.eu")], "ok"],
  [["+@all", "&news.*"], "PUBLISH", [], [ch("sport")], "channel:sport"],
  [["+@all", "&news.*"], "SUBSCRIBE", [], [ch("news.a"), ch("x")], "channel:x"],
  [["+@all", "&news.*"], "PSUBSCRIBE", [], [pat("news.*")], "ok"],
  [["+@all", "&news.*"], "PSUBSCRIBE", [], [pat("news.a*")], "channel:news.a*"],
  [["+@all", "&news.*"], "PSUBSCRIBE", [], [pat("*")], "channel:*"],
  [["+@all", "allchannels"], "PSUBSCRIBE", [], [pat("*")], "ok"],
  [["+@all"], "PUBLISH", [], [ch("a")], "channel:a"],
  // selectors: one selector must allow everything
  [["+get", "~a*", "(~b* +set)"], "GET", [r("a1")], [], "ok"],
  [["+get", "~a*", "(~b* +set)"], "SET", [w("b1")], [], "ok"],
  [["+get", "~a*", "(~b* +set)"], "SET", [w("a1")], [], "key:a1"],
  [["+get", "~a*", "(~b* +set)"], "GET", [r("b1")], [], "key:b1"],
  [["+get", "~a*", "(~b* +set)"], "DEL", [w("a1")], [], "command:del"],
  [["+get", "(+set)", "(+del)"], "DEL", [], [], "ok"],
  // the later argument is reported on a tie
  [["+@all", "~a*", "(+@all ~b*)"], "MGET", [r("a1"), r("b1")], [], "key:b1"],
  [["+@all", "~a*", "(+@all ~b*)"], "MGET", [r("c1"), r("a1")], [], "key:c1"],
  // a channel refusal wins over a key refusal, which wins over a command refusal
  [["+@all", "&*", "~a*", "(+@all ~* &c)"], "PUBLISH", [w("b")], [ch("d")], "channel:d"],
  [["+get", "&*", "~*", "(+@all ~a*)"], "SET", [w("b")], [ch("d")], "key:b"],
];

describe("checkCommand", () => {
  for (const [rules, name, keys, channels, expected] of cases) {
    const args = [
      ...keys.map((k) => `${k.access}:${k.key}`),
      ...channels.map((c) => `${c.channel}`),
    ];
    it(`${rules.join(" ")} | ${name} ${args.join(" ")} → ${expected}`, () => {
      const user = compileUser(setUser(["on", ...rules]), lookup);
      const d = user.checkCommand(name, keys, channels);
      expect(d === null ? "ok" : `${d.reason}:${d.object}`).toBe(expected);
      // the cached decision is the same
      const again = user.checkCommand(name, keys, channels);
      expect(again === null ? "ok" : `${again.reason}:${again.object}`).toBe(expected);
    });
  }

  it("reports where the refused key is", () => {
    const user = compileUser(setUser(["+@all", "~a*"]), lookup);
    expect(user.checkCommand("MGET", [r("a"), r("b")], [])).toEqual({
      reason: "key",
      object: "b",
      index: 1,
    });
  });

  it("matches keys byte for byte", () => {
    const user = compileUser(setUser(["+@all", "~é*"]), lookup);
    expect(user.checkCommand("GET", [r("éa")], [])).toBeNull();
    const latin1 = { key: Buffer.from([0xe9, 0x61]), access: "read" } as const;
    expect(user.checkCommand("GET", [latin1], [])?.reason).toBe("key");
  });

  it("Redis's messages", () => {
    const cmd = { reason: "command", object: "get", index: -1 } as const;
    expect(denialMessage("bob", cmd, false)).toBe(
      "User bob has no permissions to run the 'get' command",
    );
    const key = { reason: "key", object: "k", index: 0 } as const;
    expect(denialMessage("bob", key, false)).toBe("No permissions to access a key");
    expect(denialMessage("bob", key, true)).toBe("No permissions to access the 'k' key");
  });
});

describe("unrestricted", () => {
  it("only for a user allowed every command, key and channel, with no db: rules", () => {
    expect(compileUser(defaultUser(), lookup).unrestricted).toBe(true);
    for (const rules of [
      ["-get"],
      ["resetkeys"],
      ["resetchannels"],
      ["-@all", "+@read"],
      ["db:1=R"],
    ]) {
      expect(compileUser(setUser(rules, defaultUser()), lookup).unrestricted, rules.join(" ")).toBe(
        false,
      );
    }
    expect(compileUser(setUser(["on", "nopass"]), lookup).unrestricted).toBe(false);
    // `+@all -get +get` allows everything but is not recognised: that only costs a check
    expect(compileUser(setUser(["(+get)"], defaultUser()), lookup).unrestricted).toBe(true);
  });

  it("lets everything through", () => {
    const user = compileUser(defaultUser(), lookup);
    expect(user.checkCommand("FLUSHALL", [w("x")], [pat("*")])).toBeNull();
  });
});

describe("instanceAccess", () => {
  it("the last matching db: rule decides; digits name an index", () => {
    const user = compileUser(
      setUser(["db:*=none", "db:3=R", "db:app-*=RW", "db:app-secret=none"]),
      lookup,
    );
    expect(user.instanceAccess(3, "x")).toBe("read");
    expect(user.instanceAccess(5, "app-1")).toBe("readwrite");
    expect(user.instanceAccess(6, "app-secret")).toBe("none");
    expect(user.instanceAccess(7, "other")).toBe("none");
    expect(user.instanceAccess(30, "3")).toBe("none");
    expect(compileUser(setUser(["db:1=R"]), lookup).instanceAccess(2, "b")).toBeUndefined();
  });
});

describe("categories", () => {
  it("come from the table's groups and flags", () => {
    const has = (name: string, cats: string[]) => {
      for (const c of cats) expect(index.get(name)?.has(c), `${name} @${c}`).toBe(true);
    };
    has("GET", ["string", "read", "fast"]);
    has("SET", ["string", "write", "slow"]);
    has("KEYS", ["keyspace", "read", "dangerous", "slow"]);
    has("CLIENT|KILL", ["connection", "admin", "dangerous"]);
    has("CLIENT|ID", ["connection"]);
    has("PUBLISH", ["pubsub", "write", "fast"]);
    has("BLPOP", ["list", "write", "blocking"]);
    has("ZADD", ["sortedset"]);
    has("MULTI", ["transaction"]);
    has("SQL.QUERY", ["sql", "read"]);
    expect(index.get("GET")?.has("write")).toBe(false);
    expect(index.has("CLIENT")).toBe(false);
  });

  it("every command is either fast or slow, and only in known categories", () => {
    for (const [name, cats] of index) {
      expect(cats.has("fast") !== cats.has("slow"), name).toBe(true);
      for (const c of cats) expect(ALL_CATEGORIES, name).toContain(c);
    }
  });

  it("ACL CAT <category>", () => {
    const strings = commandsInCategory("STRING", allCommands());
    expect(strings).toContain("get");
    expect(strings).not.toContain("hget");
    expect(commandsInCategory("connection", allCommands())).toContain("client|id");
    expect(commandsInCategory("geo", allCommands())).toContain("geoadd");
    expect(commandsInCategory("nope", allCommands())).toBeUndefined();
    for (const c of ["hyperloglog", "geo", "stream", "scripting", "crypto", "vector"]) {
      expect(isCategory(c), c).toBe(true);
    }
    expect(isCategory("all")).toBe(false);
  });
});
