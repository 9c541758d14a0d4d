/**
 * `npm run bench -- cluster`: a 3-node HeroDB cluster against a 3-member etcd cluster, both on
 * this machine in the same run. etcd is the common yardstick for a replicated store that fsyncs
 * every write before acknowledging it, so this is the comparison that says whether HeroDB's
 * replicated, durable writes are competitive (target: at least 3.5x etcd's writes/s at 50 clients).
 *
 * Both clusters stay up for the whole run, and each first takes one uncounted pass of writes and
 * reads (a warm-up). For each round and client count the two targets run
 * alternately (the order flips each round, so neither always gets the warmer machine): client i is
 * bound to node/member i mod 3 and, after one unmeasured write per client (connections warm, keys
 * present), does `--requests` durable writes of `--size`-byte values to its own key bench:<i>
 * (HeroDB: SET on a persistent Redb instance; etcd: put), then as many reads of it (HeroDB: GET;
 * etcd: a default, linearizable range). The load comes from load.ts, closed-loop like
 * redis-benchmark; medians over rounds are reported. Progress and a plain table go to stderr; the
 * Markdown for docs/benchmarks.md goes to stdout.
 *
 *   npm run --silent bench -- cluster [--clients 50,200] [--requests 20000] [--size 100]
 *                                     [--rounds 3] [--only herodb|etcd] [--dir PATH]
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster } from "../../test/helpers/cluster.ts";
import { ensureEtcd, etcdVersion, startEtcdCluster } from "./etcd.ts";
import { connectEtcd } from "./etcd-client.ts";
import { type LoadResult, runLoad } from "./load.ts";
import { withServers } from "./procs.ts";
import { fmtMs, fmtRatio, fmtRps, markdownTable, median, textTable } from "./report.ts";
import { connectInstance } from "./resp-connect.ts";

type Side = "herodb" | "etcd";
type Test = "write" | "read";

interface Options {
  clients: number[];
  requests: number;
  size: number;
  rounds: number;
  sides: Side[];
  /** Parent of the run's data dirs (the disk whose fsyncs are measured); default: tmpdir. */
  dir?: string;
}

const USAGE =
  "usage: node scripts/bench/run.ts cluster [--clients 50,200] [--requests N] [--size BYTES] " +
  "[--rounds N] [--only herodb|etcd] [--dir PATH]";
const NODES = 3;
/** The goal this benchmark tracks: HeroDB writes/s over etcd's at TARGET_CLIENTS clients. */
const TARGET_RATIO = 3.5;
const TARGET_CLIENTS = 50;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    clients: [50, 200],
    requests: 20_000,
    size: 100,
    rounds: 3,
    sides: ["herodb", "etcd"],
  };
  const positive = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (Number.isInteger(n) && n > 0) return n;
    throw new Error(`${flag} needs a positive integer\n${USAGE}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--clients") o.clients = (value ?? "").split(",").map((c) => positive(flag, c));
    else if (flag === "--requests") o.requests = positive(flag, value);
    else if (flag === "--size") o.size = positive(flag, value);
    else if (flag === "--rounds") o.rounds = positive(flag, value);
    else if (flag === "--only") {
      if (value === "herodb" || value === "etcd") o.sides = [value];
      else throw new Error(`--only is herodb or etcd\n${USAGE}`);
    } else if (flag === "--dir" && value) o.dir = value;
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** One connection per benchmark client (client c on node/member c mod 3), for one run. */
interface Session {
  write(client: number, key: string, value: Buffer): Promise<void>;
  read(client: number, key: string): Promise<Buffer | null>;
  close(): void;
}

interface Target {
  side: Side;
  open(clients: number): Promise<Session>;
}

type Track = (cleanup: () => Promise<unknown>) => void;

async function etcdTarget(dir: string, track: Track): Promise<Target> {
  const etcd = await startEtcdCluster({ members: NODES, dir, log });
  track(() => etcd.stop());
  return {
    side: "etcd",
    async open(clients) {
      const pool = connectEtcd({ endpoints: etcd.endpoints, clients });
      return {
        write: (c, key, value) => pool.client(c).put(key, value),
        read: (c, key) => pool.client(c).get(key),
        close: () => pool.close(),
      };
    },
  };
}

async function herodbTarget(dir: string, track: Track): Promise<Target> {
  const cluster = await startCluster({ nodes: NODES, dir });
  track(() => cluster.stop());
  log(`herodb: ${cluster.nodes.map((n) => `node ${n.id} resp ${n.respPort}`).join(", ")}`);
  const index = await cluster.createInstance({
    name: "bench",
    backend_type: { Redb: "bench.redb" },
  });
  if (!Number.isInteger(index)) throw new Error(`createInstance returned ${index}, not an index`);
  log(`herodb: Redb instance ${index} created`);
  const connect = (port: number) => connectInstance(port, index);
  return {
    side: "herodb",
    async open(clients) {
      const ports = cluster.nodes.map((n) => n.respPort);
      const conns = await Promise.all(
        Array.from({ length: clients }, (_, c) => connect(ports[c % ports.length])),
      );
      return {
        async write(c, key, value) {
          const reply = await conns[c].set(key, value);
          if (reply !== "OK") throw new Error(`SET ${key}: ${reply}`);
        },
        read: (c, key) => conns[c].getBuffer(key),
        close: () => {
          for (const conn of conns) conn.disconnect();
        },
      };
    },
  };
}

interface Sample extends LoadResult {
  side: Side;
  test: Test;
  clients: number;
}

interface Row {
  test: Test;
  clients: number;
  of: Record<Side, { rps: number; p50: number; p99: number }>;
  ratio: number;
}

function summarize(samples: Sample[], opts: Options): Row[] {
  const tests: Test[] = ["write", "read"];
  return tests.flatMap((test) =>
    opts.clients.map((clients) => {
      const stat = (side: Side) => {
        const s = samples.filter(
          (x) => x.side === side && x.test === test && x.clients === clients,
        );
        const m = (f: (x: Sample) => number) => median(s.map(f));
        return { rps: m((x) => x.opsPerSec), p50: m((x) => x.p50Ms), p99: m((x) => x.p99Ms) };
      };
      const of = { herodb: stat("herodb"), etcd: stat("etcd") };
      return { test, clients, of, ratio: of.herodb.rps / of.etcd.rps };
    }),
  );
}

const HEADERS = ["Test", "Clients", "HeroDB ops/s", "etcd ops/s", "HeroDB/etcd"].concat(
  ["HeroDB", "etcd", "HeroDB", "etcd"].map((who, i) => `${who} p${i < 2 ? 50 : 99} ms`),
);
const cells = (r: Row) => [
  r.test === "write" ? "durable write" : "linearizable read",
  String(r.clients),
  fmtRps(r.of.herodb.rps),
  fmtRps(r.of.etcd.rps),
  fmtRatio(r.ratio),
  ...[r.of.herodb.p50, r.of.etcd.p50, r.of.herodb.p99, r.of.etcd.p99].map((n) => fmtMs(n, 2)),
];

/** The file system the data dirs live on (fsync cost depends on it), e.g. "ext4". */
function fsType(dir: string): string {
  const r = spawnSync("findmnt", ["-n", "-o", "FSTYPE", "-T", dir], { encoding: "utf8" });
  return r.stdout?.trim() || "unknown file system";
}

function markdownReport(rows: Row[], opts: Options, dir: string): string {
  const goal = rows.find((r) => r.test === "write" && r.clients === TARGET_CLIENTS);
  const verdict =
    goal && Number.isFinite(goal.ratio)
      ? [
          `Target: HeroDB at least ${TARGET_RATIO}x etcd's writes/s at ${TARGET_CLIENTS} clients: ` +
            `${goal.ratio.toFixed(2)}x, ${goal.ratio >= TARGET_RATIO ? "met" : "not met"}.`,
          "",
        ]
      : [];
  return [
    `## Cluster: ${NODES} HeroDB nodes vs ${NODES} etcd members, ${new Date().toISOString().slice(0, 10)}`,
    "",
    `N closed-loop clients (N = ${opts.clients.join(", ")}), client i bound to node/member ` +
      `i mod ${NODES}, make ${opts.requests} writes in all, each of a ${opts.size}-byte value to ` +
      "the client's own key `bench:<i>`, then as many linearizable reads. HeroDB: ioredis, SET/GET " +
      "on a persistent Redb instance (writes fsync'd in the Raft log on a majority before the " +
      "reply; each GET waits for a ReadIndex round, shared by the reads that arrive together). " +
      "etcd: its JSON " +
      "gateway (`/v3/kv/put`, `/v3/kv/range`, linearizable), default durability (WAL fsync'd). " +
      "The load generator (scripts/bench/load.ts, one Node process) shares the machine; each " +
      "target first takes one uncounted pass of writes and reads (a warm-up), then the targets " +
      `run alternately, medians of ${opts.rounds} rounds, p50/p99 over each run's operations.`,
    "",
    `Machine: ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} cores; ` +
      `Node ${process.versions.node}; etcd ${etcdVersion()}; data on ${fsType(dir)}.`,
    "",
    ...markdownTable(HEADERS, rows.map(cells)),
    "",
    ...verdict,
  ].join("\n");
}

async function run(opts: Options, dir: string, track: Track): Promise<void> {
  const targets: Target[] = [];
  for (const side of opts.sides) {
    const sub = join(dir, side);
    mkdirSync(sub, { recursive: true });
    targets.push(await (side === "etcd" ? etcdTarget(sub, track) : herodbTarget(sub, track)));
  }
  // A pool of values, so no write repeats the one before it and no client pays for randomBytes.
  const values = Array.from({ length: 1024 }, () => randomBytes(opts.size));
  const samples: Sample[] = [];
  // One pass of each test against each target first, not counted: HeroDB's code is compiled as
  // it runs (etcd's is not), and its first round would measure the compiler.
  for (const target of targets) {
    const clients = Math.max(...opts.clients);
    const session = await target.open(clients);
    try {
      log(`warm-up: ${target.side} (not counted)`);
      const requests = Math.max(clients, opts.requests >> 1);
      await runLoad({
        clients,
        requests,
        op: (c, i) => session.write(c, `bench:${c}`, values[i % values.length]),
        onProgress: () => {},
      });
      await runLoad({
        clients,
        requests,
        op: (c) => session.read(c, `bench:${c}`).then(() => undefined),
        onProgress: () => {},
      });
    } finally {
      session.close();
    }
  }
  for (let round = 1; round <= opts.rounds; round++) {
    for (const clients of opts.clients) {
      const keys = Array.from({ length: clients }, (_, c) => `bench:${c}`);
      const order = round % 2 ? targets : [...targets].reverse();
      for (const target of order) {
        const session = await target.open(clients);
        const write = (c: number, i: number) =>
          session.write(c, keys[c], values[i % values.length]);
        const read = async (c: number) => {
          if ((await session.read(c, keys[c])) === null) throw new Error(`${keys[c]} missing`);
        };
        try {
          // Also the check that every node/member takes writes: a failing one aborts the run here.
          await runLoad({ clients, requests: clients, op: (c) => write(c, c) }).catch((e: Error) =>
            Promise.reject(new Error(`${target.side} warm-up: ${e.message}`)),
          );
          for (const test of ["write", "read"] as const) {
            const label = `round ${round}/${opts.rounds}  ${String(clients).padStart(3)} clients  ${target.side.padEnd(6)} ${test.padEnd(5)}`;
            const result = await runLoad({
              clients,
              requests: opts.requests,
              op: test === "write" ? write : read,
              onProgress: (line) => log(`  ${label} ${line}`),
            });
            samples.push({ ...result, side: target.side, test, clients });
            log(
              `${label}  ${fmtRps(result.opsPerSec)} ops/s, p50 ${fmtMs(result.p50Ms, 2)} ms, ` +
                `p99 ${fmtMs(result.p99Ms, 2)} ms (${result.seconds.toFixed(1)} s)`,
            );
          }
        } finally {
          session.close();
        }
      }
    }
  }
  const rows = summarize(samples, opts);
  log(`\n${textTable(HEADERS, rows.map(cells))}`);
  process.stdout.write(markdownReport(rows, opts, dir));
}

/** Entry point from run.ts: `argv` is what follows `cluster`. */
export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (opts.sides.includes("etcd")) ensureEtcd(log);
  // A fresh dir even under --dir: etcd would reuse an old member's data and ignore the flags.
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), "bench-cluster-"));
  await withServers(dir, "clusters", (track) => run(opts, dir, track));
}
