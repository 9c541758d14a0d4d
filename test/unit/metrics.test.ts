/**
 * The metrics primitives: histogram buckets (cumulative as Prometheus wants them, values on a
 * bound counted in it), command counters by id, and the exposition text (label escaping,
 * one HELP/TYPE per family, histogram series).
 */
import { describe, expect, it } from "vitest";
import { CommandStats, commandId, commandName } from "../../src/metrics/command-stats.ts";
import { Exposition } from "../../src/metrics/exposition.ts";
import { Histogram } from "../../src/metrics/histogram.ts";

describe("Histogram", () => {
  it("counts a value in the first bucket whose bound it does not exceed", () => {
    const h = new Histogram([1, 2, 4]);
    h.observe(0.5);
    h.observe(1); // on the bound: le="1"
    h.observe(3, 2);
    h.observe(100);
    expect(h.counts).toEqual([2, 0, 2, 1]);
    expect(h.cumulative()).toEqual([2, 2, 4, 5]);
    expect(h.count).toBe(5);
    expect(h.sum).toBe(0.5 + 1 + 6 + 100);
  });
});

describe("CommandStats", () => {
  it("gives each name one id for the life of the process", () => {
    const a = commandId("METRICS-TEST-A");
    expect(commandId("METRICS-TEST-A")).toBe(a);
    expect(commandId("METRICS-TEST-B")).not.toBe(a);
    expect(commandName(a)).toBe("METRICS-TEST-A");
  });

  it("lists only the commands called, with their rejected and failed counts", () => {
    const s = new CommandStats();
    const get = commandId("METRICS-TEST-GET");
    const set = commandId("METRICS-TEST-SET");
    s.called(set);
    s.called(set);
    s.failed[set]++;
    s.called(get);
    s.rejected[get]++;
    const rows = [...s.entries()].filter((e) => e.name.startsWith("METRICS-TEST-"));
    expect(rows).toEqual([
      { name: "METRICS-TEST-GET", calls: 1, rejected: 1, failed: 0 },
      { name: "METRICS-TEST-SET", calls: 2, rejected: 0, failed: 1 },
    ]);
  });
});

describe("Exposition", () => {
  it("writes families once, escapes label values and spells out histograms", () => {
    const h = new Histogram([0.1, 1]);
    h.observe(0.05);
    h.observe(5);
    const text = new Exposition()
      .family("x_total", "counter", "Things.\nCounted.")
      .sample("x_total", { name: 'a "b" \\ c\nd' }, 3)
      .family("x_total", "counter", "again")
      .family("lat_seconds", "histogram", "Latency.")
      .histogram("lat_seconds", { i: 1 }, h)
      .text();
    expect(text).toBe(
      [
        "# HELP x_total Things.\\nCounted.",
        "# TYPE x_total counter",
        'x_total{name="a \\"b\\" \\\\ c\\nd"} 3',
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{i="1",le="0.1"} 1',
        'lat_seconds_bucket{i="1",le="1"} 1',
        'lat_seconds_bucket{i="1",le="+Inf"} 2',
        'lat_seconds_sum{i="1"} 5.05',
        'lat_seconds_count{i="1"} 2',
        "",
      ].join("\n"),
    );
  });
});
