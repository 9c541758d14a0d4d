/**
 * Man pages as plain text for the full-text benchmark's corpus (./corpus.ts), without groff:
 * rendering twenty thousand pages with `man -P cat` takes most of an hour on two cores, while
 * the words are all in the roff source. This keeps the running text of man(7) and mdoc(7) pages
 * (the words of font and cross-reference macros included), turns paragraph macros into blank
 * lines, drops every other request, macro definitions, tables and equations, and replaces the
 * escapes that stand for characters (quotes, dashes) and removes the rest. It reads only what
 * the benchmark needs: prose, split into paragraphs, and the page's one-line description.
 */

/** Requests that end a paragraph (man(7) and mdoc(7)). */
const BREAKS = new Set(
  "PP P LP IP TP TQ HP SH SS RS RE Sh Ss Pp Lp Bl El It Bd Ed D1 sp nf fi in ti".split(" "),
);
/** Alternating-font macros: their arguments joined without spaces (`.BR ls (1)` is "ls(1)"). */
const ALTERNATING = new Set("BR BI IB IR RB RI".split(" "));
/** Macros whose arguments are running text, joined with spaces. */
const TEXT_MACROS = new Set(
  (
    "B I SM SB UR MT " +
    "Nm Nd Ar Fl Cm Pa Xr Em Sy Dq Ql Qq Sq Pq Va Ev Fn Fa Ft Li Dv Er Ic Op Tn Lk Mt An Dl Ms"
  ).split(" "),
);
/** Blocks skipped whole, from the opening request to its end. */
const BLOCKS: Record<string, string> = { de: "..", am: "..", ig: "..", TS: ".TE", EQ: ".EN" };

const CHARS: Record<string, string> = {
  em: " - ",
  en: "-",
  hy: "-",
  aq: "'",
  dq: '"',
  lq: '"',
  rq: '"',
  oq: "'",
  cq: "'",
  bu: "",
  co: "(c)",
  rg: "(R)",
  tm: "(TM)",
  mi: "-",
  pl: "+",
  mu: "x",
  ti: "~",
  ha: "^",
};

/** The text of one line with roff escapes replaced or removed. */
export function roffText(line: string): string {
  return (
    line
      // A comment runs to the end of the line.
      .replace(/\\".*$/, "")
      .replace(/\\\(([^\s]{2})/g, (_, name: string) => CHARS[name] ?? "")
      .replace(/\\\[([^\]]*)\]/g, (_, name: string) => CHARS[name] ?? "")
      .replace(/\\\*(\(..|\[[^\]]*\]|.)/g, (_, name: string) => {
        const n = name.replace(/^\(|^\[|\]$/g, "");
        return n === "lq" || n === "rq" || n === "Lq" || n === "Rq" ? '"' : "";
      })
      .replace(/\\f(\(..|\[[^\]]*\]|.)/g, "")
      .replace(/\\s(\(\d\d|\[[^\]]*\]|[+-]?\d)/g, "")
      .replace(/\\[nkgmM](\(..|\[[^\]]*\]|.)/g, "")
      .replace(/\\[hvwlLoXDbSxRNZ]'[^']*'/g, "")
      .replace(/\\-/g, "-")
      .replace(/\\e/g, "\\")
      .replace(/\\[ ~0]/g, " ")
      .replace(/\\[&|^c%:)dutpaz{}!]/g, "")
      .replace(/\\(.)/g, "$1")
  );
}

/** A request's arguments: split at spaces, "double quotes" keeping spaces in one argument. */
function args(rest: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"]|"")*)"?|(\S+)/g;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
  }
  return out;
}

export interface ManText {
  /** The NAME section's line, e.g. "ls - list directory contents"; "" when there is none. */
  description: string;
  /** Paragraphs of running text, in page order, each on one line. */
  paragraphs: string[];
}

/** The running text of a man page's roff source (man(7) or mdoc(7)). */
export function manText(source: string): ManText {
  const paragraphs: string[] = [];
  let current: string[] = [];
  let section = "";
  let description = "";
  let skipUntil: string | undefined;
  const end = () => {
    const text = current.join(" ").replace(/\s+/g, " ").trim();
    current = [];
    if (text === "") return;
    if (section === "NAME" && description === "") description = text;
    else paragraphs.push(text);
  };
  for (const line of source.split("\n")) {
    if (skipUntil !== undefined) {
      if (line.trimEnd() === skipUntil || line.startsWith(skipUntil)) skipUntil = undefined;
      continue;
    }
    if (line.trim() === "") {
      end();
      continue;
    }
    const request = /^[.']\s*(\S+)\s*(.*)$/.exec(line);
    if (request === null) {
      current.push(roffText(line));
      continue;
    }
    const [, name, rest] = request;
    if (name.startsWith('\\"')) continue;
    if (BLOCKS[name] !== undefined) {
      skipUntil = BLOCKS[name];
      continue;
    }
    if (name === "SH" || name === "Sh") {
      end();
      section = roffText(args(rest).join(" ")).toUpperCase();
      continue;
    }
    if (BREAKS.has(name)) {
      end();
      // .IP's tag and .It's item text start the next paragraph.
      if ((name === "IP" || name === "It") && rest !== "") {
        const tag = args(rest);
        current.push(roffText(name === "IP" ? (tag[0] ?? "") : tag.join(" ")));
      }
      continue;
    }
    if (ALTERNATING.has(name)) current.push(roffText(args(rest).join("")));
    else if (TEXT_MACROS.has(name)) current.push(roffText(args(rest).join(" ")));
  }
  end();
  return { description, paragraphs };
}
