import { promises as fs } from "node:fs";
import path from "node:path";

/**
 * Where a host keeps its harness state. One directory, laid out so that
 * several agents on the host share the clone but nothing else:
 *   claims/<owner>--<repo>--issue-N.lock   same-host lockfiles
 *   repos/<owner>/<repo>.git               one bare clone per repository
 *   worktrees/<owner>--<repo>--issue-N     one worktree per issue
 *   warm/<owner>--<repo>--slot-K           idle worktrees kept for the repository's next issues (warm-worktrees.ts)
 *   sessions/<session-id>-attempt-<n>/     prompt, HOME, transcript, stderr
 *   agents/<agent>.json                    liveness of each agent on this host
 *   knowledge/                             the knowledge index's cache (src/runtime/knowledge-cache.ts)
 */
export class StateDir {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /**
   * Creates the root as 0700, and makes an existing one 0700: transcripts,
   * sessions and the clones are the harness's alone, not other users' of the host.
   */
  async ensurePrivate(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await fs.chmod(this.root, 0o700);
  }

  private static key(owner: string, repo: string, issue: number): string {
    return `${owner}--${repo}--issue-${issue}`;
  }

  claims(): string {
    return path.join(this.root, "claims");
  }

  claimName(owner: string, repo: string, issue: number): string {
    return StateDir.key(owner, repo, issue);
  }

  clone(owner: string, repo: string): string {
    return path.join(this.root, "repos", owner, `${repo}.git`);
  }

  /** The repositories this host has a clone of (repos/<owner>/<repo>.git). */
  async clones(): Promise<{ owner: string; repo: string }[]> {
    const list = (dir: string): Promise<string[]> => fs.readdir(dir).catch(() => [] as string[]);
    const out: { owner: string; repo: string }[] = [];
    for (const owner of await list(path.join(this.root, "repos"))) {
      for (const name of await list(path.join(this.root, "repos", owner))) {
        if (name.endsWith(".git")) out.push({ owner, repo: name.slice(0, -".git".length) });
      }
    }
    return out;
  }

  worktree(owner: string, repo: string, issue: number): string {
    return path.join(this.root, "worktrees", StateDir.key(owner, repo, issue));
  }

  /** One directory per attempt of a session: prompt, HOME, transcript, stderr. */
  session(sessionId: string, attempt: number): string {
    return path.join(this.root, "sessions", `${sessionId}-attempt-${attempt}`);
  }

  agentsDir(): string {
    return path.join(this.root, "agents");
  }

  agentFile(agent: string): string {
    return path.join(this.agentsDir(), `${agent}.json`);
  }

  /** The full-text index of the knowledge base, cached between sessions and commands (src/runtime/knowledge-cache.ts). */
  knowledge(): string {
    return path.join(this.root, "knowledge");
  }

  /** The harness's own HOME for git: never the agent's. */
  gitHome(): string {
    return path.join(this.root, "git-home");
  }
}
