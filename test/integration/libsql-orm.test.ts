/**
 * ORMs over libSQL's HTTP protocol against a real server: Drizzle ORM with its libSQL driver
 * (migrations from a drizzle-kit folder, insert, a join, update, delete, a transaction that
 * commits and one that throws), and the examples of docs/sql.md (@libsql/client, Drizzle,
 * Kysely) run as written, each as its own Node process, checking what they print.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeBin, repoRoot, startServer, type TestServer } from "../helpers/server.ts";

const authors = sqliteTable("authors", {
  id: integer("id").primaryKey(),
  name: text("name").notNull(),
});
const books = sqliteTable("books", {
  id: integer("id").primaryKey(),
  title: text("title").notNull().unique(),
  authorId: integer("author_id")
    .notNull()
    .references(() => authors.id, { onDelete: "cascade" }),
  stock: integer("stock").notNull().default(0),
  isbn: text("isbn"),
});

describe("Drizzle ORM over libSQL's protocol", () => {
  let srv: TestServer;
  let client: Client;

  beforeAll(async () => {
    srv = await startServer({ secret: "drizzle-secret-0123456789" });
    await srv.call("db_createInstance", { name: "library", backend_type: "Sql" });
    client = createClient({
      url: `http://127.0.0.1:${srv.apiPort}/sql/library/libsql`,
      authToken: srv.secret,
    });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await srv?.cleanup();
  });

  it("migrates, inserts, joins, updates, deletes and runs transactions", async () => {
    const db = drizzle(client);
    const migrationsFolder = join(repoRoot, "test", "fixtures", "drizzle");
    await migrate(db, { migrationsFolder });
    // A second run finds both migrations applied and does nothing.
    await migrate(db, { migrationsFolder });
    const applied = await client.execute("SELECT count(*) AS n FROM __drizzle_migrations");
    expect(applied.rows[0].n).toBe(2);

    const [ursula] = await db.insert(authors).values({ name: "Ursula" }).returning();
    const [octavia] = await db.insert(authors).values({ name: "Octavia" }).returning();
    await db.insert(books).values([
      { title: "The Dispossessed", authorId: ursula.id, stock: 2, isbn: "978-0061054884" },
      { title: "Kindred", authorId: octavia.id, stock: 5 },
      { title: "Lathe of Heaven", authorId: ursula.id },
    ]);

    const joined = await db
      .select({ title: books.title, author: authors.name })
      .from(books)
      .innerJoin(authors, eq(books.authorId, authors.id))
      .orderBy(asc(books.title));
    expect(joined).toEqual([
      { title: "Kindred", author: "Octavia" },
      { title: "Lathe of Heaven", author: "Ursula" },
      { title: "The Dispossessed", author: "Ursula" },
    ]);

    const updated = await db
      .update(books)
      .set({ stock: sql`${books.stock} + 10` })
      .where(eq(books.authorId, ursula.id))
      .returning({ title: books.title, stock: books.stock });
    expect(updated.map((b) => b.stock).sort()).toEqual([10, 12]);

    await db.transaction(async (tx) => {
      await tx.update(books).set({ stock: 0 }).where(eq(books.title, "Kindred"));
      const [k] = await tx.select().from(books).where(eq(books.title, "Kindred"));
      expect(k.stock).toBe(0);
    });
    const failed = await db
      .transaction(async (tx) => {
        await tx.delete(books);
        throw new Error("changed my mind");
      })
      .catch((e: Error) => e.message);
    expect(failed).toBe("changed my mind");
    expect(await db.$count(books)).toBe(3);

    // The foreign key cascades: deleting an author deletes her books.
    await db.delete(authors).where(eq(authors.id, ursula.id));
    const left = await db.select({ title: books.title, stock: books.stock }).from(books);
    expect(left).toEqual([{ title: "Kindred", stock: 0 }]);
    const duplicate = await db
      .insert(books)
      .values({ title: "Kindred", authorId: octavia.id })
      .catch((e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);
    expect(duplicate).toBe("SQLITE_CONSTRAINT");
  });
});

/** The `// example: NAME` blocks of a markdown file, with the lines they say they print. */
function examples(markdown: string): { name: string; code: string; prints: string[] }[] {
  const found: { name: string; code: string; prints: string[] }[] = [];
  for (const m of markdown.matchAll(/```js\n(\/\/ example: (\S+)\n[\s\S]*?)```/g)) {
    const code = m[1];
    const prints = [...code.matchAll(/console\.log\(.*\); \/\/ → (.*)$/gm)].map((p) => p[1]);
    found.push({ name: m[2], code, prints });
  }
  return found;
}

describe("docs/sql.md's driver examples", () => {
  let srv: TestServer;
  let dir: string;

  beforeAll(async () => {
    // The examples are written for a server on port 3000 with the secret "changeme".
    srv = await startServer({ secret: "changeme" });
    await srv.call("db_createInstance", { name: "shop", backend_type: "Sql" });
    // Inside the project, so the examples import the project's packages as an app would.
    dir = mkdtempSync(join(repoRoot, ".docs-examples-"));
  }, 60_000);

  afterAll(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await srv?.cleanup();
  });

  it("runs every example as written and prints what the docs say", () => {
    const list = examples(readFileSync(join(repoRoot, "docs", "sql.md"), "utf8"));
    expect(list.map((e) => e.name)).toEqual(["libsql-client.mjs", "drizzle.mjs", "kysely.mjs"]);
    for (const ex of list) {
      const file = join(dir, ex.name);
      writeFileSync(file, ex.code.replaceAll("127.0.0.1:3000", `127.0.0.1:${srv.apiPort}`));
      const run = spawnSync(nodeBin, [file], { encoding: "utf8", timeout: 60_000 });
      expect(run.stderr, ex.name).toBe("");
      expect(run.status, ex.name).toBe(0);
      expect(run.stdout.trim().split("\n"), ex.name).toEqual(ex.prints);
    }
  });
});
