/**
 * The ceiling of a RESP server written in Node on this machine: the third column of
 * `npm run bench`. It does the least a server can do for redis-benchmark's SET and GET, one
 * `data` event in, one socket write out, a Map of strings to pre-encoded replies, so the gap
 * between it and redis-server is what Node itself costs, and the gap between HeroDB and it is
 * what HeroDB's own work costs. Nothing here is a design for the server: no limits, no inline
 * commands, no access control, no persistence.
 *
 * With `--log FILE` it is the ceiling of a durable Node server instead: every SET's bytes are
 * appended to FILE by synced writes (O_DSYNC, in libuv's thread pool) shared by the clients that
 * wrote together (group commit, see SyncedLog), and a connection's replies wait until the write
 * holding its SETs is durable, the rule redis-server's `appendfsync always` and HeroDB's Raft
 * log both keep. The file is extended with zeros ahead of the writes, so a synced write changes
 * no file size.
 *
 * With `--tls-port P --tls-cert F --tls-key F [--tls-ca F]` it also serves the same logic over
 * TLS on port P (node:tls, client certificates required when a CA is given): the ceiling of a
 * Node server behind TLS, the reference of `npm run bench -- tls` (./tls.ts).
 *
 *   node scripts/bench/node-ceiling.ts PORT [--log FILE]
 *        [--tls-port P --tls-cert FILE --tls-key FILE [--tls-ca FILE]]   (prints "ready" once listening)
 *
 * Commands: SET k v, GET k, PING, SELECT n (OK), CONFIG … (an empty array, which is what
 * redis-benchmark asks first); anything else is an error.
 */
import { constants, openSync, readFileSync, write, writeSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

const OK = Buffer.from("+OK\r\n");
const PONG = Buffer.from("+PONG\r\n");
const NIL = Buffer.from("$-1\r\n");
const EMPTY = Buffer.from("*0\r\n");
const UNKNOWN = Buffer.from("-ERR unknown command\r\n");

/** Key (latin1) → its value as a whole bulk reply, so a GET copies nothing. */
const values = new Map<string, Buffer>();

function bulk(value: Buffer): Buffer {
  const head = `$${value.length}\r\n`;
  const out = Buffer.allocUnsafe(head.length + value.length + 2);
  out.write(head, 0, "latin1");
  value.copy(out, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** Whether `b` spells the upper-case ASCII `name` in any letter case. */
function named(b: Buffer, name: string): boolean {
  if (b.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) if ((b[i] & 0xdf) !== name.charCodeAt(i)) return false;
  return true;
}

/** Runs one command; returns whether it wrote (its bytes must be durable before its reply). */
function run(args: Buffer[], out: Buffer[]): boolean {
  const name = args[0];
  if (args.length === 3 && named(name, "SET")) {
    values.set(args[1].toString("latin1"), bulk(args[2]));
    out.push(OK);
    return true;
  } else if (args.length === 2 && named(name, "GET")) {
    out.push(values.get(args[1].toString("latin1")) ?? NIL);
  } else if (named(name, "PING")) out.push(PONG);
  else if (named(name, "SELECT")) out.push(OK);
  else if (named(name, "CONFIG")) out.push(EMPTY);
  else out.push(UNKNOWN);
  return false;
}

/**
 * Reads `<prefix><digits>\r\n` at `at`: returns [number, offset after the line], null when the
 * line is incomplete, undefined when it is malformed.
 */
function line(buf: Buffer, at: number): [number, number] | null | undefined {
  let n = 0;
  for (let i = at + 1; i < buf.length; i++) {
    const c = buf[i];
    if (c === 13) return i + 1 < buf.length ? [n, i + 2] : null;
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + c - 48;
  }
  return null;
}

/**
 * Runs every whole command in `buf`; returns where the unread rest starts, or -1 on bad input.
 * With a log, the bytes of the commands that wrote go to `written`.
 */
function parse(buf: Buffer, out: Buffer[], written: Buffer[] | null): number {
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 42) return -1;
    const head = line(buf, off);
    if (head === null) return off;
    if (head === undefined) return -1;
    const args = new Array<Buffer>(head[0]);
    let pos = head[1];
    for (let i = 0; i < args.length; i++) {
      if (pos >= buf.length) return off;
      if (buf[pos] !== 36) return -1;
      const len = line(buf, pos);
      if (len === null) return off;
      if (len === undefined) return -1;
      const end = len[1] + len[0];
      if (end + 2 > buf.length) return off;
      args[i] = buf.subarray(len[1], end);
      pos = end + 2;
    }
    if (args.length > 0 && run(args, out) && written !== null) written.push(buf.subarray(off, pos));
    off = pos;
  }
  return off;
}

/** Synced writes of `--log` in flight at once (disks serve a few in parallel; HeroDB's log does too). */
const MAX_SYNCS = 4;

interface Batch {
  replies: Map<Socket, Buffer[]>;
  durable: boolean;
}

/**
 * The synced log of `--log`. Group commit as HeroDB's Raft log does it: the SETs read in one
 * event-loop turn share one synced write, up to MAX_SYNCS writes run at once, and replies go out
 * in order, once their write and every earlier one are durable. A batch waits (for at most as
 * long as the last synced write took) until as many clients have written as the last batch
 * carried, so closed-loop clients move as one cohort instead of two alternating half-size ones.
 */
class SyncedLog {
  private readonly fd: number;
  private end = 0;
  private zeroed = 0;
  /** Written bytes and held replies waiting for the next synced write. */
  private bytes: Buffer[] = [];
  private replies = new Map<Socket, Buffer[]>();
  /** Synced writes started, oldest first; each is answered once it and those before are durable. */
  private readonly flying: Batch[] = [];
  /** Replies held per socket, in batches not yet answered. */
  private readonly held = new Map<Socket, number>();
  private scheduled = false;
  private target = 1;
  private lastSyncMs = 0;
  private waitingSince: number | null = null;

  constructor(path: string) {
    this.fd = openSync(
      path,
      constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC,
      0o600,
    );
  }

  /** Whether `socket` has replies waiting (a later reply must wait behind them). */
  holds(socket: Socket): boolean {
    return (this.held.get(socket) ?? 0) > 0 || this.replies.has(socket);
  }

  /** Queues `written` for the next synced write and `out` to be sent once it is durable. */
  hold(socket: Socket, written: Buffer[], out: Buffer[]): void {
    for (const b of written) this.bytes.push(b);
    const held = this.replies.get(socket);
    if (held === undefined) this.replies.set(socket, [...out]);
    else for (const b of out) held.push(b);
    this.schedule();
  }

  /** After this turn's reads, so every client whose request arrived together shares the write. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    if (this.replies.size === 0 || this.flying.length >= MAX_SYNCS) return;
    if (this.replies.size < this.target) {
      const now = performance.now();
      this.waitingSince ??= now;
      if (now - this.waitingSince < this.lastSyncMs) {
        this.schedule();
        return;
      }
    }
    this.waitingSince = null;
    this.target = this.replies.size;
    const data = Buffer.concat(this.bytes);
    const batch: Batch = { replies: this.replies, durable: false };
    for (const socket of batch.replies.keys())
      this.held.set(socket, (this.held.get(socket) ?? 0) + 1);
    this.bytes = [];
    this.replies = new Map();
    const at = this.end;
    this.end += data.length;
    if (this.end > this.zeroed) {
      const grow = 64 * 1024 * 1024;
      writeSync(this.fd, Buffer.alloc(grow), 0, grow, this.zeroed);
      this.zeroed += grow;
    }
    this.flying.push(batch);
    const started = performance.now();
    write(this.fd, data, 0, data.length, at, (e) => {
      if (e) throw e;
      this.lastSyncMs = performance.now() - started;
      batch.durable = true;
      while (this.flying.length > 0 && this.flying[0].durable) this.answer(this.flying.shift()!);
      this.start();
    });
  }

  private answer(batch: Batch): void {
    for (const [socket, out] of batch.replies) {
      socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
      const n = (this.held.get(socket) ?? 1) - 1;
      if (n === 0) this.held.delete(socket);
      else this.held.set(socket, n);
    }
  }
}

function serve(socket: Socket, log: SyncedLog | null): void {
  let rest: Buffer | null = null;
  const out: Buffer[] = [];
  const written: Buffer[] | null = log === null ? null : [];
  socket.setNoDelay(true);
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    const buf = rest === null ? chunk : Buffer.concat([rest, chunk]);
    const used = parse(buf, out, written);
    if (log !== null && written !== null && (written.length > 0 || log.holds(socket))) {
      if (out.length > 0) log.hold(socket, written, out);
      written.length = 0;
    } else if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    out.length = 0;
    if (used < 0) {
      socket.end("-ERR Protocol error\r\n");
      return;
    }
    rest = used < buf.length ? Buffer.from(buf.subarray(used)) : null;
  });
}

const argv = process.argv.slice(2);
const port = Number(argv[0]);
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
const known = ["--log", "--tls-port", "--tls-cert", "--tls-key", "--tls-ca"];
const tlsPort = flags.has("--tls-port") ? Number(flags.get("--tls-port")) : undefined;
if (
  !Number.isInteger(port) ||
  port <= 0 ||
  [...flags].some(([k, v]) => !known.includes(k) || v === undefined) ||
  (tlsPort !== undefined &&
    (!Number.isInteger(tlsPort) || !flags.has("--tls-cert") || !flags.has("--tls-key")))
) {
  process.stderr.write(
    "usage: node scripts/bench/node-ceiling.ts PORT [--log FILE] " +
      "[--tls-port P --tls-cert FILE --tls-key FILE [--tls-ca FILE]]\n",
  );
  process.exit(2);
}
const logPath = flags.get("--log");
const log = logPath === undefined ? null : new SyncedLog(logPath);
let listening = tlsPort === undefined ? 1 : 2;
const ready = () => {
  if (--listening === 0) process.stdout.write("ready\n");
};
createServer((socket) => serve(socket, log)).listen(port, "127.0.0.1", ready);
if (tlsPort !== undefined) {
  const ca = flags.get("--tls-ca");
  const options = {
    cert: readFileSync(flags.get("--tls-cert") as string),
    key: readFileSync(flags.get("--tls-key") as string),
    ...(ca === undefined
      ? {}
      : { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true }),
    noDelay: true,
  };
  const tlsServer = createTlsServer(options, (socket) => serve(socket, log));
  tlsServer.on("tlsClientError", () => {});
  tlsServer.listen(tlsPort, "127.0.0.1", ready);
}
process.on("SIGTERM", () => process.exit(0));
