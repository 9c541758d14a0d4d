/**
 * What a `run` handler can reach: its session and the server facilities below. The composition
 * root (src/server.ts) implements ServerApi; handlers never see sockets or storage directly.
 */
import type { InstanceRecord } from "../db0/types.ts";
import type { CommandSpec } from "../engine/command-spec.ts";
import type { Reply } from "../engine/reply.ts";
import type { Instance } from "../instances/instance.ts";
import type { CommandStats } from "../metrics/command-stats.ts";
import type { NodeFigures } from "../metrics/figures.ts";
import type { UserDirectory } from "../security/acl/directory.ts";
import type { UserAdmin } from "../security/acl/user-admin.ts";
import type { AuditEvent } from "../security/audit.ts";
import type { AuthThrottle } from "../security/auth-throttle.ts";
import type { AclLog } from "./acl-log.ts";
import type { PubSubHub } from "./pubsub-hub.ts";
import type { QueuedCommand, Session } from "./session.ts";

export interface ServerStats {
  startedAt: number;
  connectionsReceived: number;
  commandsProcessed: number;
  rejectedConnections: number;
  /** Unix seconds of the last successful SAVE/BGSAVE (the start until then). */
  lastSave: number;
}

export interface ServerApi {
  readonly version: string;
  readonly port: number;
  readonly stats: ServerStats;
  /** Counters of the commands run with no instance selected (PING, AUTH, HELLO…). */
  readonly commandStats: CommandStats;
  readonly config: Map<string, string>;
  readonly pubsub: PubSubHub;
  instance(index: number): Instance | undefined;
  /**
   * In a cluster, an instance this node does not serve yet may have just been created through
   * another node: resolves with it once this node's catalog holds every change acknowledged
   * before the call and its open has finished (undefined if it still does not exist). Absent on a
   * single server, where `instance` is always current.
   */
  awaitInstance?(index: number): Promise<Instance | undefined>;
  instances(): Instance[];
  /** The read-only view of the catalog that `SELECT 0 KEY <admin-secret>` opens. */
  db0View(): Instance;
  records(): InstanceRecord[];
  checkAdminSecret(secret: string): boolean;
  /** ACL users, as the catalog holds them on this node. */
  readonly users: UserDirectory;
  /** This node's recent ACL refusals (ACL LOG). */
  readonly aclLog: AclLog;
  /** Changing users (ACL SETUSER, DELUSER): through the catalog, to every node. */
  readonly userAdmin: UserAdmin;
  /**
   * Resolves once this node's catalog holds every change committed before the call (null on a
   * single server, where it always does): AUTH waits for it so a user just created or changed
   * through another node is known here.
   */
  catalogBarrier(): Promise<void> | null;
  /** The permission an access key grants on an instance, or null. */
  checkAccessKey(index: number, key: string): "Read" | "ReadWrite" | null;
  sessions(): Session[];
  audit(event: AuditEvent): void;
  /** Failed-authentication counts per client address (slows down guessing). */
  readonly authThrottle: AuthThrottle;
  clock(): number;
  /** The node's figures (commands by instance, Raft groups, log syncs): INFO reads them. */
  figures(): NodeFigures;
  /** Snapshots every Raft group on this node and compacts its log (SAVE); false on a failure. */
  saveAll(): Promise<boolean>;
  /** Raft log fsyncs and entries made durable by them, across all groups. */
  durability(): { fsyncs: number; entries: number; writes: number };
  /** Runs one already-resolved command now (EXEC of a transaction that is not one Op). */
  execute(session: Session, r: QueuedCommand): Reply | Promise<Reply>;
}

export interface CommandContext {
  /** Upper-case command name as resolved (e.g. "SET", "CLIENT|SETNAME"). */
  readonly name: string;
  readonly spec: TableEntry;
  readonly session: Session;
  readonly server: ServerApi;
}

/** An entry of the RESP command table: engine commands and handlers that get a CommandContext. */
export type TableEntry = CommandSpec<never, CommandContext>;
