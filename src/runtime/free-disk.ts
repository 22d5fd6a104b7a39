import { promises as fs } from "node:fs";
import { HarnessError } from "../core/errors.js";

export const DEFAULT_MIN_FREE_DISK_MB = 2048;

export type StatFs = (dir: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

/** Free space (MiB) available to an unprivileged user on the file system of `dir`. */
export async function freeDiskMb(dir: string, statfs: StatFs = (d) => fs.statfs(d)): Promise<number> {
  const s = await statfs(dir);
  return (Number(s.bavail) * Number(s.bsize)) / (1024 * 1024);
}

/**
 * Refuses to start agents on a nearly full disk: worktrees, transcripts and the
 * CLI's own state would fail half-way, and a half-written worktree is worse
 * than an agent that never started. `dir` must exist (the state directory).
 */
export async function assertFreeDisk(dir: string, minMb: number, statfs?: StatFs): Promise<number> {
  const free = await freeDiskMb(dir, statfs);
  if (free < minMb) {
    throw new HarnessError("EHARNESS_DISK", {
      message: `Only ${Math.floor(free)} MiB are free on the file system of ${dir}; the worker needs at least ${minMb} MiB to start its agents.`,
      fix: "Free disk space (old worktrees, session transcripts under the state directory, build caches), point HARNESS_STATE_DIR at a larger disk, or lower HARNESS_MIN_FREE_DISK_MB.",
    });
  }
  return free;
}
