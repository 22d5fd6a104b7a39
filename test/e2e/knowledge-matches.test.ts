/**
 * The index's text matches in the prompt, through the offline stack (fake GitHub, real
 * CLI, scripted model): a curated document merged on the default branch whose words
 * match the issue is carried under "Text matches" and listed as used; once the code it
 * cites changes on the default branch, it is stale and no session is given it.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { systemText } from "../support/system-text.js";

const OWNER = "octo";
const REPO = "matches";
const DOC_ID = `doc:${OWNER}/${REPO}:docs/knowledge/cache-expiry.md`;

describe("text matches from the knowledge index", () => {
  let stack: Stack;
  const git = (...args: string[]): string => execFileSync("git", ["--git-dir", stack.github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
  beforeAll(async () => {
    stack = await startStack({
      scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/knowledge-memory.yaml"))],
      progressIntervalMs: 3_600_000,
    });
    await stack.github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: REPO,
      files: { "README.md": "x\n", "src/cache.ts": "// The widget cache.\nexport const EXPIRY_MINUTES = 10;\nexport function expireEntries(): void {}\n" },
    });
    const head = git("rev-parse", "refs/heads/main");
    await stack.github.pushToBranch(
      OWNER,
      REPO,
      "main",
      {
        "docs/knowledge/cache-expiry.md": [
          "---",
          "title: Widget cache expiry",
          "cites:",
          "  - path: src/cache.ts",
          "    lines: 2-3",
          `    commit: ${head}`,
          "---",
          "",
          "The widget cache expires its entries after EXPIRY_MINUTES (ten minutes); expireEntries drops them.",
          "",
        ].join("\n"),
      },
      "Knowledge: widget cache expiry",
      { sender: "ada" },
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function work(title: string): Promise<{ prompt: string; summary: string }> {
    const { github, model } = stack;
    const issue = await github.createIssue(OWNER, REPO, {
      title,
      body: "[scenario:knowledge-memory] entries of the widget cache expire too early",
      user: "ada",
    });
    const before = model.requests.length;
    const done = stack.results.length;
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const results = stack.results.slice(done).filter((r) => r.issue === issue.number);
    expect(results.map((r) => r.outcome)).toEqual(["success"]);
    const first = model.requests.slice(before).find((r) => r.kind === "turn" && r.turn === 0 && systemText(r).includes(`Issue #${issue.number}:`));
    const summary = github
      .listComments(OWNER, REPO, issue.number)
      .map((c) => c.body ?? "")
      .find((b) => b.startsWith("<!-- harness:summary"));
    return { prompt: systemText(first), summary: summary ?? "" };
  }

  it("carries a current curated document that matches the issue, and lists it as used", { timeout: 300_000 }, async () => {
    const { prompt, summary } = await work("Widget cache expiry is wrong");
    const matches = prompt.split("## Text matches")[1] ?? "";
    expect(matches).toContain(`### Widget cache expiry\nid: ${DOC_ID} · trust: merged`);
    expect(matches).toContain("expires its entries after EXPIRY_MINUTES");
    expect(summary).toContain(`Widget cache expiry · \`${DOC_ID}\``);
  });

  it("never carries it once the cited lines changed on the default branch", { timeout: 300_000 }, async () => {
    await stack.github.pushToBranch(
      OWNER,
      REPO,
      "main",
      { "src/cache.ts": "// The widget cache.\nexport const EXPIRY_MINUTES = 30;\nexport function expireEntries(): void {}\n" },
      "Longer expiry",
      { sender: "ada" },
    );
    const { prompt, summary } = await work("Widget cache expiry is wrong again");
    expect(prompt).not.toContain(DOC_ID);
    expect(prompt).not.toContain("expires its entries after EXPIRY_MINUTES");
    expect(summary).not.toContain(DOC_ID);
  });
});
