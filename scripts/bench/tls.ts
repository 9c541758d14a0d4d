/**
 * `npm run bench -- tls`: what TLS on the client port costs, measured the way `npm run bench`
 * measures the plain port (./run.ts). redis-benchmark `--tls` runs SET and GET against
 * HeroDB-TS's TLS port and redis-server's (Debian builds it with TLS), and, in the same run, the
 * bare Node RESP server (./node-ceiling.ts) over `node:tls`, which tells whether Node's TLS or
 * HeroDB's own work is the limit, plus HeroDB's and the Node server's plain ports, which give
 * TLS's cost. The figure we track is HeroDB TLS / redis-server TLS at -P 1 (goal: 0.8 or more).
 *
 * How: `herodb certs --out DIR --nodes 1` writes a CA, a server certificate for 127.0.0.1 and a
 * client certificate into a temporary directory; redis-server (`--port 0 --tls-port`), the Node
 * ceiling (plain and TLS ports) and a HeroDB server (plain and TLS ports, an InMemory instance
 * created over JSON-RPC) start on free ports. By default both servers require the client
 * certificate (`--tls-auth-clients yes`) and redis-benchmark presents it; `--auth-clients no`
 * runs both without. The Node servers get one uncounted warm-up pass, then each round runs the
 * five targets in turn, the order rotating each round. Around each run the server's main-thread
 * and process CPU time, redis-benchmark's and the machine's are read from /proc, so the report
 * says who was saturated and what a request cost the server. This 2-core machine is shared:
 * each run waits for a quiet machine first, and a run during which other processes used more
 * than a quarter of a core is run again (at most twice; the report counts them). Progress and
 * plain tables go to stderr, Markdown for docs/benchmarks.md to stdout. Every server is stopped
 * by its PID and the directory removed at the end, on errors and on SIGINT/SIGTERM; every wait
 * is bounded.
 *
 *   npm run --silent bench -- tls [--rounds 3] [--requests 200000] [--clients 50] [--size 100]
 *                                 [--pipelines 1,16] [--auth-clients yes|no]
 *                                 [--only herodb-tls,redis-tls,ceiling-tls,herodb,ceiling]
 * (--only runs some of the targets, e.g. two side by side while looking into a difference; all
 * servers still start.)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { rawResp, respCommand } from "../../test/helpers/clients.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { runCli, startServer } from "../../test/helpers/server.ts";
import { onlyTargets, positiveInt, requestsAt } from "./options.ts";
import {
  abortBenchmark,
  ensureRedisTools,
  redisServerVersion,
  runBenchmark,
  startCeiling,
  startRedisTls,
  type TlsFiles,
  tlsRequest,
  withServers,
} from "./procs.ts";
import { parseBenchmarkCsv } from "./report.ts";
import {
  type CpuSample,
  LABEL,
  TARGETS,
  type TlsSample,
  type TlsTarget,
  tlsConsole,
  tlsMarkdown,
} from "./tls-report.ts";

interface Options {
  rounds: number;
  requests: number;
  clients: number;
  size: number;
  pipelines: number[];
  authClients: "yes" | "no";
  only: TlsTarget[];
}

const USAGE =
  "usage: node scripts/bench/run.ts tls [--rounds N] [--requests N] [--clients N] " +
  "[--size BYTES] [--pipelines 1,16] [--auth-clients yes|no]\n" +
  `       [--only ${TARGETS.join(",")}]`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    requests: 200_000,
    clients: 50,
    size: 100,
    pipelines: [1, 16],
    authClients: "yes",
    only: [...TARGETS],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--rounds") o.rounds = positiveInt(flag, value, USAGE);
    else if (flag === "--requests") o.requests = positiveInt(flag, value, USAGE);
    else if (flag === "--clients") o.clients = positiveInt(flag, value, USAGE);
    else if (flag === "--size") o.size = positiveInt(flag, value, USAGE);
    else if (flag === "--pipelines") {
      o.pipelines = (value ?? "").split(",").map((p) => positiveInt(flag, p, USAGE));
    } else if (flag === "--auth-clients") {
      if (value !== "yes" && value !== "no")
        throw new Error(`--auth-clients is yes or no\n${USAGE}`);
      o.authClients = value;
    } else if (flag === "--only") o.only = onlyTargets(value, TARGETS, USAGE);
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Clock ticks per second of /proc's CPU times. */
function clockTicks(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 10_000 });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/**
 * CPU ticks from a /proc/.../stat file, NaN when unreadable: utime + stime (fields 14 and 15),
 * or with `children`, cutime + cstime (16 and 17: the children this process has waited for).
 */
function statTicks(path: string, children = false): number {
  try {
    const text = readFileSync(path, "latin1");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const at = children ? 13 : 11;
    return Number(f[at]) + Number(f[at + 1]);
  } catch {
    return Number.NaN;
  }
}

/** Busy and total ticks of every core together (/proc/stat's first line). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "latin1").split("\n")[0].trim().split(/\s+/).slice(1);
  const n = f.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - n[3] - n[4], total };
}

/**
 * Reads CPU times before a run of `requests` requests; the returned function gives the run's
 * figures. redis-benchmark's time is what this process's reaped children gained meanwhile (the
 * servers are children too, but are not reaped until they stop).
 */
function cpuMeter(
  pid: number,
  hz: number,
  requests: number,
): () => Omit<CpuSample, "target" | "pipeline" | "round"> {
  const thread = () => statTicks(`/proc/${pid}/task/${pid}/stat`);
  const proc = () => statTicks(`/proc/${pid}/stat`);
  const reaped = () => statTicks("/proc/self/stat", true);
  const [t0, p0, b0, m0] = [thread(), proc(), reaped(), machineTicks()];
  const started = performance.now();
  return () => {
    const secs = (performance.now() - started) / 1000;
    const m1 = machineTicks();
    const used = proc() - p0;
    const bench = reaped() - b0;
    const pct = (ticks: number) => (ticks / hz / secs) * 100;
    return {
      thread: pct(thread() - t0),
      process: pct(used),
      usPerRequest: (used / hz / requests) * 1e6,
      bench: pct(bench),
      others: pct(m1.busy - m0.busy - used - bench),
      machine: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100,
    };
  };
}

/** Other processes' CPU, in % of one core, above which a run is disturbed (and redone). */
const DISTURBED = 25;
const REDOS = 2;

/**
 * Waits, at most `maxMs`, until the machine's CPU use over half a second is below DISTURBED: the
 * servers idle between runs, so what is busy then is another user of this shared machine.
 */
async function waitQuiet(hz: number, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const [a, started] = [machineTicks(), performance.now()];
    await new Promise((r) => setTimeout(r, 500));
    const secs = (performance.now() - started) / 1000;
    if (((machineTicks().busy - a.busy) / hz / secs) * 100 < DISTURBED) return true;
    if (Date.now() > deadline) return false;
  }
}

const PROBE = Buffer.concat([
  respCommand("SET", "bench:probe", "x"),
  respCommand("GET", "bench:probe"),
  respCommand("DEL", "bench:probe"),
]);
const PROBE_REPLY = "+OK\r\n+OK\r\n$1\r\nx\r\n:1\r\n";

/**
 * Checks SELECT and SET/GET on the instance over the plain and the TLS port before handing them
 * to redis-benchmark; returns the TLS session's protocol and cipher.
 */
async function probe(port: number, tlsPort: number, files: TlsFiles, index: number) {
  const req = Buffer.concat([respCommand("SELECT", index), PROBE]);
  const plain = await rawResp(port, req, { timeoutMs: 10_000 });
  const tls = await tlsRequest(tlsPort, files, req, (t) => t.length >= PROBE_REPLY.length, 10_000);
  for (const [what, got] of [
    ["plain", plain],
    ["TLS", tls.text],
  ]) {
    if (got !== PROBE_REPLY) {
      throw new Error(`HeroDB instance ${index} failed the ${what} probe: ${JSON.stringify(got)}`);
    }
  }
  return tls.session;
}

/** The negotiated protocol and cipher of a TLS port (a PING over a fresh connection). */
async function session(port: number, files: TlsFiles): Promise<string> {
  const r = await tlsRequest(
    port,
    files,
    "*1\r\n$4\r\nPING\r\n",
    (t) => t.includes("\r\n"),
    10_000,
  );
  if (!r.text.startsWith("+PONG")) throw new Error(`no PONG over TLS on port ${port}`);
  return r.session;
}

async function makeCerts(dir: string): Promise<TlsFiles> {
  const r = await runCli(["certs", "--out", dir, "--nodes", "1"], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    const why = r.timedOut ? "timed out" : `exit ${r.code}: ${r.stderr.trim()}`;
    throw new Error(`herodb certs ${why}`);
  }
  return {
    ca: join(dir, "ca.crt"),
    cert: join(dir, "node1.crt"),
    key: join(dir, "node1.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

async function bench(
  opts: Options,
  dir: string,
  track: (stop: () => Promise<unknown>) => void,
): Promise<void> {
  track(async () => abortBenchmark());
  const files = await makeCerts(dir);
  log(`certificates (herodb certs) in ${dir}; client certificates: ${opts.authClients}`);

  const redis = await startRedisTls(await freePort(), files, opts.authClients, 15_000);
  track(() => redis.stop());
  log(`redis-server ${redisServerVersion()} on TLS port ${redis.port} (--port 0)`);

  const ceilingTls = await freePort();
  const ceiling = await startCeiling(await freePort(), 15_000, undefined, {
    port: ceilingTls,
    files,
    authClients: opts.authClients,
  });
  track(() => ceiling.stop());
  log(`Node ceiling on port ${ceiling.port}, TLS port ${ceilingTls}`);

  const herodbTls = await freePort();
  const herodb = await startServer({
    secret: "bench-secret",
    startTimeoutMs: 60_000,
    args: [
      ...["--tls-port", String(herodbTls), "--tls-cert-file", files.cert],
      ...["--tls-key-file", files.key, "--tls-ca-cert-file", files.ca],
      ...["--tls-auth-clients", opts.authClients],
    ],
  });
  track(() => herodb.cleanup());
  log(`herodb on port ${herodb.port}, TLS port ${herodbTls} (api ${herodb.apiPort})`);
  const index = await herodb.call<number>("db_createInstance", {
    name: "bench",
    backend_type: "InMemory",
  });
  if (!Number.isInteger(index)) {
    throw new Error(`db_createInstance returned ${JSON.stringify(index)}, not an index`);
  }
  const sessions: Partial<Record<TlsTarget, string>> = {
    "herodb-tls": await probe(herodb.port, herodbTls, files, index),
    "redis-tls": await session(redis.port, files),
    "ceiling-tls": await session(ceilingTls, files),
  };
  for (const [t, s] of Object.entries(sessions)) log(`${LABEL[t as TlsTarget]}: ${s}`);
  log(`InMemory instance ${index} ready`);

  const where: Record<TlsTarget, { port: number; pid: number; tls: boolean; db: boolean }> = {
    "herodb-tls": { port: herodbTls, pid: herodb.proc.pid ?? 0, tls: true, db: true },
    "redis-tls": { port: redis.port, pid: redis.proc.pid ?? 0, tls: true, db: false },
    "ceiling-tls": { port: ceilingTls, pid: ceiling.proc.pid ?? 0, tls: true, db: false },
    herodb: { port: herodb.port, pid: herodb.proc.pid ?? 0, tls: false, db: true },
    ceiling: { port: ceiling.port, pid: ceiling.proc.pid ?? 0, tls: false, db: false },
  };
  const perRunTimeout = Math.max(120_000, opts.requests * 2);
  const benchArgs = (target: TlsTarget, pipeline: number): string[] => {
    const w = where[target];
    const args = ["-h", "127.0.0.1", "-p", String(w.port), "-t", "set,get"];
    args.push("-n", String(requestsAt(opts.requests, pipeline)), "-c", String(opts.clients));
    args.push("-d", String(opts.size), "-P", String(pipeline), "-q", "--csv");
    if (w.tls) {
      args.push("--tls", "--cacert", files.ca);
      if (opts.authClients === "yes")
        args.push("--cert", files.clientCert, "--key", files.clientKey);
    }
    if (w.db) args.push("--dbnum", String(index));
    return args;
  };

  log("warm-up pass against the Node servers (not counted)");
  for (const pipeline of opts.pipelines) {
    for (const target of opts.only.filter((t) => t !== "redis-tls")) {
      await runBenchmark(benchArgs(target, pipeline), perRunTimeout);
    }
  }
  log("");

  const hz = clockTicks();
  const samples: TlsSample[] = [];
  const cpu: CpuSample[] = [];
  let redone = 0;
  let disturbed = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const pipeline of opts.pipelines) {
      const order = opts.only.map((_, i) => opts.only[(i + round - 1) % opts.only.length]);
      for (const target of order) {
        const label = `round ${round}/${opts.rounds}  -P ${String(pipeline).padEnd(3)} ${target.padEnd(11)}`;
        const requests = 2 * requestsAt(opts.requests, pipeline);
        for (let attempt = 0; ; attempt++) {
          if (!(await waitQuiet(hz, 60_000))) log("(the machine stayed busy for 60 s: running)");
          const meter = cpuMeter(where[target].pid, hz, requests);
          const out = await runBenchmark(benchArgs(target, pipeline), perRunTimeout);
          const use = meter();
          const rows = parseBenchmarkCsv(out);
          if (rows.length === 0) throw new Error(`${label}: redis-benchmark printed no results`);
          const pct = (n: number) => `${Math.round(n)}%`;
          log(
            `${label}  ${rows.map((r) => `${r.test} ${Math.round(r.rps)} req/s`).join(", ")}  ` +
              `(server thread ${pct(use.thread)}, process ${pct(use.process)}, ` +
              `${use.usPerRequest.toFixed(1)} µs/request; redis-benchmark ${pct(use.bench)}, ` +
              `others ${pct(use.others)}; machine ${pct(use.machine)})`,
          );
          if (use.others > DISTURBED && attempt < REDOS) {
            redone++;
            log(`${label}  disturbed by other processes: again`);
            continue;
          }
          if (use.others > DISTURBED) disturbed++;
          for (const row of rows) samples.push({ ...row, target, pipeline, round });
          cpu.push({ ...use, target, pipeline, round });
          break;
        }
      }
    }
  }
  const runs = opts.rounds * opts.pipelines.length * opts.only.length;
  const notes = [
    `Runs during which other processes used more than ${DISTURBED}% of a core were run again ` +
      `(at most ${REDOS} times; each run also waited for a quiet machine first): ${redone} ` +
      `repeats for ${runs} runs, ${disturbed} kept though still disturbed.`,
  ];
  log(notes[0]);
  log(`\n${tlsConsole(samples, cpu)}`);
  process.stdout.write(
    `${tlsMarkdown(samples, cpu, {
      date: new Date().toISOString().slice(0, 10),
      requests: opts.requests,
      clients: opts.clients,
      dataSize: opts.size,
      rounds: opts.rounds,
      authClients: opts.authClients,
      node: process.versions.node,
      redisVersion: redisServerVersion(),
      cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
      cores: availableParallelism(),
      sessions,
      notes,
    })}\n`,
  );
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  ensureRedisTools(log);
  const dir = mkdtempSync(join(tmpdir(), "bench-tls-"));
  await withServers(dir, "the TLS benchmark's servers", (track) => bench(opts, dir, track));
}
