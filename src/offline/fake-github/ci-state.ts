/**
 * What the fake keeps of CI and review on commits and pull requests: check runs grouped in
 * check suites (one suite per app and head commit, as GitHub creates them), commit statuses,
 * pull request reviews, the branch protection's required contexts, and the mergeability
 * GitHub computes in the background after a push.
 */
import type { UserRecord } from "./types.js";

export const checkStatuses = ["queued", "in_progress", "completed", "waiting", "requested", "pending"] as const;
export type CheckStatus = (typeof checkStatuses)[number];
export const checkConclusions = ["action_required", "cancelled", "timed_out", "failure", "neutral", "success", "skipped", "stale"] as const;
export type CheckConclusion = (typeof checkConclusions)[number];
export const statusStates = ["error", "failure", "pending", "success"] as const;
export type StatusState = (typeof statusStates)[number];
export type ReviewState = "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "PENDING";

/** Who made a check: the App of an installation token, or GitHub Actions (the control API and other tokens). */
export type CheckApp = "harness" | "github-actions";

export interface CheckSuiteRecord {
  id: number;
  repoId: number;
  app: CheckApp;
  headSha: string;
  headBranch: string | null;
  createdAt: number;
  updatedAt: number;
  /** Set once every run of the suite completed, so `check_suite.completed` is delivered once per completion. */
  completedNotified: boolean;
}

export interface CheckRunRecord {
  id: number;
  suiteId: number;
  name: string;
  headSha: string;
  status: CheckStatus;
  conclusion: CheckConclusion | null;
  detailsUrl: string | null;
  externalId: string | null;
  startedAt: number | null;
  completedAt: number | null;
  output: { title: string | null; summary: string | null; text: string | null };
}

export interface StatusRecord {
  id: number;
  repoId: number;
  sha: string;
  state: StatusState;
  context: string;
  description: string | null;
  targetUrl: string | null;
  creator: UserRecord;
  createdAt: number;
  updatedAt: number;
}

export interface ReviewRecord {
  id: number;
  repoId: number;
  pullNumber: number;
  user: UserRecord;
  body: string;
  state: ReviewState;
  commitId: string;
  submittedAt: number;
}

/** GitHub's order of check conclusions: a suite concludes as the first of these any of its runs has. */
const CONCLUSION_PRIORITY: readonly CheckConclusion[] = ["action_required", "cancelled", "timed_out", "failure", "neutral", "success", "skipped", "stale"];

/** A failed check: what blocks a required check (everything but success, neutral and skipped). */
export const isFailedConclusion = (c: CheckConclusion | null): boolean =>
  c === "failure" || c === "timed_out" || c === "cancelled" || c === "action_required" || c === "stale";

/** A GitHub Actions job's log (the job is the check run of the same id); `expired` past the retention period or deleted: 410. */
export interface JobLogRecord {
  text: string;
  expired: boolean;
}

export class CiState {
  readonly suites = new Map<number, CheckSuiteRecord>();
  readonly runs = new Map<number, CheckRunRecord>();
  readonly statuses: StatusRecord[] = [];
  readonly reviews: ReviewRecord[] = [];
  /** Branch protection's required status checks (contexts and check names), by `repoId branch`. */
  readonly required = new Map<string, string[]>();
  /** A repository ruleset's required status checks (rule `required_status_checks`), by `repoId branch`. */
  readonly rulesetRequired = new Map<string, string[]>();
  /**
   * Mergeability as computed for a pull request's (base, head) pair, by pull request id; a
   * pair not computed yet reads as `mergeable: null` (`pending` more full reads: GitHub's lag).
   */
  readonly mergeability = new Map<number, { base: string; head: string; conflicts: boolean | null; pending: number }>();
  /** The logs of GitHub Actions jobs, by job id (= check run id); a job without one answers 404. */
  readonly jobLogs = new Map<number, JobLogRecord>();
  /** Signed download URLs handed out in `Location` (token → job id and when the URL expires: one minute, as GitHub's). */
  readonly logDownloads = new Map<string, { jobId: number; expiresAt: number }>();
  /** Full reads of a pull request that answer `mergeable: null` after its base or head moved (0: computed on first read). */
  mergeabilityLag = 0;

  suiteFor(repoId: number, app: CheckApp, headSha: string): CheckSuiteRecord | undefined {
    return [...this.suites.values()].find((s) => s.repoId === repoId && s.app === app && s.headSha === headSha);
  }

  runsOf(suiteId: number): CheckRunRecord[] {
    return [...this.runs.values()].filter((r) => r.suiteId === suiteId);
  }

  /** GitHub's suite status: completed when every run is, queued while none started, else in progress. */
  suiteStatus(suiteId: number): CheckStatus {
    const runs = this.runsOf(suiteId);
    if (runs.length > 0 && runs.every((r) => r.status === "completed")) return "completed";
    if (runs.every((r) => r.status === "queued")) return "queued";
    return "in_progress";
  }

  suiteConclusion(suiteId: number): CheckConclusion | null {
    if (this.suiteStatus(suiteId) !== "completed") return null;
    const found = new Set(this.runsOf(suiteId).map((r) => r.conclusion));
    return CONCLUSION_PRIORITY.find((c) => found.has(c)) ?? null;
  }

  /** The newest status of each context on a commit, newest first (what the combined status lists). */
  latestStatuses(repoId: number, sha: string): StatusRecord[] {
    const seen = new Set<string>();
    const out: StatusRecord[] = [];
    for (const s of [...this.statuses].reverse()) {
      if (s.repoId !== repoId || s.sha !== sha || seen.has(s.context)) continue;
      seen.add(s.context);
      out.push(s);
    }
    return out;
  }

  /** GitHub's combined state: failure on any error or failure, pending on any pending or none at all, else success. */
  combinedState(repoId: number, sha: string): "failure" | "pending" | "success" {
    const latest = this.latestStatuses(repoId, sha);
    if (latest.some((s) => s.state === "error" || s.state === "failure")) return "failure";
    if (latest.length === 0 || latest.some((s) => s.state === "pending")) return "pending";
    return "success";
  }

  /** The newest run of each check name on a commit (a re-run replaces the earlier one). */
  latestRuns(repoId: number, sha: string): CheckRunRecord[] {
    const byName = new Map<string, CheckRunRecord>();
    for (const run of [...this.runs.values()].sort((a, b) => a.id - b.id)) {
      const suite = this.suites.get(run.suiteId);
      if (suite?.repoId === repoId && run.headSha === sha) byName.set(run.name, run);
    }
    return [...byName.values()];
  }
}
