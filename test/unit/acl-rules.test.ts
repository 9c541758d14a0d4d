/**
 * ACL SETUSER's rules (src/security/acl/rules.ts) as ACL LIST then shows the user
 * (describe.ts): Redis's compaction of command rules, key and channel patterns, selectors,
 * this server's `db:` rules, Redis's error messages, and that no plain password ever survives
 * preparation (the prepared rules are replicated and logged).
 */
import { describe, expect, it } from "vitest";
import { HeroError } from "../../src/errors.ts";
import { allCommands } from "../../src/resp/table.ts";
import { hashAccessKey } from "../../src/security/access-keys.ts";
import { isCategory } from "../../src/security/acl/categories.ts";
import { describeUser, getUserFields } from "../../src/security/acl/describe.ts";
import { applyRules, mergeSelectorArgs, prepareRules } from "../../src/security/acl/rules.ts";
import { verifyPasswordSync } from "../../src/security/acl/scram.ts";
import { type AclUser, defaultUser, newUser } from "../../src/security/acl/user.ts";

/** Plain SHA-256 hex of a password: Redis's `#` form. */
const sha = (p: string): string => hashAccessKey(p);

/** Dispatch names of the command table: "GET", "CLIENT", "CLIENT|KILL"… */
const names = new Set(
  allCommands().flatMap((s) => [
    s.name,
    ...(s.subcommands ?? []).map((x) => `${s.name}|${x.name}`),
  ]),
);
const knownCommand = (name: string): boolean => names.has(name);

/** `base` after ACL SETUSER with `rules`: prepared, then applied. */
function setUser(rules: readonly string[], base: AclUser = newUser("u")): AclUser {
  return applyRules(base, prepareRules(rules, base, knownCommand, isCategory));
}

describe("ACL LIST lines", () => {
  const cases: [string[], string][] = [
    [[], "user u off sanitize-payload resetchannels -@all"],
    [["on", "nopass", "~*", "&*", "+@all"], "user u on nopass sanitize-payload ~* &* +@all"],
    [["ON", "AllKeys", "AllChannels", "AllCommands"], "user u on sanitize-payload ~* &* +@all"],
    [
      ["+@all", "-flushdb", "+GET"],
      "user u off sanitize-payload resetchannels +@all -flushdb +get",
    ],
    [["+get", "-get"], "user u off sanitize-payload resetchannels -@all -get"],
    [["+get", "+set", "nocommands"], "user u off sanitize-payload resetchannels -@all"],
    [
      ["-client", "+client|id", "+client|kill"],
      "user u off sanitize-payload resetchannels -@all -client +client|id +client|kill",
    ],
    [
      ["-client", "+client|id", "+client"],
      "user u off sanitize-payload resetchannels -@all +client",
    ],
    [
      ["+@read", "-@dangerous", "+@READ"],
      "user u off sanitize-payload resetchannels -@all -@dangerous +@read",
    ],
    [
      ["~a*", "%R~b*", "%W~c*", "%RW~d*", "%R~a*", "%rw~e"],
      "user u off sanitize-payload ~a* %R~b* %W~c* ~d* ~e resetchannels -@all",
    ],
    [["%R~x", "%W~x"], "user u off sanitize-payload ~x resetchannels -@all"],
    [["%RW~*"], "user u off sanitize-payload ~* resetchannels -@all"],
    [["~a", "allkeys", "resetkeys", "~b"], "user u off sanitize-payload ~b resetchannels -@all"],
    [
      ["&news.*", "&chat", "&chat"],
      "user u off sanitize-payload resetchannels &news.* &chat -@all",
    ],
    [["&a", "allchannels", "resetchannels"], "user u off sanitize-payload resetchannels -@all"],
    [
      ["on", "+get", "~a*", "(~b* +set)", "(", "+del", "%R~c*", "&x", ")"],
      "user u on sanitize-payload ~a* resetchannels -@all +get (~b* resetchannels -@all +set) (%R~c* resetchannels &x -@all +del)",
    ],
    [["(+get)", "clearselectors"], "user u off sanitize-payload resetchannels -@all"],
    [
      ["db:3=R", "db:app-*=rw", "db:3=none", "db:*=None"],
      "user u off sanitize-payload resetchannels -@all db:app-*=RW db:3=none db:*=none",
    ],
    [["db:1=R", "resetdbs"], "user u off sanitize-payload resetchannels -@all"],
    [
      ["on", "nopass", "~*", "+@all", "(+get)", "db:1=R", "reset"],
      "user u off sanitize-payload resetchannels -@all",
    ],
    [
      ["sanitize-payload", "skip-sanitize-payload"],
      "user u off sanitize-payload resetchannels -@all",
    ],
    [["nopass", `#${sha("pw")}`], `user u off sanitize-payload #${sha("pw")} resetchannels -@all`],
  ];
  for (const [rules, line] of cases) {
    it(`${rules.join(" ") || "(no rules)"}`, () => {
      expect(describeUser(setUser(rules))).toBe(line);
    });
  }

  it("the default user", () => {
    expect(describeUser(defaultUser())).toBe("user default on nopass sanitize-payload ~* &* +@all");
  });

  it("a line replayed through ACL SETUSER rebuilds the same user", () => {
    const u = setUser([
      "on",
      ">secret",
      `#${sha("other")}`,
      "%R~r:*",
      "~rw:*",
      "&chan.*",
      "+@read",
      "-keys",
      "(~b* +set)",
      "db:app-*=RW",
    ]);
    const rules = describeUser(u).split(" ").slice(2);
    const again = setUser(mergeSelectorArgs(rules));
    expect(again).toEqual(u);
  });
});

describe("ACL GETUSER fields", () => {
  it("follows Redis 7's layout, then the instance rules", () => {
    const u = setUser(["on", "nopass", "+get", "allkeys", "&*", "(+set ~key2)", "db:2=R"]);
    expect(getUserFields(u)).toEqual([
      ["flags", ["on", "nopass", "sanitize-payload"]],
      ["passwords", []],
      ["commands", "-@all +get"],
      ["keys", "~*"],
      ["channels", "&*"],
      [
        "selectors",
        [
          [
            ["commands", "-@all +set"],
            ["keys", "~key2"],
            ["channels", ""],
          ],
        ],
      ],
      ["instances", "db:2=R"],
    ]);
  });
});

describe("passwords", () => {
  it("never leave prepareRules in plain text", () => {
    const secret = "correct horse battery staple";
    const prepared = prepareRules(["on", `>${secret}`], undefined, knownCommand, isCategory);
    expect(JSON.stringify(prepared)).not.toContain(secret);
    expect(prepared[1]).toMatch(/^#SCRAM-SHA-256\$4096:/);
    const u = applyRules(newUser("u"), prepared);
    expect(JSON.stringify(u)).not.toContain(secret);
    expect(describeUser(u)).not.toContain(secret);
    expect(u.passwords).toHaveLength(1);
    expect(verifyPasswordSync(u.passwords[0], secret)).toBe(true);
    expect(verifyPasswordSync(u.passwords[0], "wrong")).toBe(false);
  });

  it("a password already set is not added twice", () => {
    const u = setUser([">a", ">a"]);
    expect(u.passwords).toHaveLength(1);
    expect(setUser([">a"], u).passwords).toEqual(u.passwords);
  });

  it("`<pass` removes every stored form that matches, and nothing else", () => {
    // The same password twice, as SCRAM and as Redis's SHA-256, next to another one.
    const u = setUser([">a", `#${sha("a")}`, ">b"]);
    expect(u.passwords).toHaveLength(3);
    const prepared = prepareRules(["<a"], u, knownCommand, isCategory);
    expect(prepared).toHaveLength(2);
    expect(prepared[0]).toMatch(/^!SCRAM-SHA-256\$/);
    expect(prepared[1]).toBe(`!${sha("a")}`);
    const v = applyRules(u, prepared);
    expect(v.passwords).toHaveLength(1);
    expect(verifyPasswordSync(v.passwords[0], "b")).toBe(true);
    expect(setUser(["<b"], v).passwords).toEqual([]);
  });

  it("`>` and `<` in one call see each other", () => {
    expect(setUser([">a", "<a"]).passwords).toEqual([]);
    expect(setUser(["nopass", ">a"]).nopass).toBe(false);
    expect(setUser([">a", "nopass"]).passwords).toEqual([]);
    expect(setUser([">a", "resetpass"])).toMatchObject({ nopass: false, passwords: [] });
  });

  it("Redis's `#hash` and `!hash` forms", () => {
    const u = setUser([`#${sha("pw")}`]);
    expect(verifyPasswordSync(u.passwords[0], "pw")).toBe(true);
    expect(getUserFields(u)[1]).toEqual(["passwords", [sha("pw")]]);
    expect(setUser([`!${sha("pw")}`], u).passwords).toEqual([]);
  });

  it("applyRules refuses rules that were not prepared", () => {
    expect(() => applyRules(newUser("u"), [">plain"])).toThrow(HeroError);
    expect(() => applyRules(newUser("u"), [">plain"])).not.toThrow(/plain'/);
  });
});

describe("applyRules", () => {
  it("is pure: same input, same output, input untouched", () => {
    const base = setUser(["on", "+get"]);
    const snapshot = JSON.stringify(base);
    const prepared = prepareRules([">x", "~a*", "(+set)"], base, knownCommand, isCategory);
    const a = applyRules(base, prepared);
    const b = applyRules(base, prepared);
    expect(a).toEqual(b);
    expect(JSON.stringify(base)).toBe(snapshot);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it("changes nothing when a rule fails", () => {
    const base = setUser(["on"]);
    expect(() => applyRules(base, ["off", `!${sha("nope")}`])).toThrow(/does not exist/);
    expect(base.enabled).toBe(true);
  });
});

describe("errors", () => {
  const M = (op: string, msg: string) => `Error in ACL SETUSER modifier '${op}': ${msg}`;
  const UNKNOWN = "Unknown command or category name in ACL";
  const cases: [string[], string][] = [
    [["+foo"], M("+foo", UNKNOWN)],
    [["-foo"], M("-foo", UNKNOWN)],
    [["+@foo"], M("+@foo", UNKNOWN)],
    [["+client|nope"], M("+client|nope", UNKNOWN)],
    [["+get|x"], M("+get|x", UNKNOWN)],
    [
      ["+client|kill|x"],
      M("+client|kill|x", "Allowing first-arg of a subcommand is not supported"),
    ],
    [["+client|"], M("+client|", "Syntax error")],
    [["bogus"], M("bogus", "Syntax error")],
    [["%X~a"], M("%X~a", "Syntax error")],
    [["%~a"], M("%~a", "Syntax error")],
    [["%RR~a"], M("%RR~a", "Syntax error")],
    [["~a b"], M("~a b", "Syntax error")],
    [["&a\tb"], M("&a\tb", "Syntax error")],
    [["allkeys", "~x"], M("~x", "Adding a pattern after the * pattern (or the 'allkeys' flag)")],
    [["&*", "&x"], M("&x", "Adding a pattern after the * pattern (or the 'allchannels' flag)")],
    [["#abc"], M("#abc", "The password hash must be exactly 64 characters")],
    [[`#${sha("x").toUpperCase()}`], "The password hash must be exactly 64 characters"],
    [[`!${sha("x")}`], "The password you are trying to remove from the user does not exist"],
    [["(~a on)"], M("(~a on)", "Syntax error")],
    [["(+foo)"], M("(+foo)", UNKNOWN)],
    [["(~a", "+get"], "Unmatched parenthesis in acl selector starting at '(~a'."],
    [["db:x"], M("db:x", "Syntax error")],
    [["db:x=Q"], M("db:x=Q", "Syntax error")],
    [["db:=R"], M("db:=R", "Syntax error")],
  ];
  for (const [rules, message] of cases) {
    it(rules.join(" "), () => {
      const run = () => prepareRules(rules, undefined, knownCommand, isCategory);
      expect(run).toThrow(HeroError);
      expect(run).toThrow(message);
    });
  }

  it("never echo a password", () => {
    for (const rules of [["<hunter2"], ["(>hunter2 +get)"], ["(+get", ">hunter2", "+zz)"]]) {
      let message = "";
      try {
        prepareRules(rules, undefined, knownCommand, isCategory);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^Error in ACL SETUSER modifier/);
      expect(message).not.toContain("hunter2");
    }
  });
});
