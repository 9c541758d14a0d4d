/**
 * `npm test`: runs vitest and ends with one line CI can read, `N passed, N failed[, N skipped]`.
 *
 * Vitest's own summary is meant for people, so vitest also writes its JSON report to a temp file;
 * once vitest exits we count results from that report and print the line as the very last output.
 * A run that crashed, timed out, left no report or exited non-zero with nothing marked failed
 * (unhandled errors, no test files) counts as at least one failure, so CI never reads a green
 * line off a broken run. Extra arguments are passed to vitest (file filters, -t, ...).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface RunCounts {
  passed: number;
  failed: number;
  skipped: number;
}

interface JsonAssertion {
  status?: unknown;
}
interface JsonFileResult {
  status?: unknown;
  assertionResults?: unknown;
}

/**
 * Counts tests in a vitest JSON report (the parsed object). Returns null when the value does not
 * look like a report. A file that failed without any failed test (import error, failing
 * beforeAll/afterAll) counts as one failure, since its tests never ran or their result is void.
 */
export function countResults(report: unknown): RunCounts | null {
  if (typeof report !== "object" || report === null) return null;
  const files = (report as { testResults?: unknown }).testResults;
  if (!Array.isArray(files)) return null;
  const counts: RunCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const file of files as JsonFileResult[]) {
    if (typeof file !== "object" || file === null) continue;
    const tests = Array.isArray(file.assertionResults)
      ? (file.assertionResults as JsonAssertion[])
      : [];
    let failedHere = 0;
    for (const t of tests) {
      const status = typeof t === "object" && t !== null ? t.status : undefined;
      if (status === "passed") counts.passed++;
      else if (status === "failed") failedHere++;
      else counts.skipped++; // skipped, pending, todo, disabled
    }
    if (failedHere === 0 && file.status === "failed") failedHere = 1;
    counts.failed += failedHere;
  }
  return counts;
}

/** Parses the report file's text; null when it is missing, truncated or not a report. */
export function parseReport(text: string | null): RunCounts | null {
  if (text === null) return null;
  try {
    return countResults(JSON.parse(text));
  } catch {
    return null;
  }
}

/**
 * Final counts for a run: a non-zero exit (or a missing report) with no failure recorded becomes
 * one failure, so the summary line and the exit status always agree.
 */
export function finalCounts(counts: RunCounts | null, exitCode: number | null): RunCounts {
  const result = counts ? { ...counts } : { passed: 0, failed: 0, skipped: 0 };
  const crashed = counts === null || exitCode !== 0;
  if (crashed && result.failed === 0) result.failed = 1;
  return result;
}

export function formatSummary(c: RunCounts): string {
  const line = `${c.passed} passed, ${c.failed} failed`;
  return c.skipped > 0 ? `${line}, ${c.skipped} skipped` : line;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Whole-run bound, so a hung vitest still leaves a summary line before CI's own limit. */
function runTimeoutMs(): number {
  const fromEnv = Number(process.env.TEST_RUN_TIMEOUT_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 80 * 60_000;
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "herodb-test-report-"));
  const reportPath = join(tmp, "vitest.json");
  const vitest = join(repoRoot, "node_modules", "vitest", "vitest.mjs");
  const args = [
    vitest,
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${reportPath}`,
    ...process.argv.slice(2),
  ];
  // Own process group, so a timeout can end vitest together with its workers and any server
  // processes the tests spawned, and nothing else.
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.stderr.write(
      `\nscripts/test.ts: test run exceeded ${runTimeoutMs()} ms; stopping it\n`,
    );
    killGroup(child.pid, "SIGTERM");
    setTimeout(() => killGroup(child.pid, "SIGKILL"), 10_000).unref();
  }, runTimeoutMs());

  const exitCode = await new Promise<number | null>((resolve) => {
    child.on("error", (e) => {
      process.stderr.write(`scripts/test.ts: could not start vitest: ${e.message}\n`);
      resolve(null);
    });
    child.on("exit", (code) => resolve(code));
  });
  clearTimeout(timer);
  // Whatever is still in vitest's group now (a worker orphaned by a signal, a server a test
  // leaked) was started by this run and has no one left to stop it.
  killGroup(child.pid, "SIGKILL");

  const counts = timedOut ? null : parseReport(readIfExists(reportPath));
  rmSync(tmp, { recursive: true, force: true });
  const final = finalCounts(counts, timedOut ? null : exitCode);
  process.stdout.write(`\n${formatSummary(final)}\n`);
  process.exitCode = final.failed > 0 ? 1 : 0;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    process.stderr.write(`scripts/test.ts: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.stdout.write(`\n${formatSummary({ passed: 0, failed: 1, skipped: 0 })}\n`);
    process.exitCode = 1;
  });
}
