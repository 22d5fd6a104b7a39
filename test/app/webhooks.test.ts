import { randomBytes, randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarnessApp } from "../../src/app/harness-app.js";
import { intakeOf } from "../../src/app/issue-intake.js";
import { startServer, type RunningServer } from "../../src/app/start-server.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { AgentPool } from "../../src/runtime/agent-pool.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { signWebhookBody, startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { forwarderPath } from "../../src/cli/paths.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";

/** Delivery ids: a delivery seen twice has no second effect, not even a read; a failed one can be redelivered. */

const OWNER = "octo-org";
const REPO = "hooks";
let github: FakeGitHub;
let server: RunningServer;
let secret: string;

async function post(payload: Record<string, unknown>, deliveryId: string): Promise<number> {
  const body = JSON.stringify(payload);
  const res = await fetch(server.webhookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": signWebhookBody(secret, body),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  const log = silentLogger();
  github = await startFakeGitHub();
  secret = randomBytes(20).toString("hex");
  const appFn = createHarnessApp({
    pool: new AgentPool({ agents: 1, log }),
    state: new StateDir(path.join(os.tmpdir(), `harness-webhooks-${randomUUID()}`)),
    host: "test",
    runId: "run",
    claude: { cliPath: "/nonexistent/claude", modelEnv: {}, permissionMode: "dontAsk", sandbox: createSandbox("none"), forwarderPath: forwarderPath() },
    promptsDir: "/nonexistent",
    log,
  });
  server = await startServer(appFn, { webhookSecret: secret, githubToken: github.token, baseUrl: github.apiUrl, port: 0, log, plainOctokit: true });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await server?.close();
  await github?.close();
});

describe("webhook deliveries", () => {
  it("registers the app's intake on its Probot instance (for startReconciler)", () => {
    expect(intakeOf(server.probot)).toBeDefined();
  });

  it("a delivery seen twice has no second effect: not even an API request", async () => {
    // The queued label is gone: the handler reads the config and the issue, and changes nothing.
    const issue = await github.createIssue(OWNER, REPO, { title: "t", labels: ["bug"], user: "ada" });
    const payload = github.buildPayload("issues", "unlabeled", OWNER, REPO, issue.number, { sender: "ada" });
    payload.label = { id: 1, node_id: "LA_1", url: "", name: "harness:queued", color: "ededed", default: false, description: null };
    const id = randomUUID();
    const before = github.requestLog.length;
    expect(await post(payload, id)).toBe(200);
    const first = github.requestLog.length - before;
    expect(first).toBeGreaterThan(0);
    expect(await post(payload, id)).toBe(200);
    expect(await Promise.all([post(payload, id), post(payload, id)])).toEqual([200, 200]);
    expect(github.requestLog.length - before).toBe(first);
    // The same payload under another delivery id is a replay: not handled either (test/app/webhook-limits.test.ts).
    expect(await post(payload, randomUUID())).toBe(200);
    expect(github.requestLog.length - before).toBe(first);
    // Another payload under another delivery id is handled.
    expect(await post({ ...payload, sender: { ...(payload.sender as object), id: 2 } }, randomUUID())).toBe(200);
    expect(github.requestLog.length - before).toBeGreaterThan(first);
  });

  it("a delivery whose handling failed is handled again when GitHub redelivers it (same id)", async () => {
    const issue = await github.createIssue(OWNER, REPO, { title: "t", labels: [], user: "ada" });
    const payload = github.buildPayload("issues", "unlabeled", OWNER, REPO, issue.number, { sender: "ada" });
    payload.label = { id: 1, node_id: "LA_1", url: "", name: "harness:queued", color: "ededed", default: false, description: null };
    github.setRequestHook((request) => (request.operationId === "issues/get" ? { respond: { status: 502, body: { message: "Bad Gateway" } } } : undefined));
    const id = randomUUID();
    try {
      expect(await post(payload, id)).toBeGreaterThanOrEqual(500);
    } finally {
      github.setRequestHook(null);
    }
    const before = github.requestLog.filter((r) => r.operationId === "issues/get" && r.status === 200).length;
    expect(await post(payload, id)).toBe(200);
    expect(github.requestLog.filter((r) => r.operationId === "issues/get" && r.status === 200).length).toBe(before + 1);
    github.clearViolations();
  });
});
