import type { GitHubClient } from "../github-client.js";

/** What the follow-ups read of a pull request: its branches, draft state and mergeability. */
export interface PullState {
  number: number;
  nodeId: string;
  state: string;
  draft: boolean;
  headRef: string;
  headSha: string;
  baseRef: string;
  /** Full names of the head's and the base's repositories (a fork's head differs). */
  headRepo: string | null;
  baseRepo: string | null;
  /** GitHub computes it in the background after a push: null until then. */
  mergeable: boolean | null;
  /** `dirty`, `clean`, `blocked`, `unstable`, `draft`, `behind`, `unknown`, … */
  mergeableState: string;
}

/** `GET /repos/{owner}/{repo}/pulls/{n}`. */
export async function readPullState(github: GitHubClient, number: number): Promise<PullState> {
  const { data } = await github.api.rest.pulls.get({ owner: github.owner, repo: github.repo, pull_number: number });
  return {
    number: data.number,
    nodeId: data.node_id,
    state: data.state,
    draft: data.draft ?? false,
    headRef: data.head.ref,
    headSha: data.head.sha,
    baseRef: data.base.ref,
    headRepo: data.head.repo?.full_name ?? null,
    baseRepo: data.base.repo.full_name,
    mergeable: data.mergeable,
    mergeableState: data.mergeable_state,
  };
}
