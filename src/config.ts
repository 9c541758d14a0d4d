/**
 * Command-line configuration: flags, environment fallbacks, defaults, and the help text.
 * Parsing never throws a stack trace at the user: problems come back as one-line messages.
 */
import { readFileSync } from "node:fs";
import {
  ConfigError,
  describeLayer,
  type Layer,
  merge,
  readConfigFile,
  readEnv,
  readFlags,
} from "./config-sources.ts";

export { ConfigError } from "./config-sources.ts";

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
  /** Also send every audit record as GELF over UDP to this host and port. */
  auditGelf?: { host: string; port: number };
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Applied entries after which a Raft group snapshots its state and compacts its log. */
  snapshotCount: number;
  /** Seconds after which an unused libSQL stream closes, rolling back its transaction. */
  sqlStreamTimeoutSec: number;
  /** Modules of out-of-tree instance types to register at start (--engine, repeatable). */
  engines: string[];
  /** TLS for clients (RESP on --tls-port, HTTPS with --tls-api); null when neither is asked for. */
  tls: ClientTlsConfig | null;
  /** Null for a single server; set by any of --node-id, --bootstrap, --join. */
  cluster: ClusterConfig | null;
}

/** Whether a TLS client must present a certificate signed by the CA (Redis's tls-auth-clients). */
export type TlsAuthClients = "yes" | "no" | "optional";

export interface ClientTlsConfig {
  /** RESP over TLS on this port; null: no TLS RESP listener (only --tls-api). */
  port: number | null;
  certFile: string;
  keyFile: string;
  /** The CA client certificates must be signed by; null: clients are not asked for one. */
  caFile: string | null;
  authClients: TlsAuthClients;
  /** Serve the HTTP API (JSON-RPC, probes, libSQL) over HTTPS with the same certificate. */
  api: boolean;
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
       herodb --config herodb.toml [options]
       herodb config check [--config FILE] [options]   check a configuration, print it, start nothing
       herodb certs --out DIR --nodes N [--hosts h1,h2,...]   TLS certificates for a cluster
       herodb backup --instance N --out FILE | herodb restore --in FILE [--instance N]
                                                          (herodb backup --help)
       herodb sql --instance N|NAME [--port P] [--key K]   a SQL shell (herodb sql --help)

Every option may also be set in a TOML config file (key = the option without --, e.g.
data-dir = "/var/lib/herodb") or in an environment variable (HERODB_ and the key in capitals,
e.g. HERODB_DATA_DIR). Flags win over the environment, which wins over the file.

Required:
  --data-dir DIR          where DB0 and persistent instances live (aliases: --data, --dir)
  --admin-secret SECRET   encrypts DB0 and authorises the JSON-RPC API
                          (or env HERODB_ADMIN_SECRET, or HERODB_ADMIN_SECRET_FILE=path)
Options:
  --config FILE           read settings from this TOML file (or env HERODB_CONFIG)
  --print-config          print the effective settings (secrets hidden) and exit
  --admin-secret-file F   read the admin secret from this file (one trailing newline dropped)
  --host HOST             bind address for RESP and HTTP (default 127.0.0.1)
  -p, --port PORT         RESP (Redis protocol) port (default 5555)
  --api-port PORT         JSON-RPC over HTTP port, with /health, /ready, /metrics (default 3000)
  --socket-path PATH      JSON-RPC over a Unix socket (default /tmp/herodb.sock)
  --max-clients N         RESP connections accepted at once (default 10000)
  --timeout SECONDS       close idle RESP connections after this long (default 0: never)
  --no-audit-log          do not write audit.log in the data dir (file: audit-log = false)
  --audit-gelf HOST:PORT  also send every audit record as a GELF message over UDP
  --metrics-token TOKEN   GET /metrics needs "Authorization: Bearer TOKEN"; /health and
                          /ready stay open
  --sql-stream-timeout S  close a libSQL HTTP stream unused for S seconds, rolling back its
                          open transaction (default 10)
  --snapshot-count N      applied log entries after which an instance's Raft log is compacted
                          into a snapshot (default 20000)
  --engine MODULE         load an instance type from MODULE (its default export is a kind
                          descriptor; docs/architecture.md); repeatable, same on every node
TLS for clients (docs/security.md):
  --tls-port PORT         RESP over TLS on this port, beside the plain one (with --port 0:
                          instead of it)
  --tls-cert-file FILE    the server certificate clients see (PEM)
  --tls-key-file FILE     its private key (PEM)
  --tls-ca-cert-file FILE the CA client certificates must be signed by (PEM)
  --tls-auth-clients yes|no|optional
                          whether TLS clients must present a certificate (default: yes
                          when --tls-ca-cert-file is given, otherwise no)
  --tls-api               serve the HTTP API (JSON-RPC, probes, libSQL) over HTTPS with the
                          same certificate
                          SIGHUP rereads the certificate, key and CA files
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
Environment only:
  HERODB_LOG_LEVEL        trace, debug, info (default), warn, error, fatal
  HERODB_LOG_FORMAT       pretty (default on a terminal) or json (default otherwise)
`;

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

/** Options with a value that put the server in cluster mode (besides --bootstrap). */
const CLUSTER_FLAGS = [
  "--node-id",
  "--raft-port",
  "--advertise",
  "--tls-cert",
  "--tls-key",
  "--tls-ca",
  "--join",
  "--peer-address",
];

export type Parsed =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "print-config"; text: string }
  | { kind: "run"; config: Config };

/**
 * The configuration from the command line, the environment and the config file (flags win over
 * HERODB_* variables, which win over the file; see ./config-sources.ts).
 */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const flags = readFlags(argv);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const file = flags.config ?? (env.HERODB_CONFIG || undefined);
  const layers = [file === undefined ? new Map() : readConfigFile(file), readEnv(env), flags.layer];
  const merged = merge(...layers);
  const config = interpret(merged, adminSecret(layers));
  if (flags.printConfig) return { kind: "print-config", text: describeLayer(merged) };
  return { kind: "run", config };
}

/**
 * The admin secret from the highest source that gives one (a flag beats the environment, which
 * beats the file); within one source the secret itself beats a file holding it.
 */
function adminSecret(layers: Layer[]): string {
  for (let i = layers.length - 1; i >= 0; i--) {
    const secret = layers[i].get("--admin-secret");
    if (typeof secret === "string" && secret !== "") return secret;
    const path = layers[i].get("--admin-secret-file");
    if (typeof path === "string" && path !== "") return readSecretFile(path);
  }
  return "";
}

/** A secret kept in a file: its text without one trailing newline (LF or CRLF). */
export function readSecretFile(path: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new ConfigError(
      `cannot read the admin secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
}

function interpret(values: Layer, secret: string): Config {
  const str = (flag: string): string | undefined => {
    const v = values.get(flag);
    return typeof v === "string" ? v : undefined;
  };
  const list = (flag: string): string[] => {
    const v = values.get(flag);
    return Array.isArray(v) ? v : [];
  };
  const dataDir = str("--data-dir");
  if (dataDir === undefined || dataDir === "")
    throw new ConfigError("missing --data-dir DIR (see --help)");
  if (secret === "") {
    throw new ConfigError(
      "missing admin secret: pass --admin-secret, or set HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE",
    );
  }
  const host = str("--host") ?? "127.0.0.1";
  const respPort = port("--port", str("--port") ?? "5555");
  const engines = list("--engine");
  if (engines.some((e) => e === "")) throw new ConfigError("--engine needs a module path");
  const peerAddresses = new Map<number, string>();
  for (const p of list("--peer-address")) {
    const m = /^([0-9]{1,5})=(.+)$/.exec(p);
    if (m === null) throw new ConfigError(`--peer-address must be ID=HOST:PORT, got '${p}'`);
    peerAddresses.set(nodeId(m[1]), address("--peer-address", m[2]));
  }
  const bootstrap = values.get("--bootstrap") === true;
  let cluster: ClusterConfig | null = null;
  if (bootstrap || CLUSTER_FLAGS.some((f) => values.has(f))) {
    const id = str("--node-id");
    if (id === undefined) throw new ConfigError("cluster mode needs --node-id N (see --help)");
    const tls = (flag: string): string => {
      const v = str(flag);
      if (v === undefined || v === "") {
        throw new ConfigError(
          `cluster mode needs ${flag} FILE: nodes authenticate each other with TLS certificates (herodb certs writes them)`,
        );
      }
      return v;
    };
    const join = list("--join").map((a) => address("--join", a));
    if (bootstrap && join.length > 0) {
      throw new ConfigError("--bootstrap starts a new cluster and --join joins one: give only one");
    }
    const raftPort =
      str("--raft-port") !== undefined
        ? port("--raft-port", str("--raft-port") as string)
        : respPort + 1000;
    if (raftPort > 65535)
      throw new ConfigError(`--raft-port: RESP port + 1000 is not a port; give --raft-port`);
    cluster = {
      nodeId: nodeId(id),
      raftPort,
      advertise: str("--advertise") ?? host,
      tlsCert: tls("--tls-cert"),
      tlsKey: tls("--tls-key"),
      tlsCa: tls("--tls-ca"),
      bootstrap,
      join,
      peerAddresses,
    };
  }
  return {
    dataDir,
    adminSecret: secret,
    host,
    port: respPort,
    apiPort: port("--api-port", str("--api-port") ?? "3000"),
    socketPath: str("--socket-path") ?? "/tmp/herodb.sock",
    maxClients: count("--max-clients", str("--max-clients") ?? "10000"),
    idleTimeoutSec: count("--timeout", str("--timeout") ?? "0"),
    snapshotCount: Math.max(1, count("--snapshot-count", str("--snapshot-count") ?? "20000")),
    sqlStreamTimeoutSec: Math.max(
      1,
      count("--sql-stream-timeout", str("--sql-stream-timeout") ?? "10"),
    ),
    auditLog: values.get("--audit-log") !== false,
    ...gelfTarget(str("--audit-gelf")),
    ...metricsToken(str("--metrics-token")),
    engines,
    tls: clientTls(str, values.get("--tls-api") === true, respPort),
    cluster,
  };
}

/** The client TLS settings, checked: files named when TLS is asked for, and nothing else. */
function clientTls(
  str: (flag: string) => string | undefined,
  api: boolean,
  respPort: number,
): ClientTlsConfig | null {
  const tlsPort = str("--tls-port");
  const port = tlsPort === undefined ? null : nonZeroPort("--tls-port", tlsPort);
  const given = [
    "--tls-cert-file",
    "--tls-key-file",
    "--tls-ca-cert-file",
    "--tls-auth-clients",
  ].filter((f) => str(f) !== undefined);
  if (port === null && !api) {
    if (given.length > 0) {
      throw new ConfigError(`${given[0]} is for client TLS: give --tls-port PORT or --tls-api`);
    }
    return null;
  }
  if (port !== null && port === respPort) {
    throw new ConfigError("--tls-port and --port must differ (--port 0 turns plain RESP off)");
  }
  const file = (flag: string): string => {
    const v = str(flag);
    if (v === undefined || v === "") {
      throw new ConfigError(`client TLS needs ${flag} FILE (herodb certs writes one)`);
    }
    return v;
  };
  const certFile = file("--tls-cert-file");
  const keyFile = file("--tls-key-file");
  const ca = str("--tls-ca-cert-file");
  const caFile = ca === undefined || ca === "" ? null : ca;
  const auth = str("--tls-auth-clients") ?? (caFile === null ? "no" : "yes");
  if (auth !== "yes" && auth !== "no" && auth !== "optional") {
    throw new ConfigError(`--tls-auth-clients must be yes, no or optional, got '${auth}'`);
  }
  if (auth !== "no" && caFile === null) {
    throw new ConfigError(
      `--tls-auth-clients ${auth} needs --tls-ca-cert-file FILE to check client certificates`,
    );
  }
  return { port, certFile, keyFile, caFile, authClients: auth, api };
}

function nonZeroPort(name: string, v: string): number {
  const n = port(name, v);
  if (n === 0) throw new ConfigError(`${name} must be a port from 1 to 65535`);
  return n;
}

function gelfTarget(v: string | undefined): { auditGelf?: { host: string; port: number } } {
  if (v === undefined) return {};
  const at = address("--audit-gelf", v).lastIndexOf(":");
  const host = v.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  const p = port("--audit-gelf", v.slice(at + 1));
  if (p === 0) throw new ConfigError("--audit-gelf needs a port from 1 to 65535");
  return { auditGelf: { host, port: p } };
}

function metricsToken(v: string | undefined): { metricsToken?: string } {
  if (v === undefined) return {};
  if (v.length < 8) throw new ConfigError("--metrics-token must be at least 8 characters");
  return { metricsToken: v };
}

/** Secrets shorter than this are accepted with a warning (a guessable secret guards everything). */
const STRONG_SECRET = 16;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** What an operator should hear about a configuration that works but is risky. */
export function startupWarnings(c: Config): string[] {
  const warnings: string[] = [];
  if (c.adminSecret.length < STRONG_SECRET) {
    warnings.push(
      `the admin secret has ${c.adminSecret.length} characters: it unlocks DB0 and every admin call, ` +
        `so use ${STRONG_SECRET} or more random ones (e.g. openssl rand -base64 24)`,
    );
  }
  if (!LOOPBACK.test(c.host) && (c.tls === null || (c.port !== 0 && !c.tls.api))) {
    warnings.push(
      `${plainFaces(c)} on ${c.host} without TLS: secrets, keys and values cross the network ` +
        "in clear; bind to 127.0.0.1, or use --tls-port with --port 0 and --tls-api",
    );
  }
  return warnings;
}

/** Which faces listen in plain text: "RESP and HTTP", "RESP" or "HTTP". */
function plainFaces(c: Config): string {
  const resp = c.tls === null || c.port !== 0;
  const http = c.tls === null || !c.tls.api;
  return resp && http ? "RESP and HTTP listen" : resp ? "RESP listens" : "HTTP listens";
}
