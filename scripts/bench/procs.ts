/**
 * The processes a benchmark run needs besides HeroDB: redis-server as the reference, and
 * redis-benchmark as the load generator. Every spawn has a time bound and every process started
 * here is stopped by its own PID (SIGTERM, then SIGKILL), so an interrupted run leaves nothing
 * behind and touches nothing it did not start.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { hasTool } from "../../test/helpers/clients.ts";
import { pingOnce, waitExit } from "../../test/helpers/server.ts";

/**
 * Installs Debian packages with apt-get (as root, or through `sudo -n`), bounded in time; throws
 * with apt's last words when it fails.
 */
export function aptInstall(packages: string[], log: (line: string) => void): void {
  const prefix = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["apt-get", "-qq", "update"],
    ["apt-get", "-qq", "install", "-y", "--no-install-recommends", ...packages],
  ]) {
    const cmd = [...prefix, ...args];
    log(`installing: ${cmd.join(" ")}`);
    const r = spawnSync(cmd[0], cmd.slice(1), {
      env,
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 10 * 60_000,
    });
    if (r.status !== 0) {
      const why = r.error?.message ?? r.stderr?.toString().trim().split("\n").slice(-3).join(" ");
      throw new Error(`${cmd.join(" ")} failed: ${why || `exit ${r.status}`}`);
    }
  }
}

/** Installs redis-server (and with it redis-benchmark, from redis-tools) when missing. */
export function ensureRedisTools(log: (line: string) => void): void {
  if (hasTool("redis-server") && hasTool("redis-benchmark")) return;
  aptInstall(["redis-server", "redis-tools"], log);
  if (!hasTool("redis-server") || !hasTool("redis-benchmark")) {
    throw new Error("redis-server/redis-benchmark still missing after apt-get install");
  }
}

export function redisServerVersion(): string {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /v=(\S+)/.exec(r.stdout ?? "")?.[1] ?? "unknown";
}

/** Stops a process we started: SIGTERM, then SIGKILL if it lingers. */
export async function stopPid(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  if (await waitExit(proc, graceMs)) return;
  proc.kill("SIGKILL");
  await waitExit(proc, 5000);
}

export interface RedisServer {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `command args` (a RESP server on 127.0.0.1:port) and waits for PONG, bounded; stops it
 * and throws, with what it printed, when it exits first or never answers.
 */
async function startResp(
  what: string,
  command: string,
  args: string[],
  port: number,
  timeoutMs: number,
  ping: (port: number, ms: number) => Promise<string> = pingOnce,
): Promise<RedisServer> {
  const proc = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const server = { port, proc, stop: () => stopPid(proc) };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${what} exited during start-up: ${stderr.trim()}`);
    }
    if ((await ping(port, 500)).startsWith("+PONG")) return server;
    await new Promise((r) => setTimeout(r, 100));
  }
  await server.stop();
  throw new Error(`${what} did not answer PING on port ${port} within ${timeoutMs} ms`);
}

/**
 * Starts redis-server on 127.0.0.1:port and waits for PONG (bounded): without persistence, or,
 * with `aofDir`, with an append-only file fsync'd on every write (the durable comparison).
 */
export function startRedis(
  port: number,
  timeoutMs = 15_000,
  aofDir?: string,
): Promise<RedisServer> {
  const persistence =
    aofDir === undefined
      ? ["--appendonly", "no"]
      : ["--appendonly", "yes", "--appendfsync", "always", "--dir", aofDir];
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence];
  return startResp("redis-server", "redis-server", args, port, timeoutMs);
}

/** Certificates for the TLS runs: what `herodb certs --out DIR --nodes 1` writes. */
export interface TlsFiles {
  ca: string;
  /** The server's certificate and key (node1.crt/key: localhost, 127.0.0.1, ::1). */
  cert: string;
  key: string;
  /** A client certificate signed by the same CA. */
  clientCert: string;
  clientKey: string;
}

export interface TlsReply {
  /** What the server sent before `done` said enough or the time ran out ("" on failure). */
  text: string;
  /** The negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
  session: string;
}

/**
 * Sends `request` over one TLS connection to 127.0.0.1:port (verifying the server against the
 * CA and presenting the client certificate) and reads until `done(text)` or `timeoutMs`; never
 * rejects, like pingOnce.
 */
export function tlsRequest(
  port: number,
  files: TlsFiles,
  request: Buffer | string,
  done: (text: string) => boolean,
  timeoutMs: number,
): Promise<TlsReply> {
  return new Promise((resolve) => {
    let text = "";
    let session = "";
    const sock = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: readFileSync(files.ca),
      cert: readFileSync(files.clientCert),
      key: readFileSync(files.clientKey),
    });
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, session });
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on("secureConnect", () => {
      session = `${sock.getProtocol()} ${sock.getCipher().standardName}`;
      sock.write(request);
    });
    sock.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (done(text)) finish();
    });
    sock.on("error", finish);
    sock.on("close", finish);
  });
}

const tlsPing = (files: TlsFiles) => async (port: number, ms: number) =>
  (await tlsRequest(port, files, "*1\r\n$4\r\nPING\r\n", (t) => t.includes("\r\n"), ms)).text;

/**
 * Starts redis-server with only a TLS port (`--port 0 --tls-port port`), without persistence,
 * asking clients for a certificate signed by the CA when `authClients` is "yes"; waits for PONG
 * over TLS (bounded).
 */
export function startRedisTls(
  port: number,
  files: TlsFiles,
  authClients: "yes" | "no",
  timeoutMs = 15_000,
): Promise<RedisServer> {
  const args = ["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1"];
  args.push("--save", "", "--appendonly", "no", "--tls-cert-file", files.cert);
  args.push("--tls-key-file", files.key, "--tls-ca-cert-file", files.ca);
  args.push("--tls-auth-clients", authClients);
  return startResp("redis-server (TLS)", "redis-server", args, port, timeoutMs, tlsPing(files));
}

/**
 * The bare Node RESP server (./node-ceiling.ts) on 127.0.0.1:port, run by this Node; given
 * `log`, its durable form (every SET synced to that file before the reply); given `tls`, also
 * serving over TLS on `tls.port` (client certificates required when `tls.authClients` is "yes").
 */
export async function startCeiling(
  port: number,
  timeoutMs = 15_000,
  log?: string,
  tls?: { port: number; files: TlsFiles; authClients: "yes" | "no" },
): Promise<RedisServer> {
  const script = new URL("./node-ceiling.ts", import.meta.url).pathname;
  const args = [script, String(port), ...(log === undefined ? [] : ["--log", log])];
  if (tls !== undefined) {
    args.push("--tls-port", String(tls.port), "--tls-cert", tls.files.cert);
    args.push("--tls-key", tls.files.key);
    if (tls.authClients === "yes") args.push("--tls-ca", tls.files.ca);
  }
  const server = await startResp(
    "the Node ceiling server",
    process.execPath,
    args,
    port,
    timeoutMs,
  );
  if (tls !== undefined) {
    const deadline = Date.now() + timeoutMs;
    while (!(await tlsPing(tls.files)(tls.port, 500)).startsWith("+PONG")) {
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`the Node ceiling did not answer PING over TLS on port ${tls.port}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return server;
}

let current: ChildProcess | undefined;

/** Ends a redis-benchmark still running (for Ctrl-C). */
export function abortBenchmark(): void {
  if (current && current.exitCode === null && current.signalCode === null) {
    current.kill("SIGKILL");
  }
}

/** Runs redis-benchmark to completion and returns its stdout; rejects on failure or timeout. */
export function runBenchmark(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "pipe"] });
    current = proc;
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    proc.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, timeoutMs);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run redis-benchmark: ${e.message}`));
    });
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      if (timedOut) reject(new Error(`redis-benchmark ${args.join(" ")} exceeded ${timeoutMs} ms`));
      else if (code !== 0) {
        const how = signal ? `signal ${signal}` : `exit ${code}`;
        reject(new Error(`redis-benchmark failed (${how}): ${stderr.trim() || stdout.trim()}`));
      } else resolve(stdout);
    });
  });
}

/**
 * Runs a benchmark whose servers write under `dir`: `body` registers how to stop each server it
 * starts (`track`); at the end, on an error and on SIGINT/SIGTERM, every server is stopped
 * (their PIDs), then `dir` is removed.
 */
export async function withServers(
  dir: string,
  what: string,
  body: (track: (stop: () => Promise<unknown>) => void) => Promise<void>,
): Promise<void> {
  const stops: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<unknown> | undefined;
  // Servers first, then the data dir they were writing to.
  const cleanup = () => {
    cleaning ??= Promise.allSettled(stops.map((c) => c())).then(() =>
      rmSync(dir, { recursive: true, force: true }),
    );
    return cleaning;
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping ${what}\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await body((c) => stops.push(c));
  } finally {
    await cleanup();
  }
}
