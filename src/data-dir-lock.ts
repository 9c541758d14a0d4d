/**
 * One server per data dir: a lock file holding the owner's PID, created exclusively. A lock left
 * by a process that no longer exists (after kill -9) is taken over; a live owner is reported.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { HeroError } from "./errors.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockDataDir(dir: string): () => void {
  const path = join(dir, "herodb.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new HeroError(
          "ERR",
          `cannot lock data dir ${dir}: ${(e as NodeJS.ErrnoException).code}`,
        );
      }
      const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new HeroError("ERR", `data dir ${dir} is in use by another herodb (pid ${pid})`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new HeroError("ERR", `cannot lock data dir ${dir}`);
}
