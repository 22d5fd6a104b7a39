import { renderTrendCharts } from "../core/render-trend-charts.js";
import { trendRollup } from "../core/trend-rollup.js";
import type { TrendStore } from "./trend-store.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The status page's trend charts: rendering is synchronous (a page view never
 * waits on the disk), reading the trend store is not, so the charts of the last
 * `days` days are read in the background at most every `refreshMs` and the
 * last rendering is served meanwhile. Null until the first read, or when no
 * day has data.
 */
export function trendCharts(
  store: Pick<TrendStore, "days">,
  options: { days?: number; refreshMs?: number; now?: () => Date; onError?: (error: unknown) => void } = {},
): () => string | null {
  const days = options.days ?? 14;
  const refreshMs = options.refreshMs ?? 60_000;
  const now = options.now ?? (() => new Date());
  let html: string | null = null;
  let readAt = -Infinity;
  let reading = false;
  const refresh = (): void => {
    if (reading) return;
    reading = true;
    readAt = now().getTime();
    store
      .days(new Date(readAt - days * DAY_MS))
      .then((read) => {
        html = read.length === 0 ? null : renderTrendCharts(trendRollup(read));
      })
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        reading = false;
      });
  };
  return () => {
    if (now().getTime() - readAt >= refreshMs) refresh();
    return html;
  };
}
