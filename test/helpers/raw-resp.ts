/**
 * A raw RESP connection that answers each command with its reply's exact bytes, in order: the
 * differential suites (geo) run the same commands through redis-server (./redis-server.ts) and
 * this server and compare the bytes, so float formatting, null kinds and error strings are all
 * checked. Replies are framed with a small RESP2/RESP3 scanner, so one command costs one round
 * trip instead of an idle timeout.
 */
import { connect, type Socket } from "node:net";

/** End offset of the RESP frame at `at`, or -1 when the buffer does not hold all of it yet. */
function frameEnd(buf: Buffer, at: number): number {
  const nl = buf.indexOf("\r\n", at);
  if (nl < 0) return -1;
  const type = String.fromCharCode(buf[at]);
  const head = buf.toString("latin1", at + 1, nl);
  let next = nl + 2;
  if ("$!=".includes(type)) {
    const n = Number(head);
    if (n < 0) return next;
    return buf.length >= next + n + 2 ? next + n + 2 : -1;
  }
  if ("*~>%|".includes(type)) {
    let n = Number(head);
    if (n < 0) return next;
    if (type === "%" || type === "|") n *= 2;
    for (let i = 0; i < n; i++) {
      next = frameEnd(buf, next);
      if (next < 0) return -1;
    }
    return next;
  }
  return next; // + - : , _ # (
}

/** A RESP connection answering each command with its reply's raw bytes, in order. */
export class RawConn {
  private readonly sock: Socket;
  private pending = Buffer.alloc(0);
  private readonly waiting: ((b: Buffer) => void)[] = [];

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on("data", (d: Buffer) => {
      this.pending = Buffer.concat([this.pending, d]);
      for (;;) {
        if (this.pending.length === 0 || this.waiting.length === 0) return;
        const end = frameEnd(this.pending, 0);
        if (end < 0) return;
        const frame = this.pending.subarray(0, end);
        this.pending = this.pending.subarray(end);
        this.waiting.shift()!(Buffer.from(frame));
      }
    });
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: "127.0.0.1", port });
      sock.once("connect", () => resolve(new RawConn(sock)));
      sock.once("error", reject);
    });
  }

  /** Sends one command; resolves with its reply's bytes (rejects after 5 s). */
  send(...args: (string | number | Buffer)[]): Promise<Buffer> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args.join(" ")}`)), 5000);
      this.waiting.push((b) => {
        clearTimeout(timer);
        resolve(b);
      });
      this.sock.write(Buffer.concat(parts));
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
