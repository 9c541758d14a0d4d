/**
 * PostgreSQL for the SQL benchmark (./sql.ts): found under /usr/lib/postgresql (apt-get installs
 * it when missing), initialised in a fresh temp dir and started on a free 127.0.0.1 port with
 * `fsync=on` and `synchronous_commit=on`, then stopped by its own PID (SIGTERM, then SIGKILL)
 * and its dir removed. As root, PostgreSQL refuses to run: the data dir is then given to the
 * `postgres` system user and initdb and postgres are spawned with that user's uid and gid (no
 * runuser or su in between), so the PID held is postgres's own.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../../test/helpers/ports.ts";
import { aptInstall, stopPid } from "./procs.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

const PG_ROOT = "/usr/lib/postgresql";

/** The bin dir of the installed PostgreSQL: 15's, else the newest there is. */
function pgBinDir(): string | undefined {
  if (existsSync(join(PG_ROOT, "15", "bin", "postgres"))) return join(PG_ROOT, "15", "bin");
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => existsSync(join(PG_ROOT, v, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions.length > 0 ? join(PG_ROOT, versions[0], "bin") : undefined;
}

/**
 * Installs Debian's postgresql when no server binaries are found. Its maintainer scripts may
 * create and start a system-wide cluster on 5432 where services may start; that one is not ours
 * and is never touched (ours takes a free port and a data dir of its own).
 */
export function ensurePostgres(): string {
  const found = pgBinDir();
  if (found !== undefined) return found;
  aptInstall(["postgresql"], log);
  const bin = pgBinDir();
  if (bin === undefined) throw new Error(`no PostgreSQL under ${PG_ROOT} after apt-get install`);
  return bin;
}

export function pgVersion(bin: string): string {
  const r = spawnSync(join(bin, "postgres"), ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /\(PostgreSQL\)\s*(\S+)/.exec(r.stdout ?? "")?.[1] ?? "unknown";
}

/** As root: the `postgres` system user's uid and gid, to run PostgreSQL as; else undefined. */
function pgIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8", timeout: 10_000 }).stdout);
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) {
    throw new Error(
      "running as root, and PostgreSQL refuses to run as root: it needs the postgres system " +
        "user (created by apt-get install postgresql)",
    );
  }
  return { uid, gid };
}

const STDERR_CAP = 64 * 1024;

// Servers still running if this process exits without stopping them: killed by PID.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

export interface Postgres {
  port: number;
  version: string;
  stop(): Promise<void>;
}

/** initdb in a fresh temp dir, then postgres on 127.0.0.1:<free port>; resolves when it answers. */
export async function startPostgres(bin: string, maxConnections: number): Promise<Postgres> {
  const who = pgIdentity();
  const dir = mkdtempSync(join(tmpdir(), "bench-sql-pg-"));
  if (who !== undefined) chownSync(dir, who.uid, who.gid);
  const data = join(dir, "data");
  // Nothing of this shell's PG* variables or locale: PostgreSQL reads its settings from those.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LC_ALL: "C", LANG: "C", HOME: dir };
  const as = { ...who, cwd: dir, env };
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "bench", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"],
    { ...as, encoding: "utf8", timeout: 120_000 },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = init.error?.message ?? init.stderr?.trim().split("\n").slice(-3).join(" ");
    throw new Error(`initdb failed: ${why || `exit ${init.status}`}`);
  }
  const port = await freePort();
  const settings = [
    "listen_addresses=127.0.0.1",
    `port=${port}`,
    `unix_socket_directories=${dir}`,
    "fsync=on",
    "synchronous_commit=on",
    `max_connections=${maxConnections}`,
  ];
  const args = ["-D", data, ...settings.flatMap((s) => ["-c", s])];
  const proc = spawn(join(bin, "postgres"), args, { ...as, stdio: ["ignore", "ignore", "pipe"] });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString("utf8")).slice(-STDERR_CAP);
  });
  proc.on("error", (e) => {
    stderr += `\nspawn failed: ${e.message}`;
  });
  const stop = async () => {
    await stopPid(proc, 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const version = pgVersion(bin);
  log(`postgres ${version}: pid ${proc.pid}, port ${port}, data ${data}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await new Promise((r) => setTimeout(r, 200));
      await stop();
      throw new Error(`postgres exited during start-up:\n${stderr.slice(-3000)}`);
    }
    const probe = pgClient(port);
    try {
      await probe.connect();
      await probe.query("SELECT 1");
      return { port, version, stop };
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`postgres did not answer within 60 s: ${(e as Error).message}`);
      }
    } finally {
      await probe.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function pgClient(port: number): pg.Client {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "bench",
    database: "postgres",
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  // Failures surface through the queries (and are counted there); no unhandled 'error'.
  client.on("error", () => {});
  return client;
}
