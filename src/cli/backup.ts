/**
 * `herodb backup` and `herodb restore`: the HTTP backup streams (src/api/backup-routes.ts) from
 * the command line, against a running server, with progress on stderr.
 *
 *   herodb backup  --instance N --out FILE       [--api URL] [--admin-secret S]
 *   herodb backup  --all --out DIR                (every instance, one file each)
 *   herodb restore --in FILE --instance N         (replace instance N's state)
 *   herodb restore --in FILE [--name NAME]        (a new instance; default: the backup's name)
 *
 * The admin secret comes from --admin-secret, HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE;
 * --api defaults to http://127.0.0.1:3000 (or HERODB_API). Exit 0 on success, 1 on a failure
 * (one line on stderr), 2 on bad usage.
 */
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { readSecretFile } from "../config.ts";
import { inlineValue } from "../config-sources.ts";

export const BACKUP_HELP = `herodb backup: write backups of a running server's instances
herodb restore: restore one into an instance (replacing its state) or into a new instance

Usage: herodb backup --instance N --out FILE [options]
       herodb backup --all --out DIR [options]
       herodb restore --in FILE --instance N [options]
       herodb restore --in FILE [--name NAME] [options]
Options:
  --api URL              the server's HTTP API (default http://127.0.0.1:3000, or HERODB_API)
  --admin-secret SECRET  (or HERODB_ADMIN_SECRET, or HERODB_ADMIN_SECRET_FILE=path)
`;

class Usage extends Error {}

interface Args {
  values: Map<string, string>;
  all: boolean;
}

function parse(argv: string[]): Args {
  const values = new Map<string, string>();
  let all = false;
  const known = ["--instance", "--out", "--in", "--name", "--api", "--admin-secret"];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "--all") {
      all = true;
      continue;
    }
    let value: string | undefined;
    [arg, value] = inlineValue(arg);
    if (!known.includes(arg)) throw new Usage(`unknown option '${arg}'`);
    value ??= argv[++i];
    if (value === undefined) throw new Usage(`option ${arg} needs a value`);
    values.set(arg, value);
  }
  return { values, all };
}

function secretOf(a: Args, env: NodeJS.ProcessEnv): string {
  const s = a.values.get("--admin-secret") ?? env.HERODB_ADMIN_SECRET;
  if (s) return s;
  if (env.HERODB_ADMIN_SECRET_FILE) {
    return readSecretFile(env.HERODB_ADMIN_SECRET_FILE);
  }
  throw new Usage(
    "the admin secret is needed: --admin-secret, HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE",
  );
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** Progress on stderr: a line rewritten in place on a terminal, one line a second otherwise. */
function progress(what: string, total: number | null): { add(n: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let bytes = 0;
  let shown = 0;
  const show = (final: boolean) => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const pct = total ? ` ${Math.min(100, Math.floor((bytes * 100) / total))}%` : "";
    const line = `${what}:${pct} ${mib(bytes)}${total ? ` of ${mib(total)}` : ""} (${mib(bytes / secs)}/s)`;
    if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
    else process.stderr.write(`${line}\n`);
  };
  return {
    add(n) {
      bytes += n;
      const now = Date.now();
      if (now - shown >= (tty ? 100 : 1000)) {
        shown = now;
        show(false);
      }
    },
    end() {
      show(true);
    },
  };
}

function counter(p: { add(n: number): void }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      p.add(chunk.length);
      done(null, chunk);
    },
  });
}

async function failure(res: Response): Promise<Error> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    return new Error(body.error?.message ?? text);
  } catch {
    return new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

async function backupOne(api: string, secret: string, index: number, out: string): Promise<number> {
  if (existsSync(out)) throw new Error(`${out} exists: a backup never overwrites a file`);
  const res = await fetch(`${api}/backup/${index}`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  if (!res.ok || res.body === null) throw await failure(res);
  const p = progress(`backup of instance ${index}`, null);
  try {
    await pipeline(
      Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
      counter(p),
      createWriteStream(out, { flags: "wx", mode: 0o600 }),
    );
  } catch (e) {
    await rm(out, { force: true });
    throw new Error(`the backup of instance ${index} was cut off: ${(e as Error).message}`);
  }
  p.end();
  return statSync(out).size;
}

async function rpc(api: string, secret: string, method: string): Promise<unknown> {
  const res = await fetch(api, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: {} }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(body.error.message);
  return body.result;
}

async function backup(a: Args, api: string, secret: string): Promise<void> {
  const out = a.values.get("--out");
  if (out === undefined) throw new Usage("--out is needed");
  if (a.all) {
    const list = (await rpc(api, secret, "db_listInstances")) as { index: number; name: string }[];
    for (const i of list) {
      const file = join(out, `${i.index}-${i.name.replace(/[^A-Za-z0-9._-]/g, "_")}.herodb-backup`);
      const size = await backupOne(api, secret, i.index, file);
      process.stdout.write(`wrote ${file} (${size} bytes, instance ${i.index} '${i.name}')\n`);
    }
    return;
  }
  const index = Number(a.values.get("--instance"));
  if (!Number.isSafeInteger(index) || index < 1)
    throw new Usage("--instance N (an index ≥ 1) or --all is needed");
  const size = await backupOne(api, secret, index, out);
  process.stdout.write(`wrote ${out} (${size} bytes, instance ${index})\n`);
}

async function restore(a: Args, api: string, secret: string): Promise<void> {
  const file = a.values.get("--in");
  if (file === undefined) throw new Usage("--in FILE is needed");
  const size = statSync(file).size;
  const q = new URLSearchParams();
  const instance = a.values.get("--instance");
  if (instance !== undefined) q.set("instance", instance);
  const name = a.values.get("--name");
  if (name !== undefined) q.set("name", name);
  const p = progress(`upload of ${file}`, size);
  const body = Readable.toWeb(createReadStream(file).pipe(counter(p)));
  const res = await fetch(`${api}/restore?${q}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/octet-stream" },
    body: body as unknown as RequestInit["body"],
    duplex: "half",
  } as RequestInit);
  p.end();
  if (!res.ok) throw await failure(res);
  const r = (await res.json()) as { instance_index: number; name: string; snapshot_index: number };
  process.stdout.write(
    `restored ${file} into instance ${r.instance_index} '${r.name}' (backup taken at index ${r.snapshot_index})\n`,
  );
}

/** Runs `herodb backup|restore` with the arguments after the verb; returns the exit code. */
export async function runBackupCli(
  verb: "backup" | "restore",
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(BACKUP_HELP);
    return 0;
  }
  try {
    const a = parse(argv);
    const api = (a.values.get("--api") ?? env.HERODB_API ?? "http://127.0.0.1:3000").replace(
      /\/+$/,
      "",
    );
    const secret = secretOf(a, env);
    if (verb === "backup") await backup(a, api, secret);
    else await restore(a, api, secret);
    return 0;
  } catch (e) {
    if (e instanceof Usage) {
      process.stderr.write(`herodb ${verb}: ${e.message} (see herodb ${verb} --help)\n`);
      return 2;
    }
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    const why =
      cause === "ECONNREFUSED"
        ? "the server's API does not answer (is it running? --api)"
        : (e as Error).message;
    process.stderr.write(`herodb ${verb}: ${why}\n`);
    return 1;
  }
}
