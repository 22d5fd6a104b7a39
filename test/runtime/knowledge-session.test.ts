/**
 * The knowledge tools through the real Claude Code CLI: a session stage given
 * `knowledge` writes the snapshot and the MCP config into the session
 * directory, the CLI (in the real sandbox) starts sandbox/knowledge-mcp.mjs,
 * and the scripted model calls mcp__knowledge__knowledge_search, _read and
 * _related. What the tools answered is read back from the model server's
 * recorded requests (the tool_result blocks the CLI sent), so this shows the
 * names `--allowedTools` needs, that the server runs where the agent runs, and
 * that it answers from the snapshot.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { createSandbox, type SandboxBackendName } from "../../src/adapters/sandbox/sandbox.js";
import { defaultCliPath, forwarderPath, promptsDir } from "../../src/cli/paths.js";
import { parseConfig } from "../../src/core/config.js";
import type { KnowledgeSnapshot } from "../../src/core/knowledge-types.js";
import { StepClock } from "../../src/core/step-clock.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer, type RecordedRequest, type Scenario } from "../../src/offline/model-server.js";
import { runSessionStage } from "../../src/runtime/session-runner.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { prepareWorkspace } from "../../src/runtime/workspace.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "acme";
const REPO = "kb";
const FULL = `${OWNER}/${REPO}`;
const LEASE_DOC = `doc:${FULL}:docs/research/leases.md`;
const SESSION_DOC = `session:${FULL}#1/s-1/1`;

const SNAPSHOT: KnowledgeSnapshot = {
  version: 1,
  documents: [
    {
      id: LEASE_DOC,
      kind: "doc",
      repository: FULL,
      issue: null,
      title: "How the lease moves",
      text: "The lease ref moves by compareAndSwap: a fast-forward without force. An unclear write is read back.",
      path: "docs/research/leases.md",
      at: "2026-11-30T10:00:00.000Z",
      trust: "merged",
      citations: [],
    },
    {
      id: SESSION_DOC,
      kind: "session",
      repository: FULL,
      issue: 1,
      title: "Attempt 1 of #1: success",
      text: "Added greetEs; ran npm test (3 passed). Model wrote: the greeting lives in src/greet.js.",
      path: null,
      at: "2026-11-30T11:00:00.000Z",
      trust: "harness",
      citations: [],
    },
    {
      id: `doc:${FULL}:docs/knowledge/sandbox.md`,
      kind: "doc",
      repository: FULL,
      issue: null,
      title: "The sandbox",
      text: "bwrap, the forwarder and the model proxy.",
      path: "docs/knowledge/sandbox.md",
      at: null,
      trust: "merged",
      citations: [],
    },
  ],
  links: [{ type: "attempt_of", from: SESSION_DOC, to: `issue:${FULL}#1` }],
};

const SCENARIO: Scenario = {
  name: "knowledge-tools",
  match: "[scenario:knowledge-tools]",
  turns: [
    { text: "Let me look up what is known.", toolCalls: [{ name: "mcp__knowledge__knowledge_search", input: { query: "compareAndSwap lease", limit: 5 } }] },
    {
      toolCalls: [
        { name: "mcp__knowledge__knowledge_read", input: { id: LEASE_DOC } },
        { name: "mcp__knowledge__knowledge_related", input: { id: `issue:${FULL}#1` } },
      ],
    },
    { text: "Done: read the lease notes." },
  ],
};

let root: string;
let github: FakeGitHub;
let model: ModelServer;
let issueCount = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-session-"));
  // The uid backend's paths must be traversable by the slot uid.
  await fs.chmod(root, 0o711);
  model = await startModelServer({ scenarios: [SCENARIO] });
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({
    owner: OWNER,
    name: REPO,
    collaborators: { ada: "write" },
    // A repository's own MCP server never starts (--strict-mcp-config): its tools would show in the request.
    files: { "README.md": "# kb\n", ".mcp.json": '{"mcpServers":{"planted":{"command":"sh","args":["-c","exit 1"]}}}\n' },
  });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

type Block = { type: string; tool_use_id?: string; id?: string; name?: string; content?: unknown; is_error?: boolean };

function blocks(request: RecordedRequest): Block[] {
  const body = request.body as { messages?: { role: string; content: string | Block[] }[] };
  return (body.messages ?? []).flatMap((m) => (typeof m.content === "string" ? [] : m.content));
}

/** The text of a tool_result block (a string, or text blocks). */
function resultText(block: Block): string {
  if (typeof block.content === "string") return block.content;
  if (Array.isArray(block.content)) return (block.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("");
  return "";
}

async function session(backend: SandboxBackendName): Promise<{ requests: RecordedRequest[]; sessionDir: string; outcome: string }> {
  issueCount++;
  const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
  const issue = await github.createIssue(OWNER, REPO, { title: `knowledge ${backend}`, body: "[scenario:knowledge-tools] look it up", user: "ada" });
  const state = new StateDir(path.join(root, `state-${backend}`));
  await state.ensurePrivate();
  const clock = new StepClock();
  const log = silentLogger();
  const workspace = await prepareWorkspace({
    github: client,
    state,
    gitUrl: () => github.gitUrl(OWNER, REPO),
    issue: issue.number,
    branch: `harness/issue-${issue.number}`,
    queuedLabel: "harness:queued",
    clock,
    log,
  });
  const sessionId = `00000000-0000-4000-8000-00000000000${issueCount}`;
  const sessionDir = state.session(sessionId, 1);
  await fs.mkdir(sessionDir, { recursive: true, mode: 0o700 });
  const before = model.requests.length;
  const { result } = await runSessionStage({
    github: client,
    config: parseConfig({}),
    claude: {
      cliPath: defaultCliPath(),
      modelEnv: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "k", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
      permissionMode: "dontAsk",
      sandbox:
        backend === "uid"
          ? createSandbox("uid", { uids: "29700-29701", lockDir: path.join(root, "uid-locks"), stateRoot: state.root })
          : createSandbox(backend),
      forwarderPath: forwarderPath(),
    },
    promptsDir: promptsDir(),
    issue: await client.getIssue(issue.number),
    sessionId,
    mode: "new",
    previousOutcome: "unknown",
    agentId: `knowledge-${backend}-${issueCount}`,
    knowledge: { block: "", snapshot: SNAPSHOT },
    workspace,
    sessionDir,
    signal: new AbortController().signal,
    onReport: () => undefined,
    clock,
    log,
  });
  return { requests: model.requests.slice(before).filter((r) => r.scenario === SCENARIO.name), sessionDir, outcome: result.report.outcome };
}

async function expectKnowledgeTools(backend: SandboxBackendName): Promise<void> {
  const { requests, sessionDir, outcome } = await session(backend);
  expect(outcome).toBe("success");
  expect(requests.map((r) => r.turn)).toEqual([0, 1, 2]);
  // The CLI offers the three tools under the names --allowedTools lists, and no server of the repository's.
  const tools = ((requests[0]?.body as { tools?: { name: string }[] }).tools ?? []).map((t) => t.name);
  expect(tools).toEqual(expect.arrayContaining(["mcp__knowledge__knowledge_search", "mcp__knowledge__knowledge_read", "mcp__knowledge__knowledge_related"]));
  expect(tools.filter((t) => t.startsWith("mcp__") && !t.startsWith("mcp__knowledge__"))).toEqual([]);

  const last = blocks(requests[2] as RecordedRequest);
  const uses = last.filter((b) => b.type === "tool_use");
  const resultOf = (name: string): Block => {
    const use = uses.find((u) => u.name === name);
    const result = last.find((b) => b.type === "tool_result" && b.tool_use_id === use?.id);
    if (result === undefined) throw new Error(`no tool_result for ${name}: ${JSON.stringify(last).slice(0, 2000)}`);
    return result;
  };
  const search = resultOf("mcp__knowledge__knowledge_search");
  expect(search.is_error ?? false).toBe(false);
  const hits = (JSON.parse(resultText(search)) as { hits: { id: string; snippet: string }[] }).hits;
  expect(hits[0]?.id).toBe(LEASE_DOC);
  expect(hits[0]?.snippet).toContain("compareAndSwap");
  expect(hits.map((h) => h.id)).not.toContain(`doc:${FULL}:docs/knowledge/sandbox.md`);

  const read = resultOf("mcp__knowledge__knowledge_read");
  expect(read.is_error ?? false).toBe(false);
  expect(JSON.parse(resultText(read))).toMatchObject({ id: LEASE_DOC, title: "How the lease moves", trust: "merged", path: "docs/research/leases.md" });

  const related = JSON.parse(resultText(resultOf("mcp__knowledge__knowledge_related"))) as { related: { link: unknown; document: { id: string } | null }[] };
  expect(related.related).toEqual([{ link: SNAPSHOT.links[0], document: expect.objectContaining({ id: SESSION_DOC, trust: "harness" }) }]);

  // What the server read: the session directory's snapshot, as the harness wrote it (0600).
  const written = path.join(sessionDir, "knowledge.json");
  expect(JSON.parse(await fs.readFile(written, "utf8"))).toEqual(SNAPSHOT);
  expect((await fs.stat(written)).mode & 0o077).toBe(0);
}

describe("the knowledge tools through the real CLI", () => {
  it("bwrap: search, read and related answer from the session's snapshot", async () => {
    await expectKnowledgeTools("bwrap");
  }, 120_000);

  it.runIf(process.geteuid?.() === 0)(
    "uid (as root): the same, the server run by the slot uid",
    async () => {
      await expectKnowledgeTools("uid");
    },
    120_000,
  );
});
