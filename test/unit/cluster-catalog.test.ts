/**
 * Cluster membership in the catalog, as pure changes: a cluster is initialised once; a joining
 * data dir is admitted once and its retried join (same token) is accepted again, while another
 * data dir under a member's id (a wiped disk, which forgot its votes) is refused; a removed id is
 * never admitted again; the last node cannot be removed; new instances record the members.
 */
import { describe, expect, it } from "vitest";
import { applyChange } from "../../src/db0/catalog-changes.ts";
import { emptyCatalog } from "../../src/db0/catalog-data.ts";
import type { CatalogData } from "../../src/db0/types.ts";

const node = (id: number, token?: string) => ({
  id,
  raft: `h${id}:7000`,
  resp: `h${id}:6000`,
  api: `h${id}:3000`,
  ...(token === undefined ? {} : { token }),
});

function cluster(): CatalogData {
  const d = emptyCatalog();
  applyChange(d, { kind: "initCluster", id: "c1", node: node(1) }, 1);
  return d;
}

describe("cluster membership changes", () => {
  it("initialises once", () => {
    const d = cluster();
    expect(d.cluster?.nodes.map((n) => n.id)).toEqual([1]);
    expect(() => applyChange(d, { kind: "initCluster", id: "c2", node: node(1) }, 2)).toThrow(
      /already exists/,
    );
  });

  it("accepts a retried join of the same data dir and refuses another data dir under that id", () => {
    const d = cluster();
    applyChange(d, { kind: "addNode", node: node(2, "tok-a") }, 2);
    applyChange(d, { kind: "addNode", node: { ...node(2, "tok-a"), raft: "new:7000" } }, 3);
    expect(d.cluster?.nodes.find((n) => n.id === 2)?.raft).toBe("new:7000");
    expect(() => applyChange(d, { kind: "addNode", node: node(2, "tok-b") }, 4)).toThrow(
      /already a member/,
    );
    expect(() => applyChange(d, { kind: "addNode", node: node(1, "tok-c") }, 4)).toThrow(
      /already a member/,
    );
  });

  it("never admits a removed id again and keeps at least one node", () => {
    const d = cluster();
    applyChange(d, { kind: "addNode", node: node(2, "t") }, 2);
    applyChange(d, { kind: "removeNode", id: 2 }, 3);
    expect(d.cluster?.removed).toEqual([2]);
    expect(() => applyChange(d, { kind: "addNode", node: node(2, "t") }, 4)).toThrow(/removed/);
    expect(() => applyChange(d, { kind: "removeNode", id: 1 }, 5)).toThrow(/last node/);
  });

  it("records the members of the cluster in each new instance", () => {
    const d = cluster();
    applyChange(d, { kind: "addNode", node: node(3, "t") }, 2);
    const r = applyChange(
      d,
      {
        kind: "create",
        name: "x",
        backend: { kind: "InMemory" },
        encrypted: false,
        visibility: "Public",
      },
      3,
    );
    expect((r as { members?: number[] } | null)?.members).toEqual([1, 3]);
  });
});
