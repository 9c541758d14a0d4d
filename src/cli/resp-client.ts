/**
 * A minimal RESP2 client for the CLI's own use (`herodb sql`): one connection, one command at a
 * time, replies parsed into plain values. The test and benchmark clients (ioredis, node-redis)
 * are development dependencies, and the shell needs far less than they offer.
 */
import { connect, type Socket } from "node:net";

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

function encode(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, "utf8");
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `at`; null when the buffer does not hold all of it yet. */
function parse(buf: Buffer, at: number): [RespValue, number] | null {
  const end = buf.indexOf("\r\n", at);
  if (end < 0) return null;
  const line = buf.toString("utf8", at + 1, end);
  const next = end + 2;
  switch (buf[at]) {
    case 43: // +
      return [line, next];
    case 45: // -
      return [new RespError(line), next];
    case 58: // :
      return [Number(line), next];
    case 36: {
      // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.toString("utf8", next, next + n), next + n + 2];
    }
    case 42: {
      // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (r === null) return null;
        items.push(r[0]);
        pos = r[1];
      }
      return [items, pos];
    }
    default:
      throw new Error(`unexpected reply byte ${buf[at]}`);
  }
}

export class RespClient {
  private readonly sock: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on("data", (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parse(this.buf, 0);
        if (r === null) break;
        this.buf = this.buf.subarray(r[1]);
        this.waiting.shift()?.resolve(r[0]);
      }
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on("error", fail);
    sock.on("close", () => fail(new Error("the server closed the connection")));
  }

  static open(host: string, port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port });
      sock.once("connect", () => resolve(new RespClient(sock)));
      sock.once("error", reject);
    });
  }

  call(...args: string[]): Promise<RespValue> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(encode(args));
    });
  }

  close(): void {
    this.sock.end();
  }
}
