/**
 * The `herodb` CLI: parse flags, start the server, stop cleanly on SIGTERM/SIGINT. Every
 * start-up problem (missing or wrong secret, unusable data dir, busy port) is one line on stderr
 * and a non-zero exit, never a stack trace.
 */

import { runBackupCli } from "./cli/backup.ts";
import { runCerts } from "./cli/certs.ts";
import { checkConfig } from "./cli/config-check.ts";
import { runSqlShell } from "./cli/sql-shell.ts";
import { ConfigError, HELP, parseArgs } from "./config.ts";
import { HeroError } from "./errors.ts";
import { log } from "./log.ts";
import { HeroServer } from "./server.ts";
import { VERSION } from "./version.ts";

function fail(message: string): never {
  process.stderr.write(`herodb: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  if (parsed.kind === "help") {
    process.stdout.write(HELP);
    return;
  }
  if (parsed.kind === "version") {
    process.stdout.write(`herodb ${VERSION}\n`);
    return;
  }
  if (parsed.kind === "print-config") {
    process.stdout.write(parsed.text);
    return;
  }
  // Everything the server creates (DB0, LMDB files, the Raft log, the audit log) is for its own
  // user only, whatever the shell's umask: files 0600, directories 0700.
  process.umask(0o077);
  // Signals are handled from the start: one arriving during start-up stops the server as soon
  // as it is up (or aborts the start) instead of killing the process mid-write.
  let server: HeroServer | null = null;
  let stopRequested: string | null = null;
  const stop = (signal: string) => {
    if (stopRequested !== null && server === null) return;
    stopRequested = signal;
    if (server === null) return;
    const s = server;
    server = null;
    process.stderr.write(`herodb: ${signal}: shutting down\n`);
    s.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // SIGHUP rereads the client TLS files (a renewed certificate) instead of ending the process.
  process.on("SIGHUP", () => {
    const r = server?.reloadTls();
    if (r === undefined) return;
    if (r.ok) log.info(`SIGHUP: ${r.message}`);
    else log.warn(`SIGHUP: ${r.message}`);
  });
  try {
    server = await HeroServer.start(parsed.config, () => stop("removal from the cluster"));
  } catch (e) {
    if (e instanceof HeroError) fail(e.message);
    fail(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (stopRequested !== null) stop(stopRequested);
}

if (process.argv[2] === "certs") {
  process.exitCode = runCerts(process.argv.slice(3));
} else if (process.argv[2] === "backup" || process.argv[2] === "restore") {
  runBackupCli(process.argv[2], process.argv.slice(3), process.env).then((code) => {
    process.exitCode = code;
  });
} else if (process.argv[2] === "sql") {
  runSqlShell(process.argv.slice(3)).then((code) => {
    process.exitCode = code;
  });
} else if (process.argv[2] === "config" && process.argv[3] === "check") {
  process.exitCode = checkConfig(process.argv.slice(4), process.env);
} else {
  main().catch((e: unknown) =>
    fail(`unexpected error: ${e instanceof Error ? e.message : String(e)}`),
  );
}
