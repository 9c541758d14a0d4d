/**
 * Command-line configuration: flags, environment fallbacks, defaults, and the help text.
 * Parsing never throws a stack trace at the user: problems come back as one-line messages.
 */
import { readFileSync } from "node:fs";

export interface Config {
  dataDir: string;
  adminSecret: string;
  host: string;
  port: number;
  apiPort: number;
  socketPath: string;
  maxClients: number;
  idleTimeoutSec: number;
  auditLog: boolean;
}

export const HELP = `herodb: many typed database instances behind one Redis-protocol port

Usage: herodb --data-dir DIR --admin-secret SECRET [options]

Required:
  --data-dir DIR          where DB0 and persistent instances live (aliases: --data, --dir)
  --admin-secret SECRET   encrypts DB0 and authorises the JSON-RPC API
                          (or env HERODB_ADMIN_SECRET, or HERODB_ADMIN_SECRET_FILE=path)
Options:
  --host HOST             bind address for RESP and HTTP (default 127.0.0.1)
  -p, --port PORT         RESP (Redis protocol) port (default 5555)
  --api-port PORT         JSON-RPC over HTTP port (default 3000)
  --socket-path PATH      JSON-RPC over a Unix socket (default /tmp/herodb.sock)
  --max-clients N         RESP connections accepted at once (default 10000)
  --timeout SECONDS       close idle RESP connections after this long (default 0: never)
  --no-audit-log          do not write audit.log in the data dir
  -h, --help              this text
  -V, --version           print the version
`;

export class ConfigError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

function port(name: string, v: string): number {
  const n = /^[0-9]{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${name} must be a port number (0-65535), got '${v}'`);
  return n;
}

function count(name: string, v: string): number {
  const n = /^[0-9]{1,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

export type Parsed = { kind: "help" } | { kind: "version" } | { kind: "run"; config: Config };

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const values = new Map<string, string>();
  let audit = true;
  const aliases: Record<string, string> = {
    "--data": "--data-dir",
    "--dir": "--data-dir",
    "-p": "--port",
  };
  const known = new Set([
    "--data-dir",
    "--admin-secret",
    "--host",
    "--port",
    "--api-port",
    "--socket-path",
    "--max-clients",
    "--timeout",
  ]);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (arg === "-V" || arg === "--version") return { kind: "version" };
    if (arg === "--no-audit-log") {
      audit = false;
      continue;
    }
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = aliases[arg] ?? arg;
    if (!known.has(arg)) throw new ConfigError(`unknown option '${arg}' (see --help)`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`option ${arg} needs a value`);
    }
    values.set(arg, value);
  }
  const dataDir = values.get("--data-dir");
  if (dataDir === undefined || dataDir === "")
    throw new ConfigError("missing --data-dir DIR (see --help)");
  let adminSecret = values.get("--admin-secret") ?? env.HERODB_ADMIN_SECRET;
  if (adminSecret === undefined && env.HERODB_ADMIN_SECRET_FILE) {
    try {
      adminSecret = readFileSync(env.HERODB_ADMIN_SECRET_FILE, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new ConfigError(
        `cannot read HERODB_ADMIN_SECRET_FILE: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
  }
  if (adminSecret === undefined || adminSecret === "") {
    throw new ConfigError(
      "missing admin secret: pass --admin-secret, or set HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE",
    );
  }
  return {
    kind: "run",
    config: {
      dataDir,
      adminSecret,
      host: values.get("--host") ?? "127.0.0.1",
      port: port("--port", values.get("--port") ?? "5555"),
      apiPort: port("--api-port", values.get("--api-port") ?? "3000"),
      socketPath: values.get("--socket-path") ?? "/tmp/herodb.sock",
      maxClients: count("--max-clients", values.get("--max-clients") ?? "10000"),
      idleTimeoutSec: count("--timeout", values.get("--timeout") ?? "0"),
      auditLog: audit,
    },
  };
}
