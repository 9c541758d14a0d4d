/**
 * `mkdir -p` that cannot hang and says what went wrong in words. Node's
 * `mkdir({ recursive: true })` spins forever under /proc (mkdir answers ENOENT although the
 * parent exists, and it retries the parent); here each level is made once, with one retry after
 * making its parent, and failures name the path and the next step instead of a raw errno.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";

export class DirError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A one-line explanation of a file-system error code for `path`, with what to do about it. */
export function explainFsError(code: string | undefined, path: string): string {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return `${path}: permission denied (run as a user that may write there, or choose another directory)`;
    case "EROFS":
      return `${path}: the file system is read-only (choose a directory on a writable disk)`;
    case "ENOSPC":
      return `${path}: no space left on the device`;
    case "ENOTDIR":
      return `${path}: a part of the path is a file, not a directory`;
    case "EEXIST":
      return `${path} exists and is not a directory`;
    case "ENOENT":
      return `${path} cannot be created there (is its parent on a real, writable file system?)`;
    case "ENAMETOOLONG":
      return `${path}: the path is too long`;
    default:
      return `${path}: ${code ?? "unknown error"}`;
  }
}

/** Makes `dir` and any missing parents, each new level with `mode`; an existing directory is fine. */
export function makeDirs(dir: string, mode = 0o700): void {
  makeLevel(dir, mode, true);
}

function makeLevel(dir: string, mode: number, retry: boolean): void {
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && retry && dirname(dir) !== dir) {
      makeLevel(dirname(dir), mode, true);
      makeLevel(dir, mode, false);
      return;
    }
    if (code === "EEXIST") {
      let isDir = false;
      try {
        isDir = statSync(dir).isDirectory();
      } catch {
        // vanished meanwhile: report it as not a directory
      }
      if (isDir) return;
    }
    throw new DirError(code ?? "EIO", explainFsError(code, dir));
  }
}
