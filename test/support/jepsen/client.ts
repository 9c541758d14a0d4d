/**
 * One client connection of a fault run, and the classification of what each command's outcome
 * says about its effect, which the whole check rests on.
 *
 * Why a wrapper: ioredis left to itself queues commands while disconnected, retries them after a
 * reconnect and can wait forever, each of which blurs what a reply means. Here a connection is
 * opened once (connect, SELECT, optionally READONLY, all within `openTimeoutMs`), never
 * reconnects by itself and never queues; every command races its own timer. Outcomes:
 *
 * - "ok": the server replied (a nil reply too) — the command took effect / observed that value;
 * - "fail": TRYAGAIN, CLUSTERDOWN or SERIALIZATION (a SQL transaction that conflicted) — the
 *   server says it definitely did not take effect;
 * - "info" (indeterminate): TIMEOUT, any other error reply, a client-side timeout or a lost
 *   connection — it may or may not have taken effect. The connection is then dropped, since
 *   a late reply could otherwise be read as the answer to a later command.
 */
import { Redis, ReplyError } from "ioredis";

export type Outcome =
  | { status: "ok"; value: unknown }
  | { status: "fail"; error: string }
  | { status: "info"; error: string };

export interface ConnOptions {
  port: number;
  /** The instance to SELECT. */
  db: number;
  readonly?: boolean;
  openTimeoutMs?: number;
}

const DEFINITE = /^(TRYAGAIN|CLUSTERDOWN|SERIALIZATION)\b/;

/** Rejects with `timeout:<what>` after `ms` unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class Conn {
  readonly port: number;
  private readonly redis: Redis;
  private dead = false;

  private constructor(port: number, redis: Redis) {
    this.port = port;
    this.redis = redis;
    redis.on("error", () => {});
    redis.on("close", () => {
      this.dead = true;
    });
  }

  /** Connects, SELECTs the instance (and sends READONLY); throws if any of it fails in time. */
  static async open(o: ConnOptions): Promise<Conn> {
    const timeout = o.openTimeoutMs ?? 2_000;
    const redis = new Redis({
      host: "127.0.0.1",
      port: o.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      autoResendUnfulfilledCommands: false,
      connectTimeout: timeout,
    });
    const conn = new Conn(o.port, redis);
    try {
      await withTimeout(
        (async () => {
          await redis.connect();
          const sel = await redis.call("SELECT", String(o.db));
          if (sel !== "OK") throw new Error(`SELECT ${o.db} replied ${String(sel)}`);
          if (o.readonly) {
            const ro = await redis.call("READONLY");
            if (ro !== "OK") throw new Error(`READONLY replied ${String(ro)}`);
          }
        })(),
        timeout,
        `connect to ${o.port}`,
      );
      return conn;
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** False once the connection was lost or dropped (then open a new one). */
  get alive(): boolean {
    return !this.dead && this.redis.status === "ready";
  }

  /** Runs one command; never throws, never takes (much) longer than `timeoutMs`. */
  async run(args: string[], timeoutMs: number): Promise<Outcome> {
    if (!this.alive) return { status: "fail", error: "not sent: connection not open" };
    const [cmd, ...rest] = args;
    try {
      const value = await withTimeout(this.redis.call(cmd, ...rest), timeoutMs, cmd);
      return { status: "ok", value };
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      const isReply = e instanceof ReplyError;
      if (isReply && DEFINITE.test(msg)) return { status: "fail", error: msg };
      // Anything else leaves the outcome open, and the connection in doubt.
      this.close();
      return { status: "info", error: msg };
    }
  }

  close(): void {
    this.dead = true;
    this.redis.disconnect();
  }
}
