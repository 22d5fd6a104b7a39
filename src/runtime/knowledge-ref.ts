import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import { parseRecordJson, recordJson, type SessionRecord } from "../core/session-record.js";
import type { GitCredentials, GitRepository } from "../adapters/git.js";

/**
 * The per-attempt history on the repository: `refs/harness/knowledge`, a chain of
 * commits by the harness, one per session record appended, whose tree holds
 *
 *   sessions/<issue>/<sessionId>-<attempt>.json   one SessionRecord (recordJson)
 *
 * Like the lease and session refs it is written with plain git in the host's shared
 * clone and pushed without force (a compare-and-swap: GitRepository.pushRef); a
 * push that lost the race is fetched again and replayed on the new head. It is
 * not a branch, so no pull request, check or merge sees it, and it survives
 * attempts whose branch is never merged.
 */
export const KNOWLEDGE_REF = "refs/harness/knowledge";

/** How often an append is replayed on a moved ref before it gives up (each replay fetches once). */
const APPEND_ATTEMPTS = 6;

export interface KnowledgeRemote {
  git: GitRepository;
  url: string;
  credentials: GitCredentials;
}

/** The file of a record in the ref's tree. */
export function recordPath(record: Pick<SessionRecord, "issue" | "sessionId" | "attempt">): string {
  return `sessions/${record.issue}/${record.sessionId}-${record.attempt}.json`;
}

/**
 * Brings the ref into the shared clone with one `git fetch`: its head afterwards,
 * or null when the repository has none yet (the local copy is then dropped too, so a
 * ref deleted on the repository is not read from a stale copy).
 */
export async function fetchKnowledge(remote: KnowledgeRemote): Promise<string | null> {
  const { git } = remote;
  const fetched = await git.run(["fetch", "--quiet", "--no-tags", remote.url, `+${KNOWLEDGE_REF}:${KNOWLEDGE_REF}`], {
    credentials: remote.credentials,
    allowFailure: true,
  });
  if (fetched.exitCode !== 0) {
    if (/couldn't find remote ref|no such ref|not our ref/i.test(fetched.stderr)) {
      await git.run(["update-ref", "-d", KNOWLEDGE_REF], { allowFailure: true });
      return null;
    }
    throw new HarnessError("EHARNESS_GIT", {
      message: `Fetching ${KNOWLEDGE_REF} failed: ${fetched.stderr.slice(0, 300)}`,
      fix: "Check the harness's access to the repository; sessions start without earlier knowledge meanwhile.",
    });
  }
  return localHead(git);
}

/** refs/harness/knowledge as a workspace's preparation saw it: the remote's head (null: it has none) and whether the clone's copy was brought to it. */
export interface RemoteKnowledge {
  head: string | null;
  fetched: boolean;
}

/**
 * The clone's copy of the ref brought to the remote's: nothing to do when the workspace's fetch
 * did it already (`seen.fetched`), the local copy dropped when the remote had none, else one
 * `git fetch` (fetchKnowledge). Its head afterwards, or null.
 */
export async function syncKnowledge(remote: KnowledgeRemote, seen?: RemoteKnowledge): Promise<string | null> {
  if (!seen?.fetched) return fetchKnowledge(remote);
  if (seen.head === null) {
    await remote.git.run(["update-ref", "-d", KNOWLEDGE_REF], { allowFailure: true });
    return null;
  }
  return seen.head;
}

async function localHead(git: GitRepository): Promise<string | null> {
  const head = await git.run(["rev-parse", "--verify", "--quiet", `${KNOWLEDGE_REF}^{commit}`], { allowFailure: true });
  return head.exitCode === 0 ? head.stdout.trim() : null;
}

/** What the local copy of the ref holds for these issues (all issues when absent); unreadable files are skipped and named. */
export async function readRecords(
  git: GitRepository,
  options: { issues?: number[]; repository?: string } = {},
): Promise<{ records: SessionRecord[]; skipped: { path: string; detail: string }[] }> {
  const head = await localHead(git);
  if (head === null) return { records: [], skipped: [] };
  const dirs = options.issues === undefined ? ["sessions/"] : options.issues.map((n) => `sessions/${n}/`);
  if (dirs.length === 0) return { records: [], skipped: [] };
  const listed = await git.run(["ls-tree", "-r", "-z", "--full-tree", head, "--", ...dirs]);
  const entries = listed.stdout
    .split("\0")
    .filter((l) => l !== "")
    .map((line) => {
      const [meta, file] = line.split("\t") as [string, string];
      return { sha: meta.split(" ")[2] ?? "", file };
    })
    .filter((e) => e.file.endsWith(".json"))
    .sort((a, b) => a.file.localeCompare(b.file));
  const records: SessionRecord[] = [];
  const skipped: { path: string; detail: string }[] = [];
  if (entries.length === 0) return { records, skipped };
  // One process for every blob: `cat-file --batch` answers "<sha> blob <size>\n<content>\n" per line asked.
  const batch = await git.run(["cat-file", "--batch"], { input: entries.map((e) => `${e.sha}\n`).join("") });
  const out = Buffer.from(batch.stdout, "utf8");
  let offset = 0;
  for (const e of entries) {
    const newline = out.indexOf(10, offset);
    const header = out.subarray(offset, newline).toString("utf8");
    const size = Number(header.split(" ")[2]);
    if (newline < 0 || !Number.isInteger(size)) {
      skipped.push({ path: e.file, detail: `unreadable (${header.slice(0, 80)})` });
      break;
    }
    const text = out.subarray(newline + 1, newline + 1 + size).toString("utf8");
    offset = newline + 1 + size + 1;
    const issue = Number(e.file.split("/")[1]);
    const parsed = parseRecordJson(text, { issue, ...(options.repository !== undefined ? { repository: options.repository } : {}) });
    if (!parsed.ok) skipped.push({ path: e.file, detail: parsed.detail });
    else if (recordPath(parsed.record) !== e.file) skipped.push({ path: e.file, detail: "its file name does not match its session and attempt" });
    else records.push(parsed.record);
  }
  return { records, skipped };
}

/**
 * Appends one record: a commit on the ref's head whose tree adds (or replaces) the
 * record's file, pushed without force; rejected (another host appended first) it is
 * fetched and replayed. Returns the commit that holds it; a record already there
 * byte for byte is not written again.
 *
 * `fetched`: the clone's copy of the ref was fetched for this attempt already (its
 * prompt's knowledge): the first try builds on it without fetching again; the push is
 * the compare-and-swap all the same, and a copy that fell behind is rejected, fetched
 * and replayed. The tree is built in a private index (read-tree, update-index,
 * write-tree): a handful of git processes whatever the ref holds.
 */
export async function appendRecord(
  remote: KnowledgeRemote,
  record: SessionRecord,
  options: { fetched?: boolean } = {},
): Promise<{ commit: string; written: boolean }> {
  const { git } = remote;
  const json = recordJson(record);
  const file = recordPath(record);
  await git.ensureClone();
  const blob = (await git.run(["hash-object", "-w", "--stdin"], { input: json })).stdout.trim();
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-"));
  const index = { indexFile: path.join(scratch, "index") };
  try {
    for (let attempt = 1; ; attempt += 1) {
      const parent = attempt === 1 && options.fetched === true ? await localHead(git) : await fetchKnowledge(remote);
      await git.run(parent === null ? ["read-tree", "--empty"] : ["read-tree", parent], index);
      await git.run(["update-index", "--add", "--cacheinfo", `100644,${blob},${file}`], index);
      const tree = (await git.run(["write-tree"], index)).stdout.trim();
      if (parent !== null && (await git.run(["rev-parse", `${parent}^{tree}`])).stdout.trim() === tree) return { commit: parent, written: false };
      const message = `record of #${record.issue} attempt ${record.attempt} (session ${record.sessionId}, ${record.outcome}, ${record.source})`;
      const commit = await git.commitTree(tree, parent === null ? [] : [parent], message);
      const pushed = await git.pushRef(remote.url, commit, KNOWLEDGE_REF, remote.credentials, parent);
      if (pushed === "landed") {
        await git.run(["update-ref", KNOWLEDGE_REF, commit]);
        return { commit, written: true };
      }
      if (pushed === "unknown" || attempt >= APPEND_ATTEMPTS) {
        throw new HarnessError("EHARNESS_GIT", {
          message: `Appending the record of #${record.issue} attempt ${record.attempt} to ${KNOWLEDGE_REF} failed: ${pushed === "rejected" ? `the ref kept moving (${attempt} tries)` : "the push got no clear answer"}.`,
          fix: "Check the harness's access to the repository (contents: write); the summary comment still holds the record.",
        });
      }
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
