/**
 * Changing users, the one way both faces do it: ACL SETUSER/DELUSER on RESP and the user_*
 * methods of JSON-RPC. Rules are checked and prepared here, on the node that received the call
 * (passwords become stored hashes: nothing plain goes further), then handed to the catalog,
 * which applies them on every node in log order.
 */
import { HeroError } from "../../errors.ts";
import { isCategory } from "./categories.ts";
import { prepareRules } from "./rules.ts";
import { type AclUser, checkUserName, DEFAULT_USER_NAME } from "./user.ts";

/** Where users are kept: the catalog. */
export interface UserStore {
  users(): readonly AclUser[];
  setUser(name: string, preparedRules: string[]): Promise<void>;
  deleteUsers(names: string[]): Promise<number>;
}

export class UserAdmin {
  private readonly store: UserStore;
  private readonly knownCommand: (name: string) => boolean;

  /** `knownCommand` gets "GET" or "CLIENT|KILL": rules may only name commands the table has. */
  constructor(store: UserStore, knownCommand: (name: string) => boolean) {
    this.store = store;
    this.knownCommand = knownCommand;
  }

  user(name: string): AclUser | undefined {
    return this.store.users().find((u) => u.name === name);
  }

  /** ACL SETUSER: creates the user when absent, then applies `rules` in order. */
  async setRules(name: string, rules: readonly string[]): Promise<void> {
    checkUserName(name);
    const prepared = prepareRules(rules, this.user(name), this.knownCommand, isCategory);
    await this.store.setUser(name, prepared);
  }

  /** user_create: a new user (CONFLICT if the name is taken) with a password and rules. */
  async create(name: string, password: string | null, rules: readonly string[]): Promise<void> {
    checkUserName(name);
    if (this.user(name) !== undefined) {
      throw new HeroError("CONFLICT", `a user named '${name}' already exists`);
    }
    await this.setRules(name, password === null ? rules : [`>${password}`, ...rules]);
  }

  /** user_update: more rules for an existing user. */
  async update(name: string, rules: readonly string[]): Promise<void> {
    if (this.user(name) === undefined && name !== DEFAULT_USER_NAME) {
      throw new HeroError("INVALID_PARAMS", `no user named '${name}'`);
    }
    await this.setRules(name, rules);
  }

  /** ACL DELUSER: how many of `names` existed (the default user cannot be removed). */
  remove(names: string[]): Promise<number> {
    return this.store.deleteUsers(names);
  }
}
