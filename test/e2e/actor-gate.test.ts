/**
 * Who may start an agent, end to end: the queue label applied by each kind of
 * actor through the offline GitHub (signed webhook, Probot, the claim stage's
 * gate). Writers, maintainers and admins start one; triage, read, outsiders,
 * bots and the harness's own App do not (their label is taken off with one
 * reply); a permission lookup that fails starts nothing and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../src/cli/stack.js";
import type { Scenario } from "../../src/offline/model-server.js";

const OWNER = "acme";
const REPO = "gate";
const scenario: Scenario = {
  name: "gate",
  match: "[scenario:gate]",
  turns: [{ toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/done.txt", content: "done\n" } }] }, { text: "Wrote done.txt." }],
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ scenarios: [scenario], progressIntervalMs: 3_600_000 });
  await stack.github.createRepo({
    owner: OWNER,
    name: REPO,
    files: { "README.md": "x\n", ".github/harness.yml": 'trust:\n  allowBots: ["friendly-ci[bot]"]\n' },
    collaborators: { wanda: "write", max: "maintain", tracy: "triage", rita: "read", "renovate[bot]": "write", "friendly-ci[bot]": "write" },
  });
});

afterAll(async () => {
  await stack?.close();
});

async function labelBy(sender: string): Promise<number> {
  const issue = await stack.github.createIssue(OWNER, REPO, { title: `by ${sender}`, body: "[scenario:gate] Write done.txt.", user: "someone" });
  await stack.github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender });
  await stack.idle();
  return issue.number;
}

function labelsOf(issue: number): string[] {
  return stack.github.getIssue(OWNER, REPO, issue).labelNames;
}

function refusals(issue: number): string[] {
  return stack.github
    .listComments(OWNER, REPO, issue)
    .map((c) => c.body ?? "")
    .filter((b) => b.startsWith("<!-- harness:label-refused -->"));
}

describe("the queue label starts an agent only from a writer", () => {
  it.each([
    ["write", "wanda"],
    ["maintain", "max"],
    ["admin (the owner)", OWNER],
    ["a bot listed in trust.allowBots", "friendly-ci[bot]"],
  ])("%s: the agent works the issue", async (_kind, sender) => {
    const issue = await labelBy(sender);
    expect(labelsOf(issue)).toContain("harness:done");
    expect(stack.results.find((r) => r.issue === issue)?.outcome).toBe("success");
    expect(refusals(issue)).toEqual([]);
  });

  it.each([
    ["triage", "tracy", /permission on this repository is triage/],
    ["read", "rita", /permission on this repository is read/],
    ["an outsider", "olga", /permission on this repository is none/],
    ["a bot with write access, not listed", "renovate[bot]", /bot renovate\[bot\], and bots do not start agents/],
  ])("%s: no agent, the label taken off, one reply saying why", async (_kind, sender, why) => {
    const issue = await labelBy(sender);
    expect(stack.results.find((r) => r.issue === issue)).toBeUndefined();
    expect(labelsOf(issue)).not.toContain("harness:queued");
    expect(labelsOf(issue).filter((l) => l.startsWith("harness:"))).toEqual([]);
    const replies = refusals(issue);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(why);
    expect(replies[0]).toContain("EHARNESS_NOT_ALLOWED");
    // Nothing was claimed: no lease ref, no branch.
    expect(await stack.github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue}`)).toBeNull();
  });

  it("a permission lookup that fails starts nothing and keeps the label (the reconciler looks again)", async () => {
    stack.github.setRequestHook((request) =>
      request.operationId === "repos/get-collaborator-permission-level" && request.path.includes("/wanda/")
        ? { respond: { status: 502, body: { message: "Server Error" } } }
        : undefined,
    );
    try {
      const issue = await labelBy("wanda");
      expect(stack.results.find((r) => r.issue === issue)).toBeUndefined();
      expect(labelsOf(issue)).toContain("harness:queued");
      expect(refusals(issue)).toEqual([]);
    } finally {
      stack.github.setRequestHook(null);
    }
  });
});
