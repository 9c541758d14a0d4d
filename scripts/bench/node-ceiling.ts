/**
 * The ceiling of a RESP server written in Node on this machine: the third column of
 * `npm run bench`. It does the least a server can do for redis-benchmark's SET and GET, one
 * `data` event in, one socket write out, a Map of strings to pre-encoded replies, so the gap
 * between it and redis-server is what Node itself costs, and the gap between HeroDB and it is
 * what HeroDB's own work costs. Nothing here is a design for the server: no limits, no inline
 * commands, no access control, no persistence.
 *
 *   node scripts/bench/node-ceiling.ts PORT     (prints "ready" once listening on 127.0.0.1)
 *
 * Commands: SET k v, GET k, PING, SELECT n (OK), CONFIG … (an empty array, which is what
 * redis-benchmark asks first); anything else is an error.
 */
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

function run(args: Buffer[], out: Buffer[]): void {
  const name = args[0];
  if (args.length === 3 && named(name, "SET")) {
    values.set(args[1].toString("latin1"), bulk(args[2]));
    out.push(OK);
  } else if (args.length === 2 && named(name, "GET")) {
    out.push(values.get(args[1].toString("latin1")) ?? NIL);
  } else if (named(name, "PING")) out.push(PONG);
  else if (named(name, "SELECT")) out.push(OK);
  else if (named(name, "CONFIG")) out.push(EMPTY);
  else out.push(UNKNOWN);
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

/** Runs every whole command in `buf`; returns where the unread rest starts, or -1 on bad input. */
function parse(buf: Buffer, out: Buffer[]): number {
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
    if (args.length > 0) run(args, out);
    off = pos;
  }
  return off;
}

function serve(socket: Socket): void {
  let rest: Buffer | null = null;
  const out: Buffer[] = [];
  socket.setNoDelay(true);
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    const buf = rest === null ? chunk : Buffer.concat([rest, chunk]);
    const used = parse(buf, out);
    if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    out.length = 0;
    if (used < 0) {
      socket.end("-ERR Protocol error\r\n");
      return;
    }
    rest = used < buf.length ? Buffer.from(buf.subarray(used)) : null;
  });
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: node scripts/bench/node-ceiling.ts PORT\n");
  process.exit(2);
}
createServer(serve).listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
