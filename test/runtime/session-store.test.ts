import { randomBytes, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { runClaude } from "../../src/adapters/claude/run-claude.js";
import { defaultCliPath } from "../../src/cli/paths.js";
import { HarnessError } from "../../src/core/errors.js";
import { atDirectory, projectKey, restoreSession, saveSession, sessionFile, sessionRef } from "../../src/runtime/session-store.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadScenario, startModelServer, type ModelServer } from "../../src/offline/model-server.js";

let github: FakeGitHub;
let model: ModelServer;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-session-"));
  model = await startModelServer({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/resume.yaml"))] });
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ owner: "octo", name: "resume", files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function session(host: string, sessionId: string, resume: boolean) {
  const dir = path.join(root, host);
  return {
    home: path.join(dir, "home"),
    cwd: path.join(dir, "work.tree_1"),
    run: (cwd: string, home: string) =>
      runClaude({
        cliPath: defaultCliPath(),
        cwd,
        home,
        prompt: "[scenario:resume] go on",
        sessionId,
        resume,
        allowedTools: ["Write"],
        maxTurns: 10,
        maxBudgetUsd: 5,
        modelEnv: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "k", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
        agentId: `${host}-${sessionId}`,
        transcriptPath: path.join(dir, "transcript.jsonl"),
        stderrPath: path.join(dir, "stderr.log"),
        stallTimeoutMs: 60_000,
        wallTimeoutMs: 120_000,
      }),
  };
}

describe("session store", () => {
  it("moves a restored session to this host's directory: every recorded cwd, as a path or a path's start, and nothing else", () => {
    const lines = [
      JSON.stringify({ type: "user", cwd: "/w/host-a/tree", message: { content: "edit /w/host-a/tree/src/x.ts and /w/host-a/tree" } }),
      JSON.stringify({ type: "api-request-blob", message: { system: "Primary working directory: /w/host-a/tree\nIs a git repository" } }),
      // Another directory that only starts like it, and a line that is not JSON, stay.
      JSON.stringify({ type: "assistant", message: { content: "see /w/host-a/tree2/y and /w/host-a/treeish" } }),
      "not json /w/host-a/tree/z",
    ].join("\n");
    const moved = atDirectory(lines, '/w/host "b"/tree');
    const [user, blob, other, plain] = moved.split("\n").map((l, i) => (i < 3 ? (JSON.parse(l) as Record<string, unknown>) : l));
    expect(user).toEqual({ type: "user", cwd: '/w/host "b"/tree', message: { content: 'edit /w/host "b"/tree/src/x.ts and /w/host "b"/tree' } });
    expect(blob).toEqual({ type: "api-request-blob", message: { system: 'Primary working directory: /w/host "b"/tree\nIs a git repository' } });
    expect(other).toEqual({ type: "assistant", message: { content: "see /w/host-a/tree2/y and /w/host-a/treeish" } });
    expect(plain).toBe('not json /w/host \\"b\\"/tree/z');
    // Restored in the directory it was recorded in: unchanged.
    expect(atDirectory(lines, "/w/host-a/tree")).toBe(lines);
  });

  it("computes the CLI's project key: every non-alphanumeric character becomes '-'", () => {
    expect(projectKey("/home/runner/work/app.v2")).toBe("-home-runner-work-app-v2");
    expect(projectKey("/tmp/a_b c.d+e@f~g")).toBe("-tmp-a-b-c-d-e-f-g");
  });

  it("continues the same session on another host, in another directory, with an empty HOME", async () => {
    const sessionId = randomUUID();
    const url = github.gitUrl("octo", "resume");
    const credentials = { token: github.token };

    // Host A runs the first part and saves the session, with a secret redacted on the way.
    const a = session("host-a", sessionId, false);
    await fs.mkdir(a.cwd, { recursive: true });
    const first = await a.run(a.cwd, a.home);
    expect(first.report.outcome).toBe("success");
    expect(first.report.finalMessage).toBe("First part done.");
    const file = sessionFile(a.home, a.cwd, sessionId);
    await fs.appendFile(file, `${JSON.stringify({ type: "note", text: "token ghs_SECRETSECRETSECRET" })}\n`);
    const gitA = new GitRepository({ cloneDir: path.join(root, "host-a", "clone.git"), home: a.home, identity: { name: "h", email: "h@x" } });
    await gitA.ensureClone();
    const saved = await saveSession({
      git: gitA,
      url,
      credentials,
      issue: 7,
      home: a.home,
      cwd: a.cwd,
      sessionId,
      redact: (t) => t.replace(/ghs_\w+/g, "[redacted]"),
      now: new Date(),
    });
    expect(saved.sessionId).toBe(sessionId);
    expect(await github.readRef("octo", "resume", "refs/harness/sessions/issue-7")).toBe(saved.commit);

    // Host B has nothing: another clone, another HOME, another working directory.
    const b = session("host-b", sessionId, true);
    await fs.mkdir(b.cwd, { recursive: true });
    const gitB = new GitRepository({ cloneDir: path.join(root, "host-b", "clone.git"), home: b.home, identity: { name: "h", email: "h@x" } });
    await gitB.ensureClone();
    const restored = await restoreSession({ git: gitB, url, credentials, issue: 7, home: b.home, cwd: b.cwd });
    expect(restored?.sessionId).toBe(sessionId);
    const restoredText = await fs.readFile(restored!.file, "utf8");
    expect(restoredText).not.toContain("ghs_SECRET");
    expect(restoredText).toContain("[redacted]");

    const second = await b.run(b.cwd, b.home);
    expect(second.report.outcome).toBe("success");
    expect(second.report.sessionId).toBe(sessionId);
    expect(second.report.finalMessage).toBe("Second part done, continuing the same conversation.");
    expect(await fs.readFile(path.join(b.cwd, "part2.txt"), "utf8")).toBe("second session\n");
    // The model saw the first session's turns in the resumed conversation.
    const last = model.requests.filter((r) => r.kind === "turn").at(-1);
    expect(JSON.stringify(last?.body)).toContain("First part done.");
  });

  it("restores nothing when no session was saved", async () => {
    const gitC = new GitRepository({
      cloneDir: path.join(root, "host-c", "clone.git"),
      home: path.join(root, "host-c"),
      identity: { name: "h", email: "h@x" },
    });
    await gitC.ensureClone();
    expect(
      await restoreSession({
        git: gitC,
        url: github.gitUrl("octo", "resume"),
        credentials: { token: github.token },
        issue: 99,
        home: path.join(root, "host-c", "home"),
        cwd: path.join(root, "host-c", "w"),
      }),
    ).toBeNull();
  });

  it("seals the pushed session with the session key: the blob holds no transcript text, and it restores only with that key, on its own issue", async () => {
    const sessionId = randomUUID();
    const url = github.gitUrl("octo", "resume");
    const credentials = { token: github.token };
    const sessionKey = randomBytes(32);
    const canary = "CANARY-tool-output-0c9f3e";
    const dir = path.join(root, "host-sealed");
    const home = path.join(dir, "home");
    const cwd = path.join(dir, "work");
    const file = sessionFile(home, cwd, sessionId);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const transcript = `${JSON.stringify({ type: "user", sessionId, text: `tool said ${canary}` })}\n${JSON.stringify({ type: "assistant", text: "ok" })}\n`;
    await fs.writeFile(file, transcript);
    const gitA = new GitRepository({ cloneDir: path.join(dir, "a.git"), home, identity: { name: "h", email: "h@x" } });
    await gitA.ensureClone();
    const saved = await saveSession({ git: gitA, url, credentials, issue: 21, home, cwd, sessionId, sessionKey, redact: (t) => t, now: new Date() });
    expect(saved.sealed).toBe(true);

    // What anyone who fetches the ref gets: the envelope, no transcript text.
    const gitB = new GitRepository({ cloneDir: path.join(dir, "b.git"), home, identity: { name: "h", email: "h@x" } });
    await gitB.ensureClone();
    await gitB.run(["fetch", "--quiet", "--no-tags", url, `+${sessionRef(21)}:${sessionRef(21)}`], { credentials });
    const blob = (await gitB.run(["show", `${sessionRef(21)}:session.jsonl`])).stdout;
    expect(blob.split("\n")[0]).toBe("harness-session-v1 aes-256-gcm");
    expect(blob).not.toContain(canary);
    const everything = (await gitB.run(["log", "-p", "--format=%B", sessionRef(21)])).stdout;
    expect(everything).not.toContain(canary);

    const place = (issue: number, host: string) => ({ git: gitB, url, credentials, issue, home: path.join(dir, host, "home"), cwd: path.join(dir, host, "w") });
    const restored = await restoreSession({ ...place(21, "b"), sessionKey });
    expect(restored?.sessionId).toBe(sessionId);
    expect(await fs.readFile(restored!.file, "utf8")).toBe(transcript);

    // No key, another key: a coded error that says what to do.
    for (const key of [undefined, randomBytes(32)]) {
      const error = await restoreSession({ ...place(21, "c"), ...(key ? { sessionKey: key } : {}) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HarnessError);
      expect((error as HarnessError).code).toBe("EHARNESS_SESSION");
      expect((error as HarnessError).fix).toContain("HARNESS_SESSION_KEY");
    }

    // The same commit pushed to another issue's ref does not open there.
    await gitB.run(["push", "--quiet", url, `${saved.commit}:${sessionRef(22)}`], { credentials });
    const moved = await restoreSession({ ...place(22, "d"), sessionKey }).catch((e: unknown) => e);
    expect((moved as HarnessError).code).toBe("EHARNESS_SESSION");
  });

  it("still restores an unencrypted session saved before sealing, with a key set", async () => {
    const sessionId = randomUUID();
    const url = github.gitUrl("octo", "resume");
    const credentials = { token: github.token };
    const dir = path.join(root, "host-plain");
    const home = path.join(dir, "home");
    const cwd = path.join(dir, "work");
    const file = sessionFile(home, cwd, sessionId);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const transcript = `${JSON.stringify({ type: "user", text: "plain" })}\n`;
    await fs.writeFile(file, transcript);
    const git = new GitRepository({ cloneDir: path.join(dir, "a.git"), home, identity: { name: "h", email: "h@x" } });
    await git.ensureClone();
    const saved = await saveSession({ git, url, credentials, issue: 23, home, cwd, sessionId, redact: (t) => t, now: new Date() });
    expect(saved.sealed).toBe(false);
    const restored = await restoreSession({
      git,
      url,
      credentials,
      issue: 23,
      home: path.join(dir, "h2"),
      cwd: path.join(dir, "w2"),
      sessionKey: randomBytes(32),
    });
    expect(await fs.readFile(restored!.file, "utf8")).toBe(transcript);
  });
});
