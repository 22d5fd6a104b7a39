import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { allPanels, DASHBOARD_FILE, MONITORING, readDashboard } from "./monitoring-files.js";

/**
 * The Grafana dashboard and the provisioning and Alertmanager examples under
 * monitoring/. amtool (Alertmanager's checker) is not packaged on this machine,
 * so alertmanager.yml is checked structurally: parsed, and every receiver a route
 * names is defined.
 */
const yamlOf = (...parts: string[]): Record<string, unknown> => parse(readFileSync(path.join(MONITORING, ...parts), "utf8")) as Record<string, unknown>;

describe("monitoring/grafana/harness-dashboard.json", () => {
  const dashboard = readDashboard();

  it("is valid JSON with a fixed uid and a datasource template variable", () => {
    expect(() => JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as unknown).not.toThrow();
    expect(dashboard.uid).toBe("claude-harness");
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ type: "datasource", name: "datasource", query: "prometheus" }));
  });

  it("has the rows now, throughput, latency, cost and reliability", () => {
    const rows = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title);
    expect(rows).toEqual(["Now", "Throughput", "Latency", "Cost", "Reliability"]);
  });

  it("every panel and every query uses the datasource variable; ids are unique", () => {
    const panels = allPanels(dashboard).filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThan(15);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(t.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
        expect(t.expr, p.title).toBeTruthy();
      }
    }
    const ids = allPanels(dashboard).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("shows p50 and p95 of claim wait and session duration with histogram_quantile", () => {
    const exprs = allPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const metric of ["harness_claim_wait_seconds", "harness_session_duration_seconds"]) {
      for (const q of ["0.5", "0.95"]) {
        expect(
          exprs.some((e) => e.startsWith(`histogram_quantile(${q},`) && e.includes(`${metric}_bucket`)),
          `${metric} p${q}`,
        ).toBe(true);
      }
    }
  });
});

describe("monitoring/grafana/provisioning", () => {
  it("provisions a Prometheus data source and a file dashboard provider", () => {
    const ds = yamlOf("grafana", "provisioning", "datasources", "prometheus.yml") as { apiVersion: number; datasources: { type: string; url: string }[] };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toContainEqual(expect.objectContaining({ type: "prometheus" }));
    const dash = yamlOf("grafana", "provisioning", "dashboards", "harness.yml") as {
      apiVersion: number;
      providers: { type: string; options: { path: string } }[];
    };
    expect(dash.apiVersion).toBe(1);
    expect(dash.providers[0]).toMatchObject({ type: "file", options: { path: expect.stringMatching(/^\//) as unknown } });
  });
});

describe("monitoring/alertmanager/alertmanager.yml (structural: amtool is not installed here)", () => {
  interface Route {
    receiver?: string;
    routes?: Route[];
    matchers?: string[];
  }
  const config = yamlOf("alertmanager", "alertmanager.yml") as { route: Route; receivers: { name: string }[]; inhibit_rules?: unknown[] };

  it("has a root route with a receiver, and every receiver a route names is defined", () => {
    const defined = new Set(config.receivers.map((r) => r.name));
    expect(config.route.receiver).toBeTruthy();
    const named: string[] = [];
    const walk = (r: Route): void => {
      if (r.receiver) named.push(r.receiver);
      for (const m of r.matchers ?? []) expect(m).toMatch(/^\w+(=|!=|=~|!~)"[^"]*"$/);
      (r.routes ?? []).forEach(walk);
    };
    walk(config.route);
    expect(named.length).toBeGreaterThan(1);
    for (const n of named) expect(defined, n).toContain(n);
  });

  it("routes the critical alerts separately and inhibits the stuck queue while there are no agents", () => {
    expect(config.route.routes?.some((r) => r.matchers?.includes('severity="critical"'))).toBe(true);
    expect(JSON.stringify(config.inhibit_rules)).toContain("HarnessNoAgents");
  });
});
