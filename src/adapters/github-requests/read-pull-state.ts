import type { FailingCheck } from "../../core/pr-fixes.js";
import type { EtagCache } from "../../core/etag-cache.js";
import type { GitHubClient, PullData } from "../github-client.js";

/** What the follow-ups read of a pull request: its branches, draft state and mergeability. */
export interface PullState {
  number: number;
  nodeId: string;
  state: string;
  draft: boolean;
  headRef: string;
  headSha: string;
  baseRef: string;
  baseSha: string;
  /** Full names of the head's and the base's repositories (a fork's head differs). */
  headRepo: string | null;
  baseRepo: string | null;
  /** GitHub computes it in the background after a push: null until then. */
  mergeable: boolean | null;
  /** `dirty`, `clean`, `blocked`, `unstable`, `draft`, `behind`, `unknown`, … */
  mergeableState: string;
  /** Who opened it: for the agent's pull request, the identity the harness acts as. */
  author: string;
}

/** What the follow-ups need of a pull request as GitHub answers it. */
function pullStateOf(data: PullData): PullState {
  return {
    number: data.number,
    nodeId: data.node_id,
    state: data.state,
    draft: data.draft ?? false,
    headRef: data.head.ref,
    headSha: data.head.sha,
    baseRef: data.base.ref,
    baseSha: data.base.sha,
    headRepo: data.head.repo?.full_name ?? null,
    baseRepo: data.base.repo.full_name,
    mergeable: data.mergeable,
    mergeableState: data.mergeable_state,
    author: data.user.login,
  };
}

/**
 * `GET /repos/{owner}/{repo}/pulls/{n}`; conditional with `cache` (the reconciler's pass, which
 * reads every open pull request of the harness each time: a 304 costs no rate limit).
 */
export async function readPullState(github: GitHubClient, number: number, cache?: EtagCache): Promise<PullState> {
  if (cache) return github.getPullConditional(number, cache, pullStateOf);
  const { data } = await github.api.rest.pulls.get({ owner: github.owner, repo: github.repo, pull_number: number });
  return pullStateOf(data);
}

const GITHUB_ACTIONS = "github-actions";

/** Conclusions of a check run that fail it (success, neutral and skipped do not). */
const FAILED = new Set(["failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"]);

/**
 * The checks failing on a commit: the newest check run of each name whose conclusion fails it
 * (its output's text, else its summary), and the newest commit status of each context in
 * `failure` or `error` (its description); a check run GitHub Actions made carries its job's id
 * (the same as the run's), whose log `readJobLog` reads. Two reads: `GET …/commits/{sha}/check-runs` (100 a
 * page, the first page) and the combined status. Null while any check still runs (CI not done).
 */
export async function readFailingChecks(github: GitHubClient, sha: string): Promise<FailingCheck[] | null> {
  const runs = await github.api.rest.checks.listForRef({ owner: github.owner, repo: github.repo, ref: sha, filter: "latest", per_page: 100 });
  const combined = await github.api.rest.repos.getCombinedStatusForRef({ owner: github.owner, repo: github.repo, ref: sha, per_page: 100 });
  if (runs.data.check_runs.some((r) => r.status !== "completed") || combined.data.statuses.some((s) => s.state === "pending")) return null;
  const failing: FailingCheck[] = [];
  for (const r of runs.data.check_runs) {
    if (!r.conclusion || !FAILED.has(r.conclusion)) continue;
    failing.push({
      name: r.name,
      conclusion: r.conclusion,
      output: r.output.text ?? r.output.summary ?? "",
      url: r.html_url ?? r.details_url ?? null,
      // A GitHub Actions job is a check run of the `github-actions` App with the job's id.
      jobId: r.app?.slug === GITHUB_ACTIONS ? r.id : null,
    });
  }
  for (const s of combined.data.statuses) {
    if (s.state !== "failure" && s.state !== "error") continue;
    failing.push({ name: s.context, conclusion: s.state, output: s.description ?? "", url: s.target_url ?? null });
  }
  return failing;
}
