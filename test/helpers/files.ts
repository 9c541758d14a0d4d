/** Files on disk, for tests that inspect what the server wrote. */
import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Every regular file under `dir`, recursively (skipping sockets and other special files). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
