/**
 * The reference docs are generated from the command table and the OpenRPC document; this test
 * fails when a committed file no longer matches what the server serves (run `npm run docs`).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderApi, renderCommands } from "../../scripts/gen-docs.ts";
import { allCommands } from "../../src/resp/table.ts";

describe("generated docs", () => {
  it("docs/commands.md matches the command table", () => {
    expect(readFileSync("docs/commands.md", "utf8")).toBe(renderCommands());
  });

  it("docs/api.md matches the OpenRPC document", () => {
    expect(readFileSync("docs/api.md", "utf8")).toBe(renderApi());
  });

  it("every command in the table is documented with a summary and a valid arity", () => {
    for (const spec of allCommands()) {
      expect(spec.summary.length, spec.name).toBeGreaterThan(0);
      expect(spec.arity, spec.name).not.toBe(0);
      expect(renderCommands()).toContain(`| \`${spec.name}`);
    }
  });
});
