/**
 * The deployment files, checked offline against the server they start: the Dockerfile,
 * deploy/compose.yaml, deploy/kubernetes/ and deploy/systemd/.
 *
 * - Every Kubernetes object is validated against the Kubernetes OpenAPI schemas
 *   (kubernetes-models), and fields the schema does not know are refused too, as
 *   `kubectl apply` does with its default strict field validation (a misspelt `replica:` would
 *   otherwise pass unnoticed).
 * - Every `--flag` given to herodb and every HERODB_* variable set or named in these files is one
 *   the server reads (OPTIONS in src/config-sources.ts, the flags of `herodb certs`).
 * - Probes hit /health (liveness) and /ready (readiness) on the port the server's API listens
 *   on; ports, peer names, certificate host names and Secret names agree across the files.
 * - The systemd unit's example config passes the real `herodb config check`.
 *
 * Nothing here needs docker, kubectl or the network.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { CERTS_HELP } from "../../src/cli/certs.ts";
import { envOf, keyOf, OPTIONS } from "../../src/config-sources.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const K8S = join(ROOT, "deploy/kubernetes");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

// ---- What the server accepts --------------------------------------------------------------

const SERVER_FLAGS = new Set([
  ...OPTIONS.flatMap((o) => [o.flag, ...(o.aliases ?? []), ...(o.negation ? [o.negation] : [])]),
  "--config",
  "--print-config",
  "--help",
  "--version",
]);
/** `herodb certs` flags, from its help text (its parser accepts exactly these). */
const CERTS_FLAGS = new Set(CERTS_HELP.match(/--[a-z][a-z-]*/g) ?? []);
const SERVER_ENV = new Set([
  ...OPTIONS.map(envOf),
  "HERODB_CONFIG",
  "HERODB_LOG_LEVEL",
  "HERODB_LOG_FORMAT",
]);
const DEFAULT_API_PORT = 3000;
const DEFAULT_RESP_PORT = 5555;

/**
 * The `--flags` in a command line or shell script that runs herodb, split by statement: those in
 * a statement that runs `certs` are `herodb certs` flags, all others server flags. (The scripts
 * here call no other program with a long option, so every `--word` is herodb's.)
 */
function flagsIn(script: string): { server: string[]; certs: string[] } {
  const out = { server: [] as string[], certs: [] as string[] };
  for (const statement of script.split(/\n|;|&&|\|\|/)) {
    const flags = (statement.match(/(?<![\w-])--[a-z][a-z0-9_-]*/g) ?? []).map(String);
    if (/(main\.ts|herodb)\s+certs\b/.test(statement)) out.certs.push(...flags);
    else out.server.push(...flags);
  }
  return out;
}

function expectKnownFlags(where: string, script: string): { server: string[]; certs: string[] } {
  const flags = flagsIn(script);
  for (const f of flags.server)
    expect(SERVER_FLAGS.has(f), `${where}: unknown flag ${f}`).toBe(true);
  for (const f of flags.certs)
    expect(CERTS_FLAGS.has(f), `${where}: unknown certs flag ${f}`).toBe(true);
  return flags;
}

/** Every HERODB_* name in a text (settings, comments alike) must be one the server reads. */
function expectKnownEnv(where: string, text: string): string[] {
  const names = [...new Set(text.match(/\bHERODB_[A-Z0-9_]+/g) ?? [])];
  for (const n of names) expect(SERVER_ENV.has(n), `${where}: the server reads no ${n}`).toBe(true);
  return names;
}

// ---- Kubernetes schema validation ---------------------------------------------------------

type ModelClass = new (data: never) => { validate(): void; toJSON(): unknown };

const MODELS: Record<string, ModelClass> = {
  "apps/v1 StatefulSet": StatefulSet,
  "v1 Service": Service,
  "v1 Secret": Secret,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
};

interface Seen {
  read: Set<string>;
  listed: boolean;
}

/**
 * A deep copy of `value` whose objects record which of their properties the schema validator
 * looks at. The generated validators read every property their schema declares and enumerate
 * only maps (labels, resources); so a key that was never read in an object that was not
 * enumerated is one the schema does not have.
 */
function tracked(value: unknown, path: string, seen: Map<string, Seen>): unknown {
  if (Array.isArray(value)) return value.map((v, i) => tracked(v, `${path}/${i}`, seen));
  if (value === null || typeof value !== "object") return value;
  const record: Seen = { read: new Set(), listed: false };
  seen.set(path, record);
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) copy[k] = tracked(v, `${path}/${k}`, seen);
  return new Proxy(copy, {
    get(target, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.listed = true;
      return Reflect.ownKeys(target);
    },
  });
}

function at(value: unknown, path: string): unknown {
  let v = value;
  for (const k of path.split("/").slice(1)) v = (v as Record<string, unknown>)[k];
  return v;
}

/** Why a Kubernetes object is invalid: schema errors, then fields the schema does not know. */
function k8sProblems(obj: unknown): string[] {
  const o = obj as { apiVersion?: unknown; kind?: unknown } | null;
  const Model = MODELS[`${o?.apiVersion} ${o?.kind}`];
  if (Model === undefined)
    return [`no schema here for apiVersion ${o?.apiVersion}, kind ${o?.kind}`];
  const model = new Model(obj as never);
  try {
    model.validate();
  } catch (e) {
    return [(e as Error).message];
  }
  const plain = model.toJSON();
  const seen = new Map<string, Seen>();
  Model.prototype.validate.call(tracked(plain, "", seen));
  const problems: string[] = [];
  for (const [path, s] of seen) {
    // Enumerated: a map. Never looked into: a free-form field the schema says nothing about.
    if (s.listed || s.read.size === 0) continue;
    for (const key of Object.keys(at(plain, path) as object)) {
      if (!s.read.has(key)) problems.push(`${path || "/"}: unknown field "${key}"`);
    }
  }
  return problems;
}

/** Parsed YAML, whose shape the checks below establish. */
// biome-ignore lint/suspicious/noExplicitAny: a manifest's shape is what k8sProblems checks
type Y = any;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Y;
  stringData?: Record<string, string>;
}

/** A file's YAML documents, read as YAML 1.1 like kubectl (`yes` is true, `0440` octal). */
function yamlDocs(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, "utf8"), { version: "1.1" });
  if (!Array.isArray(docs)) return [];
  return docs.map((d) => {
    expect(d.errors.map(String), path).toEqual([]);
    return d.toJS();
  });
}

const k8sFiles = readdirSync(K8S)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const manifests = new Map<string, K8sObject[]>(
  k8sFiles.map((f) => [f, yamlDocs(join(K8S, f)).filter((d) => d != null) as K8sObject[]]),
);
const objects = [...manifests.entries()]
  .filter(([f]) => f !== "kustomization.yaml")
  .flatMap(([, docs]) => docs);
const find = (kind: string, name?: string): K8sObject => {
  const o = objects.find(
    (x) => x.kind === kind && (name === undefined || x.metadata.name === name),
  );
  if (o === undefined) throw new Error(`no ${kind} ${name ?? ""} in deploy/kubernetes`);
  return o;
};

describe("Kubernetes manifests", () => {
  it("parse, and every object is valid against the Kubernetes schemas", () => {
    expect(k8sFiles).toEqual(
      expect.arrayContaining([
        "statefulset.yaml",
        "service.yaml",
        "pdb.yaml",
        "secrets.example.yaml",
      ]),
    );
    for (const [file, docs] of manifests) {
      if (file === "kustomization.yaml") continue;
      expect(docs.length, file).toBeGreaterThan(0);
      for (const o of docs)
        expect(k8sProblems(o), `${file}: ${o.kind} ${o.metadata?.name}`).toEqual([]);
    }
  });

  it("the validator refuses broken objects", () => {
    const sts = find("StatefulSet");
    const broken = (change: (o: K8sObject) => void): string[] => {
      const copy = structuredClone(sts);
      change(copy);
      return k8sProblems(copy);
    };
    expect(broken((o) => (o.spec.replicas = "3"))).toEqual([expect.stringMatching(/replicas/)]);
    expect(broken((o) => (o.spec.replica = 3))).toEqual(['/spec: unknown field "replica"']);
    expect(
      broken((o) => delete o.spec.template.spec.containers[0].readinessProbe.httpGet.port),
    ).toEqual([expect.stringMatching(/readinessProbe\/httpGet must have required property port/)]);
    expect(broken((o) => (o.spec.template.spec.containers[0].env[0].valu = "x"))).toEqual([
      '/spec/template/spec/containers/0/env/0: unknown field "valu"',
    ]);
    expect(k8sProblems({ apiVersion: "v1", kind: "Pod" })[0]).toMatch(/no schema/);
  });

  it("write no YAML 1.1 octal numbers (kubectl reads 0440 as octal, YAML 1.2 as decimal)", () => {
    for (const f of k8sFiles) {
      const lines = readFileSync(join(K8S, f), "utf8").split("\n");
      for (const line of lines) expect(line, f).not.toMatch(/:\s+0[0-9]+\s*(#.*)?$/);
    }
  });

  it("kustomization.yaml lists the manifests (not the example Secrets)", () => {
    const k = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8"), { version: "1.1" });
    expect(k.kind).toBe("Kustomization");
    expect([...k.resources].sort()).toEqual(["pdb.yaml", "service.yaml", "statefulset.yaml"]);
  });

  const sts = find("StatefulSet");
  const pod = sts.spec.template.spec;
  const server = pod.containers.find((c: Y) => c.name === "herodb");
  const env = new Map<string, string>(
    (server.env ?? []).filter((e: Y) => e.value !== undefined).map((e: Y) => [e.name, e.value]),
  );
  const apiPort = Number(env.get("HERODB_API_PORT") ?? DEFAULT_API_PORT);
  const respPort = Number(env.get("HERODB_PORT") ?? DEFAULT_RESP_PORT);
  const raftPort = Number(env.get("HERODB_RAFT_PORT") ?? respPort + 1000);
  const portOf = (p: string | number): number =>
    typeof p === "number" ? p : server.ports.find((x: Y) => x.name === p)?.containerPort;
  const script = [...(server.command ?? []), ...(server.args ?? [])].join("\n");

  it("run herodb with flags and HERODB_* variables it knows", () => {
    expect(script).toContain("/app/src/main.ts");
    const flags = expectKnownFlags("statefulset herodb", script);
    expect(flags.server).toEqual(
      expect.arrayContaining(["--node-id", "--advertise", "--bootstrap", "--join"]),
    );
    for (const c of [...pod.initContainers, ...pod.containers] as Y[]) {
      expectKnownFlags(
        `statefulset ${c.name}`,
        [...(c.command ?? []), ...(c.args ?? [])].join("\n"),
      );
    }
    for (const f of k8sFiles) expectKnownEnv(f, readFileSync(join(K8S, f), "utf8"));
    // Service links would hand the server HERODB_PORT=tcp://… for the Service named herodb.
    expect(pod.enableServiceLinks).toBe(false);
  });

  it("probe /health and /ready on the server's API port", () => {
    expect(server.readinessProbe.httpGet.path).toBe("/ready");
    expect(server.livenessProbe.httpGet.path).toBe("/health");
    expect(server.startupProbe.httpGet.path).toBe("/health");
    for (const probe of [server.readinessProbe, server.livenessProbe, server.startupProbe]) {
      expect(portOf(probe.httpGet.port)).toBe(apiPort);
    }
    expect(portOf("resp")).toBe(respPort);
    expect(portOf("raft")).toBe(raftPort);
    // The shell script's own port numbers (peer health check, join seeds).
    expect(script).toContain(`:${apiPort}/health`);
    expect(script).toContain(`:${raftPort}`);
  });

  it("agree on Service names and ports, labels, Secrets and certificate host names", () => {
    const labels = sts.spec.template.metadata.labels;
    expect(sts.spec.selector.matchLabels).toEqual(labels);
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe("Parallel");
    const peers = find("Service", sts.spec.serviceName);
    expect(peers.spec.clusterIP).toBe("None");
    expect(peers.spec.publishNotReadyAddresses).toBe(true);
    expect(env.get("PEER_SERVICE")).toBe(peers.metadata.name);
    const client = objects.find((o) => o.kind === "Service" && o.spec.clusterIP !== "None");
    for (const svc of [peers, client as K8sObject]) {
      expect(svc.spec.selector).toEqual(labels);
      for (const p of svc.spec.ports)
        expect(portOf(p.targetPort), `${svc.metadata.name} ${p.name}`).toBe(p.port);
    }
    expect(client?.spec.ports.map((p: Y) => p.port).sort()).toEqual([apiPort, respPort].sort());
    const pdb = find("PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(2);
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    // Secrets: the ones mounted are the ones the example shows, with the keys the pods read.
    const example = manifests.get("secrets.example.yaml") ?? [];
    const secretKeys = (name: string) =>
      Object.keys(example.find((s) => s.metadata.name === name)?.stringData ?? {});
    const volumes = new Map<string, string>(
      pod.volumes.filter((v: Y) => v.secret).map((v: Y) => [v.name, v.secret.secretName]),
    );
    expect([...volumes.values()].sort()).toEqual(example.map((s) => s.metadata.name).sort());
    const adminFile = env.get("HERODB_ADMIN_SECRET_FILE") ?? "";
    const adminMount = server.volumeMounts.find((m: Y) => adminFile.startsWith(`${m.mountPath}/`));
    const adminKey = adminFile.slice(adminMount.mountPath.length + 1);
    expect(secretKeys(volumes.get(adminMount.name) ?? "")).toEqual([adminKey]);
    const tlsKeys = secretKeys("herodb-tls");
    for (let i = 1; i <= sts.spec.replicas; i++) {
      expect(tlsKeys).toEqual(expect.arrayContaining(["ca.crt", `node${i}.crt`, `node${i}.key`]));
    }
    expect(tlsKeys).not.toContain("ca.key");
    // Peers dial <pod>.<headless service>: every node certificate must be valid for those names.
    const certsLine = /herodb certs[^\n]*\n[^\n]*--hosts ([^\s]+)/.exec(
      read("deploy/kubernetes/secrets.example.yaml"),
    );
    const hosts = (certsLine?.[1] ?? "").split(",");
    for (let i = 0; i < sts.spec.replicas; i++) {
      expect(hosts).toContain(`${sts.metadata.name}-${i}.${peers.metadata.name}`);
    }
  });

  it("run as non-root on a read-only root filesystem, writing only to volumes", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
    }
    const writable = (path: string) =>
      server.volumeMounts.some(
        (m: Y) =>
          m.readOnly !== true && (path === m.mountPath || path.startsWith(`${m.mountPath}/`)),
      );
    expect(writable(env.get("HERODB_DATA_DIR") ?? "")).toBe(true);
    expect(writable(env.get("HERODB_SOCKET_PATH") ?? "/tmp/herodb.sock")).toBe(true);
    const claims = sts.spec.volumeClaimTemplates.map((t: Y) => t.metadata.name);
    const dataMount = server.volumeMounts.find(
      (m: Y) => m.mountPath === env.get("HERODB_DATA_DIR"),
    );
    expect(claims).toContain(dataMount.name);
  });
});

// ---- docker compose ------------------------------------------------------------------------

describe("deploy/compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml"), { merge: true });
  const services = compose.services as Record<string, Record<string, unknown>>;
  const nodes = Object.entries(services).filter(([name]) => name !== "certs");
  const command = (s: Record<string, unknown>): string => {
    const c = s.command;
    return Array.isArray(c) ? c.join("\n") : String(c ?? "");
  };

  it("runs a certs step and three nodes with flags and variables herodb knows", () => {
    expect(nodes.map(([n]) => n)).toEqual(["node1", "node2", "node3"]);
    expectKnownEnv("compose.yaml", read("deploy/compose.yaml"));
    const certs = expectKnownFlags("compose certs", command(services.certs));
    expect(certs.certs).toEqual(expect.arrayContaining(["--out", "--nodes", "--hosts"]));
    const hosts = /--hosts[ =]([^\s]+)/.exec(command(services.certs))?.[1].split(",") ?? [];
    const roles: string[] = [];
    const ids = new Set<string>();
    for (const [name, s] of nodes) {
      const cmd = command(s);
      expectKnownFlags(`compose ${name}`, cmd);
      ids.add(/--node-id[ =](\d+)/.exec(cmd)?.[1] ?? "");
      roles.push(
        cmd.includes("--bootstrap") ? "bootstrap" : cmd.includes("--join") ? "join" : "none",
      );
      // The certificates must be valid for every name a node is reached at.
      expect(hosts).toContain(/--advertise[ =]([^\s]+)/.exec(cmd)?.[1]);
      for (const seed of /--join[ =]([^\s]+)/.exec(cmd)?.[1].split(",") ?? []) {
        expect(hosts).toContain(seed.split(":")[0]);
      }
    }
    expect([...ids].sort()).toEqual(["1", "2", "3"]);
    expect(roles).toEqual(["bootstrap", "join", "join"]);
  });

  it("gives each node its own volume, the admin secret file and a /health healthcheck", () => {
    const dataVolumes = new Set<string>();
    for (const [name, s] of nodes) {
      const env = s.environment as Record<string, string>;
      const apiPort = Number(env.HERODB_API_PORT ?? DEFAULT_API_PORT);
      const test = (s.healthcheck as { test: string[] }).test.join(" ");
      expect(test, name).toContain(`127.0.0.1:${apiPort}/health`);
      for (const p of s.ports as string[]) expect(p, name).toMatch(/^127\.0\.0\.1:/);
      const data = (s.volumes as string[]).find((v) => v.endsWith(`:${env.HERODB_DATA_DIR}`));
      expect(data, name).toBeDefined();
      dataVolumes.add(String(data?.split(":")[0]));
      const secret = (s.secrets as string[])[0];
      expect(compose.secrets[secret].file).toBeDefined();
      expect(env.HERODB_ADMIN_SECRET_FILE).toBe(`/run/secrets/${secret}`);
    }
    expect(dataVolumes.size).toBe(3);
  });
});

// ---- Dockerfile ----------------------------------------------------------------------------

describe("Dockerfile", () => {
  const text = read("Dockerfile");
  const instruction = (name: string): string[] =>
    text
      .replace(/\\\n/g, " ")
      .split("\n")
      .filter((l) => l.startsWith(`${name} `))
      .map((l) => l.slice(name.length + 1).trim());
  const json = (name: string): string[] => JSON.parse(instruction(name).at(-1) ?? "[]");

  it("runs the server as a non-root user on production dependencies only", () => {
    expect(instruction("ARG").join(" ")).toMatch(/node:24-[a-z]+-slim/);
    expect(instruction("RUN").join(" ")).toContain("npm ci --omit=dev");
    expect(instruction("USER").at(-1)).not.toMatch(/^(root|0)$/);
    expect(instruction("VOLUME")).toEqual(["/data"]);
    expect(instruction("EXPOSE").join(" ").split(/\s+/).map(Number).sort()).toEqual([
      3000, 5555, 6555,
    ]);
    expect(json("ENTRYPOINT")).toEqual(["node", "/app/src/main.ts"]);
    expectKnownFlags("Dockerfile CMD", json("CMD").join(" "));
    expect(json("CMD")).toEqual(
      expect.arrayContaining(["--data-dir", "/data", "--host", "0.0.0.0"]),
    );
    expect(instruction("HEALTHCHECK").join(" ")).toContain(`${DEFAULT_API_PORT}) + '/health'`);
    expectKnownEnv("Dockerfile", text);
  });

  it("needs no devDependency at run time (src imports only dependencies and built-ins)", () => {
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    const files = readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts"),
    );
    expect(files.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const f of files) {
      const source = readFileSync(join(ROOT, "src", f), "utf8");
      const specs = [
        ...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm),
        ...source.matchAll(/^\s*import\s+"([^"]+)"/gm),
        ...source.matchAll(/\b(?:import|require|\))\(\s*"([^"]+)"\s*\)/g),
      ].map((m) => m[1]);
      for (const spec of specs) {
        if (spec.startsWith("node:") || spec.startsWith(".")) continue;
        const name = spec.startsWith("@")
          ? spec.split("/").slice(0, 2).join("/")
          : spec.split("/")[0];
        expect(allowed.has(name), `src/${f} imports ${spec}`).toBe(true);
        used.add(name);
      }
    }
    // The scan sees the packages the server is known to load, static and through createRequire.
    expect([...used]).toEqual(expect.arrayContaining(["lmdb", "fastify", "sodium-native"]));
  });
});

// ---- systemd -------------------------------------------------------------------------------

describe("deploy/systemd", () => {
  const unit = read("deploy/systemd/herodb.service");
  const settings = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m !== null) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]]);
  }
  const one = (key: string) => settings.get(key)?.at(-1);
  const dir = mkdtempSync(join(tmpdir(), "herodb-deploy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is a hardened unit starting the installed server with the example config", () => {
    expect(one("User")).toBe("herodb");
    expect(one("StateDirectory")).toBe("herodb");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("Restart")).toBe("on-failure");
    const exec = one("ExecStart") ?? "";
    expect(exec.split(/\s+/).slice(0, 2)).toEqual([
      "/opt/herodb/node_modules/.bin/node",
      "/opt/herodb/src/main.ts",
    ]);
    expect(exec).toContain("--config /etc/herodb/herodb.toml");
    expectKnownFlags("herodb.service ExecStart", exec);
    expectKnownEnv("herodb.service", unit);
    expect(settings.get("Environment")).toContain("HERODB_ADMIN_SECRET_FILE=%d/admin-secret");
    expect(one("LoadCredential")).toMatch(/^admin-secret:/);
  });

  it("names only known keys in the example config, commented ones included", () => {
    const keys = new Set(OPTIONS.map(keyOf));
    const toml = read("deploy/systemd/herodb.toml");
    for (const [, key] of toml.matchAll(/^#?\s*([a-z][a-z-]*)\s*=/gm)) {
      expect(keys.has(key), `herodb.toml: unknown key ${key}`).toBe(true);
    }
    expectKnownEnv("herodb.toml", toml);
  });

  it("its config passes `herodb config check` with the unit's environment", () => {
    writeFileSync(join(dir, "admin-secret"), "a-long-enough-admin-secret-for-tests\n", {
      mode: 0o600,
    });
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("HERODB_")),
    );
    for (const e of settings.get("Environment") ?? []) {
      const [k, ...v] = e.split("=");
      env[k] = v.join("=").replace("%d", dir); // %d: the unit's credentials directory
    }
    const out = execFileSync(
      join(ROOT, "node_modules/.bin/node"),
      [
        join(ROOT, "src/main.ts"),
        "config",
        "check",
        "--config",
        join(ROOT, "deploy/systemd/herodb.toml"),
        "--data-dir",
        join(dir, "data"),
      ],
      { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 },
    );
    expect(out).toContain('socket-path = "/run/herodb/herodb.sock"');
    expect(out).toContain(`admin-secret-file = "${join(dir, "admin-secret")}"`);
  });
});
