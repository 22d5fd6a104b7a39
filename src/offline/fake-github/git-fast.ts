/**
 * In-process fast paths over the bare repositories, so a lease claim costs no git process
 * while the repository on disk stays the only source of truth:
 *
 * - **Refs** are read from git's own files-backend storage (the loose ref file, else
 *   `packed-refs`), never cached, so pushes through `git http-backend` and tests that run git
 *   on the repository are seen at once. Anything unusual (a symbolic ref, a name outside a
 *   conservative subset of git's rules) falls back to `git show-ref`.
 * - **Objects** are immutable: a type or a commit once seen is kept in memory per repository.
 *   Commits are written as loose objects (`commit <len>\0<body>`, SHA-1, zlib) exactly as
 *   `git commit-tree` would write them; inputs git would rewrite (odd identities, other date
 *   formats) fall back to `git commit-tree`.
 * - **Ref writes** go through one long-running `git update-ref --stdin` per repository, one
 *   transaction (`start`, `update <ref> <new> <old>`, `prepare`, `commit`) at a time: git's
 *   ref lock still does the compare-and-swap against every other writer (pushes included).
 *   Writes of one repository are serialized in-process, and a write whose expected old value
 *   does not match what is on disk is refused before it reaches git (git would refuse it too,
 *   and dies on a failed transaction, which would cost a new process).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { deflateSync } from "node:zlib";
import { gitEnv } from "./git.js";

export const ZERO = "0000000000000000000000000000000000000000";

/** A conservative subset of git's `check-ref-format` rules: names outside it go to git. */
const COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
export function isPlainRefName(ref: string): boolean {
  if (!ref.startsWith("refs/") || ref.length > 1024) return false;
  for (const part of ref.split("/")) {
    if (!COMPONENT.test(part) || part.includes("..") || part.endsWith(".") || part.endsWith(".lock")) return false;
  }
  return true;
}

/**
 * What the disk says about a ref: its sha, null when it does not exist, or "ask-git".
 * Synchronous on purpose: two tiny reads cost far less than a trip through the thread pool.
 */
export function readRefFromDisk(repoPath: string, ref: string): string | null | "ask-git" {
  if (!isPlainRefName(ref)) return "ask-git";
  // stat first: a missing ref is the common case, and a thrown ENOENT costs more than the read.
  const loosePath = join(repoPath, ...ref.split("/"));
  const loose = readIfFile(loosePath);
  if (loose === "ask-git") return "ask-git";
  if (loose !== null) {
    const sha = loose.trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : "ask-git";
  }
  const packed = readIfFile(join(repoPath, "packed-refs"));
  if (packed === "ask-git") return "ask-git";
  if (packed === null) return null;
  for (const line of packed.split("\n")) {
    if (line.length > 41 && line.charCodeAt(40) === 32 && line.slice(41) === ref) {
      const sha = line.slice(0, 40);
      return /^[0-9a-f]{40}$/.test(sha) ? sha : "ask-git";
    }
  }
  return null;
}

/** A file's text; null when there is no file there (nothing, or a directory: a prefix of refs). */
function readIfFile(path: string): string | null | "ask-git" {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined || st.isDirectory()) return null;
    if (!st.isFile()) return "ask-git";
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a prefix of the name is itself a ref; ENOENT: deleted since the stat.
    return code === "ENOENT" || code === "ENOTDIR" ? null : "ask-git";
  }
}

// ---- objects --------------------------------------------------------------------------

interface KnownObject {
  type: string;
  /** The raw body of a commit (what `git cat-file commit` prints). */
  commit?: string;
}

export interface Ident {
  name: string;
  email: string;
  date?: string;
}

/** Characters git trims from the ends of a name or email, and drops (`<`, `>`, `\n`) inside. */
const crud = (c: string): boolean => c <= " " || ".,:;<>\"\\'".includes(c);

/** `name <email> <seconds> <tz>` as git writes it, or null when git would rewrite or refuse it. */
export function formatIdent(who: Ident, nowMs: number): string | null {
  for (const s of [who.name, who.email]) {
    if (s.length === 0 || crud(s.charAt(0)) || crud(s.charAt(s.length - 1))) return null;
    for (let i = 0; i < s.length; i += 1) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x7f || c === 0x3c || c === 0x3e) return null; // controls, "<", ">"
    }
  }
  let seconds: number;
  let tz: string;
  if (who.date === undefined) {
    seconds = Math.floor(nowMs / 1000);
    const offset = -new Date(nowMs).getTimezoneOffset();
    const abs = Math.abs(offset);
    tz = `${offset < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}${String(abs % 60).padStart(2, "0")}`;
  } else {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|([+-])(\d{2}):(\d{2}))$/.exec(who.date);
    if (!m) return null;
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
    if (year < 1971 || year > 2099 || month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59) return null;
    let offsetMin = 0;
    if (m[7] === "Z") tz = "+0000";
    else {
      const oh = Number(m[9]);
      const om = Number(m[10]);
      if (oh > 14 || om > 59 || (oh === 0 && om === 0 && m[8] === "-")) return null;
      offsetMin = (m[8] === "-" ? -1 : 1) * (oh * 60 + om);
      tz = `${m[8] ?? "+"}${m[9] ?? "00"}${m[10] ?? "00"}`;
    }
    seconds = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetMin * 60;
  }
  return `${who.name} <${who.email}> ${seconds} ${tz}`;
}

/** The raw commit git's `commit-tree` would write, or null when git would rewrite something. */
export function commitBody(tree: string, parents: string[], message: string, author: Ident, committer: Ident, nowMs = Date.now()): string | null {
  const a = formatIdent(author, nowMs);
  const c = formatIdent(committer, nowMs);
  if (a === null || c === null) return null;
  const body = `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join("")}author ${a}\ncommitter ${c}\n\n${message}`;
  // git rewrites what its verify_utf8 rejects (noncharacters U+xFFFE/U+xFFFF) and stops at NUL.
  for (const ch of body) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0 || (cp & 0xfffe) === 0xfffe) return null;
  }
  return body;
}

// ---- ref writes -----------------------------------------------------------------------

interface Pending {
  lines: string[];
  want: number;
  resolve(r: { ok: boolean; stderr: string }): void;
}

/** One `git update-ref --stdin`, one transaction at a time; respawned after a refused one. */
class RefWriter {
  private child: ChildProcessWithoutNullStreams | null = null;
  private pending: Pending | null = null;
  private stdoutBuf = "";
  private stderrBuf = "";
  private closed = false;

  constructor(private readonly repoPath: string) {}

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn("git", ["-c", "core.filesRefLockTimeout=20", "update-ref", "--stdin"], {
      cwd: this.repoPath,
      env: gitEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.stdoutBuf = "";
    this.stderrBuf = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      this.stdoutBuf += chunk;
      let nl = this.stdoutBuf.indexOf("\n");
      while (nl !== -1) {
        const line = this.stdoutBuf.slice(0, nl);
        this.stdoutBuf = this.stdoutBuf.slice(nl + 1);
        const p = this.pending;
        if (p) {
          p.lines.push(line);
          if (p.lines.length === p.want) {
            this.pending = null;
            p.resolve({ ok: p.lines.every((l) => l.endsWith(": ok")), stderr: "" });
          }
        }
        nl = this.stdoutBuf.indexOf("\n");
      }
    });
    child.stderr.on("data", (chunk: string) => (this.stderrBuf += chunk));
    const gone = (): void => {
      if (this.child === child) this.child = null;
      const p = this.pending;
      this.pending = null;
      p?.resolve({ ok: false, stderr: this.stderrBuf || "git update-ref --stdin exited" });
    };
    child.on("error", gone);
    child.on("close", gone);
    child.stdin.on("error", () => undefined);
    this.child = child;
    return child;
  }

  /** Sends one transaction (`start` … `commit`); ok when every step answered ok. */
  transact(commands: string[]): Promise<{ ok: boolean; stderr: string }> {
    if (this.closed) return Promise.resolve({ ok: false, stderr: "fake-github is closed" });
    const child = this.child ?? this.start();
    const script = ["start", ...commands, "prepare", "commit"];
    return new Promise((resolve) => {
      this.pending = { lines: [], want: 3, resolve };
      child.stdin.write(`${script.join("\n")}\n`);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("close", () => resolve());
      child.stdin.end();
    });
  }
}

/**
 * One `git cat-file --batch-command`, one object at a time: reads objects through git itself
 * (loose or packed, whoever wrote them) without a process per read. For inspection helpers, which
 * should see what git sees rather than what the fake remembers.
 */
class CatFile {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private pending: { info: boolean; done(r: { type: string; content: Buffer } | null | Error): void } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly repoPath: string) {}

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn("git", ["cat-file", "--batch-command"], { cwd: this.repoPath, env: gitEnv(), stdio: ["pipe", "pipe", "pipe"] });
    this.buf = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.drain();
    });
    child.stderr.resume();
    const gone = (): void => {
      if (this.child === child) this.child = null;
      const p = this.pending;
      this.pending = null;
      p?.done(new Error("git cat-file --batch-command exited"));
    };
    child.on("error", gone);
    child.on("close", gone);
    child.stdin.on("error", () => undefined);
    this.child = child;
    return child;
  }

  private drain(): void {
    const p = this.pending;
    if (!p) return;
    const nl = this.buf.indexOf(10);
    if (nl === -1) return;
    const header = this.buf.subarray(0, nl).toString("utf8").split(" ");
    if (header.length !== 3) {
      // `<sha> missing` (or ambiguous)
      this.buf = this.buf.subarray(nl + 1);
      this.pending = null;
      p.done(null);
      return;
    }
    if (p.info) {
      this.buf = this.buf.subarray(nl + 1);
      this.pending = null;
      p.done({ type: header[1] ?? "", content: Buffer.alloc(0) });
      return;
    }
    const size = Number(header[2]);
    if (this.buf.length < nl + 1 + size + 1) return;
    const content = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + size));
    this.buf = this.buf.subarray(nl + 1 + size + 1);
    this.pending = null;
    p.done({ type: header[1] ?? "", content });
  }

  /** The object's type and content (none when `info`), or null when git does not have it. */
  read(sha: string, info = false): Promise<{ type: string; content: Buffer } | null> {
    const run = this.queue.then(
      () =>
        new Promise<{ type: string; content: Buffer } | null>((resolve, reject) => {
          if (this.closed) return reject(new Error("fake-github is closed"));
          const child = this.child ?? this.start();
          this.pending = { info, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) };
          child.stdin.write(`${info ? "info" : "contents"} ${sha}\n`);
        }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("close", () => resolve());
      child.stdin.end();
    });
  }
}

/** Everything kept in memory for one bare repository. */
export class RepoCache {
  private readonly objects = new Map<string, KnownObject>();
  /** Fan-out directories (`objects/xx`) known to exist. */
  private readonly dirs = new Set<string>();
  private readonly writer: RefWriter;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly reader: CatFile;

  constructor(readonly path: string) {
    this.writer = new RefWriter(path);
    this.reader = new CatFile(path);
  }

  /** Reads an object through git (not from memory); null when git does not have it. */
  readObject(sha: string): Promise<{ type: string; content: Buffer } | null> {
    return this.reader.read(sha);
  }

  /** An object's type through git; null when git does not have it. */
  async readType(sha: string): Promise<string | null> {
    return (await this.reader.read(sha, true))?.type ?? null;
  }

  knownType(sha: string): string | undefined {
    return this.objects.get(sha)?.type;
  }

  knownCommit(sha: string): string | undefined {
    return this.objects.get(sha)?.commit;
  }

  remember(sha: string, type: string, commit?: string): void {
    const known = this.objects.get(sha);
    if (known?.commit !== undefined) return;
    this.objects.set(sha, commit === undefined ? { type } : { type, commit });
  }

  /**
   * Writes a loose commit object as git does (a temp file, then a link to its final name, so
   * no reader sees half an object) and returns its sha. Synchronous: a few hundred bytes.
   */
  writeCommit(body: string): string {
    const content = Buffer.from(body, "utf8");
    const full = Buffer.concat([Buffer.from(`commit ${content.length}\0`, "utf8"), content]);
    const sha = createHash("sha1").update(full).digest("hex");
    if (this.objects.has(sha)) return sha;
    const dir = join(this.path, "objects", sha.slice(0, 2));
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.dirs.add(dir);
    }
    const tmp = join(dir, `tmp_obj_${randomBytes(6).toString("hex")}`);
    writeFileSync(tmp, deflateSync(full), { mode: 0o444 });
    try {
      linkSync(tmp, join(dir, sha.slice(2)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(tmp);
    }
    this.remember(sha, "commit", body);
    return sha;
  }

  /** Runs `fn` alone among this repository's ref writes. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Compare-and-swap `ref` from `oldSha` (ZERO: must not exist; null: anything) to `newSha`
   * (null: delete). Refused at once when the disk already disagrees with `oldSha`.
   */
  cas(ref: string, newSha: string | null, oldSha: string | null): Promise<{ ok: boolean; stderr: string }> {
    return this.exclusive(async () => {
      if (oldSha !== null) {
        const current = readRefFromDisk(this.path, ref);
        if (current !== "ask-git" && (current ?? ZERO) !== oldSha) {
          return { ok: false, stderr: `cannot lock ref '${ref}': is at ${current ?? "nothing"} but expected ${oldSha}` };
        }
      }
      const command = newSha === null ? `delete ${ref}${oldSha === null ? "" : ` ${oldSha}`}` : `update ${ref} ${newSha}${oldSha === null ? "" : ` ${oldSha}`}`;
      return this.writer.transact(["option no-deref", command]);
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.writer.close(), this.reader.close()]);
  }
}

const caches = new Map<string, RepoCache>();

export function repoCache(repoPath: string): RepoCache {
  let cache = caches.get(repoPath);
  if (!cache) {
    cache = new RepoCache(repoPath);
    caches.set(repoPath, cache);
  }
  return cache;
}

/** Forgets the repositories under `dir` and ends their git processes (the fake is closing). */
export async function closeRepoCaches(dir: string): Promise<void> {
  const prefix = dir.endsWith(sep) ? dir : `${dir}${sep}`;
  const closing: Array<Promise<void>> = [];
  for (const [path, cache] of caches) {
    if (path !== dir && !path.startsWith(prefix)) continue;
    caches.delete(path);
    closing.push(cache.close());
  }
  await Promise.all(closing);
}
