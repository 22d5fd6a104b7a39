import { GitRepository } from "../adapters/git.js";
import { gitLeaseTransport } from "../adapters/git-lease-transport.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { LeaseGitTransport } from "../adapters/github-lease.js";
import type { StateDir } from "./state-dir.js";

/** Who the harness's own commits (leftover work, lease records, saved sessions) are by. */
export const HARNESS_IDENTITY = { name: "claude-harness", email: "claude-harness@users.noreply.github.com" };

/** The host's one clone of a repository, shared by every agent (worktrees hang off it). */
export function sharedClone(state: StateDir, github: Pick<GitHubClient, "owner" | "repo">): GitRepository {
  return new GitRepository({ cloneDir: state.clone(github.owner, github.repo), home: state.gitHome(), identity: HARNESS_IDENTITY });
}

/**
 * Lease writes by git push through the shared clone (no REST write spent), for
 * an agent that works the issue it claims on this host. The repository's URL is
 * read once; the token is asked for at every push.
 */
export function leaseTransport(input: { github: GitHubClient; state: StateDir; gitUrl: (repository: { cloneUrl: string }) => string }): LeaseGitTransport {
  let url: Promise<string> | null = null;
  return gitLeaseTransport({
    git: sharedClone(input.state, input.github),
    remote: async () => {
      url ??= input.github.getRepository().then(input.gitUrl, (error: unknown) => {
        url = null;
        throw error;
      });
      return { url: await url, credentials: { token: await input.github.gitToken() } };
    },
  });
}
