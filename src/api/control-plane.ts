/**
 * The control plane's operations, independent of any transport.
 *
 * The catalog (DB0) is the source of truth for which instances exist; the InstanceHost, supplied
 * by the composition root, is what actually opens and closes their storage. Operations order the
 * two so that a failure never leaves a catalogued instance the host does not serve on purpose:
 * create writes the record first and rolls it back if the host cannot open it; delete closes the
 * instance first and only then forgets the record.
 */

import { kinds } from "../backends/kinds.ts";
import type { BackupService } from "../backup/backup-service.ts";
import type { ClusterControl } from "../cluster/cluster-node.ts";
import type { Catalog } from "../db0/catalog.ts";
import type { BackendType, InstanceRecord, SecurityChanges } from "../db0/types.ts";
import { HeroError } from "../errors.ts";
import type { UserDirectory } from "../security/acl/directory.ts";
import type { UserAdmin } from "../security/acl/user-admin.ts";
import { issueUserToken } from "../security/acl/user-tokens.ts";
import type { AuditEvent, AuditLog } from "../security/audit.ts";
import { AuthThrottle } from "../security/auth-throttle.ts";
import type { HttpAuthenticator } from "./http-caller.ts";

/** What the composition root implements to serve instances. */
export interface InstanceHost {
  /** Start serving the instance (create its storage on first open). */
  open(record: InstanceRecord): Promise<void>;
  /** Resolves once a newly opened instance takes writes (a cluster elects its group first). */
  serving?(index: number): Promise<void>;
  /** Stop serving the instance; called before its record is deleted. */
  close(index: number): Promise<void>;
  /** The instance was renamed in the catalog. */
  rename?(index: number, name: string): void;
  /** Visibility or keys changed; sessions authenticated with a removed key should be dropped. */
  securityChanged?(index: number): void;
}

export interface ControlPlaneOptions {
  catalog: Catalog;
  host: InstanceHost;
  /** Where admin calls and authentication failures are recorded; null or absent: nowhere. */
  audit?: AuditLog | null;
  /**
   * In a cluster: resolves once this node's catalog holds every change acknowledged before the
   * call (a read index of group 0), so reads here are never staler than a write just made
   * through another node. Null: read at once.
   */
  catalogBarrier?: () => Promise<void> | null;
  /** The cluster this node belongs to; absent on a single server. */
  cluster?: ClusterControl;
  /** Backup and restore of instances (db_backup, db_restore). */
  backups?: BackupService;
  /** ACL users: changing them, and reading them as sessions do (the user_* methods). */
  users?: { admin: UserAdmin; directory: UserDirectory };
  /** Failed logins over HTTP are slowed down with the same counts as RESP's. */
  authThrottle?: AuthThrottle;
}

export interface CreateInstanceParams {
  name: string;
  backend: BackendType;
  encrypted: boolean;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ControlPlane {
  readonly catalog: Catalog;
  readonly host: InstanceHost;
  readonly auditLog: AuditLog | null;
  readonly cluster: ClusterControl | null;
  /** Set by the composition root once the service (which creates instances through this plane) exists. */
  backups: BackupService | null;
  private readonly catalogBarrier: () => Promise<void> | null;
  readonly users: { admin: UserAdmin; directory: UserDirectory } | null;
  readonly authThrottle: AuthThrottle;
  /** Who an HTTP request is, for every route of the HTTP port (JSON-RPC, libSQL). */
  readonly authenticator: HttpAuthenticator;

  constructor(opts: ControlPlaneOptions) {
    this.users = opts.users ?? null;
    this.authThrottle = opts.authThrottle ?? new AuthThrottle();
    this.authenticator = {
      checkAdminSecret: (s) => opts.catalog.checkAdminSecret(s),
      users: this.users?.directory ?? null,
      tokenMac: (p) => opts.catalog.tokenMac(p),
      throttle: this.authThrottle,
    };
    this.cluster = opts.cluster ?? null;
    this.backups = opts.backups ?? null;
    this.catalogBarrier = opts.catalogBarrier ?? (() => null);
    this.catalog = opts.catalog;
    this.host = opts.host;
    this.auditLog = opts.audit ?? null;
  }

  checkAdminSecret(secret: string): boolean {
    return this.catalog.checkAdminSecret(secret);
  }

  /** ACL users, or an error saying this server has none configured (tests build planes bare). */
  userAccess(): { admin: UserAdmin; directory: UserDirectory } {
    if (this.users === null) throw new HeroError("UNSUPPORTED", "users are not available here");
    return this.users;
  }

  /** Reads of users wait, in a cluster, for changes made through other nodes. */
  async usersNow(): Promise<UserDirectory> {
    await this.catalogBarrier();
    return this.userAccess().directory;
  }

  /**
   * user_token: a bearer token for `name` if `password` logs in (null otherwise), valid for
   * `ttlSec` seconds.
   */
  async userToken(
    client: string,
    name: string,
    password: string,
    ttlSec: number,
  ): Promise<string | null> {
    const users = await this.usersNow();
    if (!(await users.authenticateFrom(client, name, password, this.authThrottle))) return null;
    const user = users.user(name);
    if (user === undefined) return null;
    return issueUserToken(user, Math.floor(Date.now() / 1000), ttlSec, (p) =>
      this.catalog.tokenMac(p),
    );
  }

  audit(ev: AuditEvent): void {
    this.auditLog?.write(ev);
  }

  /**
   * Open every catalogued instance (at startup). Failures do not stop the others; they are
   * returned so the caller can report them.
   */
  async openAll(): Promise<{ index: number; name: string; error: string }[]> {
    const failures: { index: number; name: string; error: string }[] = [];
    for (const record of this.catalog.list()) {
      try {
        await this.host.open(record);
      } catch (e) {
        failures.push({ index: record.index, name: record.name, error: describe(e) });
      }
    }
    return failures;
  }

  async createInstance(params: CreateInstanceParams): Promise<InstanceRecord> {
    const kind = params.backend.kind;
    const descriptor = kinds.get(kind);
    if (descriptor === undefined) {
      throw new HeroError("UNSUPPORTED", `backend ${kind} is not available yet`);
    }
    if (params.encrypted && !descriptor.encryptable) {
      throw new HeroError("UNSUPPORTED", `encryption is not supported for backend ${kind}`);
    }
    const record = await this.catalog.create(params);
    try {
      await this.host.open(record);
    } catch (e) {
      try {
        await this.catalog.delete(record.index);
      } catch (rollback) {
        throw new HeroError(
          "INTERNAL",
          `cannot open instance '${record.name}' (${describe(e)}), and removing its record ` +
            `failed too (${describe(rollback)})`,
        );
      }
      if (e instanceof HeroError) throw e;
      throw new HeroError("INTERNAL", `cannot open instance '${record.name}': ${describe(e)}`);
    }
    await this.host.serving?.(record.index);
    return record;
  }

  async listInstances(): Promise<InstanceRecord[]> {
    await this.catalogBarrier();
    return this.catalog.list();
  }

  async getInstance(index: number): Promise<InstanceRecord> {
    await this.catalogBarrier();
    const record = this.catalog.get(index);
    if (record === undefined) throw new HeroError("NOINSTANCE", `no instance with index ${index}`);
    return record;
  }

  async deleteInstance(index: number): Promise<void> {
    const record = await this.getInstance(index);
    if (this.cluster !== null) {
      // In a cluster the instance's Raft state must outlive any delete that did not commit (a
      // voter that dropped its log could help elect a leader missing acknowledged writes), so
      // the delete commits first and every node, this one included, closes on applying it.
      await this.catalog.delete(index);
      await this.host.close(index);
      return;
    }
    try {
      await this.host.close(index);
    } catch (e) {
      if (e instanceof HeroError) throw e;
      throw new HeroError("INTERNAL", `cannot close instance ${index}: ${describe(e)}`);
    }
    try {
      await this.catalog.delete(index);
    } catch (e) {
      // The record stays, so serve the instance again rather than leave it catalogued but dark.
      await this.host.open(record).catch(() => undefined);
      throw e;
    }
  }

  async renameInstance(index: number, name: string): Promise<void> {
    await this.catalog.rename(index, name);
    this.host.rename?.(index, name);
  }

  async updateSecurity(index: number, changes: SecurityChanges): Promise<InstanceRecord> {
    const record = await this.catalog.updateSecurity(index, changes);
    this.host.securityChanged?.(index);
    return record;
  }
}
