/**
 * Starts a real redis-server for tests that compare HeroDB's replies with Redis's own.
 *
 * The server runs on a free port from ./ports.ts with no persistence (`--save '' --appendonly
 * no`), bound to 127.0.0.1, in a fresh temp dir; `startRedisServer()` resolves once it answers
 * PING, and `stop()` kills it by PID (SIGKILL: it holds nothing worth saving). Every process
 * started here is also killed by PID when the test worker exits, so a failing test leaks none.
 * The binary must be on PATH (CI installs redis-server); a missing one is a clear error.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./clients.ts";
import { freePort } from "./ports.ts";
import { pingOnce, waitExit } from "./server.ts";

export interface RedisServer {
  readonly port: number;
  readonly proc: ChildProcess;
  /** What the process wrote so far (its log). */
  output(): string;
  /** SIGKILL by PID, wait for the exit (bounded), remove the temp dir. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
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
});

/** Starts redis-server on a free port and waits (up to `timeoutMs`) for PONG. */
export async function startRedisServer(timeoutMs = 10_000): Promise<RedisServer> {
  requireTool("redis-server");
  const dir = mkdtempSync(join(tmpdir(), "redis-test-"));
  const port = await freePort();
  const args = ["--save", "", "--appendonly", "no", "--port", String(port)];
  args.push("--bind", "127.0.0.1", "--dir", dir);
  const proc = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString("utf8")).slice(-64 * 1024);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);

  const stop = async () => {
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await waitExit(proc, 5000);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`redis-server exited before answering PING:\n${out}`);
    }
    if ((await pingOnce(port, 500)).startsWith("+PONG")) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, proc, output: () => out, stop };
}
