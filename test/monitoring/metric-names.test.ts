import { describe, expect, it } from "vitest";
import { METRIC_NAMES } from "../../src/app/metrics/metric-names.js";
import { allPanels, readDashboard, readRules } from "./monitoring-files.js";

/**
 * The lint of monitoring/: every metric that an alerting rule or a dashboard panel
 * names is one the exporter exports (src/app/metrics/metric-names.ts; a histogram's
 * `_bucket`, `_sum` and `_count` series by its base name), or a recording rule of
 * harness-rules.yml.
 */
const HISTOGRAMS = ["harness_claim_wait_seconds", "harness_session_duration_seconds", "harness_interrupt_latency_seconds"];
const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"]);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels, strings or ranges. */
function metricsOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const name = m[1] ?? "";
    if (!KEYWORDS.has(name.toLowerCase())) names.push(name);
  }
  return names;
}

function unknownMetrics(exprs: string[], recorded: Set<string>): string[] {
  const known = new Set<string>(METRIC_NAMES);
  const ok = (name: string): boolean => {
    if (known.has(name) || recorded.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, "");
    return base !== name && HISTOGRAMS.includes(base);
  };
  return [...new Set(exprs.flatMap(metricsOf))].filter((n) => !ok(n));
}

const groups = readRules();
const recorded = new Set(groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
const ruleExprs = groups.flatMap((g) => g.rules.map((r) => r.expr));
const panelExprs = allPanels(readDashboard()).flatMap((p) => (p.targets ?? []).map((t) => t.expr));

describe("metric names used by monitoring/", () => {
  it("METRIC_NAMES lists each name once, with the harness_ prefix, histograms by their base name", () => {
    expect(new Set(METRIC_NAMES).size).toBe(METRIC_NAMES.length);
    for (const name of METRIC_NAMES) expect(name).toMatch(/^harness_[a-z_]+$/);
    for (const name of HISTOGRAMS) expect(METRIC_NAMES).toContain(name);
    expect(METRIC_NAMES).toHaveLength(23);
  });

  it("the extractor finds metric names and leaves functions, labels, strings and ranges out", () => {
    expect(metricsOf('histogram_quantile(0.95, sum by (le) (rate(harness_claim_wait_seconds_bucket{x="a_b"}[$__rate_interval])))')).toEqual([
      "harness_claim_wait_seconds_bucket",
    ]);
    expect(metricsOf("sum(a) / on() b > 3 and absent(c)")).toEqual(["a", "b", "c"]);
    expect(unknownMetrics(["sum(harness_issues) + harness_nope_total", "harness_issues_bucket", "harness_claim_wait_seconds_count"], new Set())).toEqual([
      "harness_nope_total",
      "harness_issues_bucket",
    ]);
  });

  it("every metric an alerting rule uses is exported", () => {
    expect(ruleExprs.length).toBeGreaterThan(8);
    expect(unknownMetrics(ruleExprs, recorded)).toEqual([]);
  });

  it("every metric a dashboard panel uses is exported", () => {
    expect(panelExprs.length).toBeGreaterThan(20);
    expect(unknownMetrics(panelExprs, new Set())).toEqual([]);
  });
});
