/**
 * Sphinx for the full-text benchmark (./fulltext.ts): Debian's `sphinxsearch` (installed with
 * apt-get when `searchd` is missing), started here in the foreground (`--nodetach`, so the PID
 * held is searchd's own) from a generated config in a temp dir: one real-time index (`type =
 * rt`, fields title and body, `morphology = stem_en`, `dict = keywords`, prefixes from two
 * letters, the one attribute an RT index must have) and a MySQL-protocol listener on a free
 * 127.0.0.1 port. Its binary log is kept as `binlog_flush` says. The benchmark uses 2, Sphinx's
 * default: every insert written to the log before its reply (it survives a kill -9 of searchd,
 * replayed at start-up), the log synced to disk once a second. 1 should also sync every
 * transaction, but Sphinx 2.2.11 (Debian 12's) then writes nothing to the log at all: inserts
 * acknowledged before a kill -9 were gone after the restart (checked by hand: 300 inserts, an
 * empty binlog.001, 0 documents), so 1 is less durable than 2 here, not more. searchd runs as
 * root without complaint, so no user is switched. It is stopped by its PID (SIGTERM, then
 * SIGKILL); its dir goes with the benchmark's.
 *
 * The client is `mysql2`, which is not a dependency of the project: it is installed with npm
 * into the benchmark's temp dir at run time and imported from there.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { hasTool } from "../../test/helpers/clients.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { aptInstall, stopPid } from "./procs.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

/** What the benchmark uses of mysql2's promise API. */
export interface MysqlConnection {
  query(sql: string): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  on(event: "error", listener: (e: Error) => void): void;
}

export interface Mysql2 {
  createConnection(options: {
    host: string;
    port: number;
    connectTimeout?: number;
  }): Promise<MysqlConnection>;
}

/** The mysql2 major version installed for the run. */
const MYSQL2 = "mysql2@3";

/** Installs mysql2 under `dir` with npm (bounded) and imports its promise API from there. */
export async function loadMysql2(dir: string): Promise<{ mysql: Mysql2; version: string }> {
  const prefix = join(dir, "npm");
  mkdirSync(prefix, { recursive: true });
  log(`sphinx: npm install --prefix ${prefix} ${MYSQL2}`);
  const r = spawnSync(
    "npm",
    ["install", "--prefix", prefix, MYSQL2, "--no-audit", "--no-fund", "--loglevel=error"],
    { stdio: ["ignore", "ignore", "pipe"], timeout: 5 * 60_000 },
  );
  if (r.status !== 0) {
    const why = r.error?.message ?? r.stderr?.toString().trim().split("\n").slice(-3).join(" ");
    throw new Error(`npm install ${MYSQL2} failed: ${why || `exit ${r.status}`}`);
  }
  const root = join(prefix, "node_modules", "mysql2");
  const mod = (await import(pathToFileURL(join(root, "promise.js")).href)) as {
    default?: Mysql2;
  } & Mysql2;
  const pkg = (await import(pathToFileURL(join(root, "package.json")).href, {
    with: { type: "json" },
  })) as { default: { version: string } };
  return { mysql: mod.default ?? mod, version: pkg.default.version };
}

/** Installs Debian's sphinxsearch when searchd is missing. */
export function ensureSphinx(): void {
  if (hasTool("searchd")) return;
  aptInstall(["sphinxsearch"], log);
  if (!hasTool("searchd")) throw new Error("searchd still missing after apt-get install");
}

export function sphinxVersion(): string {
  const r = spawnSync("searchd", ["--help"], { encoding: "utf8", timeout: 10_000 });
  return /Sphinx (\S+)/.exec(r.stdout ?? "")?.[1] ?? "unknown";
}

/** A SphinxQL string literal: backslashes and single quotes escaped. */
export const sqlString = (s: string) => `'${s.replace(/[\\']/g, "\\$&")}'`;

const STDERR_CAP = 64 * 1024;

// A searchd still running if this process exits without stopping it: killed by PID.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

export interface Sphinx {
  port: number;
  version: string;
  connect(): Promise<MysqlConnection>;
  stop(): Promise<void>;
}

function config(dir: string, port: number, binlogFlush: number): string {
  return [
    "index idx",
    "{",
    "  type = rt",
    `  path = ${join(dir, "idx")}`,
    "  rt_field = title",
    "  rt_field = body",
    "  rt_attr_uint = n",
    "  morphology = stem_en",
    "  dict = keywords",
    "  min_prefix_len = 2",
    "}",
    "searchd",
    "{",
    `  listen = 127.0.0.1:${port}:mysql41`,
    `  log = ${join(dir, "searchd.log")}`,
    `  pid_file = ${join(dir, "searchd.pid")}`,
    `  binlog_path = ${dir}`,
    `  binlog_flush = ${binlogFlush}`,
    "  workers = threads",
    "}",
    "",
  ].join("\n");
}

/** searchd on 127.0.0.1:<free port> with a fresh RT index in `dir`; resolves once it answers. */
export async function startSphinx(
  mysql: Mysql2,
  parent: string,
  binlogFlush: number,
): Promise<Sphinx> {
  const dir = join(parent, "sphinx");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, "sphinx.conf");
  writeFileSync(conf, config(dir, port, binlogFlush));
  const proc = spawn("searchd", ["--config", conf, "--nodetach"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString("utf8")).slice(-STDERR_CAP);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  proc.on("error", (e) => {
    output += `\nspawn failed: ${e.message}`;
  });
  const connect = async () => {
    const c = await mysql.createConnection({ host: "127.0.0.1", port, connectTimeout: 10_000 });
    // Failures surface through the queries (and are counted there); no unhandled 'error'.
    c.on("error", () => {});
    return c;
  };
  // SIGTERM makes searchd save its RAM chunk to disk first: a generous grace.
  const stop = () => stopPid(proc, 30_000);
  const version = sphinxVersion();
  log(`sphinx ${version}: pid ${proc.pid}, port ${port}, dir ${dir}, binlog_flush ${binlogFlush}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`searchd exited during start-up:\n${output.slice(-3000)}`);
    }
    try {
      const probe = await connect();
      await probe.query("SHOW STATUS");
      await probe.end();
      return { port, version, connect, stop };
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`searchd did not answer within 60 s: ${(e as Error).message}\n${output}`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
