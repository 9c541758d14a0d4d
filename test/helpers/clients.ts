/**
 * Real clients for integration tests: the redis-cli, socat and curl binaries a HeroDB user would
 * run, plus a raw TCP writer for byte-exact RESP checks. Running the real tools (not a library
 * standing in for them) is the point: it proves their handshakes and framing work unchanged.
 *
 * A missing tool is a clear error, never a silent pass. Outside CI a test file may skip with
 * `describe.skipIf(skipWithout("redis-cli"))`; under CI=true skipWithout() always says "run", so
 * the missing binary surfaces as a failing test.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { Redis } from "ioredis";

const INSTALL_HINT: Record<string, string> = {
  "redis-cli": "apt-get install redis-tools",
  socat: "apt-get install socat",
  curl: "apt-get install curl",
};

/** True when `name` is an executable file on PATH. */
export function hasTool(name: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Throws a clear error when `name` is not installed. */
export function requireTool(name: string): void {
  if (hasTool(name)) return;
  const hint = INSTALL_HINT[name] ? ` (${INSTALL_HINT[name]})` : "";
  throw new Error(`required tool '${name}' is not installed or not on PATH${hint}`);
}

/** For skipIf: true only when a tool is missing and we are not under CI (CI must fail instead). */
export function skipWithout(...tools: string[]): boolean {
  if (process.env.CI === "true" || process.env.CI === "1") return false;
  return tools.some((t) => !hasTool(t));
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve (and end the tool) as soon as stdout satisfies this. */
  doneWhen?: (stdout: string) => boolean;
}

function runTool(cmd: string, args: string[], opts: RunOptions = {}): Promise<ToolResult> {
  requireTool(cmd);
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let early = false;
    proc.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
      if (!early && opts.doneWhen?.(stdout)) {
        early = true;
        proc.kill("SIGTERM");
      }
    });
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    proc.stdin?.on("error", () => {}); // the tool may exit before reading all input
    if (opts.input !== undefined) proc.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, opts.timeoutMs ?? 15_000);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${e.message}`));
    });
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: early ? 0 : code, stdout, stderr, timedOut });
    });
  });
}

export interface RedisCliOptions {
  /** -2 or -3 (RESP2/RESP3 via HELLO); default: redis-cli's own default. */
  proto?: 2 | 3;
  /** Fed to stdin (e.g. one command per line with no args, or a value with `-x`). */
  input?: string;
  timeoutMs?: number;
  /** Extra options placed before the command (e.g. ["-n", "2"], ["--no-raw"]). */
  flags?: string[];
}

/**
 * Runs `redis-cli -h 127.0.0.1 -p <port> [-2|-3] [flags] ...args` to completion. With stdout
 * not a terminal redis-cli prints raw replies (`OK`, `1`, errors as `ERR ...`).
 */
export function redisCli(
  port: number,
  args: string[],
  opts: RedisCliOptions = {},
): Promise<ToolResult> {
  const argv = ["-h", "127.0.0.1", "-p", String(port)];
  if (opts.proto !== undefined) argv.push(`-${opts.proto}`);
  argv.push(...(opts.flags ?? []), ...args);
  return runTool("redis-cli", argv, { input: opts.input, timeoutMs: opts.timeoutMs });
}

/**
 * Sends `line` (one or more JSON requests, one per line) to a Unix socket through socat and
 * returns what came back. Returns as soon as one reply line per request line has arrived, so a
 * server that keeps the connection open does not cost socat's linger time.
 */
export async function socatUds(
  path: string,
  line: string,
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  const input = line.endsWith("\n") ? line : `${line}\n`;
  const expected = input.split("\n").filter((l) => l.trim() !== "").length;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const linger = Math.max(1, Math.ceil(timeoutMs / 1000));
  const r = await runTool("socat", ["-t", String(linger), "-", `UNIX-CONNECT:${path}`], {
    input,
    timeoutMs,
    doneWhen: (out) => out.split("\n").length - 1 >= expected,
  });
  if (r.code !== 0 && r.stdout === "") {
    throw new Error(`socat to ${path} failed (code ${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

export interface CurlReply {
  status: number;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** curl's exit status: 0, or e.g. 55 when sending failed after a response arrived. */
  curlExit: number;
  stderr: string;
}

/** HTTPS for curl: the CA to trust (files), and a client certificate to present. */
export interface CurlTls {
  cacert: string;
  cert?: string;
  key?: string;
}

/**
 * POSTs `body` (a string or Buffer as is, anything else as JSON) to http://127.0.0.1:<port>/ with curl
 * (https with `opts.tls`),
 * the body fed on stdin (`--data-binary @-`). Rejects only when no HTTP response arrived.
 */
export async function curlRpc(
  port: number,
  body: unknown,
  headers: Record<string, string> = {},
  opts: { path?: string; timeoutMs?: number; tls?: CurlTls } = {},
): Promise<CurlReply> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const argv = [...curlOptions(timeoutMs, { "content-type": "application/json", ...headers })];
  argv.push("-X", "POST", "--data-binary", "@-", "-w", "\n%{http_code}");
  const t = opts.tls;
  if (t !== undefined) {
    argv.push("--cacert", t.cacert);
    if (t.cert !== undefined) argv.push("--cert", t.cert, "--key", t.key ?? "");
  }
  argv.push(`${t === undefined ? "http" : "https"}://127.0.0.1:${port}${opts.path ?? "/"}`);
  const input = Buffer.isBuffer(body) || typeof body === "string" ? body : JSON.stringify(body);
  const r = await runTool("curl", argv, { input, timeoutMs: timeoutMs + 2000 });
  const cut = r.stdout.lastIndexOf("\n");
  const status = cut === -1 ? 0 : Number(r.stdout.slice(cut + 1));
  // A response that arrived counts even if curl then failed (e.g. the server answered 413 and
  // closed while the upload was still going); no response at all is an error.
  if (!(status > 0)) throw new Error(`curl failed (code ${r.code}): ${r.stderr.trim()}`);
  const text = r.stdout.slice(0, cut);
  return {
    status,
    body: text,
    json: jsonOrUndefined(text),
    curlExit: r.code ?? -1,
    stderr: r.stderr,
  };
}

/** curl's quiet mode, a time limit and the request headers. */
function curlOptions(timeoutMs: number, headers: Record<string, string>): string[] {
  const argv = ["-sS", "--max-time", String(Math.ceil(timeoutMs / 1000))];
  for (const [k, v] of Object.entries(headers)) argv.push("-H", `${k}: ${v}`);
  return argv;
}

function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** GETs http://127.0.0.1:<port><path> into the file `out` with curl (bytes as sent); the status. */
export async function curlDownload(
  port: number,
  path: string,
  out: string,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<number> {
  const argv = [...curlOptions(timeoutMs, headers), "-o", out];
  argv.push("-w", "%{http_code}", `http://127.0.0.1:${port}${path}`);
  const r = await runTool("curl", argv, { timeoutMs: timeoutMs + 2000 });
  const status = Number(r.stdout.trim());
  if (!(status > 0)) throw new Error(`curl failed (code ${r.code}): ${r.stderr.trim()}`);
  return status;
}

/** GETs http://127.0.0.1:<port><path> with curl; also returns the content type. */
export async function curlGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<CurlReply & { contentType: string }> {
  const argv = curlOptions(timeoutMs, headers);
  argv.push("-w", "\n%{http_code} %{content_type}", `http://127.0.0.1:${port}${path}`);
  const r = await runTool("curl", argv, { timeoutMs: timeoutMs + 2000 });
  const cut = r.stdout.lastIndexOf("\n");
  const [code, ...type] = r.stdout.slice(cut + 1).split(" ");
  const status = Number(code);
  if (!(status > 0)) throw new Error(`curl failed (code ${r.code}): ${r.stderr.trim()}`);
  const text = r.stdout.slice(0, cut);
  const json = jsonOrUndefined(text);
  return {
    status,
    body: text,
    json,
    curlExit: r.code ?? -1,
    stderr: r.stderr,
    contentType: type.join(" "),
  };
}

/** Encodes a command as a RESP array of bulk strings, as clients send it. */
export function respCommand(...args: (string | Buffer | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

export interface RawOptions {
  /** Overall bound; default 5 s. */
  timeoutMs?: number;
  /** Quiet time after the last chunk that ends collection; default 200 ms. */
  idleMs?: number;
  /** Pause between chunks when `bytes` is an array (to test partial frames); default 20 ms. */
  chunkDelayMs?: number;
}

export interface RawReply {
  data: Buffer;
  /** The server closed the connection. */
  closed: boolean;
}

type Bytes = string | Buffer;

/**
 * Writes raw bytes (or a list of chunks, with pauses) to the RESP port and collects the reply
 * until the server has been quiet for idleMs after answering, closes, or timeoutMs passes.
 */
export function rawRespBytes(
  port: number,
  bytes: Bytes | Bytes[],
  opts: RawOptions = {},
): Promise<RawReply> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const idleMs = opts.idleMs ?? 200;
  const chunks = Array.isArray(bytes) ? bytes : [bytes];
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let closed = false;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const sock = connect({ host: "127.0.0.1", port });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(idle);
      sock.destroy();
      resolve({ data: Buffer.concat(got), closed });
    };
    const overall = setTimeout(finish, timeoutMs);
    sock.on("connect", async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, opts.chunkDelayMs ?? 20));
        if (done || sock.destroyed) return;
        sock.write(chunks[i]);
      }
    });
    sock.on("data", (d: Buffer) => {
      got.push(d);
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    });
    sock.on("end", () => {
      closed = true;
      finish();
    });
    sock.on("close", () => {
      closed = true;
      finish();
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET" || e.code === "EPIPE") {
        closed = true;
        finish();
      } else if (!done) {
        done = true;
        clearTimeout(overall);
        clearTimeout(idle);
        reject(new Error(`raw RESP connection to port ${port} failed: ${e.message}`));
      }
    });
  });
}

/** rawRespBytes decoded as UTF-8, for comparing against expected RESP text. */
export async function rawResp(
  port: number,
  bytes: Bytes | Bytes[],
  opts: RawOptions = {},
): Promise<string> {
  return (await rawRespBytes(port, bytes, opts)).data.toString("utf8");
}

/**
 * An ioredis client on 127.0.0.1:port that connects at once (SELECTing `db` when given) and
 * fails a command after one retry, as the KV suites use it.
 */
export function ioredisClient(port: number, db?: number): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    ...(db === undefined ? {} : { db }),
    lazyConnect: false,
    maxRetriesPerRequest: 1,
  });
}

/** Resolves with the first `n` items pushed to `sink` (pub/sub messages), or rejects after `ms`. */
export async function collect<T>(sink: T[], n: number, ms = 5000): Promise<T[]> {
  const deadline = Date.now() + ms;
  while (sink.length < n) {
    if (Date.now() > deadline) throw new Error(`got ${sink.length} of ${n} messages`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return sink.slice(0, n);
}
