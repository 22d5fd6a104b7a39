import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../core/errors.js";
import { needsFullText, readWorkflowRefusal, WORKFLOW_PUSH_REFUSAL, type ChangedPath, type GitFileMode } from "../core/publish-gate.js";

/**
 * Git for the harness: one shared bare clone per repository, a worktree per
 * issue. The agent works through an "agent git dir" of its own (see
 * `prepareAgentGit`) and, in a sandbox, never sees the clone; without one it
 * can write anywhere its user can. So every command here, whatever the backend:
 * - runs with hooks, fsmonitor, the HOME and system attribute files, every
 *   transport but http(s), and global and system config off, by command-line
 *   config that wins over any file (`HARDENING`);
 * - names the git dir and work tree explicitly instead of following `.git`;
 * - is preceded by putting back the clone's config as the harness writes it
 *   (the whole file: drivers, `url.*.insteadOf`, helpers, includes) and
 *   removing its `info/attributes`, so no filter, diff or merge driver and no
 *   URL rewrite comes from a file the agent could have written;
 * - before anything is published, also restores the worktree's administrative
 *   files to what the harness wrote.
 * Credentials are handed to the one command that needs them, through the
 * environment of that command only; no remote URL or helper is stored.
 */

export interface GitCredentials {
  /** Token for HTTP Basic auth as `x-access-token`, the way GitHub wants it. */
  token: string;
}

/**
 * Command-line config of every harness git command. Command-line config wins
 * over the repository's, so none of these can be turned back on by a file.
 * Only http and https may be used as transports (the harness talks to GitHub,
 * or the offline fake on http); `ext::`, local paths, ssh, git:// and fd are
 * refused even when a repository config allows them.
 */
export const HARDENING: readonly string[] = [
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.attributesFile=/dev/null",
  "protocol.allow=never",
  "protocol.https.allow=always",
  "protocol.http.allow=always",
  ...["ext", "file", "ssh", "git", "fd"].map((transport) => `protocol.${transport}.allow=never`),
].flatMap((setting) => ["-c", setting]);

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
    GIT_ATTR_NOSYSTEM: "1",
    GIT_NO_REPLACE_OBJECTS: "1",
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
  /** The worktree's administrative dir in the clone: the harness's, never the agent's. */
  gitDir: string;
  branch: string;
}

/** Who the agent's commits in its own git dir are by; the harness never publishes those commits. */
export const AGENT_IDENTITY: GitIdentity = { name: "claude-harness agent", email: "claude-harness-agent@users.noreply.github.com" };

/** A value of a git config file, quoted so that any name or address reads back as written. */
function configValue(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new HarnessError("EHARNESS_GIT", {
      message: `A git identity may not contain a line break or NUL: ${JSON.stringify(value)}.`,
      fix: "Set a one-line name and e-mail address for the harness's commits.",
    });
  }
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function configFile(bare: boolean, identity: GitIdentity, extra = ""): string {
  return [
    "[core]",
    "\trepositoryformatversion = 0",
    "\tfilemode = true",
    `\tbare = ${bare}`,
    "[user]",
    `\tname = ${configValue(identity.name)}`,
    `\temail = ${configValue(identity.email)}`,
    extra,
  ].join("\n");
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Writes `content` to `file` by a rename, so a concurrent reader sees the old file or the new one.
 * Needed for a worktree's admin files too: another agent's `git worktree prune` on the same clone
 * deletes the whole admin dir of a worktree whose `gitdir` file it reads empty ("invalid gitdir
 * file"), which a plain truncate-and-write allows for an instant.
 */
async function replaceFile(file: string, content: string): Promise<void> {
  const temp = `${file}.harness-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(temp, content);
  await fs.rename(temp, file);
}

export class GitRepository {
  readonly cloneDir: string;
  private readonly home: string;
  private readonly identity: GitIdentity;
  /** The clone's whole config as the harness writes it; any other content is the agent's and is put back. */
  private readonly cloneConfig: string;

  constructor(options: { cloneDir: string; home: string; identity: GitIdentity }) {
    this.cloneDir = options.cloneDir;
    this.home = options.home;
    this.identity = options.identity;
    this.cloneConfig = configFile(true, options.identity, "[gc]\n\tauto = 0\n");
  }

  /** The clone's object store: what an agent git dir borrows by `objects/info/alternates`, to be mounted read-only in a sandbox. */
  get cloneObjectsDir(): string {
    return path.join(this.cloneDir, "objects");
  }

  /**
   * Runs git; throws EHARNESS_GIT on failure unless `allowFailure`. Before the
   * command the clone's config and `info/attributes` are put back to what the
   * harness wrote (`restoreConfig`), so no command, with credentials or without,
   * reads a driver, URL rewrite, helper or attribute the agent planted there.
   */
  async run(
    args: string[],
    options: {
      gitDir?: string;
      workTree?: string;
      credentials?: GitCredentials;
      allowFailure?: boolean;
      cwd?: string;
      input?: string;
      /**
       * A private index (GIT_INDEX_FILE): the one piece of git's environment a caller may set; the rest
       * (config, attributes, replace objects, prompts, credentials) stays the harness's own.
       */
      indexFile?: string;
    } = {},
  ): Promise<GitResult> {
    const location = [`--git-dir=${options.gitDir ?? this.cloneDir}`, ...(options.workTree ? [`--work-tree=${options.workTree}`] : [])];
    let out: GitResult;
    // Agents share the clone: git refuses rather than waits when another
    // process holds one of its lock files, so such a failure is tried again.
    for (let attempt = 1; ; attempt += 1) {
      await this.restoreConfig();
      const result = await execa("git", [...HARDENING, ...location, ...args], {
        cwd: options.cwd ?? options.workTree ?? this.cloneDir,
        env: {
          ...baseEnv(this.home),
          ...credentialEnv(options.credentials),
          ...(options.indexFile !== undefined ? { GIT_INDEX_FILE: options.indexFile } : {}),
        },
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

  /** Creates the shared bare clone if needed, with the config the harness writes. */
  async ensureClone(): Promise<void> {
    if (!(await exists(path.join(this.cloneDir, "HEAD")))) {
      await fs.mkdir(this.home, { recursive: true });
      await fs.mkdir(this.cloneDir, { recursive: true });
      await execa("git", ["init", "--bare", "--quiet", this.cloneDir], { env: baseEnv(this.home), extendEnv: false });
    }
    await this.restoreConfig();
  }

  /**
   * Puts back the clone's config as the harness writes it (the whole file, so
   * an include, a driver or a `url.*.insteadOf` the agent added is gone) and
   * removes `info/attributes`, which the harness never writes. Does nothing
   * while the clone does not exist yet.
   */
  async restoreConfig(): Promise<void> {
    const file = path.join(this.cloneDir, "config");
    const current = await fs.readFile(file, "utf8").catch(() => null);
    if (current !== this.cloneConfig && (await exists(path.join(this.cloneDir, "HEAD")))) await replaceFile(file, this.cloneConfig);
    await fs.rm(path.join(this.cloneDir, "info", "attributes"), { force: true });
  }

  /** Heads of the given branches on the remote; a missing branch is absent from the map. */
  async remoteHeads(url: string, branches: string[], credentials?: GitCredentials): Promise<Map<string, string>> {
    const refs = await this.remoteRefs(
      url,
      branches.map((b) => `refs/heads/${b}`),
      credentials,
    );
    const heads = new Map<string, string>();
    for (const [ref, sha] of refs) heads.set(ref.slice("refs/heads/".length), sha);
    return heads;
  }

  /** The remote's heads of these full ref names, in one `git ls-remote`: ref → sha; a ref the remote lacks is absent. */
  async remoteRefs(url: string, refs: string[], credentials?: GitCredentials): Promise<Map<string, string>> {
    const wanted = new Set(refs);
    const result = await this.run(["ls-remote", url, ...refs], { credentials });
    const found = new Map<string, string>();
    for (const line of result.stdout.split("\n")) {
      const [sha, ref] = line.split("\t");
      // ls-remote matches patterns by their tail: only the exact names asked for count.
      if (sha && ref && wanted.has(ref)) found.set(ref, sha);
    }
    return found;
  }

  /** This clone's heads of these full ref names, in one `git for-each-ref`: ref → sha; a ref it lacks is absent. */
  async localRefs(refs: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (refs.length === 0) return found;
    const wanted = new Set(refs);
    const result = await this.run(["for-each-ref", "--format=%(objectname) %(refname)", ...refs]);
    for (const line of result.stdout.split("\n")) {
      const [sha, ref] = line.split(" ");
      if (sha && ref && wanted.has(ref)) found.set(ref, sha);
    }
    return found;
  }

  /**
   * Fetches the branches whose remote-tracking ref is not already at the given
   * head: agents sharing a clone mostly find the default branch fetched by
   * another, and a fetch takes the clone's locks. `also` (full ref name → the
   * remote's head) rides along in the same fetch, to the same name, where its
   * copy is behind; best effort: should the fetch with them fail, the branches
   * are fetched alone. Resolves with the `also` refs whose copy is now at the
   * given head.
   */
  async fetchChanged(url: string, heads: Map<string, string>, credentials?: GitCredentials, also: Map<string, string> = new Map()): Promise<Set<string>> {
    const local = await this.localRefs([...[...heads.keys()].map((b) => `refs/remotes/origin/${b}`), ...also.keys()]);
    const stale = [...heads].filter(([branch, sha]) => local.get(`refs/remotes/origin/${branch}`) !== sha).map(([branch]) => branch);
    const current = new Set([...also].filter(([ref, sha]) => local.get(ref) === sha).map(([ref]) => ref));
    const behind = [...also.keys()].filter((ref) => !current.has(ref));
    if (behind.length > 0) {
      const specs = [...stale.map((b) => `+refs/heads/${b}:refs/remotes/origin/${b}`), ...behind.map((ref) => `+${ref}:${ref}`)];
      const fetched = await this.run(["fetch", "--quiet", "--no-tags", url, ...specs], { credentials, allowFailure: true });
      if (fetched.exitCode === 0) return new Set([...current, ...behind]);
    }
    await this.fetchBranches(url, stale, credentials);
    return current;
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
   * Makes the agent's own git dir at `dir` (absolute, outside the worktree and
   * the clone) and points the worktree's `.git` at it, so git in the worktree
   * works for the agent (status, diff, add, commit, log) without it ever seeing
   * the clone's config, hooks, refs or the worktree's admin dir: its own HEAD
   * on `refs/heads/<branch>` at the worktree's commit, a copy of the admin
   * dir's index, a small config with the agent's identity, and the clone's
   * objects borrowed read-only through `objects/info/alternates` (nothing is
   * copied). The harness never reads this dir; it publishes the work tree from
   * the admin dir. Any earlier content of `dir` is replaced. Returns `dir`.
   */
  async prepareAgentGit(worktree: WorktreeHandle, dir: string, identity: GitIdentity = AGENT_IDENTITY): Promise<string> {
    const inside = (parent: string): boolean => !path.relative(parent, dir).startsWith("..");
    if (!path.isAbsolute(dir) || inside(worktree.path) || inside(this.cloneDir)) {
      throw new HarnessError("EHARNESS_GIT", {
        message: `The agent git dir ${dir} must be an absolute path outside the worktree ${worktree.path} and the clone ${this.cloneDir}.`,
        fix: "Put the agent git dir in the session directory.",
      });
    }
    const head = await this.head(worktree);
    const branchRef = path.join(dir, "refs", "heads", ...worktree.branch.split("/"));
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(path.join(dir, "objects", "info"), { recursive: true });
    await fs.mkdir(path.join(dir, "objects", "pack"), { recursive: true });
    await fs.mkdir(path.join(dir, "refs", "tags"), { recursive: true });
    await fs.mkdir(path.dirname(branchRef), { recursive: true });
    await fs.writeFile(path.join(dir, "objects", "info", "alternates"), `${this.cloneObjectsDir}\n`);
    await fs.writeFile(branchRef, `${head}\n`);
    await fs.writeFile(path.join(dir, "HEAD"), `ref: refs/heads/${worktree.branch}\n`);
    await fs.writeFile(path.join(dir, "config"), configFile(false, identity));
    await fs.copyFile(path.join(worktree.gitDir, "index"), path.join(dir, "index"));
    await fs.writeFile(path.join(worktree.path, ".git"), `gitdir: ${dir}\n`);
    return dir;
  }

  /**
   * Puts back what an agent could have changed to redirect the harness's git:
   * the clone's config and the worktree's admin files (its HEAD and pointers).
   */
  async sanitize(worktree: WorktreeHandle): Promise<void> {
    await this.restoreConfig();
    await replaceFile(path.join(worktree.gitDir, "HEAD"), `ref: refs/heads/${worktree.branch}\n`);
    await replaceFile(path.join(worktree.gitDir, "commondir"), "../..\n");
    await replaceFile(path.join(worktree.gitDir, "gitdir"), `${path.join(worktree.path, ".git")}\n`);
    await fs.rm(path.join(worktree.gitDir, "config.worktree"), { force: true });
  }

  /** Commits everything the agent left uncommitted. Returns the new head or null when clean. */
  async commitAll(worktree: WorktreeHandle, message: string): Promise<string | null> {
    await this.stageAll(worktree);
    return this.commitStaged(worktree, message);
  }

  /** Stages everything the agent left in the worktree (`add --all`, after `sanitize`), in the harness's admin dir. */
  async stageAll(worktree: WorktreeHandle): Promise<void> {
    await this.sanitize(worktree);
    await this.run(["add", "--all"], { gitDir: worktree.gitDir, workTree: worktree.path });
  }

  /** Untracked files under `dirs` that the ignore rules (`.gitignore`, `info/exclude`) leave out of `add --all`. */
  async ignoredFiles(worktree: WorktreeHandle, dirs: readonly string[]): Promise<string[]> {
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const out = await this.run(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", ...dirs], at);
    return out.stdout.split("\0").filter((p) => p !== "");
  }

  /** Stages the given paths even where an ignore rule names them (`add --force`). */
  async stageForced(worktree: WorktreeHandle, paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    // From stdin, NUL-separated: any number of paths, any bytes in their names.
    await this.run(["add", "--force", "--pathspec-from-file=-", "--pathspec-file-nul"], {
      gitDir: worktree.gitDir,
      workTree: worktree.path,
      input: paths.map((p) => `${literalPathspec(p)}\0`).join(""),
    });
  }

  /** The index's entries under `prefix` (mode, blob sha, path), as the next commit will hold them. */
  async stagedEntries(worktree: WorktreeHandle, prefix: string): Promise<{ mode: string; sha: string; path: string }[]> {
    const out = await this.run(["ls-files", "-z", "--stage", "--", literalPathspec(prefix)], { gitDir: worktree.gitDir, workTree: worktree.path });
    return out.stdout
      .split("\0")
      .filter((line) => line !== "")
      .map((line) => {
        const tab = line.indexOf("\t");
        const [mode = "", sha = ""] = line.slice(0, tab).split(" ");
        return { mode, sha, path: line.slice(tab + 1) };
      });
  }

  /** Paths under `prefix` that the index (the next commit) changes against the merge base of `base` and HEAD. */
  async stagedChanges(worktree: WorktreeHandle, base: string, prefix: string): Promise<string[]> {
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const mergeBase = (await this.run(["merge-base", base, "HEAD"], at)).stdout.trim();
    const out = await this.run(
      ["diff", "--cached", "--no-renames", "--no-ext-diff", "--no-textconv", "--name-only", "-z", mergeBase, "--", literalPathspec(prefix)],
      at,
    );
    return out.stdout.split("\0").filter((p) => p !== "");
  }

  /**
   * Puts `content` into the index at `filePath` as a regular file, without
   * touching the worktree: a path the agent made a symlink is never written
   * through. Returns the blob's sha.
   */
  async stageContent(worktree: WorktreeHandle, filePath: string, content: string): Promise<string> {
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const sha = (await this.run(["hash-object", "-w", "--stdin"], { ...at, input: content })).stdout.trim();
    await this.run(["update-index", "--add", "--cacheinfo", `100644,${sha},${filePath}`], at);
    return sha;
  }

  /** Commits what is staged (nothing the index does not hold). Returns the new head or null when nothing is staged. */
  async commitStaged(worktree: WorktreeHandle, message: string): Promise<string | null> {
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const staged = await this.run(["diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv"], { ...at, allowFailure: true });
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

  /**
   * Puts the worktree's files that `matches` selects back to what `base` has
   * (removed where `base` has none), among the paths the worktree's HEAD
   * changed against `base`. Returns the paths put back. The harness's own git
   * (its admin dir, its index); nothing of the agent's is read.
   */
  async resetPathsTo(worktree: WorktreeHandle, base: string, matches: (path: string) => boolean): Promise<string[]> {
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const changed = (await this.run(["diff", "--no-renames", "--no-ext-diff", "--name-only", "-z", base, "HEAD"], at)).stdout
      .split("\0")
      .filter((p) => p !== "" && matches(p));
    if (changed.length === 0) return [];
    const inBase = new Set((await this.run(["ls-tree", "-r", "-z", "--name-only", base, "--", ...changed], at)).stdout.split("\0").filter((p) => p !== ""));
    const restore = changed.filter((p) => inBase.has(p));
    if (restore.length > 0) await this.run(["checkout", base, "--", ...restore], at);
    const remove = changed.filter((p) => !inBase.has(p));
    if (remove.length > 0) await this.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", ...remove], at);
    for (const p of remove) await fs.rm(path.join(worktree.path, p), { recursive: true, force: true });
    return changed;
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
    const ref = `refs/heads/${worktree.branch}`;
    const head = (await this.run(["rev-parse", "--verify", `${ref}^{commit}`])).stdout.trim();
    // An unclear failure is read back: landed is success, not applied is sent again.
    const { outcome, output } = await this.pushSettled(url, head, ref, credentials, undefined, 3);
    if (outcome !== "landed") {
      // GitHub's guard on `.github/workflows/`: a refusal about the credential, not the branch.
      const workflow = readWorkflowRefusal(output);
      if (workflow !== null) {
        const reason = output.split("\n").find((line) => WORKFLOW_PUSH_REFUSAL.test(line)) ?? output;
        throw new HarnessError("EHARNESS_WORKFLOW_PERMISSION", {
          message: `GitHub refused the push of ${worktree.branch}: ${redactUrl(reason.trim()).slice(0, 500)}`,
          fix:
            workflow.credential === "app"
              ? "Grant the App the Workflows permission (app.yml `workflows: write`), or push the workflow change by hand."
              : "Give the token the `workflow` scope, or push the workflow change by hand.",
        });
      }
      const rejected = outcome === "rejected" || /rejected|non-fast-forward|fetch first|\[remote rejected\]/i.test(output);
      throw new HarnessError(rejected ? "EHARNESS_PUSH_REJECTED" : "EHARNESS_GIT", {
        message: `Pushing ${worktree.branch} failed: ${redactUrl(output).slice(0, 500)}`,
        fix: rejected
          ? `The remote branch ${worktree.branch} has commits this agent does not have; the harness never force-pushes. Merge or delete the remote branch, then /retry.`
          : "Check the harness's access to the repository (contents: write) and the network, then /retry.",
      });
    }
    await this.run(["update-ref", `refs/remotes/origin/${worktree.branch}`, ref]);
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
   * when `sha` descends from the remote's current value. An unclear failure (a
   * 5xx, a connection reset mid-pack, an answer lost after the refs moved) is
   * settled by reading the remote back: at `sha` it landed; still at
   * `expectedOld` (null: absent) nothing was applied and the push is sent again
   * (up to `attempts` in all); anything else is "unknown". A "[remote
   * rejected]" (a host that refuses the ref namespace, a hook) is "unknown"
   * without a retry: it is not an answer about the compare-and-swap.
   */
  async pushRef(
    url: string,
    sha: string,
    ref: string,
    credentials: GitCredentials,
    expectedOld?: string | null,
    attempts = 3,
  ): Promise<"landed" | "rejected" | "unknown"> {
    return (await this.pushSettled(url, sha, ref, credentials, expectedOld, attempts)).outcome;
  }

  private async pushSettled(
    url: string,
    sha: string,
    ref: string,
    credentials: GitCredentials,
    expectedOld: string | null | undefined,
    attempts: number,
  ): Promise<{ outcome: "landed" | "rejected" | "unknown"; output: string }> {
    for (let attempt = 1; ; attempt += 1) {
      const result = await this.run(["push", "--quiet", "--porcelain", url, `${sha}:${ref}`], { credentials, allowFailure: true });
      const output = [result.stdout, result.stderr].filter(Boolean).join("\n");
      if (result.exitCode === 0) return { outcome: "landed", output };
      if (/non-fast-forward|fetch first|stale info|\[rejected\]/i.test(output)) return { outcome: "rejected", output };
      if (/\[remote rejected\]/i.test(output)) return { outcome: "unknown", output };
      const now = await this.run(["ls-remote", url, ref], { credentials, allowFailure: true });
      if (now.exitCode !== 0) return { outcome: "unknown", output };
      const head = now.stdout.split("\t")[0]?.trim() || null;
      if (head === sha) return { outcome: "landed", output };
      // Not applied (the ref is where it was): the same push is safe to send again.
      const unchanged = expectedOld === undefined || head === expectedOld;
      if (!unchanged || attempt >= attempts) return { outcome: "unknown", output };
    }
  }

  /**
   * The change set the publish gate judges: every path that differs between
   * the merge base of `base` and the worktree's HEAD (what the pull request
   * shows), read from the harness's own admin dir after `commitAll`, never
   * from the agent's git dir. Sizes come from `cat-file --batch-check`,
   * symlink targets and contents from the blobs; a blob over `maxBlobBytes`
   * is not read (the gate refuses it by size). `addedText` holds the lines of
   * the new blob that the old one lacks (all of a binary blob).
   */
  async changeSet(worktree: WorktreeHandle, base: string, options: { maxBlobBytes?: number } = {}): Promise<ChangedPath[]> {
    const maxBlobBytes = options.maxBlobBytes ?? 10 * 1024 * 1024;
    const at = { gitDir: worktree.gitDir, workTree: worktree.path };
    const mergeBase = (await this.run(["merge-base", base, "HEAD"], at)).stdout.trim();
    const raw = await this.run(["diff-tree", "-r", "-z", "-M", "--no-abbrev", "--no-ext-diff", "--no-textconv", "--raw", mergeBase, "HEAD"], at);
    const entries = parseRawDiff(raw.stdout);
    const sizes = await this.blobSizes(entries.flatMap((e) => [e.oldSha, e.newSha]).filter((sha): sha is string => sha !== null));
    const blob = async (sha: string | null): Promise<string | null> =>
      sha === null || (sizes.get(sha) ?? Infinity) > maxBlobBytes ? null : (await this.run(["cat-file", "blob", sha])).stdout;
    const changes: ChangedPath[] = [];
    for (const e of entries) {
      const isFile = (mode: GitFileMode | null): boolean => mode === "100644" || mode === "100755";
      const size = e.newMode === "160000" || e.newSha === null ? null : (sizes.get(e.newSha) ?? null);
      const newText = e.newMode === "160000" ? null : await blob(e.newSha);
      const oldText = isFile(e.oldMode) && isFile(e.newMode) ? await blob(e.oldSha) : null;
      changes.push({
        path: e.path,
        oldPath: e.oldPath,
        status: e.status,
        oldMode: e.oldMode,
        newMode: e.newMode,
        size,
        symlinkTarget: e.newMode === "120000" ? newText : null,
        addedText: isFile(e.newMode) && newText !== null ? addedLines(oldText, newText) : null,
        ...(needsFullText(e.path) ? { oldText, newText: isFile(e.newMode) ? newText : null } : {}),
      });
    }
    return changes;
  }

  /** The full id of `rev` as a commit of the clone, or null when the clone has no such commit. */
  async resolveCommit(rev: string): Promise<string | null> {
    const out = await this.run(["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], { allowFailure: true });
    return out.exitCode === 0 ? out.stdout.trim() : null;
  }

  /** Whether `commit` is `tip` or one of its ancestors. */
  async isAncestor(commit: string, tip: string): Promise<boolean> {
    return (await this.run(["merge-base", "--is-ancestor", commit, tip], { allowFailure: true })).exitCode === 0;
  }

  /** The regular files (mode, blob sha, size in bytes, path) of `treeish` under the given directories, recursively. */
  async listFiles(treeish: string, dirs: readonly string[]): Promise<{ mode: string; sha: string; size: number; path: string }[]> {
    const out = await this.run(["ls-tree", "-r", "-l", "-z", "--full-tree", treeish, "--", ...dirs.map(literalPathspec)]);
    const files: { mode: string; sha: string; size: number; path: string }[] = [];
    for (const line of out.stdout.split("\0")) {
      if (line === "") continue;
      const tab = line.indexOf("\t");
      const [mode = "", type = "", sha = "", size = ""] = line.slice(0, tab).split(/ +/);
      if (type === "blob" && (mode === "100644" || mode === "100755")) files.push({ mode, sha, size: Number(size), path: line.slice(tab + 1) });
    }
    return files;
  }

  /**
   * The contents of objects by name (a blob sha, or `rev:path`), read as UTF-8
   * by one `cat-file --batch`; a name that is missing or not a blob is absent.
   */
  async readBlobs(names: readonly string[]): Promise<Map<string, string>> {
    const blobs = new Map<string, string>();
    const wanted = [...new Set(names)].filter((n) => !/[\n\r]/.test(n));
    if (wanted.length === 0) return blobs;
    await this.restoreConfig();
    const result = await execa("git", [...HARDENING, `--git-dir=${this.cloneDir}`, "cat-file", "--batch"], {
      cwd: this.cloneDir,
      env: { ...baseEnv(this.home), ...credentialEnv(undefined) },
      extendEnv: false,
      reject: false,
      input: `${wanted.join("\n")}\n`,
      encoding: "buffer",
      maxBuffer: 512 * 1024 * 1024,
    });
    if (result.exitCode !== 0) {
      throw new HarnessError("EHARNESS_GIT", {
        message: `git cat-file --batch failed (exit ${result.exitCode ?? 1}): ${Buffer.from(result.stderr).toString("utf8").slice(0, 500)}`,
        fix: "Check the repository and the state directory; the log has the full git output.",
      });
    }
    const out = Buffer.from(result.stdout);
    let offset = 0;
    for (const name of wanted) {
      const newline = out.indexOf(0x0a, offset);
      if (newline < 0) break;
      const header = out.subarray(offset, newline).toString("utf8");
      offset = newline + 1;
      const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
      if (!m) continue; // "<name> missing" or "ambiguous": no content follows
      const size = Number(m[2]);
      if (m[1] === "blob") blobs.set(name, out.subarray(offset, offset + size).toString("utf8"));
      offset += size + 1;
    }
    return blobs;
  }

  /** Renames git finds between two commits (`diff -M`), old path → new path. */
  async renames(from: string, to: string): Promise<Map<string, string>> {
    const out = await this.run(["diff", "--no-ext-diff", "--no-textconv", "-M", "--diff-filter=R", "--name-status", "-z", from, to]);
    const fields = out.stdout.split("\0");
    const renamed = new Map<string, string>();
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const oldPath = fields[i + 1];
      const newPath = fields[i + 2];
      if ((fields[i] ?? "").startsWith("R") && oldPath && newPath) renamed.set(oldPath, newPath);
    }
    return renamed;
  }

  /** When each of `paths` last changed on `treeish`'s history (committer time, ISO), by one `git log`; a path never found is absent. */
  async lastChanged(treeish: string, dirs: readonly string[]): Promise<Map<string, string>> {
    const out = await this.run(["log", "-z", "--no-renames", "--format=%x01%cI", "--name-only", treeish, "--", ...dirs.map(literalPathspec)]);
    const times = new Map<string, string>();
    for (const chunk of out.stdout.split("\u0001")) {
      if (chunk === "") continue;
      const [header = "", ...rest] = chunk.split("\0");
      const [time = "", first = ""] = header.split("\n");
      const at = Date.parse(time);
      if (Number.isNaN(at)) continue;
      for (const p of [first, ...rest].map((x) => x.replace(/^\n/, ""))) if (p !== "" && !times.has(p)) times.set(p, new Date(at).toISOString());
    }
    return times;
  }

  /** Sizes of the given objects in bytes, by one `cat-file --batch-check`; an object the clone lacks is absent. */
  private async blobSizes(shas: string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    if (shas.length === 0) return sizes;
    const out = await this.run(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], { input: `${shas.join("\n")}\n` });
    for (const line of out.stdout.split("\n")) {
      const [sha, type, size] = line.split(" ");
      if (sha && type === "blob" && size) sizes.set(sha, Number(size));
    }
    return sizes;
  }

  /**
   * Removes the worktree at `dir` and its admin dir. Its `.git` is pointed back
   * at the admin dir first (`prepareAgentGit` or the agent may have rewritten
   * it), since git refuses to remove a worktree that does not point back.
   */
  async removeWorktree(dir: string): Promise<void> {
    const pointer = path.join(dir, ".git");
    const admin = await this.adminDirOf(pointer);
    if (admin !== null && (await exists(dir))) await fs.writeFile(pointer, `gitdir: ${admin}\n`);
    await this.run(["worktree", "remove", "--force", "--force", dir], { allowFailure: true });
    await fs.rm(dir, { recursive: true, force: true });
    await this.run(["worktree", "prune"], { allowFailure: true });
  }

  /** The clone's admin dir of the worktree whose `.git` is `pointer`, as the clone records it (never read from the worktree). */
  private async adminDirOf(pointer: string): Promise<string | null> {
    const worktrees = path.join(this.cloneDir, "worktrees");
    for (const name of await fs.readdir(worktrees).catch(() => [])) {
      const recorded = await fs.readFile(path.join(worktrees, name, "gitdir"), "utf8").catch(() => "");
      if (recorded.trim() === pointer) return path.join(worktrees, name);
    }
    return null;
  }
}

/** A pathspec that means the path itself: no glob or magic in a file name is interpreted. */
function literalPathspec(filePath: string): string {
  return `:(literal)${filePath}`;
}

/** Hides credentials that git may echo back inside URLs. */
export function redactUrl(text: string): string {
  return text.replace(/(https?:\/\/)[^/\s@]+@/g, "$1***@");
}

interface RawDiffEntry {
  path: string;
  oldPath: string | null;
  status: ChangedPath["status"];
  oldMode: GitFileMode | null;
  newMode: GitFileMode | null;
  oldSha: string | null;
  newSha: string | null;
}

const ZERO_SHA = /^0+$/;

function modeOf(mode: string): GitFileMode | null {
  return mode === "100644" || mode === "100755" || mode === "120000" || mode === "160000" ? mode : null;
}

/**
 * `git diff-tree -r -z --raw` output: `:oldmode newmode oldsha newsha status\0path\0`,
 * with a second path after a rename. Paths come NUL-terminated and unquoted.
 */
function parseRawDiff(stdout: string): RawDiffEntry[] {
  const fields = stdout.split("\0");
  const entries: RawDiffEntry[] = [];
  for (let i = 0; i < fields.length; i += 1) {
    const header = fields[i]!;
    if (!header.startsWith(":")) continue;
    const [oldMode = "", newMode = "", oldSha = "", newSha = "", letters = ""] = header.slice(1).split(" ");
    const letter = letters[0];
    const first = fields[(i += 1)] ?? "";
    const renamedTo = letter === "R" ? (fields[(i += 1)] ?? "") : null;
    // With -M and without -C git reports A, D, M, T (a type change) and R<score>.
    const status: ChangedPath["status"] = letter === "A" ? "added" : letter === "D" ? "deleted" : letter === "R" ? "renamed" : "modified";
    entries.push({
      path: renamedTo ?? first,
      oldPath: renamedTo === null ? null : first,
      status,
      oldMode: status === "added" ? null : modeOf(oldMode),
      newMode: status === "deleted" ? null : modeOf(newMode),
      oldSha: status === "added" || ZERO_SHA.test(oldSha) ? null : oldSha,
      newSha: status === "deleted" || ZERO_SHA.test(newSha) ? null : newSha,
    });
  }
  return entries;
}

/** The lines of `next` that `previous` does not have (each counted as often as it occurs); all of `next` when it is binary or new. */
function addedLines(previous: string | null, next: string): string {
  if (previous === null || next.slice(0, 8000).includes("\0")) return next;
  const counts = new Map<string, number>();
  for (const line of previous.split("\n")) counts.set(line, (counts.get(line) ?? 0) + 1);
  const added: string[] = [];
  for (const line of next.split("\n")) {
    const left = counts.get(line) ?? 0;
    if (left > 0) counts.set(line, left - 1);
    else added.push(line);
  }
  return added.join("\n");
}
