/**
 * The ceiling of a RESP server written in Node on this machine: the third column of
 * `npm run bench`. It does the least a server can do for redis-benchmark's SET and GET, one
 * `data` event in, one socket write out, a Map of strings to pre-encoded replies, so the gap
 * between it and redis-server is what Node itself costs, and the gap between HeroDB and it is
 * what HeroDB's own work costs. Nothing here is a design for the server: no limits, no inline
 * commands, no access control, no persistence.
 *
 * With `--log FILE` it is the ceiling of a durable Node server instead: every SET's bytes are
 * appended to FILE with one synced write (O_DSYNC, in libuv's thread pool) shared by all the
 * SETs read while the previous synced write ran (group commit), and a connection's replies wait
 * until the write holding its SETs is durable, the rule redis-server's `appendfsync always`
 * and HeroDB's Raft log both keep. The file is extended with zeros ahead of the writes, so a
 * synced write changes no file size.
 *
 *   node scripts/bench/node-ceiling.ts PORT [--log FILE]   (prints "ready" once listening)
 *
 * Commands: SET k v, GET k, PING, SELECT n (OK), CONFIG … (an empty array, which is what
 * redis-benchmark asks first); anything else is an error.
 */
import { constants, openSync, write, writeSync } from "node:fs";
import { createServer, type Socket } from "node:net";

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

/** The synced log of `--log`: one synced write at a time, carrying every write queued before it. */
class SyncedLog {
  private readonly fd: number;
  private end = 0;
  private zeroed = 0;
  /** Written bytes and held replies waiting for the next synced write. */
  private bytes: Buffer[] = [];
  private replies = new Map<Socket, Buffer[]>();
  /** The replies of the synced write running now (null when none runs). */
  private flying: Map<Socket, Buffer[]> | null = null;
  /** Whether a synced write is due (scheduled, or waiting for the last cohort to return). */
  private scheduled = false;

  constructor(path: string) {
    this.fd = openSync(
      path,
      constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC,
      0o600,
    );
  }

  /** Whether `socket` has replies waiting (a later reply must wait behind them). */
  holds(socket: Socket): boolean {
    return this.replies.has(socket) || this.flying?.has(socket) === true;
  }

  /** Queues `written` for the next synced write and `out` to be sent once it is durable. */
  hold(socket: Socket, written: Buffer[], out: Buffer[]): void {
    for (const b of written) this.bytes.push(b);
    const held = this.replies.get(socket);
    if (held === undefined) this.replies.set(socket, [...out]);
    else for (const b of out) held.push(b);
    // After this turn's reads, so every client whose request arrived together shares the write.
    if (this.flying === null && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.sync());
    }
  }

  private sync(): void {
    this.scheduled = false;
    if (this.flying !== null || this.replies.size === 0) return;
    const data = Buffer.concat(this.bytes);
    const replies = this.replies;
    this.bytes = [];
    this.replies = new Map();
    const at = this.end;
    this.end += data.length;
    if (this.end > this.zeroed) {
      const grow = 64 * 1024 * 1024;
      writeSync(this.fd, Buffer.alloc(grow), 0, grow, this.zeroed);
      this.zeroed += grow;
    }
    this.flying = replies;
    const started = performance.now();
    write(this.fd, data, 0, data.length, at, (e) => {
      if (e) throw e;
      this.flying = null;
      for (const [socket, out] of replies)
        socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
      // The clients just answered come back in a moment: the next write waits for them (as
      // many connections as this one carried) for at most as long as this write took, so the
      // clients move as one cohort instead of two that alternate, each half as large.
      this.scheduled = true;
      this.gather(replies.size, performance.now() + (performance.now() - started));
    });
  }

  private gather(connections: number, until: number): void {
    if (this.replies.size >= connections || performance.now() >= until) this.sync();
    else setImmediate(() => this.gather(connections, until));
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

const port = Number(process.argv[2]);
const logAt = process.argv.indexOf("--log");
const logPath = logAt > 0 ? process.argv[logAt + 1] : undefined;
if (!Number.isInteger(port) || port <= 0 || (logAt > 0 && logPath === undefined)) {
  process.stderr.write("usage: node scripts/bench/node-ceiling.ts PORT [--log FILE]\n");
  process.exit(2);
}
const log = logPath === undefined ? null : new SyncedLog(logPath);
createServer((socket) => serve(socket, log)).listen(port, "127.0.0.1", () =>
  process.stdout.write("ready\n"),
);
process.on("SIGTERM", () => process.exit(0));
