import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { sessionRecordOf, type SessionRecord } from "../../src/core/session-record.js";
import { createSessionReducer } from "../../src/core/session-report.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { appendRecord, fetchKnowledge, KNOWLEDGE_REF, readRecords, recordPath } from "../../src/runtime/knowledge-ref.js";
import { prepareKnowledge, writeAttemptFile, writeLocalRecord } from "../../src/runtime/knowledge-context.js";

let github: FakeGitHub;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-ref-"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ owner: "octo", name: "kn", files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function host(name: string): { git: GitRepository; url: string; credentials: { token: string } } {
  const git = new GitRepository({ cloneDir: path.join(root, name, "clone.git"), home: path.join(root, name, "home"), identity: { name: "h", email: "h@x" } });
  return { git, url: github.gitUrl("octo", "kn"), credentials: { token: github.token } };
}

function record(issue: number, attempt: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const report = { ...createSessionReducer().finish({ exitCode: 0, signal: null }), finalMessage: `attempt ${attempt} of #${issue} said hi` };
  return {
    ...sessionRecordOf({
      repository: "octo/kn",
      issue,
      sessionId: `session-${issue}-${attempt}`,
      attempt,
      mode: attempt === 1 ? "new" : "fresh",
      branch: `harness/issue-${issue}`,
      report,
      pullRequest: null,
      headCommit: null,
      at: `2026-12-03T05:0${attempt}:00.000Z`,
      knowledgeUsed: [],
    }),
    ...overrides,
  };
}

const bare = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath("octo", "kn"), ...args], { encoding: "utf8" }).trim();

describe("refs/harness/knowledge", () => {
  it("is absent until the first record, then one commit per record, read back by issue", async () => {
    const a = host("a");
    await a.git.ensureClone();
    expect(await fetchKnowledge(a)).toBeNull();
    const first = await appendRecord(a, record(1, 1));
    expect(first.written).toBe(true);
    expect(bare("rev-parse", KNOWLEDGE_REF)).toBe(first.commit);
    // The same record again writes nothing.
    expect(await appendRecord(a, record(1, 1))).toEqual({ commit: first.commit, written: false });
    await appendRecord(a, record(1, 2));
    await appendRecord(a, record(2, 1));
    expect(bare("ls-tree", "-r", "--name-only", KNOWLEDGE_REF).split("\n")).toEqual([
      "sessions/1/session-1-1-1.json",
      "sessions/1/session-1-2-2.json",
      "sessions/2/session-2-1-1.json",
    ]);
    expect(bare("rev-list", "--count", KNOWLEDGE_REF)).toBe("3");
    const one = await readRecords(a.git, { issues: [1] });
    expect(one.records.map((r) => [r.issue, r.attempt])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    expect(one.records[1]).toEqual(record(1, 2));
  });

  it("two hosts appending at once: the loser of the compare-and-swap fetches and replays, nothing is lost or forced", async () => {
    const b = host("b");
    const c = host("c");
    await Promise.all([b.git.ensureClone(), c.git.ensureClone()]);
    const before = bare("rev-parse", KNOWLEDGE_REF);
    await Promise.all([1, 2, 3].flatMap((n) => [appendRecord(b, record(10, n)), appendRecord(c, record(11, n))]));
    const after = bare("rev-parse", KNOWLEDGE_REF);
    // One chain on top of the old head: every append is a fast-forward.
    expect(bare("merge-base", "--is-ancestor", before, after)).toBe("");
    expect(bare("rev-list", "--count", `${before}..${after}`)).toBe("6");
    await fetchKnowledge(b);
    const all = await readRecords(b.git, { issues: [10, 11] });
    expect(all.records.map((r) => `${r.issue}/${r.attempt}`).sort()).toEqual(["10/1", "10/2", "10/3", "11/1", "11/2", "11/3"]);
  });

  it("`fetched`: builds on the copy fetched for the prompt without fetching again; a copy made stale by another host is rejected, fetched and replayed", async () => {
    const d = host("d");
    const e = host("e");
    await Promise.all([d.git.ensureClone(), e.git.ensureClone()]);
    await fetchKnowledge(d);
    const fetchedAt = bare("rev-parse", KNOWLEDGE_REF);
    // Fresh copy: one push on top of it, no fetch (the remote URL is not even reachable for a fetch).
    const unreachable = { ...d, url: `${d.url}.nowhere` };
    const pushes: string[] = [];
    const pushRef = d.git.pushRef.bind(d.git);
    d.git.pushRef = (_url, sha, ref, credentials, expectedOld, attempts) => {
      pushes.push(sha);
      return pushRef(d.url, sha, ref, credentials, expectedOld, attempts);
    };
    const first = await appendRecord(unreachable, record(30, 1), { fetched: true });
    expect(first.written).toBe(true);
    expect(pushes).toHaveLength(1);
    expect(bare("rev-parse", `${first.commit}^`)).toBe(fetchedAt);
    // Another host appends: d's copy is stale now; its next append is refused once, fetched and replayed on top.
    await appendRecord(e, record(31, 1));
    const moved = bare("rev-parse", KNOWLEDGE_REF);
    const second = await appendRecord(d, record(30, 2), { fetched: true });
    expect(second.written).toBe(true);
    expect(pushes).toHaveLength(3);
    expect(bare("rev-parse", `${second.commit}^`)).toBe(moved);
    expect(bare("ls-tree", "-r", "--name-only", KNOWLEDGE_REF, "sessions/30", "sessions/31").split("\n")).toEqual([
      "sessions/30/session-30-1-1.json",
      "sessions/30/session-30-2-2.json",
      "sessions/31/session-31-1-1.json",
    ]);
  });

  it("carries the latest record of each related issue: blockers first, then cross-references; other repositories' never", async () => {
    const f = host("f");
    await f.git.ensureClone();
    const context = await prepareKnowledge({
      remote: f,
      repository: "octo/kn",
      issue: { number: 30, title: "Next step", body: "See #11 and other/repo#10 first.\n\nDepends on #10. `#2` is code." },
      attempt: 1,
      previous: null,
      sessionDir: (id, n) => path.join(root, "f", "sessions", `${id}-attempt-${n}`),
      log: silentLogger(),
      now: () => new Date("2026-12-03T06:00:00.000Z"),
    });
    expect(context.used.map((u) => u.id)).toEqual(["session:octo/kn#10/session-10-3/3", "session:octo/kn#11/session-11-3/3"]);
    expect(context.block).toContain("## Related work (graph neighbours)");
    expect(context.snapshot.documents.map((d) => d.id)).toEqual(context.used.map((u) => u.id));
  });

  it("skips a file that is not a record, naming it, and reads the rest", async () => {
    const d = host("d");
    await d.git.ensureClone();
    await fetchKnowledge(d);
    // A hand-pushed file that claims to be a record of issue 1.
    const head = (await d.git.run(["rev-parse", KNOWLEDGE_REF])).stdout.trim();
    const blob = (await d.git.run(["hash-object", "-w", "--stdin"], { input: '{"version":1,"issue":1}' })).stdout.trim();
    const issueTree = (await d.git.run(["rev-parse", `${head}:sessions/1`])).stdout.trim();
    const entries = (await d.git.run(["ls-tree", issueTree])).stdout;
    const newIssue = (await d.git.run(["mktree"], { input: `${entries}\n100644 blob ${blob}\tforged-9.json\n` })).stdout.trim();
    const sessions = (await d.git.run(["ls-tree", `${head}:sessions`])).stdout.replace(/^040000 tree \S+\t1$/m, `040000 tree ${newIssue}\t1`);
    const sessionsTree = (await d.git.run(["mktree"], { input: `${sessions}\n` })).stdout.trim();
    const rootTree = (await d.git.run(["mktree"], { input: `040000 tree ${sessionsTree}\tsessions\n` })).stdout.trim();
    const commit = await d.git.commitTree(rootTree, [head], "by hand");
    expect(await d.git.pushRef(d.url, commit, KNOWLEDGE_REF, d.credentials, head)).toBe("landed");
    await fetchKnowledge(d);
    const read = await readRecords(d.git, { issues: [1] });
    expect(read.records.map((r) => r.attempt)).toEqual([1, 2]);
    expect(read.skipped).toEqual([{ path: "sessions/1/forged-9.json", detail: expect.stringContaining("not a session record") }]);
  });

  it("a killed attempt's record is rebuilt from this host's transcript once, and an attempt from another host is named as missing", async () => {
    const e = host("e");
    await e.git.ensureClone();
    const sessions = path.join(root, "e", "sessions");
    const sessionDir = (id: string, n: number): string => path.join(sessions, `${id}-attempt-${n}`);
    // Attempt 1 of #20 ran here and was killed mid-session: an attempt file and a transcript, no record.
    await writeAttemptFile(sessionDir("killed", 1), {
      repository: "octo/kn",
      issue: 20,
      sessionId: "killed",
      attempt: 1,
      mode: "new",
      branch: "harness/issue-20",
      knowledgeUsed: [],
    });
    const transcript = await fs.readFile(path.resolve("test/fixtures/cli/2.1.197/success.jsonl"), "utf8").catch(() => null);
    expect(transcript, "a transcript fixture of the real CLI").not.toBeNull();
    // Cut where a SIGKILL would: no result event.
    const lines = transcript!
      .trim()
      .split("\n")
      .filter((l) => !l.includes('"type":"result"'));
    await fs.writeFile(path.join(sessionDir("killed", 1), "transcript.jsonl"), `${lines.join("\n")}\n`);
    const input = {
      remote: e,
      repository: "octo/kn",
      issue: { number: 20, title: "t", body: "b" },
      attempt: 2,
      previous: { sessionId: "killed", attempt: 1, host: "this-host" },
      sessionDir,
      log: silentLogger(),
      now: () => new Date("2026-12-03T06:00:00.000Z"),
      nonce: "00000000000000aa",
    };
    const context = await prepareKnowledge(input);
    expect(context.used.map((u) => u.id)).toEqual(["session:octo/kn#20/killed/1"]);
    expect(context.block).toContain("Rebuilt from the transcript");
    const path20 = recordPath({ issue: 20, sessionId: "killed", attempt: 1 });
    const rebuilt = JSON.parse(bare("show", `${KNOWLEDGE_REF}:${path20}`)) as SessionRecord;
    expect(rebuilt).toMatchObject({ source: "transcript", attempt: 1, outcome: "crashed", mode: "new" });
    expect(rebuilt.turns).toBeGreaterThan(0);
    // Next time it is read from the ref, not rebuilt again.
    const count = bare("rev-list", "--count", KNOWLEDGE_REF);
    expect((await prepareKnowledge({ ...input, attempt: 3 })).used.map((u) => u.id)).toEqual(["session:octo/kn#20/killed/1"]);
    expect(bare("rev-list", "--count", KNOWLEDGE_REF)).toBe(count);

    // Refused by the publish gate: the record stays on this host (never pushed) and the next attempt here reads it.
    const refused = record(22, 1, { sessionId: "refused", outcome: "error", error: { code: "EHARNESS_PUBLISH_REFUSED", message: "a symlink" } });
    await writeLocalRecord(sessionDir("refused", 1), refused, { localOnly: true });
    const before = bare("rev-parse", KNOWLEDGE_REF);
    const afterRefusal = await prepareKnowledge({
      ...input,
      issue: { number: 22, title: "t", body: "b" },
      previous: { sessionId: "refused", attempt: 1, host: "this-host" },
    });
    expect(afterRefusal.used.map((u) => u.id)).toEqual(["session:octo/kn#22/refused/1"]);
    expect(afterRefusal.block).toContain("EHARNESS_PUBLISH_REFUSED");
    expect(bare("rev-parse", KNOWLEDGE_REF)).toBe(before);
    expect(() => bare("show", `${KNOWLEDGE_REF}:sessions/22/refused-1.json`)).toThrow();

    // Killed on another host: nothing here to rebuild from, so it is named as missing.
    const elsewhere = await prepareKnowledge({
      ...input,
      issue: { number: 21, title: "t", body: "b" },
      previous: { sessionId: "gone", attempt: 1, host: "other-host" },
    });
    expect(elsewhere.used.map((u) => u.title)).toEqual(["#21 attempt 1 (session gone): no record"]);
    expect(elsewhere.block).toContain("kept only there.");
  });
});
