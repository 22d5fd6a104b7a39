/**
 * Thin async wrappers over the git CLI, run against the bare repositories; the hot ones
 * (refs, commits, CAS) take the in-process paths of `git-fast.ts` and fall back to git.
 */
import { spawn } from "node:child_process";
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { commitBody, readRefFromDisk, repoCache } from "./git-fast.js";
import type { CommitView } from "./types.js";

export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
export const ZERO_SHA = "0000000000000000000000000000000000000000";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

/** Environment for every git we start: no user or system config leaks in. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
    ...extra,
  };
}

export function runGit(cwd: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env: gitEnv(opts.env), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      const raw = Buffer.concat(out);
      resolve({ code: code ?? 1, stdout: raw.toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), raw });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs git and throws on a non-zero exit. */
export async function git(cwd: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<string> {
  const r = await runGit(cwd, args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export const isSha = (s: string): boolean => /^[0-9a-f]{40}$/.test(s);

/**
 * The settings of every bare repository, appended to the config `git init` wrote (a repeated
 * section is valid git config): one file write instead of a `git config` process each.
 */
const BARE_CONFIG = [
  "[core]",
  "\tfilesRefLockTimeout = 3000",
  "\tpackedRefsTimeout = 3000",
  // A reflog for every ref, REST writes and pushes alike: tests read git's own record of each update.
  "\tlogAllRefUpdates = always",
  "[http]",
  "\treceivepack = true",
  "[uploadpack]",
  "\tallowAnySHA1InWant = true",
  "[gc]",
  "\tauto = 0",
  // With gc.auto 0 the `git maintenance run --auto` receive-pack starts after each push does
  // nothing: not starting it saves a process per push.
  "[receive]",
  "\tautogc = false",
  "",
].join("\n");

export async function initBareRepo(path: string, defaultBranch: string): Promise<void> {
  await git(process.cwd(), ["init", "--quiet", "--bare", `--initial-branch=${defaultBranch}`, path]);
  await appendFile(join(path, "config"), BARE_CONFIG);
  // The empty tree is built into git, but write it so packs that reference it are self-contained:
  // a loose object (`tree 0\0`, zlib), as `git hash-object -w -t tree --stdin` writes it.
  const dir = join(path, "objects", EMPTY_TREE.slice(0, 2));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, EMPTY_TREE.slice(2)), deflateSync(Buffer.from("tree 0\0", "latin1")), { mode: 0o444 });
}

export interface Signature {
  name: string;
  email: string;
  date?: string;
}

export function signatureEnv(author: Signature, committer: Signature = author): Record<string, string> {
  const env: Record<string, string> = {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
  };
  if (author.date) env.GIT_AUTHOR_DATE = author.date;
  if (committer.date) env.GIT_COMMITTER_DATE = committer.date;
  return env;
}

/** Writes a commit containing exactly `files` (on top of `parents`) and returns its sha. */
/** Commits `files` (path → content) as one tree; paths in `executable` get mode 100755. */
export async function commitFiles(
  repoPath: string,
  files: Record<string, string | Buffer>,
  message: string,
  parents: string[],
  who: Signature,
  executable: ReadonlySet<string> = new Set(),
): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), "fake-gh-index-"));
  try {
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    for (const [path, content] of Object.entries(files)) {
      const blob = (await git(repoPath, ["hash-object", "-w", "--stdin"], { input: content })).trim();
      await git(repoPath, ["update-index", "--add", "--cacheinfo", `${executable.has(path) ? "100755" : "100644"},${blob},${path}`], { env });
    }
    const tree = Object.keys(files).length === 0 ? EMPTY_TREE : (await git(repoPath, ["write-tree"], { env })).trim();
    return await commitTree(repoPath, tree, parents, message, who, who);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export async function commitTree(repoPath: string, tree: string, parents: string[], message: string, author: Signature, committer: Signature): Promise<string> {
  const body = commitBody(tree, parents, message, author, committer);
  // git commit-tree refuses a missing tree or parent: then let git say so.
  if (
    body !== null &&
    (await objectType(repoPath, tree)) === "tree" &&
    (await Promise.all(parents.map((p) => objectType(repoPath, p)))).every((t) => t === "commit")
  ) {
    return repoCache(repoPath).writeCommit(body);
  }
  const args = ["commit-tree", tree];
  for (const p of parents) args.push("-p", p);
  args.push("-F", "-");
  const out = await git(repoPath, args, { input: message, env: signatureEnv(author, committer) });
  return out.trim();
}

/** The type of an object (`commit`, `tree`, `blob`, `tag`), or null when it does not exist. */
export async function objectType(repoPath: string, sha: string): Promise<string | null> {
  const cache = repoCache(repoPath);
  const known = cache.knownType(sha);
  if (known !== undefined) return known;
  if (!isSha(sha)) {
    const r = await runGit(repoPath, ["cat-file", "-t", sha]);
    return r.code === 0 ? r.stdout.trim() : null;
  }
  // Objects are immutable: once a full sha exists, its type is known for good.
  const type = await cache.readType(sha);
  if (type !== null) cache.remember(sha, type);
  return type;
}

/** Resolves a revision (`main`, `refs/heads/x`, a sha, `main:path`) or returns null. */
export async function revParse(repoPath: string, rev: string): Promise<string | null> {
  const r = await runGit(repoPath, ["rev-parse", "--verify", "--quiet", "--end-of-options", rev]);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** The sha a full ref name points to, or null. */
export async function readRef(repoPath: string, ref: string): Promise<string | null> {
  const fromDisk = readRefFromDisk(repoPath, ref);
  if (fromDisk !== "ask-git") return fromDisk;
  const r = await runGit(repoPath, ["show-ref", "--verify", "--hash", ref]);
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function isAncestor(repoPath: string, ancestor: string, descendant: string): Promise<boolean> {
  const known = ancestryFromCache(repoPath, ancestor, descendant);
  if (known !== null) return known;
  const r = await runGit(repoPath, ["merge-base", "--is-ancestor", ancestor, descendant]);
  return r.code === 0;
}

/**
 * `merge-base --is-ancestor` answered from the commits in memory: null when a commit on the
 * way is unknown (or the walk gets long), and git must answer.
 */
function ancestryFromCache(repoPath: string, ancestor: string, descendant: string): boolean | null {
  const cache = repoCache(repoPath);
  if (cache.knownType(ancestor) !== "commit") return null;
  const stack = [descendant];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const sha = stack.pop() ?? "";
    if (sha === ancestor) return true;
    if (seen.has(sha)) continue;
    seen.add(sha);
    if (seen.size > 2000) return null;
    const raw = cache.knownCommit(sha);
    if (raw === undefined) return null;
    for (const line of raw.slice(0, raw.indexOf("\n\n") === -1 ? raw.length : raw.indexOf("\n\n")).split("\n")) {
      if (line.startsWith("parent ")) stack.push(line.slice(7));
    }
  }
  return false;
}

/**
 * Atomic compare-and-swap on a ref: `update <ref> <new> <old>` in a `git update-ref --stdin`
 * transaction. `oldSha` = ZERO_SHA means "must not exist"; null means "whatever it is".
 */
export async function updateRef(repoPath: string, ref: string, newSha: string, oldSha: string | null): Promise<{ ok: boolean; stderr: string }> {
  return repoCache(repoPath).cas(ref, newSha, oldSha);
}

export async function deleteRef(repoPath: string, ref: string, oldSha: string): Promise<boolean> {
  return (await repoCache(repoPath).cas(ref, null, oldSha)).ok;
}

export interface RefEntry {
  ref: string;
  sha: string;
  type: string;
}

export async function listRefs(repoPath: string): Promise<RefEntry[]> {
  const out = await git(repoPath, ["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)"]);
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [ref = "", sha = "", type = ""] = line.split(" ");
      return { ref, sha, type };
    });
}

function parseIdentLine(line: string): { name: string; email: string; date: string } {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!m) return { name: line, email: "", date: new Date(0).toISOString() };
  const date = new Date(Number(m[3]) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return { name: m[1] ?? "", email: m[2] ?? "", date };
}

/**
 * A commit by sha, from memory when the fake wrote or read it before; `fromGit` always asks
 * git (for inspection: what is on disk, not what the fake remembers).
 */
export async function readCommit(repoPath: string, sha: string, opts: { fromGit?: boolean } = {}): Promise<CommitView | null> {
  const cache = repoCache(repoPath);
  let raw = isSha(sha) && !opts.fromGit ? cache.knownCommit(sha) : undefined;
  if (raw === undefined && isSha(sha)) {
    const object = await cache.readObject(sha);
    if (object?.type !== "commit") return null;
    raw = object.content.toString("utf8");
    cache.remember(sha, "commit", raw);
  }
  if (raw === undefined) {
    if ((await objectType(repoPath, sha)) !== "commit") return null;
    raw = await git(repoPath, ["cat-file", "commit", sha]);
  }
  return parseCommit(sha, raw);
}

function parseCommit(sha: string, raw: string): CommitView {
  const split = raw.indexOf("\n\n");
  const header = split === -1 ? raw : raw.slice(0, split);
  const message = split === -1 ? "" : raw.slice(split + 2);
  const view: CommitView = {
    sha,
    tree: "",
    parents: [],
    message,
    author: { name: "", email: "", date: "" },
    committer: { name: "", email: "", date: "" },
  };
  for (const line of header.split("\n")) {
    const sp = line.indexOf(" ");
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    if (key === "tree") view.tree = value;
    else if (key === "parent") view.parents.push(value);
    else if (key === "author") view.author = parseIdentLine(value);
    else if (key === "committer") view.committer = parseIdentLine(value);
  }
  return view;
}

/** Commits reachable from `head` but not from `base`, oldest first. */
export async function commitsBetween(repoPath: string, base: string, head: string): Promise<string[]> {
  const out = await git(repoPath, ["rev-list", "--reverse", `${base}..${head}`]);
  return out.split("\n").filter(Boolean);
}

export async function mergeBase(repoPath: string, a: string, b: string): Promise<string | null> {
  const r = await runGit(repoPath, ["merge-base", a, b]);
  return r.code === 0 ? r.stdout.trim() : null;
}

export interface DiffFile {
  filename: string;
  previousFilename?: string;
  status: "added" | "removed" | "modified" | "renamed" | "copied" | "changed";
  sha: string;
  additions: number;
  deletions: number;
}

export async function diffFiles(repoPath: string, from: string, to: string): Promise<DiffFile[]> {
  const raw = (await git(repoPath, ["diff", "--raw", "-z", "--no-abbrev", "--no-renames", from, to])).split("\0");
  const numstat = (await git(repoPath, ["diff", "--numstat", "-z", "--no-renames", from, to])).split("\0");
  const counts = new Map<string, { additions: number; deletions: number }>();
  for (const entry of numstat) {
    const m = /^(\d+|-)\t(\d+|-)\t(.*)$/s.exec(entry);
    if (!m) continue;
    counts.set(m[3] ?? "", { additions: m[1] === "-" ? 0 : Number(m[1]), deletions: m[2] === "-" ? 0 : Number(m[2]) });
  }
  const files: DiffFile[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const meta = raw[i] ?? "";
    const path = raw[i + 1] ?? "";
    const m = /^:\d+ \d+ ([0-9a-f]{40}) ([0-9a-f]{40}) ([A-Z])/.exec(meta);
    if (!m) continue;
    const letter = m[3];
    const status = letter === "A" ? "added" : letter === "D" ? "removed" : letter === "M" ? "modified" : "changed";
    const sha = status === "removed" ? (m[1] ?? "") : (m[2] ?? "");
    const c = counts.get(path) ?? { additions: 0, deletions: 0 };
    files.push({ filename: path, status, sha, ...c });
  }
  return files;
}

export interface TreeEntry {
  mode: string;
  type: string;
  sha: string;
  size: number;
  path: string;
}

export async function lsTree(repoPath: string, treeish: string): Promise<TreeEntry[]> {
  const out = await git(repoPath, ["ls-tree", "-z", "--long", treeish]);
  return out
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf("\t");
      const [mode = "", type = "", sha = "", size = "0"] = line.slice(0, tab).split(/\s+/);
      return { mode, type, sha, size: size === "-" ? 0 : Number(size), path: line.slice(tab + 1) };
    });
}

export async function catBlob(repoPath: string, sha: string): Promise<Buffer> {
  const r = await runGit(repoPath, ["cat-file", "blob", sha]);
  if (r.code !== 0) throw new Error(`git cat-file blob ${sha}: ${r.stderr}`);
  return r.raw;
}
