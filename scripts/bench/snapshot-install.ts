/**
 * `npm run bench -- snapshot [--mb 1024] [--value 1024] [--type redb|sql]`: what installing a
 * large instance on a joining node costs in memory. A 1-node cluster gets a persistent (Redb)
 * instance, or a SQL one (a table of `--value`-byte blobs), holding `--mb` MiB of values,
 * compacts its log into a snapshot file, then a second node joins: the leader streams the
 * snapshot file to it and the joiner installs it. Both processes' anonymous resident memory
 * (RssAnon in /proc: heap and buffers, not mapped file pages) is sampled every 100 ms through the
 * whole transfer.
 *
 * What it shows: the leader sends from its snapshot file (read a chunk at a time), so its memory
 * should not grow with the snapshot; the joiner writes the file to disk as it arrives, then
 * restores from it as a stream. The key-value engines keep every key decoded in memory (as
 * Redis does), so the joiner ends up holding the state; the figure to watch there is how far it
 * ends above the leader, which holds the same state (what the install itself left behind). A SQL
 * instance keeps its rows in its file, so both processes should stay flat whatever the size.
 * Progress goes to stderr, the Markdown for docs/benchmarks.md to stdout.
 */
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { type StatusView, startCluster, waitFor } from "../../test/helpers/cluster.ts";
import { markdownTable, textTable } from "./report.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const MiB = 1024 * 1024;

/**
 * A process's anonymous resident memory (RssAnon): what it holds itself (heap, buffers), without
 * the file pages of LMDB's memory map and of files it reads, which the kernel can drop at will.
 */
function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

interface Options {
  mb: number;
  value: number;
  type: "redb" | "sql";
}

function parseOptions(argv: string[]): Options {
  const o: Options = { mb: 1024, value: 1024, type: "redb" };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--type") {
      const t = argv[i + 1];
      if (t !== "redb" && t !== "sql") throw new Error("--type is redb or sql");
      o.type = t;
      continue;
    }
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${argv[i]} needs a positive integer`);
    if (argv[i] === "--mb") o.mb = n;
    else if (argv[i] === "--value") o.value = n;
    else throw new Error(`unknown option ${argv[i]} (--mb N, --value BYTES, --type redb|sql)`);
  }
  return o;
}

/** How the bench fills an instance of each type and counts what a node holds. */
interface Filler {
  backend: unknown;
  what: string;
  load(c: Redis, keys: number, value: number): Promise<void>;
  /** One more small write (to pass --snapshot-count). */
  tick(c: Redis, i: number): Promise<unknown>;
  /** Items a node holds (its local copy): keys + 1 when the install is complete. */
  count(c: Redis): Promise<number>;
}

const FILLERS: Record<Options["type"], Filler> = {
  redb: {
    backend: { Redb: "big" },
    what: "a persistent (Redb) instance",
    async load(c, keys, size) {
      const value = Buffer.alloc(size, "v");
      const batch = 2000;
      for (let k = 0; k < keys; k += batch) {
        const p = c.pipeline();
        for (let i = k; i < Math.min(keys, k + batch); i++) p.set(`key:${i}`, value);
        await p.exec();
        if ((k / batch) % 50 === 0) log(`  loaded ${k} of ${keys} keys`);
      }
    },
    tick: (c, i) => c.set("tick", String(i)),
    count: (c) => c.dbsize(),
  },
  sql: {
    backend: "Sql",
    what: "a SQL instance (one table of blobs)",
    async load(c, rows, size) {
      await c.call("SQL.EXEC", "CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
      const batch = 5000;
      for (let k = 0; k < rows; k += batch) {
        const n = Math.min(batch, rows - k);
        await c.call(
          "SQL.EXEC",
          `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ${n}) INSERT INTO big(v) SELECT zeroblob(${size}) FROM c`,
        );
        if ((k / batch) % 20 === 0) log(`  loaded ${k} of ${rows} rows`);
      }
      await c.call("SQL.EXEC", "CREATE TABLE tick(n INTEGER)");
    },
    tick: (c, i) => c.call("SQL.EXEC", "INSERT INTO tick VALUES (?)", String(i)),
    async count(c) {
      const rows = (await c.call(
        "SQL.QUERY",
        "SELECT (SELECT count(*) FROM big) + (SELECT count(*) > 0 FROM tick) AS n",
      )) as unknown[][];
      return Number(rows[0]?.[1] ?? 0);
    },
  },
};

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const keys = Math.ceil((o.mb * MiB) / o.value);
  const fill = FILLERS[o.type];
  log(`snapshot install: ${fill.what}, ${keys} values of ${o.value} bytes (${o.mb} MiB)`);
  const cluster = await startCluster({ nodes: 1, args: ["--snapshot-count", "1000"] });
  try {
    const db = await cluster.createInstance({ name: "big", backend_type: fill.backend });
    const c = new Redis({ port: cluster.node(1).respPort, db, maxRetriesPerRequest: 1 });
    const started = performance.now();
    await fill.load(c, keys, o.value);
    const loadSeconds = (performance.now() - started) / 1000;
    log(`  loaded in ${loadSeconds.toFixed(1)} s`);
    // Enough further single writes to pass --snapshot-count once more, so the log compacts into
    // a snapshot that holds every key (the joiner then needs nothing but the snapshot).
    const leader = cluster.node(1);
    const status = await leader.server.call<StatusView>("cluster_status");
    const loadedAt = status.groups.find((g) => g.group === db)?.applied ?? 0;
    for (let i = 0; i < 1100; i++) await fill.tick(c, i);
    const snapshotAt = (): { index: number; bytes: number } => {
      const lines = (leader.server.stderr() + leader.server.stdout()).split("\n");
      const re = new RegExp(`group ${db}: snapshot at index (\\d+) \\((\\d+) bytes\\)`);
      let found = { index: 0, bytes: 0 };
      for (const l of lines) {
        const m = re.exec(l);
        if (m !== null) found = { index: Number(m[1]), bytes: Number(m[2]) };
      }
      return found;
    };
    let lastNote = 0;
    await waitFor(
      "a snapshot of everything loaded",
      async () => {
        if (performance.now() - lastNote > 10_000) {
          lastNote = performance.now();
          log(`  waiting for a snapshot past index ${loadedAt}; latest: ${snapshotAt().index}`);
        }
        return snapshotAt().index > loadedAt;
      },
      600_000,
    );
    const snapBytes = snapshotAt().bytes;
    log(`  snapshot file: ${(snapBytes / MiB).toFixed(0)} MiB`);
    await new Promise((r) => setTimeout(r, 2000)); // let the leader settle
    const leaderBefore = rssOf(leader.server.proc.pid);

    let leaderPeak = leaderBefore;
    let joinerPeak = 0;
    let joinerPid: number | undefined;
    const sampler = setInterval(() => {
      leaderPeak = Math.max(leaderPeak, rssOf(leader.server.proc.pid));
      joinerPeak = Math.max(joinerPeak, rssOf(joinerPid));
    }, 100);
    const joinStarted = performance.now();
    const adding = cluster.addNode(2);
    // The joiner's process exists before it answers: find its pid as soon as it does.
    const found = setInterval(() => {
      const n = cluster.nodes.find((x) => x.id === 2);
      if (n !== undefined) joinerPid = n.server.proc.pid;
    }, 50);
    const n2 = await adding;
    joinerPid = n2.server.proc.pid;
    clearInterval(found);
    const reader = new Redis({ port: n2.respPort, db, maxRetriesPerRequest: 1 });
    await reader.call("READONLY");
    let lastLog = 0;
    await waitFor(
      "the joiner's copy",
      async () => {
        const n = await fill.count(reader);
        if (performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          log(
            `  joiner holds ${n} of ${keys + 1} items, rss ${(rssOf(joinerPid) / MiB).toFixed(0)} MiB`,
          );
        }
        return n === keys + 1;
      },
      1_200_000,
    );
    const installSeconds = (performance.now() - joinStarted) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(sampler);
    const joinerFinal = rssOf(joinerPid);
    const leaderAfter = rssOf(leader.server.proc.pid);
    reader.disconnect();
    c.disconnect();
    const log2 = n2.server.stderr() + n2.server.stdout();
    if (!/receiving snapshot at index/.test(log2))
      throw new Error("the joiner did not receive a streamed snapshot");

    const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
    const rows = [
      ["values loaded", `${o.mb} MiB (${keys} × ${o.value} B)`],
      ["snapshot file", mb(snapBytes)],
      [
        "leader memory before the join / peak during it / after",
        `${mb(leaderBefore)} / ${mb(leaderPeak)} / ${mb(leaderAfter)}`,
      ],
      ["leader growth while sending", mb(leaderPeak - leaderBefore)],
      ["joiner memory peak / after install", `${mb(joinerPeak)} / ${mb(joinerFinal)}`],
      [
        "joiner memory after install, over the leader's for the same state",
        mb(joinerFinal - leaderBefore),
      ],
      [
        "join to all keys served",
        `${installSeconds.toFixed(1)} s (${(snapBytes / MiB / installSeconds).toFixed(0)} MiB/s)`,
      ],
    ];
    process.stderr.write(`\n${textTable(["measure", "value"], rows)}\n`);
    process.stdout.write(
      [
        `## Installing a ${o.mb} MiB ${o.type === "sql" ? "SQL" : "Redb"} instance on a joining node, ${new Date().toISOString().slice(0, 10)}`,
        "",
        `\`npm run --silent bench -- snapshot --mb ${o.mb} --value ${o.value} --type ${o.type}\`: ${fill.what} on a 1-node cluster, its log compacted into a snapshot file, then a second node joins; anonymous resident memory (RssAnon: heap and buffers, not mapped file pages) of both processes sampled every 100 ms.`,
        "",
        ...markdownTable(["Measure", "Value"], rows),
        "",
      ].join("\n"),
    );
  } finally {
    await cluster.stop();
  }
}
