/**
 * One benchmark client's connection to a HeroDB instance: ioredis, SELECTing the instance on
 * connect, failing a command after one retry, and never throwing an unhandled 'error' (failures
 * surface through the commands, where the load generator counts them).
 */
import { Redis } from "ioredis";

export async function connectInstance(
  port: number,
  index: number,
  commandTimeoutMs = 30_000,
): Promise<Redis> {
  const conn = new Redis({
    host: "127.0.0.1",
    port,
    db: index, // ioredis SELECTs it on connect
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
  });
  conn.on("error", () => {});
  await conn.connect();
  return conn;
}
