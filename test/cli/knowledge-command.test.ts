import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueNodeOf, knowledgeCommand, type KnowledgeGraphJson } from "../../src/cli/knowledge-command.js";
import type { KnowledgeHit, KnowledgeSnapshot } from "../../src/core/knowledge-types.js";

/** `harness knowledge search|show|graph` over a snapshot file and the state directory's cache. */

const SESSION = "session:octo/app#7/s-7/1";
const SNAPSHOT: KnowledgeSnapshot = {
  version: 1,
  documents: [
    {
      id: "doc:octo/app:docs/research/queue.md",
      kind: "doc",
      repository: "octo/app",
      issue: null,
      title: "Queue order",
      text: "Priority label first, then the oldest; an issue with an open blocker waits.",
      path: "docs/research/queue.md",
      at: null,
      trust: "merged",
      citations: [{ path: "src/core/queue.ts", startLine: 10, endLine: 30, commit: "c".repeat(40), sha256: "d".repeat(64) }],
    },
    {
      id: SESSION,
      kind: "session",
      repository: "octo/app",
      issue: 7,
      title: "Attempt 1 of #7: success",
      text: "Reordered the queue by priority; ran npm test.",
      path: null,
      at: "2026-12-01T10:00:00.000Z",
      trust: "harness",
      citations: [],
    },
  ],
  links: [
    { type: "attempt_of", from: SESSION, to: "issue:octo/app#7" },
    { type: "blocked_by", from: "issue:octo/app#7", to: "issue:octo/app#3" },
    { type: "touched_file", from: SESSION, to: "file:octo/app:src/core/queue.ts" },
  ],
};

let root: string;
let snapshotFile: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-cli-"));
  snapshotFile = path.join(root, "knowledge.json");
  await fs.writeFile(snapshotFile, JSON.stringify(SNAPSHOT));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function knowledge(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await knowledgeCommand(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe("harness knowledge", () => {
  it("search --snapshot: hits as text, and as JSON; the state directory's cache is written and then answers alone", async () => {
    const state = path.join(root, "state-search");
    const text = await knowledge(["search", "priority", "queue", "--snapshot", snapshotFile, "--state-dir", state]);
    expect(text.code).toBe(0);
    expect(text.out[0]).toMatch(/^1\. doc:octo\/app:docs\/research\/queue\.md {2}\(score [\d.]+\)$/);
    expect(text.out[1]).toBe("   Queue order · docs/research/queue.md");
    expect(text.out[2]).toBe("   Priority label first, then the oldest; an issue with an open blocker waits.");
    expect(text.out[3]).toMatch(/^2\. session:octo\/app#7\/s-7\/1/);
    expect((await fs.readdir(path.join(state, "knowledge"))).sort()).toEqual(["index.json", "store.json"]);
    // From the cache alone (no --snapshot), through HARNESS_STATE_DIR, the same answer.
    const json = await knowledge(["search", "priority queue", "--json"], { HARNESS_STATE_DIR: state });
    const parsed = JSON.parse(json.out.join("\n")) as { query: string; repository: string | null; hits: KnowledgeHit[] };
    expect(parsed.query).toBe("priority queue");
    expect(parsed.repository).toBeNull();
    expect(parsed.hits.map((h) => h.id)).toEqual(["doc:octo/app:docs/research/queue.md", SESSION]);
    const limited = await knowledge(["search", "queue", "--limit", "1", "--json", "--repo", "octo/app", "--state-dir", state]);
    expect((JSON.parse(limited.out.join("\n")) as { hits: unknown[] }).hits).toHaveLength(1);
    const none = await knowledge(["search", "zebra", "--state-dir", state]);
    expect(none).toEqual({ code: 0, out: ['No match for "zebra" among 2 documents.'], err: [] });
  });

  it("show ID: the document whole, as text and JSON", async () => {
    const state = path.join(root, "state-show");
    const text = await knowledge(["show", "doc:octo/app:docs/research/queue.md", "--snapshot", snapshotFile, "--state-dir", state]);
    expect(text.code).toBe(0);
    expect(text.out).toEqual([
      "# Queue order",
      "",
      "id: doc:octo/app:docs/research/queue.md",
      "kind: doc · repository: octo/app",
      "path: docs/research/queue.md",
      "written: unknown · trust: merged (on the default branch)",
      `cites: src/core/queue.ts:10-30 at ${"c".repeat(12)}`,
      "",
      "Priority label first, then the oldest; an issue with an open blocker waits.",
    ]);
    const json = await knowledge(["show", SESSION, "--json", "--state-dir", state]);
    expect(JSON.parse(json.out.join("\n"))).toEqual(SNAPSHOT.documents[1]);
  });

  it("graph ISSUE as N, #N or owner/repo#N: the issue's links and its sessions' links", async () => {
    const state = path.join(root, "state-graph");
    const expected: KnowledgeGraphJson = {
      node: "issue:octo/app#7",
      links: [SNAPSHOT.links[0], SNAPSHOT.links[1], SNAPSHOT.links[2]] as KnowledgeSnapshot["links"],
      documents: [{ ...(({ text: _t, ...rest }) => rest)(SNAPSHOT.documents[1] as KnowledgeSnapshot["documents"][number]) }],
    };
    for (const issue of ["7", "#7", "octo/app#7"]) {
      const json = await knowledge(["graph", issue, "--json", "--snapshot", snapshotFile, "--state-dir", state]);
      expect(JSON.parse(json.out.join("\n")), issue).toEqual(expected);
    }
    const text = await knowledge(["graph", "7", "--state-dir", state]);
    expect(text.out).toEqual([
      "issue:octo/app#7",
      `  ${SESSION} "Attempt 1 of #7: success" -attempt_of-> issue:octo/app#7`,
      "  issue:octo/app#7 -blocked_by-> issue:octo/app#3",
      `  ${SESSION} "Attempt 1 of #7: success" -touched_file-> file:octo/app:src/core/queue.ts`,
    ]);
  });

  it("issueNodeOf: the repository from the argument, --repo, or the only one the knowledge base holds", () => {
    expect(issueNodeOf("octo/app#7", undefined, [])).toBe("issue:octo/app#7");
    expect(issueNodeOf("#7", "octo/web", ["octo/app", "octo/web"])).toBe("issue:octo/web#7");
    expect(issueNodeOf("7", undefined, ["octo/app"])).toBe("issue:octo/app#7");
    expect(() => issueNodeOf("7", undefined, ["octo/app", "octo/web"])).toThrow(
      /which repository is issue 7 of\? .* octo\/app, octo\/web: give owner\/repo#7 or --repo/,
    );
    expect(() => issueNodeOf("octo/app#7", "octo/web", [])).toThrow(/the issue octo\/app#7 is not of --repo octo\/web/);
    for (const bad of ["x", "#0", "octo#7", "7a", "a/b/c#1"])
      expect(() => issueNodeOf(bad, undefined, ["o/r"]), bad).toThrow(/EHARNESS_USAGE|N, #N or owner\/repo#N/);
  });

  it("--snapshot with a state directory it cannot write: the answer from the snapshot, and a note on stderr", async () => {
    // A regular file where the state directory should be: no user can create the cache under it.
    const blocked = path.join(root, "not-a-directory");
    await fs.writeFile(blocked, "");
    const run = await knowledge(["search", "queue", "--json", "--snapshot", snapshotFile, "--state-dir", blocked]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.out.join("\n")) as { hits: KnowledgeHit[] }).hits[0]?.id).toBe("doc:octo/app:docs/research/queue.md");
    expect(run.err).toEqual([
      expect.stringMatching(
        /^harness knowledge: the cache in \S+not-a-directory\/knowledge was not updated \((EEXIST|ENOTDIR)\); answering from \S+knowledge\.json alone\.$/,
      ),
    ]);
  });

  it("unknown ids and issues are EHARNESS_KNOWLEDGE_NOT_FOUND", async () => {
    const state = path.join(root, "state-unknown");
    await expect(knowledge(["show", "doc:octo/app:nope.md", "--snapshot", snapshotFile, "--state-dir", state])).rejects.toMatchObject({
      code: "EHARNESS_KNOWLEDGE_NOT_FOUND",
    });
    await expect(knowledge(["graph", "99", "--state-dir", state])).rejects.toMatchObject({ code: "EHARNESS_KNOWLEDGE_NOT_FOUND" });
  });

  it("usage errors: a subcommand's foreign flag, a missing argument, a bad --limit or --repo", async () => {
    const cases: [string[], RegExp][] = [
      [[], /knowledge needs search QUERY, show ID or graph ISSUE/],
      [["find", "x"], /knowledge takes search, show or graph, not "find"/],
      [["show", "x", "--limit", "2"], /knowledge show does not take --limit/],
      [["graph", "7", "--limit", "2"], /knowledge graph does not take --limit/],
      [["show"], /knowledge show needs an id/],
      [["show", "a", "b"], /knowledge show takes one argument \(got "b" too\)/],
      [["search", "x", "--limit", "0"], /--limit takes a number from 1 to 100, not "0"/],
      [["search", "x", "--limit", "1.5"], /--limit takes a number from 1 to 100, not "1.5"/],
      [["search", "x", "--repo", "nope"], /--repo takes owner\/repo, not "nope"/],
    ];
    for (const [args, says] of cases)
      await expect(knowledge(args), args.join(" ")).rejects.toMatchObject({ code: "EHARNESS_USAGE", message: expect.stringMatching(says) });
  });

  it("the real CLI: no cache and no --snapshot, or a bad snapshot, exit 2 with EHARNESS_KNOWLEDGE; an unknown id exits 1", async () => {
    const loader = pathToFileURL(path.resolve("node_modules/tsx/dist/loader.mjs")).href;
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", loader, path.resolve("src/cli/main.ts"), "knowledge", ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH },
      });
    const empty = path.join(root, "state-empty");
    const missing = cli("search", "queue", "--state-dir", empty);
    expect({ code: missing.status, stdout: missing.stdout }).toEqual({ code: 2, stdout: "" });
    expect(missing.stderr.trim()).toMatch(
      /^EHARNESS_KNOWLEDGE: No knowledge index to read in \S+state-empty\/knowledge: there is none\. Fix: Pass --snapshot FILE/,
    );
    // Reading creates nothing.
    await expect(fs.stat(empty)).rejects.toThrow(/ENOENT/);
    const bad = path.join(root, "bad.json");
    await fs.writeFile(bad, '{"version": 2, "documents": [], "links": []}');
    const invalid = cli("search", "queue", "--snapshot", bad, "--state-dir", empty);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr.trim()).toMatch(/^EHARNESS_KNOWLEDGE: \S+bad\.json is not a knowledge snapshot: at version, .+ Fix: /);
    const absent = cli("show", "x", "--snapshot", path.join(root, "absent.json"), "--state-dir", empty);
    expect(absent.status).toBe(2);
    expect(absent.stderr.trim()).toMatch(/^EHARNESS_KNOWLEDGE: The knowledge snapshot \S+absent\.json cannot be read \(ENOENT\)\. Fix: /);
    const unknown = cli("show", "doc:octo/app:nope.md", "--snapshot", snapshotFile, "--state-dir", path.join(root, "state-cli"));
    expect({ code: unknown.status, stdout: unknown.stdout }).toEqual({ code: 1, stdout: "" });
    expect(unknown.stderr.trim()).toMatch(/^EHARNESS_KNOWLEDGE_NOT_FOUND: No knowledge document has the id doc:octo\/app:nope\.md/);
  }, 60_000);
});
