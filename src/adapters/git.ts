import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../core/errors.js";

/**
 * Git for the harness: one shared bare clone per repository, a worktree per
 * issue. The agent can write anywhere its user can, including the clone's
 * config, hooks and the worktree's `.git` pointers, so every command here:
 * - runs with hooks and fsmonitor off and no global or system config;
 * - names the git dir and work tree explicitly instead of following `.git`;
 * - is preceded, before anything is published, by restoring the clone's config
 *   and the worktree's administrative files to what the harness wrote.
 * Credentials are handed to the one command that needs them, through the
 * environment of that command only; no remote URL or helper is stored.
 */

export interface GitCredentials {
  /** Token for HTTP Basic auth as `x-access-token`, the way GitHub wants it. */
  token: string;
}

const SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"];

/** What git says when another process holds a lock file of the shared clone. */
const LOCK_CONTENTION =
  /cannot lock ref|Unable to create '[^']*\.lock'|another git process seems to be running|unable to update local ref|could not lock config file/i;
const LOCK_RETRIES = 8;

function baseEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
  };
}

function credentialEnv(credentials: GitCredentials | undefined): Record<string, string> {
  if (!credentials) return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "credential.helper", GIT_CONFIG_VALUE_0: "" };
  const basic = Buffer.from(`x-access-token:${credentials.token}`).toString("base64");
  return {
    GIT_CONFIG_COUNT: "2",
    GIT_CONFIG_KEY_0: "credential.helper",
    GIT_CONFIG_VALUE_0: "",
    GIT_CONFIG_KEY_1: "http.extraHeader",
    GIT_CONFIG_VALUE_1: `Authorization: Basic ${basic}`,
  };
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Identity of the commits the harness makes. */
export interface GitIdentity {
  name: string;
  email: string;
}

export interface WorktreeHandle {
  path: string;
  gitDir: string;
  branch: string;
}

export class GitRepository {
  readonly cloneDir: string;
  private readonly home: string;
  private readonly identity: GitIdentity;
  private configSnapshot: string | undefined;

  constructor(options: { cloneDir: string; home: string; identity: GitIdentity }) {
    this.cloneDir = options.cloneDir;
    this.home = options.home;
    this.identity = options.identity;
  }

  /** Runs git; throws EHARNESS_GIT on failure unless `allowFailure`. */
  async run(
    args: string[],
    options: { gitDir?: string; workTree?: string; credentials?: GitCredentials; allowFailure?: boolean; cwd?: string; input?: string } = {},
  ): Promise<GitResult> {
    const location = [`--git-dir=${options.gitDir ?? this.cloneDir}`, ...(options.workTree ? [`--work-tree=${options.workTree}`] : [])];
    let out: GitResult;
    // Agents share the clone: git refuses rather than waits when another
    // process holds one of its lock files, so such a failure is tried again.
    for (let attempt = 1; ; attempt += 1) {
      const result = await execa("git", [...SAFE_CONFIG, ...location, ...args], {
        cwd: options.cwd ?? options.workTree ?? this.cloneDir,
        env: { ...baseEnv(this.home), ...credentialEnv(options.credentials) },
        extendEnv: false,
        reject: false,
        stripFinalNewline: true,
        ...(options.input !== undefined ? { input: options.input } : {}),
        maxBuffer: 64 * 1024 * 1024,
      });
      out = { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? 1 };
      if (out.exitCode === 0 || attempt >= LOCK_RETRIES || !LOCK_CONTENTION.test(out.stderr)) break;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.floor(Math.random() * 50)));
    }
    if (out.exitCode !== 0 && !options.allowFailure) {
      throw new HarnessError("EHARNESS_GIT", {
        message: `git ${args[0] ?? ""} failed (exit ${out.exitCode}): ${redactUrl(out.stderr).slice(0, 500)}`,
        fix: "Check the repository and the state directory; the log has the full git output.",
      });
    }
    return out;
  }

  /** Creates the shared bare clone if needed and records its config. */
  async ensureClone(): Promise<void> {
    const exists = await fs.stat(path.join(this.cloneDir, "HEAD")).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await fs.mkdir(this.home, { recursive: true });
      await fs.mkdir(this.cloneDir, { recursive: true });
      await execa("git", ["init", "--bare", "--quiet", this.cloneDir], { env: baseEnv(this.home), extendEnv: false });
      await this.run(["config", "user.name", this.identity.name]);
      await this.run(["config", "user.email", this.identity.email]);
      await this.run(["config", "gc.auto", "0"]);
    }
    await this.snapshotConfig();
  }

  private async snapshotConfig(): Promise<void> {
    this.configSnapshot = await fs.readFile(path.join(this.cloneDir, "config"), "utf8");
  }

  /** Puts back the clone's config as the harness wrote it. */
  async restoreConfig(): Promise<void> {
    if (this.configSnapshot === undefined) await this.snapshotConfig();
    const file = path.join(this.cloneDir, "config");
    const current = await fs.readFile(file, "utf8").catch(() => "");
    if (current !== this.configSnapshot) {
      const temp = `${file}.harness-restore`;
      await fs.writeFile(temp, this.configSnapshot ?? "");
      await fs.rename(temp, file);
    }
  }

  /** Heads of the given branches on the remote; a missing branch is absent from the map. */
  async remoteHeads(url: string, branches: string[], credentials?: GitCredentials): Promise<Map<string, string>> {
    const refs = branches.map((b) => `refs/heads/${b}`);
    const result = await this.run(["ls-remote", url, ...refs], { credentials });
    const heads = new Map<string, string>();
    for (const line of result.stdout.split("\n")) {
      const [sha, ref] = line.split("\t");
      if (sha && ref?.startsWith("refs/heads/")) heads.set(ref.slice("refs/heads/".length), sha);
    }
    return heads;
  }

  /**
   * Fetches the branches whose remote-tracking ref is not already at the given
   * head: agents sharing a clone mostly find the default branch fetched by
   * another, and a fetch takes the clone's locks.
   */
  async fetchChanged(url: string, heads: Map<string, string>, credentials?: GitCredentials): Promise<void> {
    const stale: string[] = [];
    for (const [branch, sha] of heads) {
      const local = await this.run(["rev-parse", "--verify", "--quiet", `refs/remotes/origin/${branch}^{commit}`], { allowFailure: true });
      if (local.stdout.trim() !== sha) stale.push(branch);
    }
    await this.fetchBranches(url, stale, credentials);
  }

  async fetchBranches(url: string, branches: string[], credentials?: GitCredentials): Promise<void> {
    if (branches.length === 0) return;
    const specs = branches.map((b) => `+refs/heads/${b}:refs/remotes/origin/${b}`);
    await this.run(["fetch", "--quiet", "--no-tags", url, ...specs], { credentials });
  }

  /** A fresh worktree at `dir` on `branch`, starting at `startPoint`. */
  async addWorktree(dir: string, branch: string, startPoint: string): Promise<WorktreeHandle> {
    await this.removeWorktree(dir);
    await this.run(["worktree", "add", "--quiet", "--force", "--no-track", "-B", branch, dir, startPoint]);
    // Read the admin dir now, before any agent could rewrite the `.git` file.
    const pointer = await fs.readFile(path.join(dir, ".git"), "utf8");
    const gitDir = pointer.replace(/^gitdir:\s*/, "").trim();
    if (path.dirname(gitDir) !== path.join(this.cloneDir, "worktrees")) {
      throw new HarnessError("EHARNESS_GIT", {
        message: `The new worktree at ${dir} points at an unexpected git dir ${gitDir}.`,
        fix: "Remove the state directory's clone so the harness recreates it.",
      });
    }
    return { path: dir, gitDir, branch };
  }

  /**
   * Puts back what an agent could have changed to redirect the harness's git:
   * the clone's config and the worktree's pointer files.
   */
  async sanitize(worktree: WorktreeHandle): Promise<void> {
    await this.restoreConfig();
    await fs.writeFile(path.join(worktree.gitDir, "commondir"), "../..\n");
    await fs.writeFile(path.join(worktree.gitDir, "gitdir"), `${path.join(worktree.path, ".git")}\n`);
    await fs.rm(path.join(worktree.gitDir, "config.worktree"), { force: true });
  }

  /** Commits everything the agent left uncommitted. Returns the new head or null when clean. */
  async commitAll(worktree: WorktreeHandle, message: string): Promise<string | null> {
    await this.sanitize(worktree);
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    await this.run(["add", "--all"], at);
    const staged = await this.run(["diff", "--cached", "--quiet"], { ...at, allowFailure: true });
    if (staged.exitCode === 0) return null;
    await this.run(
      [
        "-c",
        `user.name=${this.identity.name}`,
        "-c",
        `user.email=${this.identity.email}`,
        "-c",
        "commit.gpgsign=false",
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        message,
      ],
      at,
    );
    return (await this.run(["rev-parse", "HEAD"], at)).stdout.trim();
  }

  async head(worktree: WorktreeHandle): Promise<string> {
    return (await this.run(["rev-parse", "HEAD"], { gitDir: worktree.gitDir, workTree: worktree.path })).stdout.trim();
  }

  /** Whether the clone has the commit `sha`. */
  async hasCommit(sha: string): Promise<boolean> {
    return (await this.run(["cat-file", "-e", `${sha}^{commit}`], { allowFailure: true })).exitCode === 0;
  }

  async countCommits(range: string): Promise<number> {
    const out = await this.run(["rev-list", "--count", range]);
    return Number.parseInt(out.stdout.trim(), 10) || 0;
  }

  /**
   * Pushes the branch without force. A rejection (the remote moved) is
   * EHARNESS_PUSH_REJECTED; the local commits stay where they are.
   */
  async push(url: string, worktree: WorktreeHandle, credentials: GitCredentials): Promise<void> {
    await this.sanitize(worktree);
    const result = await this.run(["push", "--quiet", "--porcelain", url, `refs/heads/${worktree.branch}:refs/heads/${worktree.branch}`], {
      credentials,
      allowFailure: true,
    });
    if (result.exitCode !== 0) {
      const rejected = /rejected|non-fast-forward|fetch first|\[remote rejected\]/i.test(result.stdout + result.stderr);
      throw new HarnessError(rejected ? "EHARNESS_PUSH_REJECTED" : "EHARNESS_GIT", {
        message: `Pushing ${worktree.branch} failed: ${redactUrl(result.stderr || result.stdout).slice(0, 500)}`,
        fix: rejected
          ? `The remote branch ${worktree.branch} has commits this agent does not have; the harness never force-pushes. Merge or delete the remote branch, then /retry.`
          : "Check the harness's access to the repository (contents: write) and the network, then /retry.",
      });
    }
    await this.run(["update-ref", `refs/remotes/origin/${worktree.branch}`, `refs/heads/${worktree.branch}`]);
  }

  /** A commit of `tree` with `parents`, made by the harness's identity, in the clone. */
  async commitTree(tree: string, parents: string[], message: string): Promise<string> {
    const args = [
      "-c",
      `user.name=${this.identity.name}`,
      "-c",
      `user.email=${this.identity.email}`,
      "commit-tree",
      tree,
      ...parents.flatMap((p) => ["-p", p]),
      "-m",
      message,
    ];
    return (await this.run(args)).stdout.trim();
  }

  /**
   * Compare-and-swap of a remote ref by git: a push without force lands only
   * when `sha` descends from the remote's current value. An unclear failure is
   * settled by reading the remote back.
   */
  async pushRef(url: string, sha: string, ref: string, credentials: GitCredentials): Promise<"landed" | "rejected" | "unknown"> {
    const result = await this.run(["push", "--quiet", "--porcelain", url, `${sha}:${ref}`], { credentials, allowFailure: true });
    if (result.exitCode === 0) return "landed";
    // A non-fast-forward is the CAS failing; a "[remote rejected]" (a host that
    // refuses the ref namespace, a hook) is not an answer about the lease.
    if (/non-fast-forward|fetch first|stale info|\[rejected\]/i.test(result.stdout + result.stderr)) return "rejected";
    const now = await this.run(["ls-remote", url, ref], { credentials, allowFailure: true });
    if (now.exitCode !== 0) return "unknown";
    return now.stdout.split("\t")[0]?.trim() === sha ? "landed" : "unknown";
  }

  async removeWorktree(dir: string): Promise<void> {
    await this.run(["worktree", "remove", "--force", "--force", dir], { allowFailure: true });
    await fs.rm(dir, { recursive: true, force: true });
    await this.run(["worktree", "prune"], { allowFailure: true });
  }
}

/** Hides credentials that git may echo back inside URLs. */
export function redactUrl(text: string): string {
  return text.replace(/(https?:\/\/)[^/\s@]+@/g, "$1***@");
}
