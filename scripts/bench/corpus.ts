/**
 * The full-text benchmark's documents (./fulltext.ts): real English paragraphs from the text
 * Debian ships, so that word frequencies, document lengths and stems are those of real text and
 * not of a generator. Sources: the plain-text files under /usr/share/doc (READMEs, NEWS,
 * changelogs and copyright files; gzipped ones decompressed with zlib) and the English man
 * pages under /usr/share/man/man[1-9] (their roff source reduced to running text by ./roff.ts).
 *
 * Each file is cut into paragraphs at blank lines; a paragraph becomes a document when it has
 * 20 to 300 words, mostly words of letters, some English function words (which keeps out
 * translations, code and tables) and is not a copy of one already taken (licence texts repeat
 * in hundreds of copyright files). Its title is the man page's one-line description, or the
 * package and file name. When fewer paragraphs than asked for exist, a fixed list of doc-heavy
 * packages is installed with apt-get and the corpus built again. The result is cached as JSON
 * lines under os.tmpdir(), so later runs only read it; a run takes a sample of the size it needs,
 * the same for the same size (a seeded shuffle).
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { aptInstall } from "./procs.ts";
import { manText } from "./roff.ts";

export interface Doc {
  /** 1..N, the order of the sample. */
  id: number;
  title: string;
  body: string;
}

/** Bumped whenever the way paragraphs are chosen changes, so an old cache is not reused. */
const VERSION = 1;
const CACHE = join(tmpdir(), `herodb-bench-corpus-v${VERSION}.jsonl`);
/** Installed when the machine's own text gives fewer paragraphs than asked for. */
export const DOC_PACKAGES = [
  "man-db",
  "manpages",
  "manpages-dev",
  "perl-doc",
  "libssl-doc",
  "git-man",
  "libcurl4-doc",
  "libx11-doc",
  "tcl8.6-doc",
  "tk8.6-doc",
  "debian-policy",
  "libpam-doc",
];

/**
 * Packages on this machine's image that come from outside Debian's archive (Google's and
 * NodeSource's repositories): their files are left out, so the corpus is Debian's text (and
 * google-cloud-cli's 16,000 generated gcloud pages, all alike, do not swamp it).
 */
const NOT_DEBIAN = /^(google-cloud-cli(-.*)?|kubectl|nodejs)(:[a-z0-9]+)?\.list$/;

const MIN_WORDS = 20;
const MAX_WORDS = 300;
/** Files larger than this (after decompression) are logs or data, not prose. */
const MAX_FILE = 8 << 20;
/** Names of the files under /usr/share/doc that hold prose (before any .gz). */
const DOC_FILE = new RegExp(
  "^(readme|news|changelog|copyright|authors|thanks|todo|faq|history|changes|bugs|credits|" +
    "install|usage|notes)([._-].*)?$|\\.(txt|md|rst)$",
  "i",
);
/** Common English function words: a paragraph needs some to count as English prose. */
const FUNCTION_WORDS = new Set(
  (
    "the of and to a in is that for it as with be on not this are by or from at an if can you " +
    "will which when all any its was has have should may must no only but also than then into " +
    "used use these there each other more such so do does"
  ).split(" "),
);

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A small seeded PRNG (mulberry32): the same sample and queries for the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A file's text (gunzipped when it ends in .gz), or undefined when it is binary or too big. */
function readText(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.size > MAX_FILE) return undefined;
    let bytes = readFileSync(path);
    if (path.endsWith(".gz")) bytes = gunzipSync(bytes, { maxOutputLength: MAX_FILE });
    if (bytes.subarray(0, 4096).includes(0)) return undefined;
    return bytes.toString("utf8");
  } catch {
    return undefined; // unreadable, truncated or oversized: not part of the corpus
  }
}

/** Regular files under `dir`, sorted, symlinks left out (they repeat other packages' files). */
function walk(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 8) return out;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) walk(path, out, depth + 1);
    else if (st?.isFile()) out.push(path);
  }
  return out;
}

/** The paragraph as a document body when it passes the filters, else undefined. */
export function prose(paragraph: string): string | undefined {
  const text = paragraph
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  const tokens = text.split(" ");
  if (tokens.length < MIN_WORDS || tokens.length > MAX_WORDS) return undefined;
  let wordy = 0;
  let functional = 0;
  for (const t of tokens) {
    if (/^[("'`*]*[A-Za-z][a-z'-]*[.,;:!?)"']*$/.test(t)) wordy++;
    if (FUNCTION_WORDS.has(t.toLowerCase().replace(/[^a-z]/g, ""))) functional++;
  }
  if (wordy < tokens.length * 0.7 || functional < tokens.length * 0.15) return undefined;
  // Mostly ASCII: other scripts and accented languages stay out.
  const ascii = text.replace(/[^\x20-\x7e]/g, "").length;
  if (ascii < text.length * 0.98) return undefined;
  return text;
}

interface Source {
  title: string;
  paragraphs: string[];
}

/** The paragraphs of one /usr/share/doc file: split at blank lines. */
function docSource(path: string): Source | undefined {
  const name = basename(path).replace(/\.gz$/, "");
  if (!DOC_FILE.test(name)) return undefined;
  const text = readText(path);
  if (text === undefined) return undefined;
  const pkg = path.split("/")[4] ?? "";
  return { title: `${pkg}: ${name}`, paragraphs: text.split(/\r?\n[ \t]*\r?\n/) };
}

/** The paragraphs of one English man page; .so redirections have none. */
function manSource(path: string): Source | undefined {
  const text = readText(path);
  if (text === undefined || /^\.so\s/.test(text)) return undefined;
  const page = basename(path).replace(/\.gz$/, "");
  const { description, paragraphs } = manText(text);
  const title = description.replace(/\s+/g, " ").trim().slice(0, 200) || page;
  return { title, paragraphs };
}

/** The files dpkg lists for the NOT_DEBIAN packages installed here. */
function notDebian(): Set<string> {
  const dir = "/var/lib/dpkg/info";
  const out = new Set<string>();
  const lists = existsSync(dir) ? readdirSync(dir).filter((f) => NOT_DEBIAN.test(f)) : [];
  for (const list of lists) {
    for (const path of readFileSync(join(dir, list), "utf8").split("\n")) out.add(path);
  }
  return out;
}

/** Builds the corpus from what is installed now; progress on stderr. */
function build(): { title: string; body: string }[] {
  const foreign = notDebian();
  const ours = (p: string) => !foreign.has(p);
  const docFiles = walk("/usr/share/doc").filter(ours);
  const manDirs = existsSync("/usr/share/man")
    ? readdirSync("/usr/share/man")
        .filter((d) => /^man[1-9]/.test(d))
        .sort()
        .map((d) => join("/usr/share/man", d))
    : [];
  const manFiles = manDirs.flatMap((d) => walk(d)).filter(ours);
  log(
    `corpus: reading ${docFiles.length} files under /usr/share/doc, ${manFiles.length} man ` +
      `pages (${foreign.size} files of packages from outside Debian left out)`,
  );
  const seen = new Set<string>();
  const out: { title: string; body: string }[] = [];
  const files: [string, (p: string) => Source | undefined][] = [
    ...docFiles.map((p) => [p, docSource] as [string, (p: string) => Source | undefined]),
    ...manFiles.map((p) => [p, manSource] as [string, (p: string) => Source | undefined]),
  ];
  let lastAt = Date.now();
  for (let i = 0; i < files.length; i++) {
    const [path, read] = files[i];
    const src = read(path);
    for (const p of src?.paragraphs ?? []) {
      const body = prose(p);
      if (body === undefined) continue;
      const key = createHash("sha1").update(body.toLowerCase()).digest("base64");
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ title: src?.title ?? "", body });
    }
    if (Date.now() - lastAt >= 2000 || i === files.length - 1) {
      lastAt = Date.now();
      log(`corpus: … ${i + 1}/${files.length} files, ${out.length} paragraphs`);
    }
  }
  return out;
}

function readCache(): { title: string; body: string }[] | undefined {
  if (!existsSync(CACHE)) return undefined;
  try {
    return readFileSync(CACHE, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const [title, body] = JSON.parse(l) as [string, string];
        return { title, body };
      });
  } catch {
    return undefined; // a torn or foreign file: built again
  }
}

function writeCache(paragraphs: { title: string; body: string }[]): void {
  const tmp = `${CACHE}.${process.pid}.tmp`;
  writeFileSync(tmp, paragraphs.map((p) => `${JSON.stringify([p.title, p.body])}\n`).join(""));
  renameSync(tmp, CACHE);
}

/**
 * `docs` documents (fewer, with a warning, when even the extra packages do not give that many),
 * ids 1..N, a seeded sample of the corpus in a seeded order.
 */
export function loadCorpus(docs: number, seed: number): { docs: Doc[]; available: number } {
  let all = readCache();
  if (all !== undefined && all.length >= docs) {
    log(`corpus: ${all.length} paragraphs cached in ${CACHE}`);
  } else {
    all = build();
    if (all.length < docs) {
      log(`corpus: ${all.length} paragraphs, fewer than ${docs}: installing doc packages`);
      aptInstall(DOC_PACKAGES, log);
      all = build();
    }
    writeCache(all);
    log(`corpus: ${all.length} paragraphs, cached in ${CACHE}`);
  }
  if (all.length < docs) {
    log(`corpus: only ${all.length} paragraphs exist; using them all instead of ${docs}`);
  }
  const rand = prng(seed);
  const order = Array.from(all.keys());
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const picked = order.slice(0, Math.min(docs, all.length));
  return {
    docs: picked.map((k, i) => ({ id: i + 1, title: all[k].title, body: all[k].body })),
    available: all.length,
  };
}
