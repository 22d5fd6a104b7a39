import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convoyCommand } from "../../src/cli/convoy-command.js";
import { CONVOY_STATUS_MARKER } from "../../src/core/render-convoy.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

let github: FakeGitHub;
let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-convoy-cli-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ owner: "octo", name: "cli", files: { "README.md": "x\n" } });
  await github.createRepo({ owner: "octo", name: "api", files: { "README.md": "x\n" } });
  await github.createRepo({ owner: "octo", name: "secret", files: { "README.md": "x\n" } });
  env = { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl, HARNESS_REPOSITORIES: "octo/cli,octo/api" };
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** Runs the command and counts the writes it made on the fake. */
async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[]; writes: { method: string; operationId: string | null }[] }> {
  const before = github.requestLog.length;
  const out: string[] = [];
  const err: string[] = [];
  const code = await convoyCommand(
    args,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  const writes = github.requestLog.slice(before).filter((r) => r.write);
  return { code, out, err, writes: writes.map((w) => ({ method: w.method, operationId: w.operationId })) };
}

const labelsOf = (repo: string, n: number): string[] => github.getIssue("octo", repo, n).labelNames;

describe("harness convoy create", () => {
  it("creates the convoy issue, adds the items as sub-issues (across repositories), queues them, and writes one status comment: N + 2 writes plus one per item not queued yet", async () => {
    const a = await github.createIssue("octo", "cli", { title: "first" });
    const b = await github.createIssue("octo", "cli", { title: "second", labels: ["harness:queued"] });
    const c = await github.createIssue("octo", "api", { title: "third" });
    const r = await run(["create", "--title", "Ship the thing", "--repo", "octo/cli", `#${a.number}`, String(b.number), `octo/api#${c.number}`]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const convoy = Number(/^octo\/cli#(\d+)\t/.exec(r.out[0] ?? "")?.[1]);
    expect(labelsOf("cli", convoy)).toEqual(["harness:convoy"]);
    expect(labelsOf("cli", a.number)).toEqual(["harness:queued"]);
    expect(labelsOf("cli", b.number)).toEqual(["harness:queued"]);
    expect(labelsOf("api", c.number)).toEqual(["harness:queued"]);
    const comments = github.listComments("octo", "cli", convoy);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body.split("\n").slice(0, 6)).toEqual([
      CONVOY_STATUS_MARKER,
      "### Convoy: 0/3 landed",
      "",
      `- [ ] #${a.number} \`first\`: queued`,
      `- [ ] #${b.number} \`second\`: queued`,
      `- [ ] octo/api#${c.number} \`third\`: queued`,
    ]);
    // The figure for the dispatch benchmark: 1 issue + 3 sub-issues + 1 comment = N + 2, and 2 label writes for the 2 items that were not queued.
    expect(r.writes.map((w) => w.operationId)).toEqual([
      "issues/create",
      "issues/add-sub-issue",
      "issues/add-sub-issue",
      "issues/add-sub-issue",
      "issues/add-labels",
      "issues/add-labels",
      "issues/create-comment",
    ]);
  });

  it("refuses a cycle among the items' blockers, naming it, and writes nothing", async () => {
    const a = await github.createIssue("octo", "cli", { title: "a" });
    const b = await github.createIssue("octo", "cli", { title: "b", body: `Depends on #${a.number}` });
    await github.editIssue("octo", "cli", a.number, { body: `Blocked by #${b.number}` });
    const r = await run(["create", "--title", "loop", "--repo", "octo/cli", `#${a.number}`, `#${b.number}`]);
    expect(r.code).toBe(2);
    expect(r.writes).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^EHARNESS_CONVOY: /);
    expect(r.err[0]).toContain(`the items' blockers form a cycle, so no order can work them: #${a.number} → #${b.number} → #${a.number}.`);
  });

  it("refuses an item in a repository that is not configured, naming it, and writes nothing", async () => {
    const a = await github.createIssue("octo", "cli", { title: "a" });
    const s = await github.createIssue("octo", "secret", { title: "s" });
    const r = await run(["create", "--title", "reach", "--repo", "octo/cli", `#${a.number}`, `octo/secret#${s.number}`]);
    expect([r.code, r.writes]).toEqual([2, []]);
    expect(r.err[0]).toContain(`octo/secret#${s.number}: octo/secret is not one of the configured repositories`);
  });

  it("refuses an item that already has another parent, naming the parent, and writes nothing", async () => {
    const a = await github.createIssue("octo", "cli", { title: "a" });
    const first = await run(["create", "--title", "one", "--repo", "octo/cli", `#${a.number}`]);
    expect(first.code).toBe(0);
    const parent = Number(/^octo\/cli#(\d+)\t/.exec(first.out[0] ?? "")?.[1]);
    const r = await run(["create", "--title", "two", "--repo", "octo/cli", `#${a.number}`]);
    expect([r.code, r.writes]).toEqual([2, []]);
    expect(r.err[0]).toContain(`#${a.number} already has a parent issue, #${parent}: an issue has at most one.`);
  });

  it("refuses more than 100 items, saying how many, and writes nothing", async () => {
    const items = Array.from({ length: 101 }, (_, i) => String(5000 + i));
    const r = await run(["create", "--title", "big", "--repo", "octo/cli", ...items]);
    expect([r.code, r.writes]).toEqual([2, []]);
    expect(r.err[0]).toContain("101 items: GitHub allows at most 100 sub-issues per parent issue.");
  });

  it("refuses bad usage with a coded error", async () => {
    await expect(convoyCommand(["create", "--repo", "octo/cli", "12"], env, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_USAGE" });
    await expect(convoyCommand(["remove", "--title", "x", "12"], env, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_USAGE" });
    await expect(convoyCommand(["create", "--title", "x", "12"], env, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_USAGE" });
    const err: string[] = [];
    expect(
      await convoyCommand(
        ["create", "--title", "x", "--repo", "octo/cli", "banana"],
        env,
        () => undefined,
        (l) => err.push(l),
      ),
    ).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^EHARNESS_CONVOY: "banana" is not an issue/)]);
  });
});
