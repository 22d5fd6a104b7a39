import { promises as fs } from "node:fs";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import type { Logger } from "../adapters/logger.js";
import type { StateDir } from "./state-dir.js";

/** How long a session directory is kept after its last change, unless HARNESS_SESSION_RETENTION_DAYS says otherwise. */
export const DEFAULT_SESSION_RETENTION_DAYS = 7;

const DAY_MS = 24 * 60 * 60_000;
const MIN_AGE_MS = 60_000;

/** HARNESS_SESSION_RETENTION_DAYS: a number of days; 0 keeps nothing once the session's agent is done with it. */
export function sessionRetentionMs(env: NodeJS.ProcessEnv): number {
  const value = env.HARNESS_SESSION_RETENTION_DAYS;
  if (value === undefined || value.trim() === "") return DEFAULT_SESSION_RETENTION_DAYS * DAY_MS;
  const days = Number(value);
  if (!Number.isFinite(days) || days < 0) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `HARNESS_SESSION_RETENTION_DAYS must be a number of days (0 or more), not "${value}".`,
      fix: `Set HARNESS_SESSION_RETENTION_DAYS to a number like ${DEFAULT_SESSION_RETENTION_DAYS}, or unset it.`,
    });
  }
  return days * DAY_MS;
}

/** Session ids of the agents that are working on this host now (their liveness files). */
async function activeSessions(state: StateDir): Promise<Set<string>> {
  const active = new Set<string>();
  for (const name of await fs.readdir(state.agentsDir()).catch(() => [] as string[])) {
    if (!name.endsWith(".json")) continue;
    try {
      const record = JSON.parse(await fs.readFile(path.join(state.agentsDir(), name), "utf8")) as { sessionId?: unknown };
      if (typeof record.sessionId === "string") active.add(record.sessionId);
    } catch {
      // being rewritten or gone: its session is recent anyway
    }
  }
  return active;
}

/** The newest change in a session directory: the directory itself and the files in it (the transcript grows all session long). */
async function lastChange(dir: string): Promise<number | null> {
  try {
    let newest = (await fs.stat(dir)).mtimeMs;
    for (const name of await fs.readdir(dir)) {
      const stat = await fs.lstat(path.join(dir, name)).catch(() => null);
      if (stat !== null) newest = Math.max(newest, stat.mtimeMs);
    }
    return newest;
  } catch {
    return null;
  }
}

/**
 * Session directories (prompt, the agent's HOME, transcript, stderr) are kept
 * `retentionMs` after their last change, for `harness summarize` and for people
 * reading what happened; what a later attempt needs lives in the repository
 * (refs/harness/sessions/issue-N). Older ones are removed, never one of an
 * agent working on this host now. Without this a busy host fills its disk and
 * its agents stop with EHARNESS_DISK.
 */
export async function pruneSessions(state: StateDir, input: { retentionMs: number; now: number; log: Logger }): Promise<string[]> {
  const root = path.join(state.root, "sessions");
  const names = await fs.readdir(root).catch(() => [] as string[]);
  if (names.length === 0) return [];
  const active = await activeSessions(state);
  const removed: string[] = [];
  for (const name of names) {
    const session = /^(.+)-attempt-\d+$/.exec(name)?.[1];
    if (session === undefined || active.has(session)) continue;
    const dir = path.join(root, name);
    const changed = await lastChange(dir);
    // Never one younger than a minute: an agent creates its directory a moment before its liveness file names it.
    if (changed === null || input.now - changed < Math.max(input.retentionMs, MIN_AGE_MS)) continue;
    await fs.rm(dir, { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length > 0) input.log.info({ removed: removed.length, retentionDays: input.retentionMs / DAY_MS }, "removed old session directories");
  return removed;
}
