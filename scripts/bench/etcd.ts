/**
 * etcd as the reference for the `cluster` benchmark: a 3-member etcd cluster is the usual
 * yardstick for a replicated, fsync'd key-value store, so HeroDB's cluster is measured against
 * one started here on the same machine in the same run.
 *
 * `ensureEtcd` installs Debian's etcd-server with apt-get when `etcd` is missing (bookworm ships
 * 3.4, whose gRPC gateway serves the JSON API at /v3/kv/*). `startEtcdCluster` bootstraps the
 * members statically (`--initial-cluster`) on free 127.0.0.1 ports with their data dirs under
 * `dir` and etcd's default durability (the WAL fsync'd before a write is acknowledged), waits
 * until every member reports healthy, and stops each member by its own PID. The environment is
 * scrubbed of ETCD_* because etcd reads its flags from those too and would refuse the mix.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { hasTool } from "../../test/helpers/clients.ts";
import { freePorts } from "../../test/helpers/ports.ts";
import { aptInstall, stopPid } from "./procs.ts";

const STDERR_CAP = 64 * 1024;

/** Installs etcd-server (the `etcd` binary) when missing: as root, or through `sudo -n`. */
export function ensureEtcd(log: (line: string) => void): void {
  if (hasTool("etcd")) return;
  // The package's init script would start a system-wide etcd where services may start; that one
  // is not ours and listens on 2379, which our members never use (they take free ports).
  aptInstall(["etcd-server"], log);
  if (!hasTool("etcd")) throw new Error("etcd still missing after apt-get install etcd-server");
}

export function etcdVersion(): string {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /etcd Version:\s*(\S+)/.exec(r.stdout ?? "")?.[1] ?? "unknown";
}

export interface EtcdCluster {
  /** Client URLs, one per member, e.g. http://127.0.0.1:40123. */
  endpoints: string[];
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  members: number;
  /** Parent of the members' data dirs (member-1, member-2, ...). */
  dir: string;
  log: (line: string) => void;
  /** Bound on the wait for every member to report healthy; default 60 s. */
  startTimeoutMs?: number;
}

interface Member {
  name: string;
  proc: ChildProcess;
  clientUrl: string;
  stderr: string;
}

// Members still running if this process exits without stopping them (uncaught error): killed by
// PID so a failed run leaves no etcd behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ETCD_")) env[k] = v;
  // etcd 3.4 refuses to start on architectures it does not officially support unless told to.
  if (process.arch === "arm64") env.ETCD_UNSUPPORTED_ARCH = "arm64";
  return env;
}

/** GET /health on a client URL: true when the member answers {"health":"true"}. */
async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && body.health === "true";
  } catch {
    return false;
  }
}

/** Starts `members` etcd processes as one statically bootstrapped cluster; resolves when healthy. */
export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdCluster> {
  const ports = await freePorts(2 * opts.members);
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const specs = Array.from({ length: opts.members }, (_, i) => ({
    name: `member-${i + 1}`,
    clientUrl: url(ports[2 * i]),
    peerUrl: url(ports[2 * i + 1]),
  }));
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(",");
  // A token unique to this run, so a member can never join a stale cluster's peers.
  const token = `herodb-bench-${process.pid}-${Date.now()}`;
  const env = etcdEnv();
  const members: Member[] = [];
  const stop = async () => {
    await Promise.all(members.map((m) => stopPid(m.proc, 10_000)));
  };
  for (const s of specs) {
    const dataDir = join(opts.dir, s.name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const args = [
      ["--name", s.name],
      ["--data-dir", dataDir],
      ["--listen-client-urls", s.clientUrl],
      ["--advertise-client-urls", s.clientUrl],
      ["--listen-peer-urls", s.peerUrl],
      ["--initial-advertise-peer-urls", s.peerUrl],
      ["--initial-cluster", initialCluster],
      ["--initial-cluster-state", "new"],
      ["--initial-cluster-token", token],
      ["--logger", "zap"],
      ["--log-level", "warn"],
    ].flat();
    const proc = spawn("etcd", args, { env, stdio: ["ignore", "ignore", "pipe"] });
    live.add(proc);
    proc.once("exit", () => live.delete(proc));
    const m: Member = { name: s.name, proc, clientUrl: s.clientUrl, stderr: "" };
    proc.stderr?.on("data", (d: Buffer) => {
      m.stderr = (m.stderr + d.toString("utf8")).slice(-STDERR_CAP);
    });
    proc.on("error", (e) => {
      m.stderr += `\nspawn failed: ${e.message}`;
    });
    members.push(m);
  }
  opts.log(
    `etcd ${etcdVersion()}: ${members.length} members (pids ${members.map((m) => m.proc.pid).join(", ")}), ` +
      `clients ${specs.map((s) => s.clientUrl).join(" ")}`,
  );

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(members);
  while (pending.size > 0) {
    const dead = members.find((m) => m.proc.exitCode !== null || m.proc.signalCode !== null);
    if (dead !== undefined || Date.now() > deadline) {
      // Let the pipe deliver the last lines before quoting them.
      await new Promise((r) => setTimeout(r, 200));
      await stop();
      const who = dead ?? [...pending][0];
      const what = dead
        ? `${dead.name} exited (${dead.proc.signalCode ?? `code ${dead.proc.exitCode}`}) during start-up`
        : `${[...pending].map((m) => m.name).join(", ")} not healthy within ${timeoutMs} ms`;
      throw new Error(`etcd cluster: ${what}\n${who.name} stderr:\n${who.stderr.slice(-3000)}`);
    }
    for (const m of [...pending]) if (await healthy(m.clientUrl)) pending.delete(m);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoints: specs.map((s) => s.clientUrl), stop };
}
