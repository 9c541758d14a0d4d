/**
 * The shape of the administrative catalog (DB0) as stored and as handed to the rest of the server.
 *
 * These are plain JSON-compatible data: the catalog serialises them verbatim inside its encrypted
 * file, and the control plane translates BackendType to and from HeroDB's JSON spelling at its
 * edge. Field names use snake_case because they are persisted.
 */

import type { AclUser } from "../security/acl/user.ts";

/**
 * An instance's type as the catalog stores it: HeroDB's name for it ("InMemory", "Redb",
 * "Sql"…) and, for types that keep data at a path, the path as given. The catalog does not
 * interpret the name: the instance types are plug-ins (src/engine/kind.ts), checked by the
 * control plane when an instance is created and by the instance registry when it opens.
 */
export interface BackendType {
  kind: string;
  path?: string;
}

export type Visibility = "Public" | "Private";
export type Permission = "Read" | "ReadWrite";

export interface AccessKeyRecord {
  /** Lower-case hex SHA-256 of the key; the key itself is never stored. */
  hash: string;
  permission: Permission;
  /** Unix seconds. */
  created_at: number;
}

export interface InstanceRecord {
  /** 1-based and never reused; 0 is DB0 itself. */
  index: number;
  /** Unique, case-sensitive. */
  name: string;
  backend: BackendType;
  /** Unix seconds. */
  created_at: number;
  /** Fixed at creation: values are sealed with the session key (USEKEY). */
  encrypted: boolean;
  visibility: Visibility;
  keys: AccessKeyRecord[];
  /**
   * The cluster's nodes when the instance was created: its Raft group's first membership, the
   * same on every node (absent on a single server, whose groups start with node 1 alone).
   */
  members?: number[];
}

/** A node of the cluster, as every node's catalog records it. */
export interface ClusterNode {
  id: number;
  /** host:port the node's Raft transport listens on (what peers dial). */
  raft: string;
  /** host:port of its RESP and HTTP listeners (what cluster_status shows clients). */
  resp: string;
  api: string;
  /** Unix seconds. */
  added_at: number;
  /**
   * Random, made by the node's data dir when it joined: a retried join of the same data dir
   * matches it, a wiped data dir (which could not remember its votes) does not.
   */
  token?: string;
}

export interface ClusterData {
  /** Random, set at bootstrap: tells clusters apart. */
  id: string;
  nodes: ClusterNode[];
  /** Ids of removed nodes: never admitted again. */
  removed: number[];
}

export interface CatalogData {
  version: 1;
  /**
   * ACL users (src/security/acl/user.ts), passwords in stored forms only. Absent or without a
   * `default` entry: the built-in default user, unchanged.
   */
  users?: AclUser[];
  /** The index the next created instance receives. */
  next_index: number;
  instances: InstanceRecord[];
  /** Present once the server runs as a cluster (bootstrapped with --bootstrap). */
  cluster?: ClusterData;
}

export interface CreateInstanceInput {
  name: string;
  backend: BackendType;
  encrypted: boolean;
  /** Defaults to "Public", as in HeroDB. */
  visibility?: Visibility;
}

export interface SecurityChanges {
  visibility?: Visibility;
  addKeys?: { key: string; permission: Permission }[];
  /** Plain keys or their hex digests. */
  removeKeys?: string[];
}
