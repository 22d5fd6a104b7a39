/**
 * The harness's commit of a session's leftovers: curated knowledge lands even
 * where an ignore rule names it, and docs/research/INDEX.md is rendered into
 * the same commit whenever the branch changes docs/research/. Real git against
 * the offline GitHub's repository.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { renderResearchIndex } from "../../src/core/research-index.js";
import { StepClock } from "../../src/core/step-clock.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { commitWork } from "../../src/runtime/commit-work.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { prepareWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "acme";
const REPO = "notes";
let root: string;
let github: FakeGitHub;
let issue = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-commit-work-"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({
    owner: OWNER,
    name: REPO,
    files: {
      "README.md": "# notes\n",
      ".gitignore": "docs/knowledge/\n*.local.*\nbuild/\n",
      "docs/research/existing.md": "# Existing research\n",
    },
  });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function workspace(): Promise<Workspace> {
  issue += 1;
  const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
  return prepareWorkspace({
    github: client,
    state: new StateDir(path.join(root, "state")),
    gitUrl: () => github.gitUrl(OWNER, REPO),
    issue,
    branch: `harness/issue-${issue}`,
    queuedLabel: "harness:queued",
    clock: new StepClock(),
    log: silentLogger(),
  });
}

async function write(ws: Workspace, file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(ws.worktree.path, file)), { recursive: true });
  await fs.writeFile(path.join(ws.worktree.path, file), text);
}

const branchRef = (ws: Workspace): string => `refs/heads/${ws.worktree.branch}`;
const show = (ws: Workspace, spec: string): string => execFileSync("git", ["--git-dir", ws.git.cloneDir, "show", spec], { encoding: "utf8" });
const tree = (ws: Workspace, rev: string): string[] =>
  execFileSync("git", ["--git-dir", ws.git.cloneDir, "ls-tree", "-r", "--name-only", rev], { encoding: "utf8" }).trim().split("\n");

describe("commitWork", () => {
  it("commits curated Markdown an ignore rule names, and renders INDEX.md from the commit's research files", async () => {
    const ws = await workspace();
    await write(ws, "docs/knowledge/how-we-cache.md", "# How we cache\n");
    await write(ws, "docs/research/drafts/idea.local.md", "# An idea\n");
    await write(ws, "docs/research/new finding.md", "---\ntitle: Ünïcode finding\n---\nbody\n");
    await write(ws, "docs/knowledge/data/sample.local.csv", "a,b\n");
    await write(ws, "build/out.md", "ignored build output\n");
    const done = await commitWork(ws, "harness: work");
    expect(done.head).not.toBeNull();
    expect(done.forced.sort()).toEqual(["docs/knowledge/data/sample.local.csv", "docs/knowledge/how-we-cache.md", "docs/research/drafts/idea.local.md"]);
    expect(done.researchIndex).toBe(true);
    const files = tree(ws, branchRef(ws));
    expect(files).toEqual(
      expect.arrayContaining([
        "docs/knowledge/how-we-cache.md",
        "docs/research/drafts/idea.local.md",
        "docs/research/new finding.md",
        "docs/research/INDEX.md",
      ]),
    );
    // Ignore rules still hold outside the curated directories.
    expect(files).not.toContain("build/out.md");
    const expected = renderResearchIndex([
      { path: "docs/research/existing.md", text: "# Existing research\n" },
      { path: "docs/research/drafts/idea.local.md", text: "# An idea\n" },
      { path: "docs/research/new finding.md", text: "---\ntitle: Ünïcode finding\n---\nbody\n" },
    ]);
    expect(show(ws, `${branchRef(ws)}:docs/research/INDEX.md`)).toBe(expected);
    expect(expected).toContain("- [Ünïcode finding](new%20finding.md)");
  });

  it("replaces an INDEX.md the model edited (the rendering wins), and a rerun adds nothing", async () => {
    const ws = await workspace();
    await write(ws, "docs/research/more.md", "# More\n");
    await write(ws, "docs/research/INDEX.md", "# My own index\n\n- whatever\n");
    await commitWork(ws, "harness: first");
    const rendered = show(ws, `${branchRef(ws)}:docs/research/INDEX.md`);
    expect(rendered).not.toContain("My own index");
    expect(rendered).toContain("- [More](more.md)");
    const head = execFileSync("git", ["--git-dir", ws.worktree.gitDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    // The worktree still holds the model's text; committing again changes nothing in the index.
    const again = await commitWork(ws, "harness: again");
    expect(again.head === null || again.head === head).toBe(true);
    expect(show(ws, `${branchRef(ws)}:docs/research/INDEX.md`)).toBe(rendered);
  });

  it("never writes through an INDEX.md the agent made a symlink: the link is replaced in the commit, its target untouched", async () => {
    const ws = await workspace();
    const target = path.join(root, "outside.txt");
    await fs.writeFile(target, "precious\n");
    await write(ws, "docs/research/x.md", "# X\n");
    await fs.symlink(target, path.join(ws.worktree.path, "docs/research/INDEX.md"));
    await commitWork(ws, "harness: link");
    expect(await fs.readFile(target, "utf8")).toBe("precious\n");
    const mode = execFileSync("git", ["--git-dir", ws.git.cloneDir, "ls-tree", branchRef(ws), "docs/research/INDEX.md"], { encoding: "utf8" }).split(" ")[0];
    expect(mode).toBe("100644");
    expect(show(ws, `${branchRef(ws)}:docs/research/INDEX.md`)).toContain("- [X](x.md)");
  });

  it("leaves INDEX.md alone when the branch does not change docs/research/", async () => {
    const ws = await workspace();
    await write(ws, "src/app.js", "export const x = 1;\n");
    await write(ws, "docs/knowledge/k.md", "# K\n");
    const done = await commitWork(ws, "harness: code");
    expect(done.researchIndex).toBe(false);
    expect(tree(ws, branchRef(ws))).not.toContain("docs/research/INDEX.md");
    // Nothing left at all: no commit.
    expect((await commitWork(ws, "harness: nothing")).head).toBeNull();
  });
});
