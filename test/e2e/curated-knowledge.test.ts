import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderResearchIndex } from "../../src/core/research-index.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

// Curated knowledge end to end: the real CLI writes notes under docs/research/
// and docs/knowledge/ (one a path the repository's .gitignore names), and
// whatever the session's end (success, failure, interrupt, stall) they are on
// the pushed branch, with docs/research/INDEX.md rendered in the same commit.

const OWNER = "octo-org";
const REPO = "notes";
const STALLING = "stalls";
const FILES = {
  "README.md": "# notes\n",
  ".gitignore": "*.local.md\n",
  "docs/research/existing.md": "# Existing research\n",
};

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8" });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

let stack: Stack;

beforeAll(async () => {
  const scenarios = await Promise.all(
    ["knowledge-success.yaml", "knowledge-failure.yaml", "knowledge-interrupt.yaml", "knowledge-stall.yaml", "knowledge-secret.yaml"].map((f) =>
      loadScenario(path.resolve("test/fixtures/scenarios", f)),
    ),
  );
  stack = await startStack({ scenarios, progressIntervalMs: 3_600_000 });
  for (const name of [REPO, STALLING]) {
    // The stalling repository's sessions end after 15 s without output from the CLI.
    const files = name === STALLING ? { ...FILES, ".github/harness.yml": "timeouts:\n  stallMinutes: 0.25\n" } : FILES;
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name, defaultBranch: "main", files });
    stack.github.setPermission(OWNER, name, "ada", "write");
  }
});

afterAll(async () => {
  await stack?.close();
});

/** The pushed branch's files under docs/research/ and docs/knowledge/, and what its last commit changed. */
function pushed(repo: string, issue: number): { files: Map<string, string>; lastCommit: string[] } {
  const repoPath = stack.github.repoPath(OWNER, repo);
  const branch = `refs/heads/harness/issue-${issue}`;
  const names = git(repoPath, "ls-tree", "-r", "-z", "--name-only", branch, "--", "docs")
    .split("\0")
    .filter((p) => p !== "");
  const files = new Map(names.map((p) => [p, git(repoPath, "show", `${branch}:${p}`)]));
  const lastCommit = git(repoPath, "diff-tree", "--no-commit-id", "-r", "-z", "--name-only", branch)
    .split("\0")
    .filter((p) => p !== "");
  return { files, lastCommit };
}

function expectIndexed(repo: string, issue: number, written: Record<string, string>): void {
  const { files, lastCommit } = pushed(repo, issue);
  for (const [p, text] of Object.entries(written)) expect(files.get(p)).toBe(text);
  const research = [...files].filter(([p]) => p.startsWith("docs/research/")).map(([p, text]) => ({ path: p, text }));
  expect(files.get("docs/research/INDEX.md")).toBe(renderResearchIndex(research));
  expect(files.get("docs/research/INDEX.md")).toContain("- [Existing research](existing.md)");
  // The index is rendered in the same commit as the notes.
  for (const p of [...Object.keys(written).filter((x) => x.startsWith("docs/research/")), "docs/research/INDEX.md"]) expect(lastCommit).toContain(p);
}

async function queue(repo: string, title: string, scenario: string): Promise<number> {
  const issue = await stack.github.createIssue(OWNER, repo, { title, body: `[scenario:${scenario}] write down what you learn`, user: "ada" });
  await stack.github.addLabel(OWNER, repo, issue.number, "harness:queued", { sender: "ada" });
  return issue.number;
}

describe("curated knowledge lands through the pull request (fake GitHub, real CLI)", () => {
  it("success: the notes, the ignored knowledge file and the rendered INDEX.md (the model's own replaced) are in the pull request", async () => {
    const issue = await queue(REPO, "Study the cache", "knowledge-success");
    await stack.idle();
    expect(stack.results.find((r) => r.issue === issue)?.outcome).toBe("success");
    expectIndexed(REPO, issue, {
      "docs/research/cache study.md": "---\ntitle: Caché study — 缓存\n---\n# Findings\n\nThe cache misses on cold start.\n",
      "docs/knowledge/setup.local.md": "# Local setup\n\nRun the tests with one worker.\n",
    });
    const index = pushed(REPO, issue).files.get("docs/research/INDEX.md") ?? "";
    expect(index).not.toContain("My own index");
    expect(index).toContain("- [Caché study — 缓存](cache%20study.md) — `docs/research/cache study.md`");
    const pull = (await stack.github.listPulls(OWNER, REPO)).find((p) => p.head.ref === `harness/issue-${issue}`);
    expect(pull?.draft).toBe(false);
    stack.github.assertNoViolations();
  });

  it("failure: a session that ends in an API error still pushes its notes, in a draft pull request", async () => {
    const issue = await queue(REPO, "Try the parser", "knowledge-failure");
    await stack.idle();
    const result = stack.results.find((r) => r.issue === issue);
    expect(result?.outcome).toBe("api_error");
    expect(result?.label).toBe("harness:failed");
    expectIndexed(REPO, issue, {
      "docs/research/failed-approach.md": "# Why the first approach failed\n\nThe parser is not reentrant.\n",
      "docs/knowledge/parser.local.md": "# Parser notes\n",
    });
    expect((await stack.github.listPulls(OWNER, REPO)).find((p) => p.head.ref === `harness/issue-${issue}`)?.draft).toBe(true);
  });

  it("interrupt: the work in progress pushed includes the notes and the index", async () => {
    const issue = await queue(REPO, "Long job", "knowledge-interrupt");
    await until(() => stack.model.requests.some((r) => r.scenario === "knowledge-interrupt" && r.turn === 1), "the notes written");
    await stack.github.comment(OWNER, REPO, issue, "/interrupt", { sender: "ada" });
    await stack.idle();
    const result = stack.results.find((r) => r.issue === issue);
    expect(result?.interrupted).toBe(true);
    expect(result?.pushed).toBe(true);
    expectIndexed(REPO, issue, {
      "docs/research/halfway.md": "# Halfway there\n\nStep one is done.\n",
      "docs/knowledge/steps.local.md": "# Steps\n",
    });
  });

  it("stall: a session the stall timer ends pushes its notes and the index", async () => {
    const issue = await queue(STALLING, "Stall", "knowledge-stall");
    await stack.idle();
    const result = stack.results.find((r) => r.issue === issue && r.repository === `${OWNER}/${STALLING}`);
    expect(result?.outcome).toBe("stalled");
    expect(result?.pushed).toBe(true);
    expectIndexed(STALLING, issue, { "docs/research/stalled.md": "# Before the stall\n", "docs/knowledge/stall.local.md": "# Stall notes\n" });
  });

  it("the publish gate still judges knowledge files: a token in one is refused and nothing is pushed", async () => {
    const issue = await queue(REPO, "Note the credentials", "knowledge-secret");
    await stack.idle();
    expect(stack.results.find((r) => r.issue === issue)?.error?.code).toBe("EHARNESS_PUBLISH_REFUSED");
    expect(() => git(stack.github.repoPath(OWNER, REPO), "rev-parse", "--verify", "--quiet", `refs/heads/harness/issue-${issue}`)).toThrow();
  });
});
