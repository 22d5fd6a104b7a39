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

/** A tree with `name` set to `entry` ("<mode> <type> <sha>") inside the tree `base` (null: empty). */
async function withEntry(git: GitRepository, base: string | null, name: string, entry: string): Promise<string> {
  const lines = base === null ? [] : (await git.run(["ls-tree", "-z", base])).stdout.split("\0").filter((l) => l !== "");
  const kept = lines.filter((l) => l.split("\t")[1] !== name);
  return (await git.run(["mktree", "-z"], { input: [...kept, `${entry}\t${name}`].map((l) => `${l}\0`).join("") })).stdout.trim();
}

async function subtree(git: GitRepository, treeish: string | null, path: string): Promise<string | null> {
  if (treeish === null) return null;
  const found = await git.run(["rev-parse", "--verify", "--quiet", `${treeish}:${path}`], { allowFailure: true });
  return found.exitCode === 0 ? found.stdout.trim() : null;
}

/**
 * Appends one record: a commit on the ref's head whose tree adds (or replaces) the
 * record's file, pushed without force; rejected (another host appended first) it is
 * fetched and replayed. Returns the commit that holds it; a record already there
 * byte for byte is not written again.
 */
export async function appendRecord(remote: KnowledgeRemote, record: SessionRecord): Promise<{ commit: string; written: boolean }> {
  const { git } = remote;
  const json = recordJson(record);
  const file = recordPath(record);
  const blob = (await git.run(["hash-object", "-w", "--stdin"], { input: json })).stdout.trim();
  await git.ensureClone();
  for (let attempt = 1; ; attempt += 1) {
    const parent = await fetchKnowledge(remote);
    if ((await subtree(git, parent, file)) === blob) return { commit: parent!, written: false };
    const root = parent === null ? null : `${parent}^{tree}`;
    const sessionsTree = await subtree(git, parent, "sessions");
    const issueTree = await subtree(git, parent, `sessions/${record.issue}`);
    const newIssue = await withEntry(git, issueTree, `${record.sessionId}-${record.attempt}.json`, `100644 blob ${blob}`);
    const newSessions = await withEntry(git, sessionsTree, String(record.issue), `040000 tree ${newIssue}`);
    const tree = await withEntry(git, root === null ? null : (await git.run(["rev-parse", root])).stdout.trim(), "sessions", `040000 tree ${newSessions}`);
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
}
