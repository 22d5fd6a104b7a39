import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { defaultConfig } from "../../src/core/config.js";
import { EtagCache } from "../../src/core/etag-cache.js";
import { CONVOY_STATUS_MARKER } from "../../src/core/render-convoy.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { addToConvoy, createConvoy, refreshConvoy, type ConvoyPorts } from "../../src/runtime/convoy.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "acme";
const REPO = "train";
const HOME = { owner: OWNER, repo: REPO };

/**
 * The convoy's status comment and state against the fake GitHub, item by item: right after
 * each change, exactly one write per change and none without one, closed once when the last
 * item closes, reopened when an item is added.
 */
describe("refreshConvoy", () => {
  let github: FakeGitHub;
  let ports: ConvoyPorts;
  // The fake stamps label events with the real time: the test's clock starts there and moves on by hand.
  let now = new Date();

  beforeAll(async () => {
    github = await startFakeGitHub();
    await github.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
    const api = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    ports = {
      clientFor: (r) => new GitHubClient(api, r),
      reachableRepositories: async () => new Set([`${OWNER}/${REPO}`]),
      mode: "token",
      config: defaultConfig(),
      cache: new EtagCache(),
      log: silentLogger(),
      now: () => now,
    };
  });
  afterAll(async () => github?.close());

  const writes = (since: number, convoy: number): string[] =>
    github.requestLog
      .slice(since)
      .filter((r) => r.write && r.issueNumber === convoy)
      .map((r) => r.operationId ?? "");
  const body = (convoy: number): string[] => {
    const comments = github.listComments(OWNER, REPO, convoy).filter((c) => c.body.startsWith(CONVOY_STATUS_MARKER));
    expect(comments).toHaveLength(1);
    return (comments[0]?.body ?? "").split("\n").slice(1, -2);
  };
  const close = async (n: number): Promise<void> => {
    await new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), HOME).setIssueState(n, "closed");
  };

  it("is right after each change, one write per change, none without one; lands once and reopens on add", async () => {
    const a = await github.createIssue(OWNER, REPO, { title: "a" });
    const b = await github.createIssue(OWNER, REPO, { title: "b" });
    const c = await github.createIssue(OWNER, REPO, { title: "c", body: `Depends on #${b.number}` });
    const created = await createConvoy(ports, { home: HOME, title: "train", items: [a, b, c].map((i) => ({ ...HOME, number: i.number })) });
    const convoy = created.number;
    expect(body(convoy)).toEqual([
      "### Convoy: 0/3 landed",
      "",
      `- [ ] #${a.number} \`a\`: queued`,
      `- [ ] #${b.number} \`b\`: queued`,
      `- [ ] #${c.number} \`c\`: blocked by #${b.number}`,
    ]);

    // Nothing changed: no write at all.
    let since = github.requestLog.length;
    expect((await refreshConvoy(ports, HOME, convoy))?.wrote).toBe(false);
    expect(writes(since, convoy)).toEqual([]);

    // An agent claims a: one edit.
    const leases = new LeaseStore(new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), HOME), "harness/leases/issue-");
    expect((await leases.claim({ issue: a.number, owner: { agent: "agent-1", host: "host-a", runId: "r" }, now, termMs: 3_600_000, sessionId: null })).ok).toBe(
      true,
    );
    since = github.requestLog.length;
    await refreshConvoy(ports, HOME, convoy);
    expect(body(convoy)[2]).toBe(`- [ ] #${a.number} \`a\`: running on host-a (agent-1, attempt 1)`);
    expect(writes(since, convoy)).toEqual(["issues/update-comment"]);

    // Time passes with b still unclaimed: stranded (one edit), then nothing more while it stays so.
    now = new Date(now.getTime() + 2 * 3_600_000);
    since = github.requestLog.length;
    await refreshConvoy(ports, HOME, convoy);
    expect(body(convoy)[3]).toMatch(new RegExp(`^- \\[ \\] #${b.number} \`b\`: stranded: queued since .* and no agent has claimed it in 60 min`));
    await refreshConvoy(ports, HOME, convoy);
    expect(writes(since, convoy)).toEqual(["issues/update-comment"]);

    // Each item closes: the comment is right after each, with one edit each.
    for (const [item, landed] of [
      [b, 1],
      [a, 2],
    ] as const) {
      await close(item.number);
      since = github.requestLog.length;
      const result = await refreshConvoy(ports, HOME, convoy);
      expect(body(convoy)[0]).toBe(`### Convoy: ${landed}/3 landed`);
      expect(body(convoy)).toContain(`- [x] #${item.number} \`${item.title}\`: closed`);
      expect(writes(since, convoy)).toEqual(["issues/update-comment"]);
      expect(result?.transition).toBe(null);
    }
    // b closed: c is no longer blocked.
    expect(body(convoy)[4]).toMatch(new RegExp(`^- \\[ \\] #${c.number} \`c\`: (queued|stranded)`));

    // The last one: one edit and one close, as completed; again: nothing.
    await close(c.number);
    since = github.requestLog.length;
    expect((await refreshConvoy(ports, HOME, convoy))?.transition).toBe("close");
    expect(writes(since, convoy)).toEqual(["issues/update-comment", "issues/update"]);
    expect(github.getIssue(OWNER, REPO, convoy).state).toBe("closed");
    since = github.requestLog.length;
    expect((await refreshConvoy(ports, HOME, convoy))?.transition).toBe(null);
    expect(writes(since, convoy)).toEqual([]);

    // An item added: the convoy reopens, 3/4.
    const d = await github.createIssue(OWNER, REPO, { title: "d" });
    const added = await addToConvoy(ports, HOME, convoy, [{ ...HOME, number: d.number }]);
    expect(added.ok && added.result?.transition).toBe("reopen");
    expect(github.getIssue(OWNER, REPO, convoy).state).toBe("open");
    expect(body(convoy)[0]).toBe("### Convoy: 3/4 landed");
    github.assertNoViolations();
  });

  it("gives open items without a priority label the convoy's, once", async () => {
    const a = await github.createIssue(OWNER, REPO, { title: "a" });
    const b = await github.createIssue(OWNER, REPO, { title: "b", labels: ["priority:low"] });
    const convoy = await github.createIssue(OWNER, REPO, { title: "urgent", labels: ["harness:convoy", "priority:high"] });
    const outcome = await addToConvoy(
      ports,
      HOME,
      convoy.number,
      [a, b].map((i) => ({ ...HOME, number: i.number })),
    );
    expect(outcome.ok).toBe(true);
    expect(github.getIssue(OWNER, REPO, a.number).labelNames.sort()).toEqual(["harness:queued", "priority:high"]);
    expect(github.getIssue(OWNER, REPO, b.number).labelNames.sort()).toEqual(["harness:queued", "priority:low"]);
    const since = github.requestLog.length;
    await refreshConvoy(ports, HOME, convoy.number);
    expect(github.requestLog.slice(since).filter((r) => r.write)).toEqual([]);
  });
});
