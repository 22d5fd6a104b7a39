import type { RenderedNotification } from "../../core/render-notification.js";
import type { DeliveryAnswer } from "./delivery-answer.js";

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** Seconds (or an HTTP date) of a Retry-After header, in milliseconds; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** A Slack incoming webhook: one POST of Block Kit blocks with a `text` fallback. */
export class SlackChannel {
  constructor(
    private readonly url: string,
    private readonly options: { fetch?: FetchLike; now?: () => number; timeoutMs?: number } = {},
  ) {}

  async send(message: RenderedNotification): Promise<DeliveryAnswer> {
    const fetchImpl = this.options.fetch ?? (globalThis.fetch as unknown as FetchLike);
    let response;
    try {
      response = await fetchImpl(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: message.slack.text, blocks: message.slack.blocks }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      return { kind: "retry", afterMs: null, detail: `network: ${(error as Error).message}` };
    }
    const body = await response.text().catch(() => "");
    if (response.status >= 200 && response.status < 300) return { kind: "ok" };
    const detail = `HTTP ${response.status} ${body.slice(0, 200)}`.trim();
    if (response.status === 429) return { kind: "retry", afterMs: retryAfterMs(response.headers.get("retry-after"), (this.options.now ?? Date.now)()), detail };
    if (response.status >= 500) return { kind: "retry", afterMs: null, detail };
    return { kind: "fatal", detail };
  }
}
