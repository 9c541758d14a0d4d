/**
 * A small SQL tokenizer, enough to rewrite and check statements without parsing them: it knows
 * SQLite's string literals ('…' with '' inside), quoted identifiers ("…", `…`, […]), blob
 * literals (x'…', a word then a string), comments (-- and /* *\/), parameters (?, ?NNN, :name,
 * @name, $name), words and single-character punctuation. Text inside strings, identifiers and
 * comments is never mistaken for keywords, parameters or statement ends.
 */

export type TokenKind = "string" | "ident" | "comment" | "word" | "param" | "space" | "punct";

export interface Token {
  kind: TokenKind;
  text: string;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

export function* tokens(sql: string): Generator<Token> {
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    let j = i + 1;
    let kind: TokenKind;
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      j = end < 0 ? sql.length : end;
      kind = "comment";
    } else if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      j = end < 0 ? sql.length : end + 2;
      kind = "comment";
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const close = c === "[" ? "]" : c;
      while (j < sql.length) {
        if (sql[j] === close) {
          if (close !== "]" && sql[j + 1] === close) {
            j += 2;
            continue;
          }
          j++;
          break;
        }
        j++;
      }
      kind = c === "'" ? "string" : "ident";
    } else if (
      c === "?" ||
      ((c === ":" || c === "@" || c === "$") && next !== undefined && WORD.test(next))
    ) {
      while (j < sql.length && WORD.test(sql[j])) j++;
      kind = "param";
    } else if (WORD_START.test(c)) {
      while (j < sql.length && WORD.test(sql[j])) j++;
      kind = "word";
    } else if (/\s/.test(c)) {
      while (j < sql.length && /\s/.test(sql[j])) j++;
      kind = "space";
    } else kind = "punct";
    yield { kind, text: sql.slice(i, j) };
    i = j;
  }
}

export interface Parameters {
  /** How many values the statement binds: the highest index, counted as SQLite does (each `?`
   * takes the next index, `?NNN` that index, each distinct name the next index). */
  count: number;
  /** The distinct names (`:name`, `@name`, `$name`) in index order; empty when there are none. */
  names: string[];
  /** Whether `?` / `?NNN` parameters appear too. */
  positional: boolean;
}

export function parameters(sql: string): Parameters {
  let max = 0;
  const names: string[] = [];
  let positional = false;
  for (const t of tokens(sql)) {
    if (t.kind !== "param") continue;
    if (t.text === "?") {
      max++;
      positional = true;
    } else if (t.text[0] === "?") {
      max = Math.max(max, Number(t.text.slice(1)));
      positional = true;
    } else if (!names.includes(t.text)) {
      names.push(t.text);
      max++;
    }
  }
  return { count: max, names, positional };
}

/**
 * Follows one statement's words to tell the `;` that ends it from the `;`s inside a CREATE
 * TRIGGER's BEGIN … END body (only a trigger has a body: `begin` elsewhere is a name).
 */
class StatementEnd {
  private words: string[] = [];
  private trigger = false;
  private depth = 0;

  word(w: string): void {
    const words = this.words;
    if (words.length < 3) {
      words.push(w);
      const temp = words[1] === "TEMP" || words[1] === "TEMPORARY";
      if (
        words[0] === "CREATE" &&
        w === "TRIGGER" &&
        (words.length === 2 || (words.length === 3 && temp))
      ) {
        this.trigger = true;
      }
      return;
    }
    if (!this.trigger) return;
    if (w === "BEGIN" || w === "CASE") this.depth++;
    else if (w === "END" && this.depth > 0) this.depth--;
  }

  /** Whether a `;` here ends the statement (and starts the next). */
  endsHere(): boolean {
    if (this.depth > 0) return false;
    this.words = [];
    this.trigger = false;
    return true;
  }
}

/** Whether `sql` holds more than one statement (anything but blanks and comments after a `;`). */
export function hasSecondStatement(sql: string): boolean {
  let ended = false;
  const end = new StatementEnd();
  for (const t of tokens(sql)) {
    if (t.kind === "space" || t.kind === "comment") continue;
    if (ended) return !(t.kind === "punct" && t.text === ";");
    if (t.kind === "word") end.word(t.text.toUpperCase());
    if (t.kind === "punct" && t.text === ";" && end.endsHere()) ended = true;
  }
  return false;
}

/** The first word of a statement, upper case ("CREATE", "INSERT"…), or "" when there is none. */
export function firstWord(sql: string): string {
  for (const t of tokens(sql)) {
    if (t.kind === "word") return t.text.toUpperCase();
    if (t.kind !== "space" && t.kind !== "comment") return "";
  }
  return "";
}

/**
 * The name of each parameter slot in SQLite's numbering (null for `?` and `?NNN`): what a
 * driver's describe shows and binds by.
 */
export function parameterSlots(sql: string): (string | null)[] {
  const slots: (string | null)[] = [];
  const byName = new Map<string, number>();
  for (const t of tokens(sql)) {
    if (t.kind !== "param") continue;
    if (t.text === "?") slots.push(null);
    else if (t.text[0] === "?") {
      const n = Number(t.text.slice(1));
      while (slots.length < n) slots.push(null);
      slots[n - 1] = t.text;
    } else if (!byName.has(t.text)) {
      byName.set(t.text, slots.length);
      slots.push(t.text);
    }
  }
  return slots;
}

/** Verbs of statements that only read (PRAGMA: the schema PRAGMAs the guard lets run). */
const READ_VERBS = new Set(["SELECT", "VALUES", "EXPLAIN", "PRAGMA"]);
const MAIN_VERBS = new Set(["SELECT", "VALUES", "INSERT", "UPDATE", "DELETE", "REPLACE"]);

/**
 * Whether a statement only reads, from its text: its first word, or for WITH the statement
 * its common table expressions lead into (the first of SELECT, VALUES, INSERT, UPDATE, DELETE,
 * REPLACE outside parentheses). A statement taken for a read that writes is refused where reads
 * run, so a wrong guess costs an error, never a write outside the log.
 */
export function onlyReads(sql: string): boolean {
  const verb = firstWord(sql);
  if (verb !== "WITH") return READ_VERBS.has(verb);
  let depth = 0;
  for (const t of tokens(sql)) {
    if (t.kind === "punct") {
      if (t.text === "(") depth++;
      else if (t.text === ")") depth--;
    } else if (t.kind === "word" && depth === 0) {
      const w = t.text.toUpperCase();
      if (MAIN_VERBS.has(w)) return w === "SELECT" || w === "VALUES";
    }
  }
  return false;
}

/**
 * The statements of a script (`;`-separated), each with its own text; blanks and comments
 * between them are dropped. A CREATE TRIGGER's BEGIN … END body stays in its statement.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = "";
  let meaningful = false;
  const end = new StatementEnd();
  for (const t of tokens(sql)) {
    if (t.kind === "punct" && t.text === ";" && end.endsHere()) {
      if (meaningful) out.push(current);
      current = "";
      meaningful = false;
      continue;
    }
    current += t.text;
    if (t.kind === "space" || t.kind === "comment") continue;
    meaningful = true;
    if (t.kind === "word") end.word(t.text.toUpperCase());
  }
  if (meaningful) out.push(current);
  return out;
}

/** What a transaction statement asks for (see `transactionControl`). */
export type TransactionControl = "begin" | "begin-readonly" | "commit" | "rollback";

const BEGIN_MODES = new Set(["DEFERRED", "IMMEDIATE", "EXCLUSIVE"]);

/**
 * Whether a statement opens or ends a transaction, as drivers send them: BEGIN [DEFERRED |
 * IMMEDIATE | EXCLUSIVE] [TRANSACTION] [READONLY] (libSQL's read-only form), COMMIT or END
 * [TRANSACTION], ROLLBACK [TRANSACTION]. Anything else (SAVEPOINT, ROLLBACK TO) is null.
 */
export function transactionControl(sql: string): TransactionControl | null {
  const words: string[] = [];
  for (const t of tokens(sql)) {
    if (t.kind === "space" || t.kind === "comment") continue;
    if (t.kind === "punct" && t.text === ";") continue;
    if ((t.kind !== "word" && t.kind !== "ident") || words.length === 5) return null;
    words.push(t.kind === "word" ? t.text.toUpperCase() : t.text);
  }
  const [first, ...rest] = words;
  switch (first) {
    case "BEGIN": {
      // BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE] [TRANSACTION [name]] [READONLY]
      let at = 0;
      if (BEGIN_MODES.has(rest[at])) at++;
      if (rest[at] === "TRANSACTION") {
        at++;
        if (at < rest.length && rest[at] !== "READONLY") at++;
      }
      const readOnly = rest[at] === "READONLY";
      if (readOnly) at++;
      if (at !== rest.length) return null;
      return readOnly ? "begin-readonly" : "begin";
    }
    case "COMMIT":
    case "END":
      return rest.length === 0 || (rest.length === 1 && rest[0] === "TRANSACTION")
        ? "commit"
        : null;
    case "ROLLBACK":
      return rest.length === 0 || (rest.length === 1 && rest[0] === "TRANSACTION")
        ? "rollback"
        : null;
    default:
      return null;
  }
}

const FOREIGN_KEYS_PRAGMA =
  /^\s*PRAGMA\s+(?:main\s*\.\s*)?foreign_keys\s*(?:=\s*(['"]?)(\w+)\1)?\s*;?\s*$/i;

/**
 * `PRAGMA foreign_keys` as drivers send it around migrations: "read", "on", "off", or null for
 * any other statement (or a value SQLite would not take).
 */
export function foreignKeysPragma(sql: string): "read" | "on" | "off" | null {
  const m = FOREIGN_KEYS_PRAGMA.exec(sql);
  if (m === null) return null;
  if (m[2] === undefined) return "read";
  const v = m[2].toLowerCase();
  if (["1", "on", "yes", "true"].includes(v)) return "on";
  if (["0", "off", "no", "false"].includes(v)) return "off";
  return null;
}
