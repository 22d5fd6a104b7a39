import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../core/errors.js";
import { openSession, sealSession } from "../core/session-seal.js";
import type { GitCredentials, GitRepository } from "../adapters/git.js";
import { HARNESS_IDENTITY } from "./shared-clone.js";
import { escapeRegExp } from "../core/escape-regexp.js";

/**
 * Keeps a Claude Code session where another runner can continue it: the
 * session's JSONL file (redacted) is committed to `refs/harness/sessions/issue-N`
 * on the repository and pushed without force, so it costs no REST write and any
 * host with access to the repository can restore it under its own HOME and
 * working directory, which is all `claude --resume <id>` needs. With a
 * session key the file is sealed (src/core/session-seal.ts) before it leaves
 * the host, bound to its session id and issue.
 */

/** The directory key the CLI uses for a working directory (see CLAUDE-CLI.md). */
export function projectKey(cwd: string): string {
  return path.resolve(cwd).replace(/[^A-Za-z0-9]/g, "-");
}

export function sessionFile(home: string, cwd: string, sessionId: string): string {
  return path.join(home, ".claude", "projects", projectKey(cwd), `${sessionId}.jsonl`);
}

export function sessionRef(issue: number): string {
  return `refs/harness/sessions/issue-${issue}`;
}

export interface SavedSession {
  sessionId: string;
  issue: number;
  savedAt: string;
  commit: string;
  /** The pushed blob is sealed with the session key (false: plain text). */
  sealed: boolean;
}

async function gitWithInput(git: GitRepository, args: string[], input: string): Promise<string> {
  const result = await execa("git", [`--git-dir=${git.cloneDir}`, ...args], {
    input,
    env: { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", PATH: process.env.PATH ?? "/usr/bin:/bin" },
    extendEnv: false,
  });
  return String(result.stdout).trim();
}

/** Where a session lives: the repository it is saved to, and the HOME and working directory the CLI uses. */
export interface SessionPlace {
  git: GitRepository;
  url: string;
  credentials: GitCredentials;
  issue: number;
  home: string;
  cwd: string;
  /** HARNESS_SESSION_KEY (see parseSessionKey): seals what is saved, opens what is restored. */
  sessionKey?: Buffer;
}

/** Saves the session file of `sessionId` (found under `home` for `cwd`) to the issue's session ref. */
export async function saveSession(
  input: SessionPlace & {
    sessionId: string;
    redact: (text: string) => string;
    now: Date;
  },
): Promise<SavedSession> {
  const file = sessionFile(input.home, input.cwd, input.sessionId);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (cause) {
    throw new HarnessError("EHARNESS_SESSION", {
      message: `The session file of ${input.sessionId} is not at ${file}, so the session cannot be continued elsewhere.`,
      fix: "Use /retry fresh to start a new session that carries the previous summary.",
      cause,
    });
  }
  const { git } = input;
  const ref = sessionRef(input.issue);
  const heads = await git.run(["ls-remote", input.url, ref], { credentials: input.credentials });
  const parent = heads.stdout.split("\t")[0]?.trim() || null;
  if (parent) await git.run(["fetch", "--quiet", "--no-tags", input.url, `+${ref}:${ref}`], { credentials: input.credentials });
  const meta = { sessionId: input.sessionId, issue: input.issue, savedAt: input.now.toISOString() };
  const redacted = input.redact(text);
  const binding = { sessionId: input.sessionId, issue: input.issue };
  const blob = input.sessionKey ? sealSession(redacted, input.sessionKey, binding) : redacted;
  const sessionBlob = await gitWithInput(git, ["hash-object", "-w", "--stdin"], blob);
  const metaBlob = await gitWithInput(git, ["hash-object", "-w", "--stdin"], `${JSON.stringify(meta, null, 2)}\n`);
  const tree = await gitWithInput(git, ["mktree"], `100644 blob ${metaBlob}\tmeta.json\n100644 blob ${sessionBlob}\tsession.jsonl\n`);
  const commitArgs = [
    "-c",
    `user.name=${HARNESS_IDENTITY.name}`,
    "-c",
    `user.email=${HARNESS_IDENTITY.email}`,
    "commit-tree",
    tree,
    ...(parent ? ["-p", parent] : []),
  ];
  const commit = await gitWithInput(git, commitArgs, `session ${input.sessionId} of issue #${input.issue}\n`);
  // An unclear answer is read back (landed, or not applied and sent again): see GitRepository.pushRef.
  const pushed = await git.pushRef(input.url, commit, ref, input.credentials, parent);
  if (pushed !== "landed") {
    throw new HarnessError("EHARNESS_SESSION", {
      message: `Saving session ${input.sessionId} to ${ref} failed: ${pushed === "rejected" ? "the ref moved (another save)" : "the push got no clear answer and the ref did not show it"}.`,
      fix:
        pushed === "rejected"
          ? "Another runner saved a session for this issue at the same moment; /retry again."
          : "Check the harness's access to the repository (contents: write) and the network, then /retry.",
    });
  }
  return { ...meta, commit, sealed: input.sessionKey !== undefined };
}

/**
 * Restores the newest saved session of an issue under `home` for `cwd`.
 * Returns null when none was saved. A sealed session that does not open
 * (no key, another key, altered, another issue's) is EHARNESS_SESSION.
 */
export async function restoreSession(input: SessionPlace): Promise<{ sessionId: string; file: string } | null> {
  const { git } = input;
  const ref = sessionRef(input.issue);
  const heads = await git.run(["ls-remote", input.url, ref], { credentials: input.credentials });
  if (heads.stdout.trim() === "") return null;
  await git.run(["fetch", "--quiet", "--no-tags", input.url, `+${ref}:${ref}`], { credentials: input.credentials });
  const meta = JSON.parse((await git.run(["show", `${ref}:meta.json`])).stdout) as { sessionId: string };
  if (!/^[0-9a-f-]{36}$/.test(meta.sessionId)) {
    throw new HarnessError("EHARNESS_SESSION", {
      message: `The saved session on ${ref} has an invalid id.`,
      fix: "Use /retry fresh to start a new session.",
    });
  }
  const content = await git.run(["show", `${ref}:session.jsonl`]);
  const opened = openSession(content.stdout, input.sessionKey, { sessionId: meta.sessionId, issue: input.issue });
  const file = sessionFile(input.home, input.cwd, meta.sessionId);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const here = atDirectory(opened, path.resolve(input.cwd));
  await fs.writeFile(file, here.endsWith("\n") ? here : `${here}\n`);
  return { sessionId: meta.sessionId, file };
}

/**
 * The session's entries as if they were written in `cwd`. Each entry records the directory
 * the CLI ran in (`cwd`), and 2.1.332 also keeps the requests it sent (`api-request-blob`: the
 * system prompt naming the working directory) and replays them on resume, so a session resumed
 * in another directory (another host, another slot) would be told, and would write to, the
 * directory it started in. Every recorded directory other than `cwd` is replaced by `cwd`
 * wherever it appears as a whole path or a path's start (followed by `/`, a quote, a backslash,
 * whitespace or the end), which also points the history's file paths at this worktree, where
 * the branch's files are. Text is otherwise unchanged.
 */
export function atDirectory(jsonl: string, cwd: string): string {
  const recorded = new Set<string>();
  for (const line of jsonl.split("\n")) {
    if (!line.includes('"cwd"')) continue;
    try {
      const entry = JSON.parse(line) as { cwd?: unknown } | null;
      if (entry && typeof entry.cwd === "string" && entry.cwd.startsWith("/") && entry.cwd !== cwd) recorded.add(entry.cwd);
    } catch {
      // Not JSON: nothing recorded.
    }
  }
  let text = jsonl;
  // The path as it stands inside a JSON string.
  const inJson = JSON.stringify(cwd).slice(1, -1);
  // Longest first, so a directory inside another is not replaced by the shorter one's rule.
  for (const old of [...recorded].sort((a, b) => b.length - a.length)) {
    text = text.replace(new RegExp(`${escapeRegExp(old)}(?=[/"\\\\\\s]|$)`, "gm"), () => inJson);
  }
  return text;
}
