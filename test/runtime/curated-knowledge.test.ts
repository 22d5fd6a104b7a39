/**
 * Curated knowledge read from the shared clone with git, and its citations
 * checked against the default branch: real git against the offline GitHub's
 * repository, whose default branch a test edits the way a merged pull request would.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { fileLines, hashLines } from "../../src/core/citation-check.js";
import { StepClock } from "../../src/core/step-clock.js";
import { commitFiles, updateRef } from "../../src/offline/fake-github/git.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { checkCitations, loadCuratedKnowledge, readCuratedDocuments, resolveCitations, type CuratedSource } from "../../src/runtime/curated-knowledge.js";
import { sharedClone } from "../../src/runtime/shared-clone.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { prepareWorkspace } from "../../src/runtime/workspace.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "acme";
const REPO = "facts";
const WHO = { name: "writer", email: "writer@example.invalid" };
const CACHE = ["// the cache", "export function cached(key) {", "  return store.get(key) ?? compute(key);", "}", "export const TTL = 60;", ""].join("\n");

let root: string;
let github: FakeGitHub;
let state: StateDir;
let first: string;
let issue = 0;

const repoPath = (): string => github.repoPath(OWNER, REPO);
const main = async (): Promise<string> => (await github.readRef(OWNER, REPO, "refs/heads/main")) ?? "";

/** A commit on main with these files (the whole tree), like a merged pull request. */
async function merge(files: Record<string, string>, message: string): Promise<string> {
  const parent = await main();
  const sha = await commitFiles(repoPath(), files, message, [parent], WHO);
  expect((await updateRef(repoPath(), "refs/heads/main", sha, parent)).ok).toBe(true);
  return sha;
}

/** What the workspace stage does before every session: the shared clone fetched where it is behind. */
async function fetchClone(): Promise<CuratedSource> {
  issue += 1;
  const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
  await prepareWorkspace({
    github: client,
    state,
    gitUrl: () => github.gitUrl(OWNER, REPO),
    issue,
    branch: `harness/issue-${issue}`,
    queuedLabel: "harness:queued",
    clock: new StepClock(),
    log: silentLogger(),
  });
  return { git: sharedClone(state, client), repository: `${OWNER}/${REPO}`, defaultBranch: "main" };
}

function doc(commit: string, lines = "2-4", extra = ""): string {
  return `---\ntitle: The cache falls back to compute\ncites:\n  - path: src/cache.js\n    lines: ${lines}\n    commit: ${commit}\n${extra}---\n# Cache\n\nA miss computes the value.\n`;
}

let files: Record<string, string>;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-curated-"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# facts\n", "src/cache.js": CACHE } });
  state = new StateDir(path.join(root, "state"));
  first = await main();
  files = {
    "README.md": "# facts\n",
    "src/cache.js": CACHE,
    "docs/knowledge/cache.md": doc(first),
    "docs/research/INDEX.md": "generated, not a document\n",
    "docs/research/notes.md": "# Notes without citations\n",
    "docs/other/not-knowledge.md": "# elsewhere\n",
  };
  await merge(files, "docs: the cache");
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("readCuratedDocuments", () => {
  it("reads the default branch's curated Markdown as merged documents, citations resolved with their sha256", async () => {
    const source = await fetchClone();
    const read = await readCuratedDocuments(source);
    expect(read.head).toBe(await main());
    expect(read.documents.map((d) => d.path)).toEqual(["docs/knowledge/cache.md", "docs/research/notes.md"]);
    const cache = read.documents[0]!;
    expect(cache).toMatchObject({
      id: `doc:${OWNER}/${REPO}:docs/knowledge/cache.md`,
      kind: "doc",
      repository: `${OWNER}/${REPO}`,
      issue: null,
      title: "The cache falls back to compute",
      text: "# Cache\n\nA miss computes the value.\n",
      trust: "merged",
    });
    expect(cache.at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(cache.citations).toEqual([{ path: "src/cache.js", startLine: 2, endLine: 4, commit: first, sha256: hashLines(fileLines(CACHE).slice(1, 4)) }]);
    expect(read.invalid.size).toBe(0);
    expect(read.links).toEqual([{ type: "cites", from: cache.id, to: `file:${OWNER}/${REPO}:src/cache.js` }]);
    expect(await checkCitations(source, read.documents)).toMatchObject([
      { id: cache.id, status: "current" },
      { id: read.documents[1]!.id, status: "current", citations: [] },
    ]);
  });

  it("never reads a branch's files: a document only on a pull request's branch is not knowledge", async () => {
    const branchSha = await commitFiles(repoPath(), { ...files, "docs/knowledge/unmerged.md": "# Not reviewed yet\n" }, "unmerged", [await main()], WHO);
    expect((await updateRef(repoPath(), "refs/heads/harness/issue-99", branchSha, null)).ok).toBe(true);
    const source = await fetchClone();
    await source.git.fetchBranches(github.gitUrl(OWNER, REPO), ["harness/issue-99"]);
    expect(await source.git.hasCommit(branchSha)).toBe(true);
    const read = await readCuratedDocuments(source);
    expect(read.documents.map((d) => d.path)).not.toContain("docs/knowledge/unmerged.md");
  });

  it("a citation whose commit is missing, not on the default branch, or whose lines or sha256 do not fit makes the document invalid", async () => {
    const offMain = await commitFiles(repoPath(), { ...files, "src/cache.js": "other\n" }, "side", [await main()], WHO);
    expect((await updateRef(repoPath(), "refs/heads/side", offMain, null)).ok).toBe(true);
    await merge(
      {
        ...files,
        "docs/knowledge/missing.md": doc("deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"),
        "docs/knowledge/side.md": doc(offMain),
        "docs/knowledge/range.md": doc(first, "4-40"),
        "docs/knowledge/hash.md": doc(first, "2-4", `    sha256: ${"0".repeat(64)}\n`),
        "docs/knowledge/nofile.md": doc(first).replace("src/cache.js", "src/gone.js"),
        "docs/knowledge/mixed.md": `---\ncites:\n  - path: src/cache.js\n    lines: 9-1\n    commit: ${first}\n  - path: src/cache.js\n    lines: 1\n    commit: 1234567\n---\n# Mixed\n`,
        "docs/knowledge/huge.md": `# Huge\n${"x".repeat(1024 * 1024)}\n`,
      },
      "docs: bad citations",
    );
    const source = await fetchClone();
    await source.git.fetchBranches(github.gitUrl(OWNER, REPO), ["side"]);
    const read = await readCuratedDocuments(source);
    const reason = (name: string): string => (read.invalid.get(`doc:${OWNER}/${REPO}:docs/knowledge/${name}.md`) ?? []).join("; ");
    expect(reason("missing")).toContain("is not in the repository");
    expect(reason("side")).toContain("is not on the default branch");
    expect(reason("range")).toContain("has 5 lines");
    expect(reason("hash")).toContain("sha256");
    expect(reason("nofile")).toContain("src/gone.js is not in commit");
    expect(reason("cache")).toBe("");
    // Numbered as in the file's `cites` list, the malformed entry included.
    expect(read.invalid.get(`doc:${OWNER}/${REPO}:docs/knowledge/mixed.md`)).toEqual([
      "citation 1: `lines` must be a line number or a range like 10-20 (1-based, start ≤ end)",
      "citation 2: commit 1234567 is not in the repository",
    ]);
    // A file over 1 MiB is not a document.
    expect(read.documents.map((d) => d.path)).not.toContain("docs/knowledge/huge.md");
    const verdicts = await checkCitations(source, read.documents, read.invalid);
    expect(Object.fromEntries(verdicts.map((v) => [v.id.split("/").pop(), v.status]))).toEqual({
      "cache.md": "current",
      "hash.md": "invalid",
      "mixed.md": "invalid",
      "missing.md": "invalid",
      "nofile.md": "invalid",
      "range.md": "invalid",
      "side.md": "invalid",
      "notes.md": "current",
    });
    await merge(files, "docs: drop the bad ones");
  });
});

describe("resolveCitations", () => {
  it("gives a writer the citation with its sha256 at the commit, or why it cannot be one", async () => {
    const source = await fetchClone();
    const resolved = await resolveCitations(source, [
      { path: "src/cache.js", startLine: 2, endLine: 3, commit: first.slice(0, 10), sha256: null },
      { path: "src/cache.js", startLine: 2, endLine: 3, commit: "feedface", sha256: null },
    ]);
    expect(resolved).toEqual([
      { path: "src/cache.js", startLine: 2, endLine: 3, commit: first, sha256: hashLines(fileLines(CACHE).slice(1, 3)) },
      { invalid: "commit feedface is not in the repository" },
    ]);
  });
});

describe("checkCitations against the default branch", () => {
  it("edited cited code on the default branch makes the document stale, naming the citation", async () => {
    const before = await fetchClone();
    const read = await readCuratedDocuments(before);
    const cache = read.documents.find((d) => d.path === "docs/knowledge/cache.md")!;
    expect((await checkCitations(before, [cache]))[0]?.status).toBe("current");

    // A later merge changes a cited line.
    await merge({ ...files, "src/cache.js": CACHE.replace("?? compute(key)", "|| null") }, "cache: no fallback");
    const after = await fetchClone();
    const [verdict] = await checkCitations(after, [cache]);
    expect(verdict?.status).toBe("stale");
    if (verdict?.status !== "stale") return;
    expect(verdict.stale).toHaveLength(1);
    expect(verdict.stale[0]).toMatchObject({ reason: "changed", citation: { path: "src/cache.js", startLine: 2, endLine: 4, commit: first } });
    expect(verdict.stale[0]?.why).toContain("src/cache.js:2-4");
    // Read again from the new head, the document is still stale: its citation is still at the old commit.
    const reread = await readCuratedDocuments(after);
    expect(
      (
        await checkCitations(
          after,
          reread.documents.filter((d) => d.path === "docs/knowledge/cache.md"),
        )
      )[0]?.status,
    ).toBe("stale");
  });

  it("loadCuratedKnowledge: each document with its verdict and, when unused for 28 days, the expiry", async () => {
    const source = await fetchClone();
    const id = `doc:${OWNER}/${REPO}:docs/knowledge/cache.md`;
    const notes = `doc:${OWNER}/${REPO}:docs/research/notes.md`;
    const now = new Date(Date.now() + 40 * 86_400_000);
    const loaded = await loadCuratedKnowledge(source, { now, lastUsed: new Map([[notes, new Date(now.getTime() - 86_400_000).toISOString()]]) });
    expect(loaded.head).toBe(await main());
    const byId = new Map(loaded.entries.map((e) => [e.document.id, e]));
    // The cited line changed in the test above: stale, and never used in 40 days: flagged.
    expect(byId.get(id)?.freshness.status).toBe("stale");
    expect(byId.get(id)?.expired?.reason).toMatch(/^never used in the 40 days/);
    expect(byId.get(notes)).toMatchObject({ freshness: { status: "current" }, expired: null });
  });

  it("lines shifted by an edit above them, or a file renamed, are found at their new place: current", async () => {
    await merge({ ...files, "src/cache.js": `// a new header line\n// and another\n${CACHE}` }, "cache: header");
    const shifted = await fetchClone();
    const cache = (await readCuratedDocuments(shifted)).documents.find((d) => d.path === "docs/knowledge/cache.md")!;
    expect((await checkCitations(shifted, [cache]))[0]).toMatchObject({
      status: "current",
      citations: [{ moved: true, at: { path: "src/cache.js", startLine: 4, endLine: 6 } }],
    });

    const { "src/cache.js": moved, ...rest } = files;
    await merge({ ...rest, "lib/cache.js": moved ?? "" }, "cache: move to lib/");
    const renamed = await fetchClone();
    expect((await checkCitations(renamed, [cache]))[0]).toMatchObject({
      status: "current",
      citations: [{ moved: true, at: { path: "lib/cache.js", startLine: 2 } }],
    });

    await merge(rest, "cache: removed");
    const removed = await fetchClone();
    expect((await checkCitations(removed, [cache]))[0]).toMatchObject({ status: "stale", stale: [{ reason: "deleted" }] });
  });
});
