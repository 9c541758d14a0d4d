/**
 * What the tokenizer says about a statement's text (its clock keywords written as calls, whether
 * a second statement follows, its parameters, its first word), remembered per text: clients repeat the same
 * statements with different arguments, and the scans cost more than a point SELECT itself. A
 * bounded map in insertion order; the oldest entry goes when it is full.
 */
import { clockCalls } from "./sql-clock.ts";
import { firstWord, hasSecondStatement, type Parameters, parameters } from "./sql-scan.ts";

export interface Shape {
  /** The text to prepare (CURRENT_* written as date-function calls). */
  readonly sql: string;
  /** Whether more than one statement was given. */
  readonly second: boolean;
  readonly params: Parameters;
  /** The first word, upper case ("INSERT"…). */
  readonly verb: string;
}

export class Bounded<V> {
  private readonly map = new Map<string, V>();
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, value);
  }
  clear(): void {
    this.map.clear();
  }
}

const shapes = new Bounded<Shape>(1024);

/** Texts longer than this are scanned each time rather than kept (the map would hold them). */
const MAX_KEPT_CHARS = 4096;

export function shapeOf(text: string): Shape {
  let s = shapes.get(text);
  if (s === undefined) {
    const sql = clockCalls(text);
    s = { sql, second: hasSecondStatement(sql), params: parameters(sql), verb: firstWord(sql) };
    if (text.length <= MAX_KEPT_CHARS) shapes.set(text, s);
  }
  return s;
}
