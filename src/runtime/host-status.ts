import os from "node:os";
import type { HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import { parseLease, type LeaseRecord } from "../core/lease.js";
import { describeWait } from "../core/queue.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { readRepositoryQueue } from "./read-queue.js";
import type { StateDir } from "./state-dir.js";
import { listWorkers, liveness, readJsonFiles } from "./worker-registry.js";

/** One agent on this host, from its worker's record and its liveness file. */
export interface AgentStatus {
  agent: string;
  worker: string | null;
  pid: number;
  /** `dead`: its process is gone (or the host rebooted); `elsewhere`: written by another host. */
  alive: "alive" | "dead" | "elsewhere";
  state: string;
  repository: string | null;
  issue: number | null;
  sessionId: string | null;
  /** Milliseconds in the current state (or since the session started). */
  elapsedMs: number;
  costUsd: number | null;
  turns: number | null;
  lastToolCall: string | null;
}

export interface QueueStatus {
  repository: string;
  ready: number[];
  waiting: { issue: number; reason: string }[];
  /** Claims whose owner is on another host. */
  heldElsewhere: { issue: number; agent: string; host: string; attempt: number; leaseUntil: string; expired: boolean }[];
  error?: string;
}

export interface HostStatus {
  host: string;
  at: string;
  agents: AgentStatus[];
  queues: QueueStatus[];
}

interface LivenessFile {
  agent: string;
  host: string;
  pid: number;
  repository?: string;
  issue?: number;
  sessionId?: string;
  startedAt?: string;
  costUsd?: number;
  turns?: number;
  lastToolCall?: string | null;
}

function isLivenessFile(value: unknown): value is LivenessFile {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.agent === "string" && typeof v.host === "string" && typeof v.pid === "number";
}

function since(iso: string | undefined, now: Date): number {
  const t = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.max(0, now.getTime() - t);
}

/** Every agent the state directory knows of: workers' agents and agents of other processes (the app). */
export async function localAgents(state: StateDir, now: Date): Promise<AgentStatus[]> {
  const files = new Map<string, LivenessFile>();
  for (const { value } of await readJsonFiles(state.agentsDir())) if (isLivenessFile(value)) files.set(value.agent, value);
  const out: AgentStatus[] = [];
  for (const { record } of await listWorkers(state)) {
    const alive = await liveness(record);
    for (const slot of record.agents) {
      const session = files.get(slot.agent);
      files.delete(slot.agent);
      out.push({
        agent: slot.agent,
        worker: record.workerId,
        pid: record.pid,
        alive,
        state: alive === "dead" ? "dead" : session && slot.state === "working" ? "running" : slot.state,
        repository: slot.repository,
        issue: slot.issue,
        sessionId: session?.sessionId ?? null,
        elapsedMs: since(session?.startedAt ?? slot.since, now),
        costUsd: session?.costUsd ?? null,
        turns: session?.turns ?? null,
        lastToolCall: session?.lastToolCall ?? null,
      });
    }
  }
  for (const file of files.values()) {
    const alive = await liveness(file);
    out.push({
      agent: file.agent,
      worker: null,
      pid: file.pid,
      alive,
      state: alive === "dead" ? "dead" : "running",
      repository: file.repository ?? null,
      issue: file.issue ?? null,
      sessionId: file.sessionId ?? null,
      elapsedMs: since(file.startedAt, now),
      costUsd: file.costUsd ?? null,
      turns: file.turns ?? null,
      lastToolCall: file.lastToolCall ?? null,
    });
  }
  return out;
}

/** A repository's queue in order, and the claims on it held by other hosts. */
export async function queueStatus(input: {
  github: GitHubClient;
  config: HarnessConfig;
  cache: EtagCache;
  log: Logger;
  now: Date;
  host?: string;
}): Promise<QueueStatus> {
  const { github, config, cache, log, now } = input;
  const host = input.host ?? os.hostname();
  const plan = await readRepositoryQueue({ github, config, cache, now, log });
  const prefix = `refs/${config.lease.refPrefix}`;
  const heldElsewhere: QueueStatus["heldElsewhere"] = [];
  for (const [ref, sha] of await github.listRefHeads(config.lease.refPrefix, cache)) {
    const issue = Number(ref.slice(prefix.length));
    if (!ref.startsWith(prefix) || !Number.isInteger(issue)) continue;
    let record: LeaseRecord;
    try {
      record = parseLease(await github.commitMessage(sha, cache));
    } catch {
      continue;
    }
    if (record.state !== "claimed" || record.owner.host === host) continue;
    heldElsewhere.push({
      issue,
      agent: record.owner.agent,
      host: record.owner.host,
      attempt: record.attempt,
      leaseUntil: record.leaseUntil,
      expired: Date.parse(record.leaseUntil) <= now.getTime(),
    });
  }
  const target = { owner: github.owner, repo: github.repo };
  return {
    repository: github.fullName,
    ready: plan.ready.map((e) => e.issue),
    waiting: plan.waiting.map((e) => ({ issue: e.issue, reason: describeWait(e.reason, target) })),
    heldElsewhere: heldElsewhere.sort((a, b) => a.issue - b.issue),
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The text form of `harness status`. */
export function renderHostStatus(status: HostStatus): string[] {
  const lines = [`host ${status.host} at ${status.at}`, ""];
  const rows = [["AGENT", "STATE", "ISSUE", "ELAPSED", "TURNS", "COST", "PID", "LAST STEP"]];
  for (const a of status.agents) {
    const state = a.alive === "dead" ? "dead" : a.state;
    const issue = a.issue === null ? "-" : `${a.repository ?? ""}#${a.issue}`;
    const cost = a.costUsd === null ? "-" : `$${a.costUsd.toFixed(4)}`;
    const step = a.lastToolCall === null ? "-" : a.lastToolCall.length > 60 ? `${a.lastToolCall.slice(0, 59)}…` : a.lastToolCall;
    rows.push([a.agent, state, issue, duration(a.elapsedMs), a.turns === null ? "-" : String(a.turns), cost, String(a.pid), step]);
  }
  lines.push(...alignColumns(rows));
  if (status.agents.length === 0) lines.push("(no agents)");
  for (const q of status.queues) {
    lines.push("", `queue ${q.repository}`);
    if (q.error) {
      lines.push(`  error: ${q.error}`);
      continue;
    }
    lines.push(`  ready: ${q.ready.length === 0 ? "(none)" : q.ready.map((n) => `#${n}`).join(" ")}`);
    for (const w of q.waiting) lines.push(`  waiting #${w.issue}: ${w.reason}`);
    for (const h of q.heldElsewhere)
      lines.push(`  held elsewhere #${h.issue}: ${h.agent}@${h.host}, attempt ${h.attempt}, lease until ${h.leaseUntil}${h.expired ? " (expired)" : ""}`);
  }
  return lines;
}

/** Rows as lines with each column padded to its widest cell (two spaces between); the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - [...cell].length))).join("  "));
}
