/**
 * The composition root: opens DB0, builds the instance registry and the control plane, and
 * starts the three faces (RESP on TCP, JSON-RPC on HTTP and on a Unix socket). Everything the
 * command handlers may touch is handed to them through the ServerApi built here.
 */
import { join } from "node:path";
import { ControlPlane } from "./api/control-plane.ts";
import { type HttpServer, startHttp } from "./api/http.ts";
import type { Probes } from "./api/probes.ts";
import { startUds, type UdsServer } from "./api/uds.ts";
import { loadKindModules } from "./backends/kind-modules.ts";
import { kinds } from "./backends/kinds.ts";
import { BackupService } from "./backup/backup-service.ts";
import type { ClusterNode } from "./cluster/cluster-node.ts";
import { startClusterNode } from "./cluster/cluster-start.ts";
import { NodeLogStore } from "./cluster/log-store.ts";
import type { Transport } from "./cluster/transport.ts";
import { type Config, startupWarnings } from "./config.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { Catalog, ensureDataDir } from "./db0/catalog.ts";
import { HeroError } from "./errors.ts";
import { registerSqlHttp, sqlHttpBodyLimit } from "./hrana/routes.ts";
import type { Instance } from "./instances/instance.ts";
import { InstanceRegistry } from "./instances/registry.ts";
import { log } from "./log.ts";
import { CommandStats } from "./metrics/command-stats.ts";
import { PrometheusMetrics } from "./metrics/prometheus.ts";
import { nodeFigures, notReady } from "./node-figures.ts";
import { sweepSessions } from "./resp/acl-gate.ts";
import { AclLog } from "./resp/acl-log.ts";
import type { ServerApi, ServerStats } from "./resp/context.ts";
import { Dispatcher } from "./resp/dispatch.ts";
import { RespListener } from "./resp/listener.ts";
import { DEFAULT_LIMITS } from "./resp/parser.ts";
import { PubSubHub } from "./resp/pubsub-hub.ts";
import { type Session, sessionNotices } from "./resp/session.ts";
import { allCommands, knownCommand } from "./resp/table.ts";
import { categoryIndex } from "./security/acl/categories.ts";
import { UserDirectory } from "./security/acl/directory.ts";
import { UserAdmin } from "./security/acl/user-admin.ts";
import { AuditLog } from "./security/audit.ts";
import { AuthThrottle } from "./security/auth-throttle.ts";
import { ClientTls } from "./security/client-tls.ts";
import { VERSION } from "./version.ts";

function listenError(e: unknown, what: string, host: string, port: number): HeroError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE")
    return new HeroError("ERR", `${what} port ${host}:${port} is already in use`);
  if (code === "EACCES")
    return new HeroError("ERR", `${what} port ${host}:${port}: permission denied`);
  return new HeroError(
    "ERR",
    `${what} cannot listen on ${host}:${port}: ${code ?? (e as Error).message}`,
  );
}

export class HeroServer {
  readonly config: Config;
  private resp: RespListener | null = null;
  private http: HttpServer | null = null;
  private sqlHttp: { close(): void } | null = null;
  private uds: UdsServer | null = null;
  private registry: InstanceRegistry | null = null;
  private audit: AuditLog | null = null;
  private unlock: (() => void) | null = null;
  private logs: NodeLogStore | null = null;
  private transport: Transport | null = null;
  private clusterNode: ClusterNode | null = null;
  private clientTls: ClientTls | null = null;
  respPort = 0;
  /** The RESP TLS port (0: none). */
  tlsPort = 0;
  apiPort = 0;

  private constructor(config: Config) {
    this.config = config;
  }

  static async start(config: Config, onRemoved?: () => void): Promise<HeroServer> {
    const s = new HeroServer(config);
    if (onRemoved !== undefined) s.onRemoved = onRemoved;
    try {
      await s.boot();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  /** Set by main: what to do when the cluster removed this node (stop the process). */
  onRemoved: () => void = () => {};

  private async boot(): Promise<void> {
    const c = this.config;
    // Unreadable certificates stop the start before anything is opened.
    const clientTls = c.tls === null ? null : ClientTls.load(c.tls);
    this.clientTls = clientTls;
    // Out-of-tree instance types first: the catalog may already hold instances of them.
    await loadKindModules(c.engines, kinds);
    try {
      allCommands(); // builds the command table now: a clash is a start-up error, not a later one
    } catch (e) {
      throw new HeroError(
        "ERR",
        `the instance types' commands do not fit: ${(e as Error).message}`,
      );
    }
    let catalog: Catalog;
    let clusterNode: ClusterNode | null = null;
    let catchUpTo = 0;
    if (c.cluster === null) {
      catalog = await Catalog.open(c.dataDir, c.adminSecret);
      this.unlock = lockDataDir(c.dataDir);
    } else {
      // Joining writes into the data dir before the catalog exists: lock it first.
      await ensureDataDir(c.dataDir);
      this.unlock = lockDataDir(c.dataDir);
      const started = await startClusterNode({
        cluster: c.cluster,
        dataDir: c.dataDir,
        adminSecret: c.adminSecret,
        host: c.host,
        respPort: c.port,
        apiPort: c.apiPort,
        log: { info: (o, m) => log.info(o, m), warn: (o, m) => log.warn(o, m) },
        onRemoved: () => this.onRemoved(),
      });
      catalog = started.catalog;
      clusterNode = started.node;
      catchUpTo = started.catchUpTo;
      this.transport = started.transport;
      this.clusterNode = clusterNode;
    }
    this.audit = new AuditLog(c.auditLog ? join(c.dataDir, "audit.log") : null, c.auditGelf);
    const audit = this.audit;
    const clock = () => Date.now();
    const stats: ServerStats = {
      startedAt: Date.now(),
      connectionsReceived: 0,
      commandsProcessed: 0,
      rejectedConnections: 0,
      lastSave: Math.floor(Date.now() / 1000),
    };
    const commandStats = new CommandStats();
    const authThrottle = new AuthThrottle();
    const figures = () =>
      nodeFigures({
        registry,
        unselected: commandStats,
        stats,
        clients: () => sessions().length,
        authThrottle,
        audit,
        clock,
      });
    let listener: RespListener | null = null;
    const sessions = (): Session[] => listener?.sessions() ?? [];
    this.logs = NodeLogStore.open(join(c.dataDir, "raft"));
    for (const w of this.logs.warnings) log.warn(w, "raft log repaired at open");
    const registry = new InstanceRegistry({
      catalog,
      clock,
      sessions: sessionNotices(sessions, catalog),
      dataDir: c.dataDir,
      logs: this.logs,
      progress: (m) => log.info(m),
      network: clusterNode,
      snapshotEntries: c.snapshotCount,
    });
    this.registry = registry;
    await registry.attachCatalog();
    if (clusterNode !== null) {
      clusterNode.attach(catalog, registry);
      await clusterNode.bootstrap();
      if (catchUpTo > 0) await registry.catchUpAsJoiner(catchUpTo);
    }
    // ACL categories by command name, from the table (built above; types added at start only).
    const users = new UserDirectory(catalog, categoryIndex(allCommands()));
    const userAdmin = new UserAdmin(catalog, knownCommand);
    const plane = new ControlPlane({
      users: { admin: userAdmin, directory: users },
      authThrottle,
      catalog,
      host: registry,
      audit,
      catalogBarrier: () => registry.catalogRaft()?.readBarrier() ?? null,
      cluster: clusterNode ?? undefined,
    });
    plane.backups = new BackupService({
      instance: (i) => registry.get(i),
      createInstance: (p) => plane.createInstance(p),
      awaitInstance: (i) => registry.awaitInstance(i),
      version: VERSION,
    });
    for (const f of await plane.openAll()) {
      log.warn({ index: f.index, name: f.name, error: f.error }, "instance could not be opened");
    }
    const config = new Map<string, string>([
      ["bind", c.host],
      ["port", String(c.port)],
      ["tls-port", String(c.tls?.port ?? 0)],
      ["tls-auth-clients", c.tls?.authClients ?? "no"],
      ["databases", "16"],
      ["maxclients", String(c.maxClients)],
      ["timeout", String(c.idleTimeoutSec)],
      ["save", ""],
      ["appendonly", "no"],
      ["maxmemory", "0"],
      ["maxmemory-policy", "noeviction"],
      ["proto-max-bulk-len", String(DEFAULT_LIMITS.maxBulk)],
      ["dir", c.dataDir],
    ]);
    const api: ServerApi = {
      version: VERSION,
      port: c.port,
      stats,
      commandStats,
      config,
      pubsub: new PubSubHub(),
      instance: (i) => registry.get(i),
      ...(clusterNode === null ? {} : { awaitInstance: (i: number) => registry.awaitInstance(i) }),
      instances: () => registry.all(),
      db0View: () => registry.db0View(),
      records: () => catalog.list(),
      checkAdminSecret: (s) => catalog.checkAdminSecret(s),
      checkAccessKey: (i, k) => catalog.checkAccessKey(i, k),
      users,
      aclLog: new AclLog(),
      userAdmin,
      catalogBarrier: () => registry.catalogRaft()?.readBarrier() ?? null,
      sessions,
      audit: (ev) => audit.write(ev),
      authThrottle,
      clock,
      durability: () => registry.durability,
      figures: () => figures(),
      saveAll: async () =>
        (await Promise.all(registry.allGroups().map((g) => g.snapshotNow()))).every((ok) => ok),
      execute: (session, r) => dispatcher.execute(session, r),
    };
    const dispatcher = new Dispatcher(api);
    // A user removed, switched off or stripped of a channel loses its connections now, as in
    // Redis, even those waiting in SUBSCRIBE or a blocking pop.
    catalog.onChange((change) => {
      if (change === null || change.kind === "setUser" || change.kind === "deleteUsers") {
        sweepSessions(api);
      }
    });
    const prometheus = new PrometheusMetrics();
    const probes: Probes = {
      notReady: () => notReady(registry),
      metrics: () => prometheus.render(figures()),
      metricsContentType: prometheus.contentType,
      ...(c.metricsToken === undefined ? {} : { metricsToken: c.metricsToken }),
    };
    const tlsPort = c.tls?.port ?? null;
    listener = new RespListener(
      {
        host: c.host,
        // --port 0 beside --tls-port turns plain RESP off, as in Redis.
        port: c.port === 0 && tlsPort !== null ? null : c.port,
        ...(clientTls === null || tlsPort === null
          ? {}
          : {
              tls: {
                port: tlsPort,
                options: clientTls.options(),
                onServer: (srv) => clientTls.serve(srv),
              },
            }),
        maxClients: c.maxClients,
        limits: {
          ...DEFAULT_LIMITS,
          maxOutput: 64 * 1024 * 1024,
          maxQueued: 10_000,
          idleMs: c.idleTimeoutSec * 1000,
        },
      },
      dispatcher,
      stats,
      (session) => {
        session.cancelBlock?.();
        if (session.instance !== null) api.pubsub.dropSession(session, session.instance.index);
        session.unwatchAll();
        session.encKey?.fill(0);
      },
    );
    this.resp = listener;
    try {
      const ports = await listener.listen();
      this.respPort = ports.port ?? 0;
      this.tlsPort = ports.tlsPort ?? 0;
    } catch (e) {
      const tls = (e as { tls?: boolean }).tls === true;
      throw listenError(e, tls ? "RESP TLS" : "RESP", c.host, tls ? (tlsPort ?? 0) : c.port);
    }
    /** The instance a libSQL URL names: an index or a name. */
    const instanceByRef = async (ref: string): Promise<Instance | undefined> => {
      const named = () => catalog.list().find((r) => r.name === ref)?.index;
      const index = /^\d{1,9}$/.test(ref) ? Number(ref) : named();
      if (index === 0) return undefined;
      const live = index === undefined ? undefined : registry.get(index);
      if (live !== undefined || clusterNode === null) return live;
      // In a cluster an instance just created through another node may not be open here yet.
      if (index !== undefined) return registry.awaitInstance(index);
      await registry
        .catalogRaft()
        ?.readBarrier()
        ?.catch(() => undefined);
      const late = named();
      return late === undefined ? undefined : registry.awaitInstance(late);
    };
    try {
      this.http = await startHttp({
        plane,
        host: c.host,
        port: c.apiPort,
        version: VERSION,
        probes,
        backupSpool: c.dataDir,
        ...(clientTls === null || c.tls?.api !== true
          ? {}
          : { tls: { options: clientTls.options(), onServer: (srv) => clientTls.serve(srv) } }),
        ownBodyLimits: [sqlHttpBodyLimit()],
        configure: (app) => {
          this.sqlHttp = registerSqlHttp(
            app,
            {
              instance: (ref) => instanceByRef(ref),
              auth: plane.authenticator,
              checkAdminSecret: (s) => catalog.checkAdminSecret(s),
              checkAccessKey: (i, k) => catalog.checkAccessKey(i, k),
              clock,
              audit: (ev) => audit.write(ev),
              authThrottle,
            },
            { idleMs: c.sqlStreamTimeoutSec * 1000 },
          );
        },
      });
      this.apiPort = this.http.port;
    } catch (e) {
      throw e instanceof HeroError ? e : listenError(e, "HTTP API", c.host, c.apiPort);
    }
    this.uds = await startUds(c.socketPath, plane, { version: VERSION });
    for (const w of startupWarnings(c)) log.warn(w);
    log.info(
      {
        resp: this.respPort === 0 ? "off" : `${c.host}:${this.respPort}`,
        ...(this.tlsPort === 0 ? {} : { respTls: `${c.host}:${this.tlsPort}` }),
        [c.tls?.api === true ? "https" : "http"]: `${c.host}:${this.apiPort}`,
        socket: c.socketPath,
        version: VERSION,
        ...(c.cluster === null
          ? {}
          : { node: c.cluster.nodeId, raft: `${c.host}:${c.cluster.raftPort}` }),
      },
      "herodb ready",
    );
  }

  /**
   * Rereads the client TLS certificate, key and CA (SIGHUP): new handshakes use them, open
   * connections keep theirs. Returns what happened, in words for the log.
   */
  reloadTls(): { ok: boolean; message: string } {
    if (this.clientTls === null) return { ok: true, message: "no client TLS to reload" };
    try {
      this.clientTls.reload();
      return { ok: true, message: "client TLS certificates reloaded" };
    } catch (e) {
      return {
        ok: false,
        message: `client TLS reload failed, keeping the old certificates: ${(e as Error).message}`,
      };
    }
  }

  /** Stops accepting, lets in-flight replies go out, closes instances and files. */
  async stop(): Promise<void> {
    await this.resp?.close().catch(() => {});
    await this.http?.close().catch(() => {});
    this.sqlHttp?.close();
    this.sqlHttp = null;
    await this.uds?.close().catch(() => {});
    this.clusterNode?.close();
    await this.registry?.closeAll().catch(() => {});
    await this.transport?.close().catch(() => {});
    this.transport = null;
    await this.logs?.close().catch(() => {});
    this.logs = null;
    this.audit?.close();
    this.unlock?.();
    this.unlock = null;
    this.resp = null;
    this.http = null;
    this.uds = null;
  }
}
