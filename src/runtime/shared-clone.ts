import { GitRepository } from "../adapters/git.js";
import { gitLeaseTransport } from "../adapters/git-lease-transport.js";
import type { GitHubClient, RepositoryData } from "../adapters/github-client.js";
import type { LeaseGitTransport } from "../adapters/github-lease.js";
import type { StateDir } from "./state-dir.js";

/** Who the harness's own commits (leftover work, lease records, saved sessions) are by. */
export const HARNESS_IDENTITY = { name: "claude-harness", email: "claude-harness@users.noreply.github.com" };

/** The host's one clone of a repository, shared by every agent (worktrees hang off it). */
export function sharedClone(state: StateDir, github: Pick<GitHubClient, "owner" | "repo">): GitRepository {
  return new GitRepository({ cloneDir: state.clone(github.owner, github.repo), home: state.gitHome(), identity: HARNESS_IDENTITY });
}

/**
 * The repository's data (default branch, clone URL, visibility) read once for one claim and the
 * work that follows it: the lease's pushes and the workspace ask for it, GitHub answers once. A
 * failed read is asked again by the next caller.
 */
export function repositoryOnce(github: Pick<GitHubClient, "getRepository">): () => Promise<RepositoryData> {
  let read: Promise<RepositoryData> | null = null;
  return () => {
    read ??= github.getRepository().catch((error: unknown) => {
      read = null;
      throw error;
    });
    return read;
  };
}

/**
 * Lease writes by git push through the shared clone (no REST write spent), for
 * an agent that works the issue it claims on this host. The repository's URL is
 * read once (`repository`: the claim's reader); the token is asked for at every push.
 */
export function leaseTransport(input: {
  github: GitHubClient;
  state: StateDir;
  gitUrl: (repository: { cloneUrl: string }) => string;
  repository?: () => Promise<RepositoryData>;
}): LeaseGitTransport {
  const repository = input.repository ?? repositoryOnce(input.github);
  return gitLeaseTransport({
    git: sharedClone(input.state, input.github),
    remote: async () => ({ url: input.gitUrl(await repository()), credentials: { token: await input.github.gitToken() } }),
  });
}
