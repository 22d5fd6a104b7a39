import { describe, expect, it } from "vitest";
import { renderTrendCharts } from "../../src/core/render-trend-charts.js";
import { rollupDay, trendRollup, type TrendRecord } from "../../src/core/trend-rollup.js";

/** A strict, small XML well-formedness check: one root, tags nest and close, attributes quoted once, only the five entities. */
function parseXml(text: string): { name: string; attrs: Record<string, string>; children: unknown[]; text: string }[] {
  type El = { name: string; attrs: Record<string, string>; children: El[]; text: string };
  const root: El = { name: "#root", attrs: {}, children: [], text: "" };
  const stack: El[] = [root];
  const checkText = (t: string): string => {
    if (/[<>]/.test(t)) throw new Error(`raw < or > in text: ${t}`);
    for (const m of t.matchAll(/&([^;\s]*);?/g)) if (!/^(amp|lt|gt|quot|apos|#\d+);$/.test(m[0].slice(1))) throw new Error(`bad entity ${m[0]}`);
    return t;
  };
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(text)) !== null) {
    at = re.lastIndex;
    const top = stack.at(-1) as El;
    if (m[5] !== undefined) {
      top.text += checkText(m[5]);
      continue;
    }
    const [, close, name = "", rawAttrs = "", selfClose] = m;
    if (close) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (Object.hasOwn(attrs, a[1] ?? "")) throw new Error(`attribute ${a[1]} twice`);
      attrs[a[1] ?? ""] = checkText(a[2] ?? "");
    }
    const el: El = { name, attrs, children: [], text: "" };
    top.children.push(el);
    if (!selfClose) stack.push(el);
  }
  if (at !== text.length) throw new Error(`not XML at ${at}: ${text.slice(at, at + 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)?.name}>`);
  if (root.children.length !== 1 || root.text.trim() !== "") throw new Error("not one root element");
  return root.children;
}

type El = { name: string; attrs: Record<string, string>; children: El[]; text: string };
const all = (el: El): El[] => [el, ...el.children.flatMap(all)];

function records(date: string, done: number, failed: number, durations: number[], cost: number): TrendRecord[] {
  const out: TrendRecord[] = [];
  durations.forEach((s, i) =>
    out.push({
      key: `s${i}`,
      at: `${date}T10:00:00.000Z`,
      type: "session_ended",
      outcome: "success",
      costUsd: cost / durations.length,
      durationMs: s * 1000,
      turns: 1,
    }),
  );
  for (let i = 0; i < done; i++) out.push({ key: `d${i}`, at: `${date}T10:00:00.000Z`, type: "issue_done", outcome: "success" });
  for (let i = 0; i < failed; i++) out.push({ key: `f${i}`, at: `${date}T10:00:00.000Z`, type: "issue_done", outcome: "error" });
  return out;
}

describe("renderTrendCharts", () => {
  const rollup = trendRollup([
    rollupDay("2026-12-01", records("2026-12-01", 3, 1, [60, 120, 600], 1.5)),
    rollupDay("2026-12-02", records("2026-12-02", 1, 1, [30], 0.25)),
  ]);

  it("is well-formed markup: one block of four figures, each an accessible svg with a title and a description that holds the numbers", () => {
    const [root] = parseXml(renderTrendCharts(rollup)) as El[];
    expect(root?.name).toBe("div");
    // The charts, not the legend swatches (decorative: aria-hidden).
    const svgs = all(root as El).filter((e) => e.name === "svg" && e.attrs["aria-hidden"] !== "true");
    expect(svgs).toHaveLength(4);
    for (const svg of svgs) {
      expect(svg.attrs.role).toBe("img");
      expect(svg.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
      const [titleId, descId] = (svg.attrs["aria-labelledby"] ?? "").split(" ");
      const title = svg.children.find((c) => c.name === "title");
      const desc = svg.children.find((c) => c.name === "desc");
      expect(title?.attrs.id).toBe(titleId);
      expect(desc?.attrs.id).toBe(descId);
      expect(title?.text).toBeTruthy();
    }
    const descs = svgs.map((s) => s.children.find((c) => c.name === "desc")?.text ?? "");
    expect(descs[0]).toBe("Issues done by day. 2026-12-01: 3; 2026-12-02: 1.");
    expect(descs[1]).toBe("Success rate by day. 2026-12-01: 75%; 2026-12-02: 50%.");
    expect(descs[2]).toBe("Cost per successful issue by day. 2026-12-01: $0.5000; 2026-12-02: $0.2500.");
    expect(descs[3]).toBe("Session time p50 and p95 by day. 2026-12-01: p50 2m 0s, p95 10m 0s; 2026-12-02: p50 30s, p95 30s.");
    // The bars: one per day in the throughput chart, the taller for the day with more done.
    const bars = all(svgs[0] as El).filter((e) => e.name === "rect");
    expect(bars).toHaveLength(2);
    expect(Number(bars[0]?.attrs.height)).toBeGreaterThan(Number(bars[1]?.attrs.height));
  });

  it("escapes text", () => {
    const bad = trendRollup([rollupDay(`<script>&"x"</script>`, records("2026-12-01", 1, 0, [1], 1))]);
    const html = renderTrendCharts(bad);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;&amp;&quot;x&quot;&lt;/script&gt;");
    const [root] = parseXml(html) as El[];
    const desc = all(root as El).find((e) => e.name === "desc");
    expect(desc?.text).toContain("&lt;script&gt;");
  });

  it("says there is no data yet when there are no days, and stays well-formed", () => {
    const html = renderTrendCharts({ days: [] });
    expect(() => parseXml(html)).not.toThrow();
    expect(html).toContain("Issues done by day: no data yet.");
  });

  it("the checker refuses markup that is not well-formed (control)", () => {
    expect(() => parseXml("<div><svg></div></svg>")).toThrow();
    expect(() => parseXml("<div>a < b</div>")).toThrow();
    expect(() => parseXml('<div a="1" a="2"></div>')).toThrow();
    expect(() => parseXml("<div>&nbsp;</div>")).toThrow();
  });
});
