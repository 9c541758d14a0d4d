/**
 * `herodb config check [--config FILE] [options]`: reads the configuration exactly as a start
 * would (flags over HERODB_* over the file), checks that the files it names can be read, prints
 * the effective settings with secrets hidden and any warnings, and exits 0, or prints the first
 * problem and exits 1. Nothing is started and nothing is written.
 */
import { accessSync, constants } from "node:fs";
import { parseArgs, startupWarnings } from "../config.ts";
import { ConfigError } from "../config-sources.ts";

export function checkConfig(argv: string[], env: NodeJS.ProcessEnv): number {
  try {
    const parsed = parseArgs([...argv, "--print-config"], env);
    if (parsed.kind !== "print-config") {
      process.stderr.write("herodb config check: give settings, not --help or --version\n");
      return 2;
    }
    const run = parseArgs(argv, env);
    if (run.kind !== "run") return 2;
    const c = run.config;
    const files = [
      ...c.engines,
      ...(c.cluster === null ? [] : [c.cluster.tlsCert, c.cluster.tlsKey, c.cluster.tlsCa]),
      ...(c.tls === null ? [] : [c.tls.certFile, c.tls.keyFile, c.tls.caFile ?? ""]),
    ].filter((f) => f !== "");
    for (const f of files) {
      try {
        accessSync(f, constants.R_OK);
      } catch (e) {
        throw new ConfigError(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code}`);
      }
    }
    process.stdout.write(parsed.text);
    for (const w of startupWarnings(c)) process.stderr.write(`herodb: warning: ${w}\n`);
    process.stderr.write("herodb: configuration OK\n");
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`herodb: ${e.message}\n`);
    return 1;
  }
}
