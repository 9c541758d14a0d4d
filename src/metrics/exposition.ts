/**
 * Prometheus's text exposition format (version 0.0.4), written by hand for the figures the
 * server keeps in plain counters (./command-stats.ts, ./histogram.ts): one `# HELP` and
 * `# TYPE` line per family, then its samples. Label values are escaped as the format requires.
 */
import type { Histogram } from "./histogram.ts";

export type Labels = Readonly<Record<string, string | number>>;

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(labels: Labels, extra?: string): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

export class Exposition {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  /** Declares a family once (later calls for the same name add nothing). */
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    if (this.declared.has(name)) return this;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.lines.push(`# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
    return this;
  }

  /** A histogram's buckets (cumulative, `le` in seconds), sum and count. */
  histogram(name: string, labels: Labels, h: Histogram): this {
    const cumulative = h.cumulative();
    h.bounds.forEach((b, i) => {
      this.lines.push(`${name}_bucket${labelText(labels, `le="${num(b)}"`)} ${cumulative[i]}`);
    });
    this.lines.push(`${name}_bucket${labelText(labels, 'le="+Inf"')} ${h.count}`);
    this.lines.push(`${name}_sum${labelText(labels)} ${num(h.sum)}`);
    this.lines.push(`${name}_count${labelText(labels)} ${h.count}`);
    return this;
  }

  text(): string {
    return this.lines.length === 0 ? "" : `${this.lines.join("\n")}\n`;
  }
}
