/**
 * A pull request's mergeability as GitHub reports it on `GET …/pulls/{n}`: computed in the
 * background after its base or head moves (`mergeable: null`, `mergeable_state: "unknown"` until
 * then), from the real repository: `git merge-tree --write-tree` of base and head, exit 1 when
 * they conflict.
 */
import { isFailedConclusion } from "./ci-state.js";
import { runGit } from "./git.js";
import type { FakeContext } from "./http.js";
import type { IssueRecord, PullRecord, RepoRecord } from "./types.js";

/** True when merging `head` into `base` conflicts; null when git could not tell (an unknown commit). */
export async function conflicts(repoPath: string, base: string, head: string): Promise<boolean | null> {
  const r = await runGit(repoPath, ["merge-tree", "--write-tree", "--no-messages", base, head]);
  if (r.code === 0) return false;
  if (r.code === 1) return true;
  return null;
}

export interface Mergeability {
  mergeable: boolean | null;
  rebaseable: boolean | null;
  /** GitHub's `mergeable_state`: dirty, draft, blocked, unstable, clean, or unknown while not computed. */
  mergeable_state: "dirty" | "draft" | "blocked" | "unstable" | "clean" | "unknown";
}

/**
 * The mergeability of an open pull request whose shas were just refreshed from git. A (base,
 * head) pair seen for the first time is computed now, or after `mergeabilityLag` full reads
 * that answer null, as GitHub's background job does. Then the state, in GitHub's order:
 * dirty (conflicts), draft, blocked (a required check or status not successful: branch
 * protection, `fake.setRequiredChecks`), unstable (another check or status failing or pending),
 * clean.
 */
export async function mergeabilityOf(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, pull: PullRecord): Promise<Mergeability> {
  if (issue.state !== "open") return { mergeable: null, rebaseable: null, mergeable_state: "unknown" };
  const ci = fake.store.ci;
  let known = ci.mergeability.get(pull.id);
  if (!known || known.base !== pull.baseSha || known.head !== pull.headSha) {
    known = { base: pull.baseSha, head: pull.headSha, conflicts: null, pending: ci.mergeabilityLag };
    ci.mergeability.set(pull.id, known);
  }
  if (known.pending > 0) {
    known.pending -= 1;
    return { mergeable: null, rebaseable: null, mergeable_state: "unknown" };
  }
  if (known.conflicts === null) known.conflicts = await conflicts(repo.path, pull.baseSha, pull.headSha);
  if (known.conflicts === null) return { mergeable: null, rebaseable: null, mergeable_state: "unknown" };
  const mergeable = !known.conflicts;
  const state = (): Mergeability["mergeable_state"] => {
    if (known.conflicts) return "dirty";
    if (pull.draft) return "draft";
    const key = `${repo.id} ${pull.baseRef}`;
    const required = new Set([...(ci.required.get(key) ?? []), ...(ci.rulesetRequired.get(key) ?? [])]);
    const checks = [
      ...ci.latestRuns(repo.id, pull.headSha).map((r) => ({ name: r.name, ok: r.status === "completed" && !isFailedConclusion(r.conclusion) })),
      ...ci.latestStatuses(repo.id, pull.headSha).map((s) => ({ name: s.context, ok: s.state === "success" })),
    ];
    const passed = new Set(checks.filter((c) => c.ok).map((c) => c.name));
    if ([...required].some((name) => !passed.has(name))) return "blocked";
    if (checks.some((c) => !c.ok)) return "unstable";
    return "clean";
  };
  return { mergeable, rebaseable: mergeable, mergeable_state: state() };
}
