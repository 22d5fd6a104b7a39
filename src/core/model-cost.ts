/**
 * What a model call costs, computed from its usage the way Claude Code 2.1.197
 * does (prices in USD per million tokens, read from the CLI's bundle):
 *
 *   input × in + output × out + cache_read × read + cache_write_5m × write
 *   + cache_write_1h × write1h + web_search_requests × 0.01
 *
 * Used for the live cost of a running session: the CLI reports its own total only
 * in the `result` event. Unknown models are priced like Opus 4.5+ (the CLI falls
 * back to its default model's price).
 */

export interface ModelPrice {
  inputTokens: number;
  outputTokens: number;
  promptCacheWriteTokens: number;
  promptCacheWrite1hTokens: number;
  promptCacheReadTokens: number;
  webSearchRequests: number;
}

const price = (input: number, output: number): ModelPrice => ({
  inputTokens: input,
  outputTokens: output,
  promptCacheWriteTokens: input * 1.25,
  promptCacheWrite1hTokens: input * 2,
  promptCacheReadTokens: input * 0.1,
  webSearchRequests: 0.01,
});

const HAIKU_35 = price(0.8, 4);
const HAIKU_45 = price(1, 5);
const SONNET = price(3, 15);
const OPUS_4 = price(15, 75);
const OPUS_45 = price(5, 25);
const LARGE_5 = price(10, 50);
const OPUS_FAST = price(30, 150);

/** The usage fields the price depends on (an API `usage` object). */
export interface PricedUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_1h_input_tokens?: number | null } | null;
  server_tool_use?: { web_search_requests?: number | null } | null;
  speed?: string | null;
}

/** `claude-opus-4-8[1m]`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `opus-4-8`, `sonnet-4-5`. */
function family(model: string): string {
  const m = model.toLowerCase().replace(/\[[^\]]*\]$/, "");
  // Old names first: claude-3-5-haiku-20241022, claude-3-7-sonnet, claude-3-opus.
  const old = /claude-(\d)(?:-(\d))?-(opus|sonnet|haiku)/.exec(m);
  if (old !== null) return `${old[3]}-${old[1]}${old[2] === undefined ? "" : `-${old[2]}`}`;
  // claude-opus-4-8, claude-sonnet-4-5-20250929, claude-opus-4-20250514 (→ opus-4).
  const named = /(opus|sonnet|haiku|fable|mythos)-(\d)(?:-(\d)(?!\d))?/.exec(m);
  if (named !== null) return `${named[1]}-${named[2]}${named[3] === undefined ? "" : `-${named[3]}`}`;
  return m;
}

export function modelPrice(model: string | null | undefined, speed?: string | null): ModelPrice {
  const f = family(model ?? "");
  if (speed === "fast") {
    if (f === "opus-4-8") return LARGE_5;
    if (f === "opus-4-6" || f === "opus-4-7") return OPUS_FAST;
  }
  if (f === "haiku-3-5" || f === "haiku-3") return HAIKU_35;
  if (f.startsWith("haiku-")) return HAIKU_45;
  if (f.startsWith("sonnet-")) return SONNET;
  if (f === "opus-4" || f === "opus-4-0" || f === "opus-4-1" || f === "opus-3") return OPUS_4;
  if (f.startsWith("opus-")) return OPUS_45;
  if (f.startsWith("fable-") || f.startsWith("mythos-")) return LARGE_5;
  return OPUS_45;
}

/** The cost in USD of one model call with this usage. */
export function costOfUsage(model: string | null | undefined, usage: PricedUsage): number {
  const p = modelPrice(model, usage.speed);
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const cacheWrite1h = Math.min(usage.cache_creation?.ephemeral_1h_input_tokens ?? 0, cacheWrite);
  return (
    (usage.input_tokens * p.inputTokens +
      usage.output_tokens * p.outputTokens +
      (usage.cache_read_input_tokens ?? 0) * p.promptCacheReadTokens +
      cacheWrite1h * p.promptCacheWrite1hTokens +
      (cacheWrite - cacheWrite1h) * p.promptCacheWriteTokens) /
      1e6 +
    (usage.server_tool_use?.web_search_requests ?? 0) * p.webSearchRequests
  );
}
