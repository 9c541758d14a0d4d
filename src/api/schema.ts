/**
 * A small JSON Schema checker for the subset the control-plane method table uses.
 *
 * The same schema objects are published in the OpenRPC document and enforced on every call, so
 * what the docs promise is what the server checks. Only the keywords below are understood; the
 * table must not use others (a test walks it). Problems are reported as one sentence that names
 * the offending field by its path ("add_keys[0].permission"), which becomes the -32602 message.
 */

export type JsonType = "string" | "integer" | "number" | "boolean" | "object" | "array" | "null";
type Scalar = string | number | boolean | null;

export interface JsonSchema {
  type?: JsonType;
  title?: string;
  description?: string;
  enum?: readonly Scalar[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  minProperties?: number;
  maxProperties?: number;
  items?: JsonSchema;
  maxItems?: number;
  oneOf?: readonly JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

/** Keywords `check` understands (used by tests to keep the method table honest). */
export const SUPPORTED_KEYWORDS: ReadonlySet<string> = new Set([
  "type",
  "title",
  "description",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "minProperties",
  "maxProperties",
  "items",
  "maxItems",
  "oneOf",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
]);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function typeMatches(type: JsonType, v: unknown): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "integer":
      return Number.isSafeInteger(v);
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return typeof v === "boolean";
    case "object":
      return isPlainObject(v);
    case "array":
      return Array.isArray(v);
    case "null":
      return v === null;
  }
}

const article = (t: JsonType): string => (t === "integer" || t === "object" ? "an" : "a");
const fieldPath = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);

/** Why `value` does not satisfy `schema`, naming the field as `path`; null when it does. */
export function check(schema: JsonSchema, value: unknown, path: string): string | null {
  if (schema.oneOf !== undefined) {
    const matches = schema.oneOf.filter((s) => check(s, value, path) === null).length;
    if (matches !== 1) {
      const hint = schema.description === undefined ? "" : ` (${schema.description})`;
      return `${path} does not match any allowed form${hint}`;
    }
  }
  if (schema.type !== undefined && !typeMatches(schema.type, value)) {
    return `${path} must be ${article(schema.type)} ${schema.type}`;
  }
  if (schema.enum !== undefined && !schema.enum.includes(value as Scalar)) {
    return `${path} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      return schema.minLength === 1
        ? `${path} must not be empty`
        : `${path} must be at least ${schema.minLength} characters`;
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      return `${path} must be at most ${schema.maxLength} characters`;
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      return `${path} must be >= ${schema.minimum}`;
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      return `${path} must be <= ${schema.maximum}`;
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      return `${path} must have at most ${schema.maxItems} items`;
    }
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const problem = check(schema.items, value[i], `${path}[${i}]`);
        if (problem !== null) return problem;
      }
    }
  }
  if (isPlainObject(value)) return checkObject(schema, value, path);
  return null;
}

function checkObject(
  schema: JsonSchema,
  value: Record<string, unknown>,
  path: string,
): string | null {
  const keys = Object.keys(value);
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
    return `${path} must have at least ${schema.minProperties} field(s)`;
  }
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    return `${path} must have at most ${schema.maxProperties} field(s)`;
  }
  for (const name of schema.required ?? []) {
    if (value[name] === undefined) return `${fieldPath(path, name)} is required`;
  }
  for (const key of keys) {
    const sub = schema.properties?.[key];
    if (sub !== undefined) {
      const problem = check(sub, value[key], fieldPath(path, key));
      if (problem !== null) return problem;
    } else if (schema.additionalProperties === false) {
      return `${fieldPath(path, key)} is not a known field`;
    } else if (typeof schema.additionalProperties === "object") {
      const problem = check(schema.additionalProperties, value[key], fieldPath(path, key));
      if (problem !== null) return problem;
    }
  }
  return null;
}
