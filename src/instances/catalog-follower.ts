/**
 * Following the catalog: a catalog change was applied on this node (through group 0, in log
 * order, on every node), so open what was created, close what was deleted, refresh what changed.
 * The node that served the admin call does the same through the control plane; opening and
 * closing are idempotent, so whichever comes first does the work.
 */
import type { Catalog } from "../db0/catalog.ts";
import type { CatalogChange } from "../db0/catalog-changes.ts";
import type { InstanceRecord } from "../db0/types.ts";

/** What following the catalog drives (the instance registry). */
export interface FollowingHost {
  open(record: InstanceRecord): Promise<void>;
  close(index: number): Promise<void>;
  refresh(index: number): unknown;
  securityChanged(index: number): void;
  catalogChanged(): void;
  openIndexes(): number[];
}

/** `change` null: a snapshot replaced the whole catalog. */
export function followCatalog(
  change: CatalogChange | null,
  catalog: Catalog,
  host: FollowingHost,
  progress: (message: string) => void,
): void {
  const warn = (index: number) => (e: unknown) =>
    progress(`instance ${index} could not be opened: ${(e as Error).message}`);
  if (change === null) {
    // Converge on the snapshot's instance list.
    const wanted = new Set(catalog.list().map((r) => r.index));
    for (const index of host.openIndexes()) if (!wanted.has(index)) void host.close(index);
    for (const r of catalog.list()) void host.open(r).catch(warn(r.index));
    return;
  }
  switch (change.kind) {
    case "create": {
      const r = catalog.list().find((x) => x.name === change.name);
      if (r !== undefined) void host.open(r).catch(warn(r.index));
      return;
    }
    case "delete":
      void host.close(change.index);
      return;
    case "rename":
      host.refresh(change.index);
      return;
    case "security":
      host.securityChanged(change.index);
      return;
    default:
      host.catalogChanged();
  }
}
