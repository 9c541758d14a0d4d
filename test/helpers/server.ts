/**
 * Starts real HeroDB server processes for integration tests and drives their control plane.
 *
 * `startServer()` spawns `node src/main.ts` (Node 24 from node_modules/.bin) on free ports with a
 * fresh temp data dir, then waits until the RESP port answers PING over a raw TCP socket, so a
 * test begins only once the server is truly serving. The environment is scrubbed of HERODB_*
 * so a developer's shell cannot change what a test sees. Every started process is remembered
 * and SIGKILLed by PID when the test worker exits, so a failing test cannot leak servers; only
 * processes started here are ever signalled.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "./ports.ts";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const localNode = join(repoRoot, "node_modules", ".bin", "node");
/** Node 24 binary: the project's pinned one, else whatever runs the tests (also Node 24). */
export const nodeBin = existsSync(localNode) ? localNode : process.execPath;
const mainScript = join(repoRoot, "src", "main.ts");
const OUTPUT_CAP = 256 * 1024;

export interface StartOptions {
  /** Reuse this data dir (e.g. to reopen a server's files); default: a fresh temp dir. */
  dataDir?: string;
  /** Admin secret; default "test-secret". Also the default Bearer token of rpc(). */
  secret?: string;
  /** false: omit --admin-secret (pass it yourself via env or args). Default true. */
  secretArg?: boolean;
  port?: number;
  apiPort?: number;
  socketPath?: string;
  /** Extra CLI arguments, appended after the standard ones. */
  args?: string[];
  /** Added to the environment (which otherwise has no HERODB_* variables). */
  env?: Record<string, string | undefined>;
  /** How long to wait for PING to answer +PONG; default 20 s. */
  startTimeoutMs?: number;
  /**
   * Wait for the "herodb ready" log line instead of PING on the plain port (a server started
   * with --port 0 --tls-port has no plain port to ping).
   */
  readyOnLog?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RpcResponse<T = unknown> {
  jsonrpc?: string;
  id?: unknown;
  result?: T;
  error?: { code: number; message: string; data?: unknown };
}

export interface RpcOptions {
  /** Bearer token: default the server's secret; a string uses that; false sends none. */
  auth?: string | false;
  timeoutMs?: number;
}

export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface TestServer {
  readonly port: number;
  readonly apiPort: number;
  readonly socketPath: string;
  readonly dataDir: string;
  secret: string;
  /** The current process (replaced by restart()). */
  proc: ChildProcess;
  /** Everything the current process wrote so far (capped at the last 256 KiB). */
  stdout(): string;
  stderr(): string;
  /** JSON-RPC call over HTTP; returns the parsed response object. */
  rpc<T = unknown>(method: string, params?: unknown, opts?: RpcOptions): Promise<RpcResponse<T>>;
  /** JSON-RPC call that returns `result`, throwing with the server's message on `error`. */
  call<T = unknown>(method: string, params?: unknown, opts?: RpcOptions): Promise<T>;
  /** Raw HTTP POST to the API (body: a string is sent as is, anything else as JSON). */
  http(body: unknown, headers?: Record<string, string>, path?: string): Promise<HttpReply>;
  /** SIGTERM, wait (bounded), then SIGKILL. Resolves once the process has exited. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL by PID, as a crash would. */
  kill(): Promise<ExitInfo>;
  /** Stop (if running) and start again on the same ports and data dir. */
  restart(opts?: Pick<StartOptions, "args" | "env" | "secret" | "startTimeoutMs">): Promise<void>;
  /** Stop and remove the data dir if this helper created it. */
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
const createdDirs = new Set<string>();
process.once("exit", () => {
  for (const p of live) {
    if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (const d of createdDirs) rmSync(d, { recursive: true, force: true });
});

/** process.env without HERODB_* variables, plus `extra` (undefined values delete). */
export function testEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("HERODB_")) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function tail(text: string, n = 4000): string {
  return text.length > n ? `...${text.slice(-n)}` : text;
}

function hasExited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

/** Resolves true once `p` has exited, false if it has not within `ms`. */
export function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(p)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      p.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.once("exit", onExit);
  });
}

/** One PING as a RESP array over a fresh TCP connection; resolves with the raw reply text. */
export function pingOnce(port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const sock = connect({ host: "127.0.0.1", port });
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\r\n")) finish();
    });
    sock.on("error", finish);
    sock.on("close", finish);
  });
}

interface Spawned {
  proc: ChildProcess;
  out: { stdout: string; stderr: string };
}

function spawnServer(argv: string[], env: NodeJS.ProcessEnv): Spawned {
  const proc = spawn(nodeBin, [mainScript, ...argv], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  const out = { stdout: "", stderr: "" };
  proc.stdout?.on("data", (d: Buffer) => {
    out.stdout = (out.stdout + d.toString("utf8")).slice(-OUTPUT_CAP);
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out.stderr = (out.stderr + d.toString("utf8")).slice(-OUTPUT_CAP);
  });
  return { proc, out };
}

/** Waits until `port` answers +PONG; rejects (after SIGKILLing it) if the process exits or stalls. */
async function waitReady(
  s: Spawned,
  port: number,
  timeoutMs: number,
  onLog = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  s.proc.once("exit", () => {
    exited = true;
  });
  s.proc.once("error", () => {
    exited = true;
  });
  let last = "";
  while (Date.now() < deadline) {
    if (exited || hasExited(s.proc)) {
      // Give the pipes a moment to deliver the last words before reporting them.
      await new Promise((r) => setTimeout(r, 200));
      const how = s.proc.signalCode ? `signal ${s.proc.signalCode}` : `code ${s.proc.exitCode}`;
      throw new Error(
        `herodb exited (${how}) before answering PING on port ${port}\n` +
          `stderr:\n${tail(s.out.stderr)}\nstdout:\n${tail(s.out.stdout, 1500)}`,
      );
    }
    if (onLog) {
      if (s.out.stderr.includes('"msg":"herodb ready"')) return;
    } else {
      last = await pingOnce(port, Math.min(1000, Math.max(50, deadline - Date.now())));
      if (last.startsWith("+PONG\r\n")) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (s.proc.pid !== undefined && !hasExited(s.proc)) s.proc.kill("SIGKILL");
  await waitExit(s.proc, 5000);
  throw new Error(
    `herodb did not answer PING with +PONG on port ${port} within ${timeoutMs} ms` +
      (last ? ` (last reply: ${JSON.stringify(last)})` : "") +
      `\nstderr:\n${tail(s.out.stderr)}\nstdout:\n${tail(s.out.stdout, 1500)}`,
  );
}

async function stopProcess(p: ChildProcess, timeoutMs: number): Promise<ExitInfo> {
  if (!hasExited(p)) {
    p.kill("SIGTERM");
    if (!(await waitExit(p, timeoutMs))) {
      p.kill("SIGKILL");
      if (!(await waitExit(p, 10_000))) throw new Error(`process ${p.pid} survived SIGKILL`);
    }
  }
  return { code: p.exitCode, signal: p.signalCode };
}

let rpcId = 0;

/** Starts a server and resolves once it answers PING; see StartOptions for the defaults. */
export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  let dataDir = opts.dataDir;
  let ownDir = false;
  if (dataDir === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), "herodb-test-"));
    createdDirs.add(dataDir);
    ownDir = true;
  }
  let port = opts.port;
  let apiPort = opts.apiPort;
  if (port === undefined || apiPort === undefined) {
    const [a, b] = await freePorts(2);
    port ??= a;
    apiPort ??= b;
  }
  // Unix socket paths are limited to ~107 bytes; fall back to a short dir for long data dirs.
  let socketPath = opts.socketPath ?? join(dataDir, "herodb.sock");
  if (socketPath.length > 100) {
    const sockDir = mkdtempSync(join(tmpdir(), "hdb-"));
    createdDirs.add(sockDir);
    socketPath = join(sockDir, "herodb.sock");
  }
  const fixed = { port, apiPort, socketPath, dataDir };
  let current = { ...opts, secret: opts.secret ?? "test-secret" };

  const launch = async (): Promise<Spawned> => {
    const argv = ["--data-dir", fixed.dataDir];
    if (current.secretArg !== false) argv.push("--admin-secret", current.secret);
    argv.push("--port", String(fixed.port), "--api-port", String(fixed.apiPort));
    argv.push("--socket-path", fixed.socketPath, ...(current.args ?? []));
    const s = spawnServer(argv, testEnv(current.env));
    await waitReady(s, fixed.port, current.startTimeoutMs ?? 20_000, current.readyOnLog === true);
    return s;
  };

  let spawned = await launch();

  const http = async (
    body: unknown,
    headers: Record<string, string> = {},
    path = "/",
  ): Promise<HttpReply> => {
    const res = await fetch(`http://127.0.0.1:${fixed.apiPort}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  const server: TestServer = {
    ...fixed,
    secret: current.secret,
    proc: spawned.proc,
    stdout: () => spawned.out.stdout,
    stderr: () => spawned.out.stderr,
    async rpc<T>(method: string, params?: unknown, o: RpcOptions = {}) {
      const req: Record<string, unknown> = { jsonrpc: "2.0", method, id: ++rpcId };
      if (params !== undefined) req.params = params;
      const headers: Record<string, string> = {};
      const token = o.auth === undefined ? server.secret : o.auth;
      if (token !== false) headers.authorization = `Bearer ${token}`;
      const reply = await http(req, headers);
      if (reply.json === undefined || typeof reply.json !== "object") {
        throw new Error(
          `${method}: HTTP ${reply.status}, body is not a JSON object: ${reply.text}`,
        );
      }
      return reply.json as RpcResponse<T>;
    },
    async call<T>(method: string, params?: unknown, o: RpcOptions = {}) {
      const r = await server.rpc<T>(method, params, o);
      if (r.error) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
      return r.result as T;
    },
    http,
    stop: (timeoutMs = 10_000) => stopProcess(spawned.proc, timeoutMs),
    async kill() {
      const p = spawned.proc;
      if (!hasExited(p) && p.pid !== undefined) process.kill(p.pid, "SIGKILL");
      if (!(await waitExit(p, 10_000))) throw new Error(`process ${p.pid} survived SIGKILL`);
      return { code: p.exitCode, signal: p.signalCode };
    },
    async restart(o = {}) {
      await stopProcess(spawned.proc, 10_000);
      current = { ...current, ...o, secret: o.secret ?? current.secret };
      spawned = await launch();
      server.proc = spawned.proc;
      server.secret = current.secret;
    },
    async cleanup() {
      await stopProcess(spawned.proc, 10_000);
      if (ownDir) {
        rmSync(fixed.dataDir, { recursive: true, force: true });
        createdDirs.delete(fixed.dataDir);
      }
    },
  };
  return server;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Default 20 s; on expiry the process is SIGKILLed and timedOut is true. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
}

/** Runs `node src/main.ts ...args` to completion (e.g. to check start-up errors). */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawn(nodeBin, [mainScript, ...args], {
      cwd: repoRoot,
      env: testEnv(opts.env),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    live.add(proc);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    proc.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    if (opts.input !== undefined) proc.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, opts.timeoutMs ?? 20_000);
    proc.on("error", (e) => {
      stderr += String(e);
    });
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
