/**
 * DB0 changes go through Raft group 0 like any write: proposed, made durable in the node's log,
 * then applied to the catalog, whose sealed file trails the log and records the index it holds.
 *
 * Observable consequences checked here through the real server: a catalog file older than the
 * log is brought up to date at start-up by replaying the log (so the log, not the file, is what
 * makes an acknowledged change durable), and neither the log nor any other file holds catalog
 * contents in clear: instance names and access keys appear nowhere on disk.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawResp, respCommand } from "../helpers/clients.ts";
import { filesUnder } from "../helpers/files.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const tag = randomBytes(6).toString("hex");
const NAME = `CATALOG-NAME-MARKER-${tag}`;
const RENAMED = `CATALOG-RENAMED-MARKER-${tag}`;
const KEY = `CATALOG-KEY-MARKER-${tag}`;

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.cleanup();
});

interface Listed {
  index: number;
  name: string;
  visibility: string;
}

describe("catalog changes through the Raft log", () => {
  let index = 0;

  it("a catalog file older than the log is brought up to date by replay", async () => {
    const db0 = join(server.dataDir, "0.db.enc");
    const before = join(server.dataDir, "db0-before.copy");
    copyFileSync(db0, before);
    index = await server.call<number>("db_createInstance", {
      name: NAME,
      backend_type: "InMemory",
    });
    await server.call("db_renameInstance", { instance_index: index, name: RENAMED });
    await server.call("db_updateSecurity", {
      instance_index: index,
      visibility: "Private",
      add_keys: [{ key: KEY, permission: "ReadWrite" }],
    });
    expect((await server.stop()).code).toBe(0);
    // Put back the file as it was before the three changes: only the log still has them.
    copyFileSync(before, db0);
    await server.restart();
    const list = await server.call<Listed[]>("db_listInstances", {});
    expect(list.find((r) => r.index === index)).toMatchObject({
      name: RENAMED,
      visibility: "Private",
    });
    const reply = await rawResp(
      server.port,
      Buffer.concat([respCommand("SELECT", String(index), "KEY", KEY), respCommand("PING")]),
    );
    expect(reply).toBe("+OK\r\n+PONG\r\n");
  });

  it("no file holds an instance name or an access key in clear", async () => {
    expect((await server.kill()).signal).toBe("SIGKILL");
    const found: string[] = [];
    for (const f of filesUnder(server.dataDir)) {
      if (f.endsWith("db0-before.copy")) continue;
      const bytes = readFileSync(f);
      for (const needle of [NAME, RENAMED, KEY, `CATALOG-`]) {
        if (bytes.includes(needle)) found.push(`${f}: ${needle}`);
      }
    }
    expect(found).toEqual([]);
    await server.restart();
    const list = await server.call<Listed[]>("db_listInstances", {});
    expect(list.find((r) => r.index === index)?.name).toBe(RENAMED);
  });
});
