/**
 * Without HARNESS_SESSION_KEY a public repository's session is not pushed, so
 * `/retry` resumes it only on the host that ran it: from the session this host
 * keeps in its state directory. On another host (nothing local) the reply says
 * why it cannot, and what to do. Real CLI, scripted model, fake GitHub.
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { loadScenario } from "../../src/offline/model-server.js";

const OWNER = "acme";
const REPO = "keyless";

let stack: Stack;
const git = (...args: string[]): string => execFileSync("git", ["--git-dir", stack.github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
const comments = (n: number): string[] => stack.github.listComments(OWNER, REPO, n).map((c) => c.body ?? "");

beforeAll(async () => {
  const scenarios = [await loadScenario(path.resolve("test/fixtures/scenarios/interruptible.yaml"))];
  stack = await startStack({ scenarios, withoutSessionKey: true });
  await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await stack?.close();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Labels an issue, lets it reach the long step, interrupts it; returns the interrupted session id. */
async function interrupted(title: string): Promise<{ issue: number; sessionId: string }> {
  const issue = await stack.github.createIssue(OWNER, REPO, { title, body: "[scenario:interruptible] go", user: "ada" });
  const before = stack.model.requests.length;
  await stack.github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
  await until(() => stack.model.requests.slice(before).some((r) => r.scenario === "interruptible" && r.turn === 1), "the long step");
  await stack.github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "ada" });
  await stack.idle();
  const first = stack.results.at(-1)!;
  expect(first.report?.outcome).toBe("interrupted");
  // A public repository, no key: nothing was pushed.
  expect(() => git("rev-parse", "--verify", "--quiet", `refs/harness/sessions/issue-${issue.number}`)).toThrow();
  return { issue: issue.number, sessionId: first.report!.sessionId! };
}

describe("resuming a session that was not pushed (no HARNESS_SESSION_KEY, public repository)", () => {
  it("/retry on the same host resumes the session it keeps", async () => {
    const { issue, sessionId } = await interrupted("Same host");
    await stack.github.comment(OWNER, REPO, issue, "/retry", { sender: "ada" });
    await stack.idle();
    const second = stack.results.at(-1)!;
    expect(second.outcome).toBe("success");
    expect(second.report?.sessionId).toBe(sessionId);
    expect(second.report?.finalMessage).toBe("Resumed after the interrupt and finished both parts.");
    expect(git("show", `harness/issue-${issue}:part2.txt`)).toBe("after the retry");
    stack.github.assertNoViolations();
  });

  it("/retry on another host (nothing local) cannot resume, and the reply says why and what to do", async () => {
    const { issue } = await interrupted("Other host");
    await fs.rm(stack.state.root, { recursive: true, force: true });
    await stack.github.comment(OWNER, REPO, issue, "/retry", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).not.toBe("success");
    const reply = comments(issue).find((b) => b.includes("EHARNESS_SESSION"));
    expect(reply).toBeDefined();
    expect(reply).toContain("kept only on the host that ran it");
    expect(reply).toContain("HARNESS_SESSION_KEY");
    expect(reply).toContain("/retry fresh");
  });
});
