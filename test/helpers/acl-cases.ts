/**
 * A table of ACL cases shared by the single-server and cluster ACL tests: the rules of a fresh
 * user, then commands run as that user over ioredis, each expected to run (optionally with its
 * reply) or to be refused for a reason. A refused command's keys are read with the admin secret
 * before and after it, so a refusal that still changed data shows up. `runCase` returns one line
 * per step (and per ACL DRYRUN) and `expectedLines` the lines it should return, so a test compares
 * two lists and a failure shows the whole table.
 *
 * The cases assume three instances: 1 public, 2 private named "reports", 3 private ("ledger").
 */
import { Redis } from "ioredis";

/** Why a command is refused (each maps to one reply text, see classify). */
export type Reason =
  | "command" // NOPERM User u has no permissions to run the 'x' command
  | "key" // NOPERM No permissions to access a key
  | "channel" // NOPERM No permissions to access a channel
  | "readonly" // NOPERM this session has read-only access to instance n
  | "instance" // NOPERM User u has no permissions to access instance n (a db: rule)
  | "private" // NOAUTH instance n is private
  | "wrongpass" // WRONGPASS
  | "execabort"; // EXECABORT

export interface Step {
  args: string[];
  expect: "allowed" | Reason;
  /** The reply an allowed command must give (not compared when omitted). */
  reply?: unknown;
  /** The command a "command" refusal names, when it is not args[0] ("client|setname"). */
  object?: string;
}

export interface AclCase {
  name: string;
  /** Rules after `reset on >password`. */
  rules: string[];
  /** Commands ("CMD arg …") run with the admin secret on instance `db` before the steps. */
  seed?: { db: number; cmds: string[] };
  steps: Step[];
  /** Also ask ACL DRYRUN about each step the ACL rules decide. */
  dryrun?: boolean;
  /** Part of the small table every cluster node runs. */
  core?: boolean;
}

/** Steps from "CMD arg …" (no argument in the table holds a space). */
const ok = (cmd: string, reply?: unknown): Step => ({
  args: cmd.split(" "),
  expect: "allowed",
  reply,
});
const no = (cmd: string, expect: Reason, object?: string): Step => ({
  args: cmd.split(" "),
  expect,
  object,
});
const sel = (n: number): Step => ok(`SELECT ${n}`, "OK");

export const ACL_CASES: AclCase[] = [
  {
    name: "keys by pattern ~app:*",
    rules: ["~app:*", "+@all"],
    seed: { db: 1, cmds: ["SET app:1 one", "SET other orig", "DEL app:2"] },
    steps: [
      sel(1),
      ok("GET app:1", "one"),
      ok("SET app:2 two", "OK"),
      no("SET other changed", "key"),
      no("GET other", "key"),
      no("DEL other", "key"),
      ok("GET app:2", "two"),
    ],
    core: true,
  },
  {
    name: "read and write key selectors %R~ro:* %W~wo:*",
    rules: ["%R~ro:*", "%W~wo:*", "+@all"],
    seed: {
      db: 1,
      cmds: [
        "SET ro:1 r1",
        "SET wo:1 w1",
        "SET wo:n 5",
        "DEL ro:a ro:b wo:u ro:u",
        "SADD ro:a x",
        "SADD ro:b y",
      ],
    },
    steps: [
      sel(1),
      ok("GET ro:1", "r1"),
      no("SET ro:1 x", "key"),
      no("GET wo:1", "key"),
      ok("SET wo:1 w2", "OK"),
      no("INCR wo:n", "key"),
      no("INCR ro:1", "key"),
      no("SET wo:1 w3 GET", "key"),
      ok("SUNIONSTORE wo:u ro:a ro:b", 2),
      no("SUNIONSTORE ro:u wo:u", "key"),
    ],
    dryrun: true,
  },
  {
    name: "channels &news.*",
    rules: ["&news.*", "~*", "+@all"],
    steps: [
      sel(1),
      ok("PUBLISH news.x hi", 0),
      no("PUBLISH other hi", "channel"),
      ok("SUBSCRIBE news.y", 1),
      ok("PSUBSCRIBE news.*", 1),
      no("PSUBSCRIBE news.a*", "channel"),
      no("SUBSCRIBE other", "channel"),
    ],
    dryrun: true,
    core: true,
  },
  {
    name: "channels &news.x &news.y: PSUBSCRIBE news.* is not literally allowed",
    rules: ["&news.x", "&news.y", "~*", "+@all"],
    steps: [
      sel(1),
      ok("SUBSCRIBE news.x", 1),
      no("PSUBSCRIBE news.*", "channel"),
      ok("PUBLISH news.y hi", 0),
    ],
  },
  {
    name: "categories +@read -@dangerous",
    rules: ["~*", "+@read", "-@dangerous", "+select"],
    seed: { db: 1, cmds: ["SET k1 v1"] },
    steps: [
      sel(1),
      ok("GET k1", "v1"),
      no("SET k1 x", "command"),
      no("DEL k1", "command"),
      no("KEYS *", "command"),
      no("FLUSHDB", "command"),
      ok("GET k1", "v1"),
    ],
    core: true,
  },
  {
    name: "categories +@all -flushdb (also inside MULTI)",
    rules: ["~*", "+@all", "-flushdb"],
    seed: { db: 1, cmds: ["SET f1 x"] },
    steps: [
      sel(1),
      ok("SET f2 y", "OK"),
      no("FLUSHDB", "command"),
      ok("MULTI", "OK"),
      ok("SET f1 z", "QUEUED"),
      no("FLUSHDB", "command"),
      no("EXEC", "execabort"),
      ok("MGET f1 f2", ["x", "y"]),
    ],
  },
  {
    name: "categories +@write",
    rules: ["~*", "+@write", "+select"],
    seed: { db: 1, cmds: ["DEL w2"] },
    steps: [
      sel(1),
      ok("SET w1 x", "OK"),
      no("GET w1", "command"),
      ok("INCR w2", 1),
      no("PING", "command"),
    ],
  },
  {
    name: "subcommands +client|id",
    rules: ["+client|id"],
    steps: [
      ok("CLIENT ID"),
      no("CLIENT SETNAME x", "command", "client|setname"),
      no("CLIENT GETNAME", "command", "client|getname"),
      no("SELECT 1", "command"),
    ],
    dryrun: true,
  },
  {
    name: "selectors (~b:* +set)",
    rules: ["+select", "(~b:* +set)"],
    seed: { db: 1, cmds: ["SET b:1 old", "SET c:1 old"] },
    steps: [sel(1), ok("SET b:1 new", "OK"), no("GET b:1", "command"), no("SET c:1 new", "key")],
    dryrun: true,
  },
  {
    name: "instance rule db:reports=R on a private instance",
    rules: ["~*", "+@all", "db:reports=R"],
    seed: { db: 2, cmds: ["SET rep:1 q1"] },
    steps: [
      sel(2),
      ok("GET rep:1", "q1"),
      no("SET rep:1 x", "readonly"),
      no("DEL rep:1", "readonly"),
      no("SELECT 3", "private"),
    ],
    core: true,
  },
  {
    name: "instance rule db:*=none on a public instance",
    rules: ["~*", "+@all", "db:*=none"],
    steps: [
      no("SELECT 1", "instance"),
      no("SELECT 2", "instance"),
      no("SELECT 1 KEY made-up-key", "wrongpass"),
    ],
  },
  {
    name: "instance rule db:3=RW by index",
    rules: ["~*", "+@all", "db:3=RW"],
    seed: { db: 3, cmds: ["SET led:1 a", "DEL led:2"] },
    steps: [sel(3), ok("GET led:1", "a"), ok("SET led:2 b", "OK"), no("SELECT 2", "private")],
  },
  {
    name: "MULTI with a denied key fails EXEC with EXECABORT",
    rules: ["~app:*", "+@all"],
    seed: { db: 1, cmds: ["SET app:m old", "SET other orig"] },
    steps: [
      sel(1),
      ok("MULTI", "OK"),
      ok("SET app:m new", "QUEUED"),
      no("SET other 1", "key"),
      no("EXEC", "execabort"),
      ok("GET app:m", "old"),
    ],
  },
];

/** An ioredis connection that never reconnects and bounds every command. */
export async function connectAs(
  port: number,
  auth: { username?: string; password?: string } = {},
): Promise<Redis> {
  const c = new Redis({
    host: "127.0.0.1",
    port,
    ...auth,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    disableClientInfo: true,
    commandTimeout: 15_000,
    connectTimeout: 10_000,
  });
  c.on("error", () => {}); // surfaced by the commands that fail
  await c.connect();
  return c;
}

export const adminConnection = (port: number, secret: string) =>
  connectAs(port, { password: secret });

/** What a refusal's text says, as the Reason it stands for ("command(set)" for a command). */
export function classify(message: string, user: string): string {
  let m = /^NOPERM User (\S+) has no permissions to run the '([^']+)' command$/.exec(message);
  if (m) return m[1] === user ? `command(${m[2]})` : `command(${m[2]}) of ${m[1]}`;
  if (message === "NOPERM No permissions to access a key") return "key";
  if (message === "NOPERM No permissions to access a channel") return "channel";
  if (/^NOPERM this session has read-only access to instance \d+: /.test(message)) {
    return "readonly";
  }
  m = /^NOPERM User (\S+) has no permissions to access instance \d+$/.exec(message);
  if (m) return m[1] === user ? "instance" : `instance of ${m[1]}`;
  if (/^NOAUTH instance \d+ is private: /.test(message)) return "private";
  if (message.startsWith("WRONGPASS ")) return "wrongpass";
  if (message.startsWith("EXECABORT ")) return "execabort";
  return `error: ${message}`;
}

/** ACL DRYRUN's answer in the same words (it names the key or channel it refuses). */
function classifyDryrun(reply: unknown, user: string): string {
  if (reply === "OK") return "allowed";
  const text = String(reply).replace(
    /^(No permissions to access )the '.*' (key|channel)$/,
    "$1a $2",
  );
  return classify(`NOPERM ${text}`, user);
}

const isSubscribe = (args: string[]) => /^P?SUBSCRIBE$/i.test(args[0]);
const decidedByAcl = (s: Step) =>
  s.expect === "allowed" || s.expect === "command" || s.expect === "key" || s.expect === "channel";

function expectedOutcome(s: Step): string {
  if (s.expect === "allowed")
    return s.reply === undefined ? "allowed" : `allowed ${JSON.stringify(s.reply)}`;
  if (s.expect === "command") return `command(${s.object ?? s.args[0].toLowerCase()})`;
  return s.expect;
}

/** The lines runCase must return for `c`. */
export function expectedLines(c: AclCase, dryrun = true): string[] {
  const lines = c.steps.map((s) => `${s.args.join(" ")} → ${expectedOutcome(s)}`);
  if (dryrun && c.dryrun === true) {
    for (const s of c.steps) {
      if (!decidedByAcl(s)) continue;
      lines.push(`DRYRUN ${s.args.join(" ")} → ${expectedOutcome({ ...s, reply: undefined })}`);
    }
  }
  return lines;
}

/** The type and value of each key, read with the admin secret on instance `db`. */
async function snapshot(admin: Redis, db: number, keys: string[]): Promise<string> {
  if (keys.length === 0) return "";
  await admin.call("SELECT", String(db));
  const out: string[] = [];
  for (const k of keys) {
    const type = String(await admin.call("TYPE", k));
    let value: unknown = null;
    if (type === "string") value = await admin.call("GET", k);
    else if (type === "set") value = ((await admin.call("SMEMBERS", k)) as string[]).sort();
    out.push(`${k}=${type}:${JSON.stringify(value)}`);
  }
  return out.join(" ");
}

async function keysOf(admin: Redis, args: string[]): Promise<string[]> {
  try {
    return (await admin.call("COMMAND", "GETKEYS", ...args)) as string[];
  } catch {
    return []; // no key arguments
  }
}

export interface RunOptions {
  port: number;
  adminSecret: string;
  user: string;
  password: string;
  /** Ask ACL DRYRUN too (for cases with `dryrun`); default true. */
  dryrun?: boolean;
}

/**
 * Seeds `c`'s data with the admin secret, then runs its steps as `user` on a fresh connection
 * (SUBSCRIBE/PSUBSCRIBE each on one of their own), returning one line per step: what happened,
 * in the words of expectedLines, with "CHANGED …" added when a refused command altered its keys.
 */
export async function runCase(c: AclCase, o: RunOptions): Promise<string[]> {
  const admin = await adminConnection(o.port, o.adminSecret);
  const auth = { username: o.user, password: o.password };
  const conn = await connectAs(o.port, auth);
  const lines: string[] = [];
  try {
    if (c.seed !== undefined) {
      await admin.call("SELECT", String(c.seed.db));
      for (const cmd of c.seed.cmds) {
        const [name, ...args] = cmd.split(" ");
        await admin.call(name, ...args);
      }
    }
    let db = -1;
    for (const s of c.steps) {
      const keys = db < 0 ? [] : await keysOf(admin, s.args);
      const before = await snapshot(admin, db, keys);
      let outcome: string;
      try {
        let reply: unknown;
        if (isSubscribe(s.args)) {
          const sub = await connectAs(o.port, auth);
          try {
            if (db >= 0) await sub.call("SELECT", String(db));
            reply = await sub.call(s.args[0], ...s.args.slice(1));
          } finally {
            sub.disconnect();
          }
        } else {
          reply = await conn.call(s.args[0], ...s.args.slice(1));
        }
        outcome = s.reply === undefined ? "allowed" : `allowed ${JSON.stringify(reply)}`;
        if (/^SELECT$/i.test(s.args[0])) db = Number(s.args[1]);
      } catch (e) {
        outcome = classify((e as Error).message, o.user);
        const after = await snapshot(admin, db, keys);
        if (after !== before) outcome += ` CHANGED ${before} → ${after}`;
      }
      lines.push(`${s.args.join(" ")} → ${outcome}`);
    }
    if (o.dryrun !== false && c.dryrun === true) {
      for (const s of c.steps) {
        if (!decidedByAcl(s)) continue;
        const reply = await admin
          .call("ACL", "DRYRUN", o.user, ...s.args)
          .catch((e: Error) => `error ${e.message}`);
        lines.push(`DRYRUN ${s.args.join(" ")} → ${classifyDryrun(reply, o.user)}`);
      }
    }
  } finally {
    conn.disconnect();
    admin.disconnect();
  }
  return lines;
}

/** ACL SETUSER <user> reset on >password …rules, with the admin connection given. */
export async function createCaseUser(
  admin: Redis,
  c: AclCase,
  user: string,
  password: string,
): Promise<void> {
  const reply = await admin.call("ACL", "SETUSER", user, "reset", "on", `>${password}`, ...c.rules);
  if (reply !== "OK") throw new Error(`ACL SETUSER ${user} for "${c.name}" answered ${reply}`);
}
