/**
 * Markdown rendering of the OpenRPC document, for docs/api.md.
 *
 * Rendering from the generated document (rather than writing the reference by hand) keeps the
 * published reference identical to what `rpc.discover` serves.
 */

import type { OpenRpcDocument } from "./openrpc.ts";
import type { JsonSchema } from "./schema.ts";

/** A one-line, human reading of a schema ("integer >= 1", "array of string"). */
export function describeSchema(s: JsonSchema): string {
  if (s.oneOf !== undefined) {
    return s.description ?? s.oneOf.map(describeSchema).join(" | ");
  }
  if (s.enum !== undefined) return s.enum.map((e) => JSON.stringify(e)).join(" | ");
  if (s.type === "array") {
    return s.items === undefined ? "array" : `array of ${describeSchema(s.items)}`;
  }
  if (s.type === "object" && s.properties !== undefined) {
    const required = new Set(s.required ?? []);
    const fields = Object.entries(s.properties).map(
      ([k, v]) =>
        `${k}${required.has(k) || s.required === undefined ? "" : "?"}: ${describeSchema(v)}`,
    );
    return `{${fields.join(", ")}}`;
  }
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`>= ${s.minimum}`);
  if (s.maximum !== undefined) bounds.push(`<= ${s.maximum}`);
  if (s.maxLength !== undefined) bounds.push(`max ${s.maxLength} chars`);
  return [s.type ?? "any", ...bounds].join(" ");
}

const cell = (s: string): string => s.replaceAll("|", "\\|").replaceAll("\n", " ");

export function renderOpenRpcMarkdown(doc: OpenRpcDocument): string {
  const out: string[] = [
    `# ${doc.info.title} (API ${doc.info.version})`,
    "",
    "<!-- Generated from the method table (src/api/methods.ts); do not edit by hand. -->",
    "",
    doc.info.description,
    "",
  ];
  for (const m of doc.methods) {
    const params = m.params as {
      name: string;
      required: boolean;
      description: string;
      schema: JsonSchema;
    }[];
    const result = m.result as { name: string; description: string; schema: JsonSchema };
    const errors = m.errors as { code: number; message: string }[];
    out.push(`## ${m.name as string}`, "", m.summary as string, "");
    if (typeof m.description === "string") out.push(m.description, "");
    out.push(
      `Admin secret required over HTTP: ${m["x-requires-admin-secret"] ? "yes" : "no"}.`,
      "",
    );
    if (params.length > 0) {
      out.push("| Param | Required | Type | Description |", "|---|---|---|---|");
      for (const p of params) {
        out.push(
          `| \`${p.name}\` | ${p.required ? "yes" : "no"} | ${cell(describeSchema(p.schema))} | ${cell(p.description)} |`,
        );
      }
      out.push("");
    }
    out.push(
      `Result \`${result.name}\`: ${cell(describeSchema(result.schema))}. ${result.description}`,
      "",
    );
    if (errors.length > 0) {
      out.push(`Errors: ${errors.map((e) => `${e.code} (${e.message})`).join("; ")}.`, "");
    }
  }
  out.push("## Error codes", "", "| Code | Name | Meaning |", "|---|---|---|");
  for (const [name, e] of Object.entries(doc.components.errors)) {
    out.push(`| ${e.code} | ${name} | ${cell(e.message)} |`);
  }
  out.push("");
  return out.join("\n");
}
