/**
 * Who this node is in its cluster, kept in `<data-dir>/node.json` so that a restarted node knows
 * its id, its cluster and the first membership of group 0 without asking anyone, and so that a
 * data dir cannot silently be reused under another id or in another cluster (its Raft logs name
 * this node in every vote and membership).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../db0/format.ts";
import { HeroError } from "../errors.ts";

export interface NodeState {
  node_id: number;
  cluster_id: string;
  /** The node that bootstrapped the cluster: group 0 starts with it as the only voter. */
  bootstrap_id: number;
  /** Set when the cluster removed this node; it then refuses to start. */
  removed?: boolean;
}

const FILE = "node.json";

export async function readNodeState(dataDir: string): Promise<NodeState | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new HeroError(
      "ERR",
      `cannot read ${join(dataDir, FILE)}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = null;
  }
  const s = v as Partial<NodeState> | null;
  if (
    s === null ||
    typeof s !== "object" ||
    !Number.isSafeInteger(s.node_id) ||
    typeof s.cluster_id !== "string" ||
    !Number.isSafeInteger(s.bootstrap_id)
  ) {
    throw new HeroError("ERR", `${join(dataDir, FILE)} is damaged`);
  }
  return s as NodeState;
}

export async function writeNodeState(dataDir: string, state: NodeState): Promise<void> {
  await writeFileAtomic(
    join(dataDir, FILE),
    new TextEncoder().encode(`${JSON.stringify(state)}\n`),
  );
}
