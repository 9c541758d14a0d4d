/**
 * Command-line parsing (src/config.ts): flags in both `--flag value` and `--flag=value` forms,
 * aliases, defaults, the admin-secret environment fallbacks, and every refusal coming back as a
 * ConfigError with a one-line message that names the problem.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Config, ConfigError, HELP, parseArgs, startupWarnings } from "../../src/config.ts";

const BASE = ["--data-dir", "/d", "--admin-secret", "s"];

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const r = parseArgs(argv, env);
  if (r.kind !== "run") throw new Error(`expected a run config, got ${r.kind}`);
  return r.config;
}

function problem(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseArgs(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as ConfigError).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

const dir = mkdtempSync(join(tmpdir(), "herodb-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseArgs", () => {
  it("fills in defaults", () => {
    expect(config(BASE)).toEqual({
      dataDir: "/d",
      adminSecret: "s",
      host: "127.0.0.1",
      port: 5555,
      apiPort: 3000,
      socketPath: "/tmp/herodb.sock",
      maxClients: 10000,
      idleTimeoutSec: 0,
      auditLog: true,
      snapshotCount: 20000,
      sqlStreamTimeoutSec: 10,
      engines: [],
      tls: null,
      cluster: null,
    });
  });

  it("reads client TLS: certificates required when a CA is given, as in Redis", () => {
    const files = ["--tls-cert-file", "s.crt", "--tls-key-file", "s.key"];
    expect(
      config([...BASE, "--tls-port", "6380", ...files, "--tls-ca-cert-file", "ca.crt"]).tls,
    ).toEqual({
      port: 6380,
      certFile: "s.crt",
      keyFile: "s.key",
      caFile: "ca.crt",
      authClients: "yes",
      api: false,
    });
    expect(config([...BASE, "--tls-api", ...files]).tls).toMatchObject({
      port: null,
      caFile: null,
      authClients: "no",
      api: true,
    });
    expect(
      config([
        ...BASE,
        "--tls-port=6380",
        ...files,
        "--tls-ca-cert-file=c",
        "--tls-auth-clients=optional",
      ]).tls?.authClients,
    ).toBe("optional");
    expect(problem([...BASE, "--tls-port", "6380"])).toBe(
      "client TLS needs --tls-cert-file FILE (herodb certs writes one)",
    );
    expect(problem([...BASE, "--tls-port", "6380", ...files, "--tls-auth-clients", "yes"])).toBe(
      "--tls-auth-clients yes needs --tls-ca-cert-file FILE to check client certificates",
    );
    expect(problem([...BASE, "--tls-port", "6380", ...files, "--tls-auth-clients", "maybe"])).toBe(
      "--tls-auth-clients must be yes, no or optional, got 'maybe'",
    );
    expect(problem([...BASE, ...files])).toBe(
      "--tls-cert-file is for client TLS: give --tls-port PORT or --tls-api",
    );
    expect(problem([...BASE, "--port", "6380", "--tls-port", "6380", ...files])).toMatch(
      /--tls-port and --port must differ/,
    );
    expect(problem([...BASE, "--tls-port", "0", ...files])).toBe(
      "--tls-port must be a port from 1 to 65535",
    );
  });

  it("reads every option, in both forms", () => {
    const c = config([
      "--data-dir=/data",
      "--admin-secret=a=b",
      "--host",
      "0.0.0.0",
      "--port=6379",
      "--api-port",
      "8080",
      "--socket-path=/run/h.sock",
      "--max-clients",
      "5",
      "--timeout=30",
      "--sql-stream-timeout",
      "45",
      "--no-audit-log",
      "--engine",
      "a.ts",
      "--engine=/b.ts",
    ]);
    expect(c).toEqual({
      dataDir: "/data",
      adminSecret: "a=b",
      host: "0.0.0.0",
      port: 6379,
      apiPort: 8080,
      socketPath: "/run/h.sock",
      maxClients: 5,
      idleTimeoutSec: 30,
      auditLog: false,
      snapshotCount: 20000,
      sqlStreamTimeoutSec: 45,
      engines: ["a.ts", "/b.ts"],
      tls: null,
      cluster: null,
    });
  });

  it("accepts the aliases", () => {
    expect(config(["--data", "/a", "--admin-secret", "s"]).dataDir).toBe("/a");
    expect(config(["--dir=/b", "--admin-secret", "s"]).dataDir).toBe("/b");
    expect(config([...BASE, "-p", "7000"]).port).toBe(7000);
  });

  it("lets a later flag win", () => {
    expect(config([...BASE, "--port", "1", "--port", "2"]).port).toBe(2);
  });

  it("accepts port 0 and 65535", () => {
    expect(config([...BASE, "--port", "0"]).port).toBe(0);
    expect(config([...BASE, "--api-port", "65535"]).apiPort).toBe(65535);
  });

  it("answers help and version before anything else", () => {
    expect(parseArgs(["--help"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["-h", "--bogus"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["-V"], {})).toEqual({ kind: "version" });
    expect(parseArgs(["--data-dir", "/d", "--version"], {})).toEqual({ kind: "version" });
    expect(HELP).toContain("--data-dir");
    expect(HELP).toContain("HERODB_ADMIN_SECRET_FILE");
  });
});

describe("admin secret sources", () => {
  it("prefers the flag, then HERODB_ADMIN_SECRET, then the file", () => {
    const file = join(dir, "secret");
    writeFileSync(file, "from-file\n");
    const env = { HERODB_ADMIN_SECRET: "from-env", HERODB_ADMIN_SECRET_FILE: file };
    expect(config(BASE, env).adminSecret).toBe("s");
    expect(config(["--data-dir", "/d"], env).adminSecret).toBe("from-env");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      "from-file",
    );
  });

  it("strips one trailing newline from the file, LF or CRLF, and nothing else", () => {
    const file = join(dir, "crlf");
    writeFileSync(file, " pass word \r\n");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      " pass word ",
    );
    writeFileSync(file, "two\n\n");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      "two\n",
    );
  });

  it("reports an unreadable file by its error code", () => {
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: join(dir, "nope") })).toBe(
      `cannot read the admin secret file ${join(dir, "nope")}: ENOENT`,
    );
  });

  it("refuses a missing or empty secret", () => {
    const message =
      "missing admin secret: pass --admin-secret, or set HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE";
    expect(problem(["--data-dir", "/d"])).toBe(message);
    expect(problem(["--data-dir", "/d", "--admin-secret="])).toBe(message);
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET: "" })).toBe(message);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: empty })).toBe(message);
  });
});

describe("errors", () => {
  it("names unknown options", () => {
    expect(problem(["--bogus"])).toBe("unknown option '--bogus' (see --help)");
    expect(problem([...BASE, "--port-number=1"])).toBe(
      "unknown option '--port-number' (see --help)",
    );
    expect(problem([...BASE, "stray"])).toBe("unknown option 'stray' (see --help)");
  });

  it("names an option missing its value", () => {
    expect(problem([...BASE, "--port"])).toBe("option --port needs a value");
    expect(problem(["--admin-secret", "s", "-p"])).toBe("option --port needs a value");
  });

  it("requires a data dir", () => {
    expect(problem(["--admin-secret", "s"])).toBe("missing --data-dir DIR (see --help)");
    expect(problem(["--data-dir=", "--admin-secret", "s"])).toBe(
      "missing --data-dir DIR (see --help)",
    );
  });

  it("refuses ports out of range or not integers", () => {
    for (const v of ["65536", "-1", "1.5", "http", "NaN"]) {
      expect(problem([...BASE, "--port", v])).toBe(
        `--port must be a port number (0-65535), got '${v}'`,
      );
    }
    expect(problem([...BASE, "--api-port=99999"])).toBe(
      "--api-port must be a port number (0-65535), got '99999'",
    );
  });

  it("refuses an empty port instead of reading it as 0", () => {
    expect(problem([...BASE, "--port="])).toBe("--port must be a port number (0-65535), got ''");
    expect(problem([...BASE, "--api-port", " "])).toBe(
      "--api-port must be a port number (0-65535), got ' '",
    );
  });

  it("refuses negative or fractional counts, and empty ones", () => {
    expect(problem([...BASE, "--max-clients", "-5"])).toBe(
      "--max-clients must be a non-negative integer, got '-5'",
    );
    expect(problem([...BASE, "--timeout=2.5"])).toBe(
      "--timeout must be a non-negative integer, got '2.5'",
    );
    expect(problem([...BASE, "--max-clients="])).toBe(
      "--max-clients must be a non-negative integer, got ''",
    );
  });

  describe("cluster flags", () => {
    const TLS = ["--tls-cert", "n.crt", "--tls-key", "n.key", "--tls-ca", "ca.crt"];
    const cluster = (args: string[]) => {
      const r = parseArgs([...BASE, ...args], {});
      if (r.kind !== "run") throw new Error("expected a run config");
      return r.config.cluster;
    };

    it("reads every cluster flag, with the Raft port defaulting to the RESP port + 1000", () => {
      expect(
        cluster([
          "--port",
          "6000",
          "--node-id",
          "3",
          ...TLS,
          "--join",
          "10.0.0.1:7000,h2:7000",
          "--peer-address",
          "1=127.0.0.1:9001",
          "--peer-address=2=127.0.0.1:9002",
        ]),
      ).toEqual({
        nodeId: 3,
        raftPort: 7000,
        advertise: "127.0.0.1",
        tlsCert: "n.crt",
        tlsKey: "n.key",
        tlsCa: "ca.crt",
        bootstrap: false,
        join: ["10.0.0.1:7000", "h2:7000"],
        peerAddresses: new Map([
          [1, "127.0.0.1:9001"],
          [2, "127.0.0.1:9002"],
        ]),
      });
      expect(
        cluster([
          "--node-id",
          "1",
          "--bootstrap",
          ...TLS,
          "--raft-port",
          "7001",
          "--advertise",
          "h1",
        ]),
      ).toMatchObject({ bootstrap: true, raftPort: 7001, advertise: "h1", join: [] });
    });

    it("stays a single server without cluster flags", () => {
      expect(cluster([])).toBeNull();
    });

    it("refuses incomplete or contradictory cluster flags with one line each", () => {
      expect(problem([...BASE, "--bootstrap", ...TLS])).toBe(
        "cluster mode needs --node-id N (see --help)",
      );
      expect(
        problem([...BASE, "--node-id", "1", "--bootstrap", "--tls-cert", "a", "--tls-key", "b"]),
      ).toMatch(/^cluster mode needs --tls-ca FILE/);
      expect(problem([...BASE, "--node-id", "0", ...TLS, "--bootstrap"])).toBe(
        "--node-id must be an integer from 1 to 65535, got '0'",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--bootstrap", "--join", "h:1"])).toBe(
        "--bootstrap starts a new cluster and --join joins one: give only one",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--join", "nohost"])).toBe(
        "--join needs HOST:PORT, got 'nohost'",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--peer-address", "x"])).toBe(
        "--peer-address must be ID=HOST:PORT, got 'x'",
      );
    });
  });
});

describe("config file and environment", () => {
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("reads every kind of key, and flags win over HERODB_* which win over the file", () => {
    const toml = file(
      "all.toml",
      [
        'data-dir = "/from-file"',
        'admin-secret = "file-secret"',
        "port = 7000",
        'api-port = "7001"',
        "audit-log = false",
        'engine = ["a.ts", "b.ts"]',
        'metrics-token = "file-token-123"',
      ].join("\n"),
    );
    const fromFile = config(["--config", toml]);
    expect(fromFile).toMatchObject({
      dataDir: "/from-file",
      adminSecret: "file-secret",
      port: 7000,
      apiPort: 7001,
      auditLog: false,
      engines: ["a.ts", "b.ts"],
      metricsToken: "file-token-123",
    });
    const env = { HERODB_PORT: "7100", HERODB_ADMIN_SECRET: "env-secret", HERODB_AUDIT_LOG: "yes" };
    expect(config(["--config", toml], env)).toMatchObject({
      port: 7100,
      adminSecret: "env-secret",
      auditLog: true,
      apiPort: 7001,
    });
    expect(
      config(["--config", toml, "--port", "7200", "--admin-secret", "flag"], env),
    ).toMatchObject({ port: 7200, adminSecret: "flag" });
    // HERODB_CONFIG names the file when --config does not.
    expect(config([], { HERODB_CONFIG: toml }).dataDir).toBe("/from-file");
  });

  it("reads cluster settings from the environment, lists comma separated", () => {
    const c = config(BASE, {
      HERODB_NODE_ID: "2",
      HERODB_TLS_CERT: "n.crt",
      HERODB_TLS_KEY: "n.key",
      HERODB_TLS_CA: "ca.crt",
      HERODB_JOIN: "10.0.0.1:6555, 10.0.0.3:6555",
      HERODB_PEER_ADDRESS: "3=127.0.0.1:7003",
    });
    expect(c.cluster?.join).toEqual(["10.0.0.1:6555", "10.0.0.3:6555"]);
    expect(c.cluster?.peerAddresses.get(3)).toBe("127.0.0.1:7003");
    expect(
      config(BASE, {
        HERODB_BOOTSTRAP: "true",
        HERODB_NODE_ID: "1",
        HERODB_TLS_CERT: "c",
        HERODB_TLS_KEY: "k",
        HERODB_TLS_CA: "a",
      }).cluster?.bootstrap,
    ).toBe(true);
  });

  it("names the file, line and key of a problem", () => {
    expect(problem(["--config", file("bad.toml", 'data-dir = "/d"\nport = [\n')])).toMatch(
      /^config file .*bad\.toml line 3, column 1: /,
    );
    expect(problem(["--config", file("unknown.toml", "requirepass = 1\n")])).toMatch(
      /unknown\.toml: unknown key 'requirepass' \(keys are the flags without --\)$/,
    );
    expect(problem(["--config", file("type.toml", "audit-log = 1\n")])).toMatch(
      /type\.toml: audit-log must be true or false$/,
    );
    expect(problem(["--config", join(dir, "missing.toml")])).toMatch(
      /^cannot read config file .*missing\.toml: ENOENT$/,
    );
    expect(problem(BASE, { HERODB_AUDIT_LOG: "maybe" })).toBe(
      "HERODB_AUDIT_LOG must be true or false, got 'maybe'",
    );
  });

  it("prints the effective settings without secrets", () => {
    const r = parseArgs(
      [
        "--data-dir",
        "/d",
        "--admin-secret",
        "hush-hush",
        "--metrics-token",
        "tok-tok-tok",
        "--engine",
        "a.ts",
        "--engine",
        "b.ts",
        "--print-config",
      ],
      { HERODB_PORT: "7300" },
    );
    expect(r.kind).toBe("print-config");
    const text = (r as { text: string }).text;
    expect(text).not.toContain("hush-hush");
    expect(text).not.toContain("tok-tok-tok");
    expect(text).toContain("# admin-secret is set (hidden)");
    expect(text).toContain("port = 7300");
    expect(text).toContain('engine = ["a.ts", "b.ts"]');
    expect(text).toContain('data-dir = "/d"');
  });

  it("refuses a metrics token too short to be a secret", () => {
    expect(problem([...BASE, "--metrics-token", "short"])).toBe(
      "--metrics-token must be at least 8 characters",
    );
  });
});

describe("start-up warnings", () => {
  it("warns about a short admin secret and a non-loopback bind, and nothing else", () => {
    expect(
      startupWarnings(config(["--data-dir", "/d", "--admin-secret", "a-long-enough-secret"])),
    ).toEqual([]);
    const w = startupWarnings(
      config(["--data-dir", "/d", "--admin-secret", "abc", "--host", "0.0.0.0"]),
    );
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/admin secret has 3 characters/);
    expect(w[1]).toMatch(/listen on 0\.0\.0\.0 without TLS/);
    expect(
      startupWarnings(
        config([...BASE.slice(0, 2), "--admin-secret", "a-long-enough-secret", "--host", "::1"]),
      ),
    ).toEqual([]);
  });
});
