import { describeLease, type LeaseRecord } from "./lease.js";
import { formatCost, formatDuration } from "./render-comments.js";

/** What /status knows about the agent, when it runs on this host. */
export interface LiveAgent {
  startedAt: string;
  turns: number;
  costUsd: number;
  lastToolCall: string | null;
}

export interface StatusInput {
  issue: number;
  lease: LeaseRecord | null;
  live: LiveAgent | null;
  /** 1-based position among the queued issues, or null when the issue is not queued. */
  queuePosition: { position: number; of: number } | null;
  now: Date;
}

/** The reply to `/status`. */
export function renderStatusComment(input: StatusInput): string {
  const lines = ["<!-- harness:status -->", `**Status of #${input.issue}**`, ""];
  if (input.lease === null) lines.push("- Lease: never claimed");
  else {
    const lease = input.lease;
    lines.push(`- Lease: ${describeLease(lease, input.now)}`, `- Attempt: ${lease.attempt}${lease.sessionId ? ` · session \`${lease.sessionId}\`` : ""}`);
    if (lease.outcome) lines.push(`- Last outcome: ${lease.outcome}`);
  }
  if (input.live) {
    const elapsed = input.now.getTime() - Date.parse(input.live.startedAt);
    lines.push(
      `- Running for ${formatDuration(Math.max(0, elapsed))} · turns ${input.live.turns} · cost so far ${formatCost(input.live.costUsd)}` +
        (input.live.lastToolCall ? ` · last step \`${input.live.lastToolCall.replace(/`/g, "'")}\`` : ""),
    );
  } else if (input.lease?.state === "claimed") {
    lines.push("- The agent runs on another host: its tracking comment shows its progress.");
  }
  lines.push(`- Queue: ${input.queuePosition ? `position ${input.queuePosition.position} of ${input.queuePosition.of}` : "not queued"}`);
  return lines.join("\n");
}
