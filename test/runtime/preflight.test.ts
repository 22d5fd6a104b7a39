import { generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer } from "../../src/offline/model-server.js";
import {
  checkClaudeCli,
  checkDisk,
  checkGit,
  checkGitHub,
  checkModel,
  checkNode,
  checkSandbox,
  checkStateDir,
  checkWebhookSecret,
  preflightError,
  runPreflight,
} from "../../src/runtime/preflight.js";
import { CLI_PATH } from "../support/run-cli.js";

/** Each check passes and fails for real: real git, the real CLI, the scripted model server, the fake GitHub, bwrap, the file system. */

const GOOD_KEY = "sk-ant-doctor-good-key-0001";
const APP_ID = 4242;
let root: string;
let model: ModelServer;
let github: FakeGitHub;
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: "pkcs1", format: "pem" }).toString();

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-preflight-"));
  model = await startModelServer({ scenarios: [], apiKeys: [GOOD_KEY] });
  github = await startFakeGitHub({ appKeys: { appId: APP_ID, publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString() } });
  await github.createRepo({ owner: "octo-org", name: "greeter", files: { "README.md": "# greeter\n" } });
});
afterAll(async () => {
  await github?.close();
  await model?.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const file = path.join(root, name);
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

describe("node", () => {
  it("22 and later pass, 20 warns, older fails", () => {
    expect(checkNode("24.1.0").ok).toBe("pass");
    expect(checkNode("22.12.0").ok).toBe("pass");
    expect(checkNode("20.20.2")).toMatchObject({ ok: "warn", fix: expect.stringContaining("22 or 24") });
    expect(checkNode("18.19.0").ok).toBe("fail");
  });
});

describe("git", () => {
  it("the host's git passes; an old one and a missing one fail", async () => {
    expect((await checkGit()).ok).toBe("pass");
    const old = await checkGit(await script("old-git", 'echo "git version 2.25.1"'));
    expect(old).toMatchObject({ ok: "fail", detail: expect.stringContaining("2.25.1"), fix: expect.stringContaining("2.32") });
    expect((await checkGit(path.join(root, "no-such-git"))).ok).toBe("fail");
  });
});

describe("claude-cli", () => {
  it("the package's CLI passes with its version", async () => {
    const check = await checkClaudeCli(CLI_PATH, "test");
    expect(check).toMatchObject({ ok: "pass", detail: expect.stringMatching(/Claude Code \d+\.\d+\.\d+, verified/) });
  });

  it("a missing path fails with the install fix; an unverified version warns", async () => {
    const missing = await checkClaudeCli(path.join(root, "no-such-claude"), "CLAUDE_PATH");
    expect(missing).toMatchObject({
      ok: "fail",
      detail: expect.stringContaining("CLAUDE_PATH"),
      fix: expect.stringContaining("npm install -g @anthropic-ai/claude-code"),
    });
    const future = await checkClaudeCli(await script("future-claude", 'echo "9.9.9 (Claude Code)"'));
    expect(future).toMatchObject({ ok: "warn", detail: expect.stringContaining("outside the verified range") });
    const mute = await checkClaudeCli(await script("mute-claude", "exit 3"));
    expect(mute.ok).toBe("fail");
  });
});

describe("model", () => {
  it("a key the endpoint accepts passes; a bad key is refused", async () => {
    expect(await checkModel({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: GOOD_KEY })).toMatchObject({ ok: "pass" });
    const bad = await checkModel({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-doctor-wrong-key" });
    expect(bad).toMatchObject({ ok: "fail", detail: expect.stringContaining("401 authentication_error"), fix: expect.stringContaining("ANTHROPIC_API_KEY") });
    const gateway = await checkModel({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_AUTH_TOKEN: GOOD_KEY });
    expect(gateway.ok).toBe("pass");
    // It was one GET /v1/models with the key, nothing more.
    expect(model.requests.filter((r) => r.path.startsWith("/v1/models")).map((r) => r.method)).toEqual(["GET", "GET", "GET"]);
  });

  it("no credential fails; an unreachable endpoint fails; Bedrock and subscription tokens are not checked", async () => {
    expect((await checkModel({})).ok).toBe("fail");
    expect(await checkModel({ ANTHROPIC_BASE_URL: "http://127.0.0.1:1", ANTHROPIC_API_KEY: GOOD_KEY })).toMatchObject({
      ok: "fail",
      detail: expect.stringContaining("could not be reached"),
    });
    expect(await checkModel({ CLAUDE_CODE_USE_BEDROCK: "1", AWS_REGION: "us-east-1" })).toMatchObject({
      ok: "warn",
      detail: expect.stringContaining("not checked"),
    });
    expect(await checkModel({ CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-x" })).toMatchObject({ ok: "warn", detail: expect.stringContaining("not checked") });
  });
});

describe("github", () => {
  it("a token that reaches the repositories passes; a wrong token is refused by the fake", async () => {
    const env = { GITHUB_API_URL: github.apiUrl, GITHUB_TOKEN: github.token };
    const repos = [{ owner: "octo-org", repo: "greeter" }];
    expect(await checkGitHub(env, "worker", repos)).toMatchObject({ ok: "pass", detail: expect.stringContaining("octo-org/greeter") });
    const wrong = await checkGitHub({ ...env, GITHUB_TOKEN: "ghp_wrongwrongwrongwrong" }, "worker", repos);
    expect(wrong).toMatchObject({ ok: "fail", detail: expect.stringContaining("401"), fix: expect.stringContaining("GITHUB_TOKEN") });
    const unseen = await checkGitHub(env, "worker", [{ owner: "octo-org", repo: "nope" }]);
    expect(unseen).toMatchObject({ ok: "fail", detail: expect.stringContaining("cannot see octo-org/nope") });
    expect((await checkGitHub({ GITHUB_API_URL: github.apiUrl }, "worker", repos)).ok).toBe("fail");
  });

  it("a passing GitHub outage (5xx, a secondary rate limit) is retried, and only warns if it lasts", async () => {
    const env = { GITHUB_API_URL: github.apiUrl, GITHUB_TOKEN: github.token };
    const repos = [{ owner: "octo-org", repo: "greeter" }];
    let calls = 0;
    const flaky = (outages: number): typeof fetch =>
      (async (url: string | URL | Request, init?: RequestInit) => {
        calls += 1;
        if (calls <= outages)
          return calls % 2 === 1
            ? new Response('{"message":"Server Error"}', { status: 502 })
            : new Response('{"message":"You have exceeded a secondary rate limit."}', { status: 403 });
        return fetch(url, init);
      }) as typeof fetch;
    expect((await checkGitHub(env, "worker", repos, flaky(2))).ok).toBe("pass");
    expect(calls).toBe(3);
    calls = 0;
    expect(await checkGitHub(env, "worker", repos, flaky(3))).toMatchObject({ ok: "warn", detail: expect.stringContaining("not verified") });
  });

  it("the App: APP_ID and its key pass (GET /app, /app/installations); another key is refused", async () => {
    const env = { GITHUB_API_URL: github.apiUrl, APP_ID: String(APP_ID), PRIVATE_KEY: privateKey };
    expect(await checkGitHub(env, "app", [])).toMatchObject({ ok: "pass", detail: expect.stringContaining("installed") });
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    expect(await checkGitHub({ ...env, PRIVATE_KEY: other }, "app", [])).toMatchObject({
      ok: "fail",
      detail: expect.stringContaining("refused the App's JWT"),
    });
    expect(await checkGitHub({ ...env, PRIVATE_KEY: "not a key" }, "app", [])).toMatchObject({ ok: "fail", detail: expect.stringContaining("not a PEM") });
  });
});

describe("webhook-secret", () => {
  it("a long random secret passes; a short, a repetitive and a missing one fail", () => {
    expect(checkWebhookSecret("3f".repeat(4) + "a1b2c3d4e5f60718293a4b5c6d7e8f90").ok).toBe("pass");
    expect(checkWebhookSecret("development")).toMatchObject({
      ok: "fail",
      detail: expect.stringContaining("11 characters"),
      fix: expect.stringContaining("openssl rand -hex 32"),
    });
    expect(checkWebhookSecret("ab".repeat(20)).ok).toBe("fail");
    expect(checkWebhookSecret(undefined).ok).toBe("fail");
  });
});

describe("sandbox", () => {
  it("bwrap passes; an unknown backend and a missing bwrap fail; none warns", async () => {
    expect((await checkSandbox({})).ok).toBe("pass");
    expect(await checkSandbox({ HARNESS_SANDBOX: "docker" })).toMatchObject({ ok: "fail", fix: expect.stringContaining("HARNESS_SANDBOX") });
    expect((await checkSandbox({ HARNESS_BWRAP: path.join(root, "no-bwrap") })).ok).toBe("fail");
    expect(await checkSandbox({ HARNESS_UNSAFE_NO_SANDBOX: "1" })).toMatchObject({ ok: "warn", detail: expect.stringContaining("UNSAFE") });
  });

  it("uid: an unset range fails with the variable to set; as root with a range it passes", async () => {
    expect(await checkSandbox({ HARNESS_SANDBOX: "uid" })).toMatchObject({ ok: "fail", fix: expect.stringContaining("HARNESS_SANDBOX_UIDS=20001-20008") });
    if (process.geteuid?.() === 0) {
      // The state directory's parent must let the slots through: the test root is 0700, so it fails there…
      const env = { HARNESS_SANDBOX: "uid", HARNESS_SANDBOX_UIDS: "29400-29401", HARNESS_STATE_DIR: path.join(root, "uid-state") };
      expect(await checkSandbox(env)).toMatchObject({ ok: "fail", detail: expect.stringContaining("closed to other users") });
      // …and passes in a directory others may traverse.
      const open = await fs.mkdtemp(path.join(os.tmpdir(), "harness-preflight-uid-"));
      try {
        await fs.chmod(open, 0o711);
        expect(await checkSandbox({ ...env, HARNESS_STATE_DIR: path.join(open, "state") })).toMatchObject({
          ok: "pass",
          detail: expect.stringContaining("HARNESS_SANDBOX_UIDS=29400-29401"),
        });
      } finally {
        await fs.rm(open, { recursive: true, force: true });
      }
    }
  });

  it("uid: a state dir others may traverse but not read (0701) passes, 0705 fails", async () => {
    const dir = path.join(root, "state-0701");
    await fs.mkdir(dir);
    await fs.chmod(dir, 0o701);
    expect((await checkStateDir(dir, false, true)).ok).toBe("pass");
    expect((await checkStateDir(dir)).ok).toBe("fail");
    await fs.chmod(dir, 0o705);
    expect((await checkStateDir(dir, false, true)).ok).toBe("fail");
  });
});

describe("disk and state-dir", () => {
  it("too little free space fails", async () => {
    const statfs = async (): Promise<{ bavail: number; bsize: number }> => ({ bavail: 100, bsize: 1024 * 1024 });
    expect(await checkDisk({}, root, statfs)).toMatchObject({ ok: "fail", detail: expect.stringContaining("100 MiB free") });
    expect((await checkDisk({ HARNESS_MIN_FREE_DISK_MB: "64" }, root, statfs)).ok).toBe("pass");
    expect((await checkDisk({ HARNESS_MIN_FREE_DISK_MB: "lots" }, root, statfs)).ok).toBe("fail");
  });

  it("a 0755 state dir fails (doctor changes nothing); start mode makes it 0700; 0700 passes", async () => {
    const dir = path.join(root, "state-0755");
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    expect(await checkStateDir(dir)).toMatchObject({
      ok: "fail",
      detail: expect.stringContaining("0755"),
      fix: `chmod 700 ${dir} (app and worker do so at start).`,
    });
    expect(((await fs.stat(dir)).mode & 0o777).toString(8)).toBe("755");
    expect((await checkStateDir(dir, true)).ok).toBe("pass");
    expect(((await fs.stat(dir)).mode & 0o777).toString(8)).toBe("700");
    expect((await checkStateDir(path.join(root, "not-yet"))).ok).toBe("pass");
  });
});

describe("runPreflight", () => {
  it("all checks, in order, with no secret in any detail or fix; EHARNESS_PREFLIGHT lists the failures", async () => {
    const env = {
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: "sk-ant-doctor-wrong-key-secret",
      GITHUB_API_URL: github.apiUrl,
      GITHUB_TOKEN: "ghp_doctorwrongtokensecret0001",
      WEBHOOK_SECRET: "short-secret-value",
      HARNESS_MIN_FREE_DISK_MB: "64",
    };
    const checks = await runPreflight({
      env,
      role: "app",
      cliPath: CLI_PATH,
      stateDir: path.join(root, "state-run"),
      repositories: [{ owner: "octo-org", repo: "greeter" }],
    });
    expect(checks.map((c) => c.name)).toEqual(["node", "git", "claude-cli", "model", "github", "webhook-secret", "sandbox", "disk", "state-dir"]);
    const text = JSON.stringify(checks);
    for (const secret of Object.values(env).filter((v) => v.includes("secret"))) expect(text).not.toContain(secret);
    const error = preflightError(checks, "harness app");
    expect(error?.code).toBe("EHARNESS_PREFLIGHT");
    expect(error?.message).toMatch(/model: .*refused/);
    expect(error?.message).toMatch(/github: .*401/);
    expect(error?.message).toMatch(/webhook-secret: /);
    expect(error?.fix).toContain("harness doctor");
    expect(
      preflightError(
        checks.filter((c) => c.ok !== "fail"),
        "harness app",
      ),
    ).toBeNull();
  });
});
