/**
 * The users as sessions meet them: compiled checkers (./check.ts) built once per user and
 * version of the catalog's users, and authentication.
 *
 * Why: the catalog (DB0) holds users as data and changes them through Raft, on every node in
 * log order. Sessions must enforce the user as it is now, on every command, without compiling
 * rules per command: the directory keeps one compiled user per name and drops them all when the
 * catalog's users version moves, which is also the sign a session reads to re-check its own.
 */

import { type AuthThrottle, failureDelayMs, hostOf } from "../auth-throttle.ts";
import { type CategoryLookup, type CompiledUser, compileUser } from "./check.ts";
import { checkCredentials } from "./scram.ts";
import { type AclUser, DEFAULT_USER_NAME } from "./user.ts";

/** Where users come from: the catalog. */
export interface UserSource {
  users(): readonly AclUser[];
  readonly usersVersion: number;
}

export class UserDirectory {
  private readonly source: UserSource;
  private readonly categoriesOf: CategoryLookup;
  private readonly categories: ReadonlyMap<string, ReadonlySet<string>>;
  private compiledFor = -1;
  private readonly compiled = new Map<string, CompiledUser>();

  /** `categories`: every command's ACL categories by dispatch name (categoryIndex). */
  constructor(source: UserSource, categories: ReadonlyMap<string, ReadonlySet<string>>) {
    this.source = source;
    this.categories = categories;
    this.categoriesOf = (name) => categories.get(name);
  }

  /**
   * Whether `rules` allow every command of a category: what the control plane asks of a user
   * before an admin method (it has no command of its own to check).
   */
  allowsCategory(rules: CompiledUser, category: string): boolean {
    for (const [name, cats] of this.categories) {
      if (cats.has(category) && rules.checkCommand(name, [], []) !== null) return false;
    }
    return true;
  }

  /** Moves whenever a user is created, changed or removed (on this node). */
  get version(): number {
    return this.source.usersVersion;
  }

  all(): readonly AclUser[] {
    return this.source.users();
  }

  user(name: string): AclUser | undefined {
    return this.source.users().find((u) => u.name === name);
  }

  /** The compiled checker of an enabled user, or undefined (no such user, or off). */
  rulesOf(name: string): CompiledUser | undefined {
    if (this.compiledFor !== this.source.usersVersion) {
      this.compiled.clear();
      this.compiledFor = this.source.usersVersion;
    }
    const cached = this.compiled.get(name);
    if (cached !== undefined) return cached;
    const user = this.user(name);
    if (user === undefined || !user.enabled) return undefined;
    const c = compileUser(user, this.categoriesOf);
    this.compiled.set(name, c);
    return c;
  }

  /**
   * Whether a connection that has not authenticated must do so first (Redis's rule: the default
   * user is off, or has passwords and is not nopass).
   */
  defaultNeedsAuth(): boolean {
    const d = this.user(DEFAULT_USER_NAME);
    return d === undefined || !d.enabled || !d.nopass;
  }

  /** True when `password` logs in as `name` (an enabled user, nopass or a matching password). */
  async authenticate(name: string, password: string): Promise<boolean> {
    const user = this.user(name);
    return user !== undefined && (await checkCredentials(user, password));
  }

  /**
   * `authenticate` for a caller with no connection to count failures on (an HTTP request): a
   * failure is counted per client address and per user name and answered later and later, so
   * guessing over HTTP is no faster than over RESP.
   */
  async authenticateFrom(
    client: string,
    name: string,
    password: string,
    throttle: AuthThrottle,
  ): Promise<boolean> {
    if (await this.authenticate(name, password)) return true;
    const now = Date.now();
    const failures = Math.max(
      throttle.fail(hostOf(client), now),
      throttle.fail(`user:${name}`, now),
    );
    const delay = failureDelayMs(failures);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return false;
  }

  /** Whether the user logs in with a password (a nopass user proves nothing by logging in). */
  hasPassword(name: string): boolean {
    const user = this.user(name);
    return user !== undefined && !user.nopass && user.passwords.length > 0;
  }
}
