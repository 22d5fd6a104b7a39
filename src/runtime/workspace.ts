import { promises as fs } from "node:fs";
import { HarnessError } from "../core/errors.js";
import type { StepClock } from "../core/step-clock.js";
import type { GitRepository, WorktreeHandle } from "../adapters/git.js";
import type { GitHubClient, RepositoryData } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { KNOWLEDGE_REF, type RemoteKnowledge } from "./knowledge-ref.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";
import { parkWorktree, takeWarmWorktree, warmWorktreeLimit } from "./warm-worktrees.js";

/**
 * What the CLI (and the tools it runs) read as settings, instructions or hooks
 * when a session starts, anywhere in the tree: a session that commits them to
 * the issue's branch must not set the rules of the next session.
 */
const AGENT_CONFIG_NAMES = new Set([".claude", ".mcp.json", ".claude.json", "CLAUDE.md", "CLAUDE.local.md", ".gitmodules", ".husky", ".ripgreprc"]);

/** Whether a repository path is, or lies inside, agent configuration (AGENT_CONFIG_NAMES, at any depth). */
export function isAgentConfig(repoPath: string): boolean {
  return repoPath.split("/").some((segment) => AGENT_CONFIG_NAMES.has(segment));
}

/** Kept paths that are not agent configuration: a cache may survive into the next session, its rules never. */
function keepable(paths: readonly string[]): string[] {
  return paths.filter((p) => !isAgentConfig(p));
}

/** The issue's git worktree on its branch, in the host's shared clone of the repository. */
export interface Workspace {
  git: GitRepository;
  worktree: WorktreeHandle;
  repository: RepositoryData;
  /** The push URL (no credential in it; the token goes per command). */
  url: string;
  branch: string;
  /** Remote heads at preparation: the default branch and, when it exists, the issue's branch. */
  heads: Map<string, string>;
  /** refs/harness/knowledge on the remote at preparation, and whether the clone's copy was brought to it then. */
  knowledge: RemoteKnowledge;
  /** How the worktree was made: a parked one reused (warm) or a new one (cold), and how long the stage took. */
  ready: WorkspaceReady;
}

export interface WorkspaceReady {
  warm: boolean;
  /** Milliseconds from the start of preparation to the worktree ready (fetch included). */
  ms: number;
}

export interface WorkspaceInput {
  github: GitHubClient;
  state: StateDir;
  gitUrl: (repository: { cloneUrl: string }) => string;
  issue: number;
  branch: string;
  /** For the error's fix: the label that queues the issue again. */
  queuedLabel: string;
  clock: StepClock;
  log: Logger;
  /** Untracked paths a reused worktree keeps (`workspace.keepPaths`); none by default. */
  keepPaths?: readonly string[];
  /** Parked worktrees per repository on this host; HARNESS_WARM_WORKTREES by default (0: never reuse). */
  warmLimit?: number;
  /** The repository's data as the claim read it (src/runtime/shared-clone.ts `repositoryOnce`); read here without it. */
  repository?: () => Promise<RepositoryData>;
}

/**
 * Prepares the worktree: the shared clone fetched where it is behind, then a
 * worktree on `branch`, continuing the branch's last pushed head or starting
 * from the default branch.
 */
export async function prepareWorkspace(input: WorkspaceInput): Promise<Workspace> {
  const { github, state, clock, branch } = input;
  const started = performance.now();
  const warmLimit = input.warmLimit ?? warmWorktreeLimit();
  const git = sharedClone(state, github);
  const repository = await (input.repository ?? (() => github.getRepository()))();
  const url = input.gitUrl(repository);
  const token = await github.gitToken();
  clock.mark("repository");
  await fs.mkdir(state.gitHome(), { recursive: true });
  await git.ensureClone();
  clock.mark("git.clone");
  // The branches and refs/harness/knowledge in one ls-remote, and what is behind in one fetch: the
  // knowledge step then finds its ref fetched (src/runtime/knowledge-ref.ts `syncKnowledge`).
  const remote = await git.remoteRefs(url, [`refs/heads/${repository.defaultBranch}`, `refs/heads/${branch}`, KNOWLEDGE_REF], { token });
  const heads = new Map<string, string>();
  for (const [ref, sha] of remote) if (ref.startsWith("refs/heads/")) heads.set(ref.slice("refs/heads/".length), sha);
  const knowledgeHead = remote.get(KNOWLEDGE_REF) ?? null;
  clock.mark("git.lsRemote");
  if (!heads.has(repository.defaultBranch)) {
    throw new HarnessError("EHARNESS_NO_DEFAULT_BRANCH", {
      message: `The repository ${github.fullName} has no branch ${repository.defaultBranch} (its default branch), so there is nothing to start from.`,
      fix: `Push a first commit to ${repository.defaultBranch}, then label the issue ${input.queuedLabel} again.`,
    });
  }
  const current = await git.fetchChanged(url, heads, { token }, knowledgeHead === null ? new Map() : new Map([[KNOWLEDGE_REF, knowledgeHead]]));
  const knowledge: RemoteKnowledge = { head: knowledgeHead, fetched: knowledgeHead === null || current.has(KNOWLEDGE_REF) };
  clock.mark("git.fetch");
  const startPoint = heads.has(branch) ? `refs/remotes/origin/${branch}` : `refs/remotes/origin/${repository.defaultBranch}`;
  const dir = state.worktree(github.owner, github.repo, input.issue);
  // A worktree an earlier issue of this repository left on this host, reset and cleaned, else a new one.
  const warm =
    warmLimit > 0
      ? await takeWarmWorktree({
          git,
          state,
          owner: github.owner,
          repo: github.repo,
          target: dir,
          branch,
          startPoint,
          keepPaths: keepable(input.keepPaths ?? []),
          log: input.log,
        })
      : null;
  const worktree = warm?.worktree ?? (await git.addWorktree(dir, branch, startPoint));
  clock.mark(warm ? "git.worktreeReused" : "git.worktree");
  if (heads.has(branch)) {
    // Continuing the branch: its agent configuration comes from the default branch, as a writer left it.
    const reset = await git.resetPathsTo(worktree, `refs/remotes/origin/${repository.defaultBranch}`, isAgentConfig);
    if (reset.length > 0) input.log.warn({ issue: input.issue, paths: reset }, "agent configuration the branch changed is read from the default branch");
    clock.mark("git.agentConfig");
  }
  const ready: WorkspaceReady = { warm: warm !== null, ms: Math.round(performance.now() - started) };
  input.log.info({ issue: input.issue, worktree: worktree.path, startPoint, warm: ready.warm, kept: warm?.kept ?? [], ms: ready.ms }, "worktree ready");
  return { git, worktree, repository, url, branch, heads, knowledge, ready };
}

/**
 * Parks the issue's worktree for the repository's next issue on this host (up
 * to HARNESS_WARM_WORKTREES of them; it is cleaned when taken), else removes it
 * if it is there (also one a failed preparation left half made).
 */
export async function removeWorkspace(input: { github: GitHubClient; state: StateDir; issue: number; log: Logger; warmLimit?: number }): Promise<void> {
  const dir = input.state.worktree(input.github.owner, input.github.repo, input.issue);
  const there = await fs.stat(dir).then(
    () => true,
    () => false,
  );
  if (!there) return;
  const git = sharedClone(input.state, input.github);
  let limit = 0;
  try {
    limit = input.warmLimit ?? warmWorktreeLimit();
  } catch (error) {
    input.log.warn({ err: error }, "HARNESS_WARM_WORKTREES is invalid: the worktree is removed, not kept");
  }
  const parked = await parkWorktree({ git, state: input.state, owner: input.github.owner, repo: input.github.repo, dir, limit }).catch((error: unknown) => {
    input.log.warn({ err: error }, "worktree not parked");
    return false;
  });
  if (parked) return;
  await git.removeWorktree(dir).catch((error: unknown) => input.log.warn({ err: error }, "worktree not removed"));
}
