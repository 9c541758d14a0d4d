/**
 * Text embeddings for LANCE datasets: `LANCE.EMBEDDING CONFIG SET dataset PROVIDER openai MODEL
 * m URL u DIM n [KEY k]` names an OpenAI-compatible `/v1/embeddings` endpoint, and then
 * `LANCE.STORE … TEXT t` without a VECTOR, and `LANCE.SEARCH … QUERY text`, get their vectors
 * from it.
 *
 * The provider is called on the node that received the command, before the command runs
 * (the engine's prepareCall): the write's Op then carries the vector, so apply, on every
 * replica, never calls out and stays deterministic. The configuration is replicated state;
 * configuring is an admin command, since it makes the server send requests to a URL of the
 * caller's choosing. The key is stored with the dataset and never shown.
 */
import type { OpCall } from "../../engine/contract.ts";
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "../sql/sql-db.ts";

export interface EmbeddingConfig {
  provider: string;
  model: string;
  url: string;
  dim: number;
  key: string | null;
}

export const EMBEDDING_SCHEMA = `CREATE TABLE IF NOT EXISTS vembeddings(
  key BLOB PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, url TEXT NOT NULL,
  dim INTEGER NOT NULL, api_key TEXT)`;

/** How long a provider may take. */
const TIMEOUT_MS = 30_000;
/** Texts longer than this are refused before any request. */
const MAX_TEXT = 1024 * 1024;

const err = (m: string): HeroError => new HeroError("ERR", m);
const word = (b: Buffer | undefined): string =>
  b === undefined ? "" : b.toString("latin1").toUpperCase();

export function readConfig(db: SqlDb, key: string): EmbeddingConfig | null {
  const row = db
    .readStatement("SELECT provider, model, url, dim, api_key FROM vembeddings WHERE key = ?")
    .get(Buffer.from(key, "latin1")) as
    | { provider: string; model: string; url: string; dim: number; api_key: string | null }
    | undefined;
  if (row === undefined) return null;
  return { provider: row.provider, model: row.model, url: row.url, dim: row.dim, key: row.api_key };
}

export function writeConfig(db: SqlDb, key: string, c: EmbeddingConfig | null): void {
  const k = Buffer.from(key, "latin1");
  db.internal(() => {
    db.ownStatement("DELETE FROM vembeddings WHERE key = ?").run(k);
    if (c === null) return;
    db.ownStatement(
      "INSERT INTO vembeddings(key, provider, model, url, dim, api_key) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(k, c.provider, c.model, c.url, c.dim, c.key);
  });
}

/** `CONFIG SET dataset PROVIDER p MODEL m URL u DIM n [KEY k]` or `CONFIG DEL dataset`. */
export function parseConfig(args: Buffer[]): { dataset: string; config: EmbeddingConfig | null } {
  const usage =
    "LANCE.EMBEDDING CONFIG SET dataset PROVIDER openai MODEL m URL u DIM n [KEY k] | CONFIG DEL dataset";
  if (word(args[0]) !== "CONFIG" || args[2] === undefined) throw err(usage);
  const dataset = args[2].toString("latin1");
  if (word(args[1]) === "DEL" && args.length === 3) return { dataset, config: null };
  if (word(args[1]) !== "SET") throw err(usage);
  const fields = new Map<string, string>();
  for (let i = 3; i < args.length; i += 2) {
    const w = word(args[i]);
    if (!["PROVIDER", "MODEL", "URL", "DIM", "KEY"].includes(w) || args[i + 1] === undefined) {
      throw err(usage);
    }
    fields.set(w, args[i + 1].toString("utf8"));
  }
  const provider = (fields.get("PROVIDER") ?? "").toLowerCase();
  if (provider !== "openai") throw err("PROVIDER must be openai (an OpenAI-compatible endpoint)");
  const url = fields.get("URL") ?? "";
  if (!/^https?:\/\/[^\s]+$/i.test(url)) throw err("URL must be an http(s) URL");
  const dim = Number(fields.get("DIM"));
  if (!Number.isInteger(dim) || dim < 1 || dim > 65536)
    throw err("DIM must be an integer from 1 to 65536");
  const model = fields.get("MODEL") ?? "";
  if (model === "") throw err("MODEL is required");
  return { dataset, config: { provider, model, url, dim, key: fields.get("KEY") ?? null } };
}

/** The endpoint an URL names: itself when it ends in /embeddings, else its /v1/embeddings. */
function endpointOf(url: string): string {
  if (/\/embeddings\/?$/.test(url)) return url;
  return `${url.replace(/\/+$/, "")}/v1/embeddings`;
}

/** The provider's vector for a text. */
export async function embed(c: EmbeddingConfig, text: string): Promise<number[]> {
  if (text.length > MAX_TEXT) throw err(`a text to embed holds at most ${MAX_TEXT} characters`);
  let res: Response;
  try {
    res = await fetch(endpointOf(c.url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(c.key === null ? {} : { authorization: `Bearer ${c.key}` }),
      },
      body: JSON.stringify({ model: c.model, input: text }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw err(`the embedding provider could not be reached: ${(e as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw err(`the embedding provider answered HTTP ${res.status}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw err("the embedding provider's answer is not JSON");
  }
  const v = (body as { data?: { embedding?: unknown }[] }).data?.[0]?.embedding;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw err("the embedding provider's answer has no embedding");
  }
  if (v.length !== c.dim) {
    throw err(`the embedding provider gave ${v.length} values, and DIM is ${c.dim}`);
  }
  return v as number[];
}

/**
 * The engine's prepareCall for the LANCE commands that take text: `LANCE.STORE d id TEXT t …`
 * (no VECTOR) gets `VECTOR v…` before its TEXT; `LANCE.SEARCH d K n QUERY text …` gets
 * `VECTOR v…` in place of the query. Null for everything else.
 */
export function prepareEmbedding(db: SqlDb, call: OpCall): Promise<OpCall> | null {
  const a = call.args;
  let at: number;
  let text: string;
  let replace: number;
  if (call.cmd === "LANCE.STORE" && a.length >= 4 && word(a[2]) !== "VECTOR") {
    const t = a.findIndex((x, i) => i >= 2 && i % 2 === 0 && word(x) === "TEXT");
    if (t < 0 || a[t + 1] === undefined) return null;
    at = 2;
    replace = 0;
    text = a[t + 1].toString("utf8");
  } else if (call.cmd === "LANCE.SEARCH" && word(a[3]) === "QUERY" && a[4] !== undefined) {
    at = 3;
    replace = 2;
    text = a[4].toString("utf8");
  } else return null;
  const dataset = a[0].toString("latin1");
  const config = readConfig(db, dataset);
  if (config === null) {
    return Promise.reject(
      err(
        `dataset '${dataset.slice(0, 128)}' has no embedding provider: LANCE.EMBEDDING CONFIG SET ${dataset.slice(0, 128)} PROVIDER openai MODEL m URL u DIM n, or give a VECTOR`,
      ),
    );
  }
  return embed(config, text).then((v) => ({
    cmd: call.cmd,
    args: [
      ...a.slice(0, at),
      Buffer.from("VECTOR"),
      ...v.map((x) => Buffer.from(String(x))),
      ...a.slice(at + replace),
    ],
  }));
}
