import { formatCost, formatDuration } from "./render-comments.js";
import type { TrendDay, TrendRollup } from "./trend-rollup.js";

/**
 * Small inline SVG charts of the trends (src/core/trend-rollup.ts), for the
 * status page: issues done by day, success rate by day, cost per successful
 * issue, and p50/p95 session time. Pure: the same rollup gives the same markup.
 * Accessible: each chart is an `<svg role="img">` named by its `<title>` and
 * described by a `<desc>` that lists every number it draws, so a screen reader
 * gets the data, not a picture. All text is escaped. The markup is well-formed
 * XML (and HTML): one `<div class="harness-trends">` of `<figure>`s.
 */
const W = 320;
const H = 120;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const num = (n: number): string => (Math.round(n * 10) / 10).toString();

interface Series {
  name: string;
  values: (number | null)[];
  /** CSS colour; every series is also told apart by its dash pattern and its name in the legend. */
  color: string;
  dash?: string;
}

interface Chart {
  id: string;
  title: string;
  kind: "bars" | "lines";
  series: Series[];
  format: (value: number) => string;
  /** The top of the y axis at least this (1 for a rate). */
  minMax?: number;
}

function describe(chart: Chart, days: readonly TrendDay[]): string {
  if (days.length === 0) return `${chart.title}: no data yet.`;
  const parts = days.map((d, i) => {
    const values = chart.series.map((s) => {
      const v = s.values[i];
      return `${chart.series.length > 1 ? `${s.name} ` : ""}${v === null || v === undefined ? "none" : chart.format(v)}`;
    });
    return `${d.date}: ${values.join(", ")}`;
  });
  return `${chart.title}. ${parts.join("; ")}.`;
}

function renderChart(chart: Chart, days: readonly TrendDay[]): string {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const all = chart.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(chart.minMax ?? 0, ...all, 0) || 1;
  const n = Math.max(days.length, 1);
  const step = plotW / n;
  const x = (i: number): number => PAD.left + step * i + step / 2;
  const y = (v: number): number => PAD.top + plotH - (v / max) * plotH;
  const marks: string[] = [];
  chart.series.forEach((s, si) => {
    if (chart.kind === "bars") {
      const bw = Math.max(1, (step * 0.7) / chart.series.length);
      s.values.forEach((v, i) => {
        if (v === null) return;
        const bx = PAD.left + step * i + step * 0.15 + bw * si;
        marks.push(`<rect x="${num(bx)}" y="${num(y(v))}" width="${num(bw)}" height="${num(PAD.top + plotH - y(v))}" fill="${s.color}" />`);
      });
    } else {
      const points = s.values.flatMap((v, i) => (v === null ? [] : [`${num(x(i))},${num(y(v))}`]));
      if (points.length > 1)
        marks.push(
          `<polyline points="${points.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""} />`,
        );
      for (const p of points) {
        const [px, py] = p.split(",");
        marks.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${s.color}" />`);
      }
    }
  });
  const axis = [
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="currentColor" stroke-width="1" />`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end" font-size="9">${esc(chart.format(max))}</text>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end" font-size="9">${esc(chart.format(0))}</text>`,
  ];
  const first = days[0];
  const last = days.at(-1);
  if (first) axis.push(`<text x="${PAD.left}" y="${H - 6}" font-size="9">${esc(first.date)}</text>`);
  if (last && days.length > 1) axis.push(`<text x="${W - PAD.right}" y="${H - 6}" text-anchor="end" font-size="9">${esc(last.date)}</text>`);
  const legend =
    chart.series.length > 1
      ? `<figcaption>${esc(chart.title)}: ${chart.series.map((s) => `<svg class="harness-trend-key" width="18" height="6" aria-hidden="true"><line x1="0" y1="3" x2="18" y2="3" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="4 3"' : ""}/></svg> ${esc(s.name)}`).join(", ")}</figcaption>`
      : `<figcaption>${esc(chart.title)}</figcaption>`;
  return [
    `<figure class="harness-trend" id="${chart.id}">`,
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" aria-labelledby="${chart.id}-title ${chart.id}-desc">`,
    `<title id="${chart.id}-title">${esc(chart.title)}</title>`,
    `<desc id="${chart.id}-desc">${esc(describe(chart, days))}</desc>`,
    ...axis,
    ...marks,
    `</svg>`,
    legend,
    `</figure>`,
  ].join("\n");
}

/** The four trend charts of `rollup` (its days, oldest first) as one block of inline SVG. */
export function renderTrendCharts(rollup: Pick<TrendRollup, "days">): string {
  const days = rollup.days;
  const charts: Chart[] = [
    {
      id: "harness-trend-throughput",
      title: "Issues done by day",
      kind: "bars",
      series: [{ name: "done", values: days.map((d) => d.done), color: "#1a7f37" }],
      format: (v) => String(Math.round(v)),
    },
    {
      id: "harness-trend-success",
      title: "Success rate by day",
      kind: "lines",
      series: [{ name: "success rate", values: days.map((d) => d.successRate), color: "#0969da" }],
      format: (v) => `${Math.round(v * 100)}%`,
      minMax: 1,
    },
    {
      id: "harness-trend-cost",
      title: "Cost per successful issue by day",
      kind: "bars",
      series: [{ name: "cost per success", values: days.map((d) => d.costPerSuccessUsd), color: "#8250df" }],
      format: (v) => formatCost(v),
    },
    {
      id: "harness-trend-duration",
      title: "Session time p50 and p95 by day",
      kind: "lines",
      series: [
        { name: "p50", values: days.map((d) => d.p50Seconds), color: "#0969da" },
        { name: "p95", values: days.map((d) => d.p95Seconds), color: "#bc4c00", dash: "4 3" },
      ],
      format: (v) => formatDuration(v * 1000),
    },
  ];
  return [`<div class="harness-trends">`, ...charts.map((c) => renderChart(c, days)), `</div>`].join("\n");
}
