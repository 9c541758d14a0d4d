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
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Applied entries after which a Raft group snapshots its state and compacts its log. */
  snapshotCount: number;
  /** Modules of out-of-tree instance types to register at start (--engine, repeatable). */
  engines: string[];
  /** Null for a single server; set by any of --node-id, --bootstrap, --join. */
  cluster: ClusterConfig | null;
}

export interface ClusterConfig {
  nodeId: number;
  raftPort: number;
  /** Host that other nodes and clients use to reach this node. */
  advertise: string;
  tlsCert: string;
  tlsKey: string;
  tlsCa: string;
  bootstrap: boolean;
  /** Seed nodes' Raft addresses (host:port) to ask for admission. */
  join: string[];
  /** Per-peer dial addresses that override the advertised ones (NAT, proxies). */
  peerAddresses: Map<number, string>;
}

export const HELP = `herodb: many typed database instances behind one Redis-protocol port

Usage: herodb --data-dir DIR --admin-secret SECRET [options]
       herodb certs --out DIR --nodes N [--hosts h1,h2,...]   TLS certificates for a cluster

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
  --metrics-token TOKEN   GET /metrics needs "Authorization: Bearer TOKEN" (or env
                          HERODB_METRICS_TOKEN); /health and /ready stay open
  --snapshot-count N      applied log entries after which an instance's Raft log is compacted
                          into a snapshot (default 20000)
  --engine MODULE         load an instance type from MODULE (its default export is a kind
                          descriptor; docs/architecture.md); repeatable, same on every node
Cluster (docs/clustering.md):
  --node-id N             this node's id in the cluster (1..65535, stable and unique)
  --raft-port PORT        node-to-node port (default: RESP port + 1000)
  --advertise HOST        host other nodes and clients reach this node at (default --host)
  --tls-cert FILE         this node's certificate (PEM), signed by the cluster CA
  --tls-key FILE          its private key (PEM)
  --tls-ca FILE           the cluster CA certificate (PEM); peers must present one it signed
  --bootstrap             start a new cluster with this node as its first member
  --join HOST:PORT[,...]  ask these nodes (their Raft ports) to admit this node
  --peer-address ID=HOST:PORT
                          dial node ID at this address instead of the one it advertises
                          (repeatable)
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

function nodeId(v: string): number {
  const n = /^[0-9]{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new ConfigError(`--node-id must be an integer from 1 to 65535, got '${v}'`);
  return n;
}

/** host:port, with the port checked (IPv6 hosts in brackets). */
function address(name: string, v: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):([0-9]{1,5})$/.exec(v);
  if (m === null) throw new ConfigError(`${name} needs HOST:PORT, got '${v}'`);
  port(name, m[2]);
  return v;
}

/** Flags with a value that put the server in cluster mode (besides --bootstrap). */
const CLUSTER_FLAGS = [
  "--node-id",
  "--raft-port",
  "--advertise",
  "--tls-cert",
  "--tls-key",
  "--tls-ca",
  "--join",
];

function metricsToken(v: string | undefined): { metricsToken?: string } {
  if (v === undefined) return {};
  if (v.length < 8) throw new ConfigError("--metrics-token must be at least 8 characters");
  return { metricsToken: v };
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
    "--snapshot-count",
    "--metrics-token",
    ...CLUSTER_FLAGS,
  ]);
  let bootstrap = false;
  const peerAddresses = new Map<number, string>();
  const engines: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (arg === "-V" || arg === "--version") return { kind: "version" };
    if (arg === "--no-audit-log") {
      audit = false;
      continue;
    }
    if (arg === "--bootstrap") {
      bootstrap = true;
      continue;
    }
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = aliases[arg] ?? arg;
    if (!known.has(arg) && arg !== "--peer-address" && arg !== "--engine") {
      throw new ConfigError(`unknown option '${arg}' (see --help)`);
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`option ${arg} needs a value`);
    }
    if (arg === "--engine") {
      if (value === "") throw new ConfigError("--engine needs a module path");
      engines.push(value);
      continue;
    }
    if (arg === "--peer-address") {
      const m = /^([0-9]{1,5})=(.+)$/.exec(value);
      if (m === null) throw new ConfigError(`--peer-address must be ID=HOST:PORT, got '${value}'`);
      peerAddresses.set(nodeId(m[1]), address("--peer-address", m[2]));
      continue;
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
  const host = values.get("--host") ?? "127.0.0.1";
  const respPort = port("--port", values.get("--port") ?? "5555");
  let cluster: ClusterConfig | null = null;
  if (bootstrap || CLUSTER_FLAGS.some((f) => values.has(f)) || peerAddresses.size > 0) {
    const id = values.get("--node-id");
    if (id === undefined) throw new ConfigError("cluster mode needs --node-id N (see --help)");
    const tls = (flag: string): string => {
      const v = values.get(flag);
      if (v === undefined || v === "") {
        throw new ConfigError(
          `cluster mode needs ${flag} FILE: nodes authenticate each other with TLS certificates (herodb certs writes them)`,
        );
      }
      return v;
    };
    const join = (values.get("--join") ?? "")
      .split(",")
      .filter((a) => a !== "")
      .map((a) => address("--join", a));
    if (bootstrap && join.length > 0) {
      throw new ConfigError("--bootstrap starts a new cluster and --join joins one: give only one");
    }
    const raftPort = values.has("--raft-port")
      ? port("--raft-port", values.get("--raft-port") as string)
      : respPort + 1000;
    if (raftPort > 65535)
      throw new ConfigError(`--raft-port: RESP port + 1000 is not a port; give --raft-port`);
    cluster = {
      nodeId: nodeId(id),
      raftPort,
      advertise: values.get("--advertise") ?? host,
      tlsCert: tls("--tls-cert"),
      tlsKey: tls("--tls-key"),
      tlsCa: tls("--tls-ca"),
      bootstrap,
      join,
      peerAddresses,
    };
  }
  return {
    kind: "run",
    config: {
      dataDir,
      adminSecret,
      host,
      port: respPort,
      apiPort: port("--api-port", values.get("--api-port") ?? "3000"),
      socketPath: values.get("--socket-path") ?? "/tmp/herodb.sock",
      maxClients: count("--max-clients", values.get("--max-clients") ?? "10000"),
      idleTimeoutSec: count("--timeout", values.get("--timeout") ?? "0"),
      snapshotCount: Math.max(
        1,
        count("--snapshot-count", values.get("--snapshot-count") ?? "20000"),
      ),
      auditLog: audit,
      ...metricsToken(values.get("--metrics-token") ?? env.HERODB_METRICS_TOKEN),
      engines,
      cluster,
    },
  };
}
