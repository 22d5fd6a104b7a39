import { promises as fs } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildClaudeEnv } from "../../src/adapters/claude/run-claude.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";
import { forwarderPath } from "../../src/cli/paths.js";
import { startModelServer, type ModelServer } from "../../src/offline/model-server.js";
import { openAgentSandbox, PLACEHOLDER_AUTH_TOKEN, type AgentSandboxInput } from "../../src/runtime/agent-sandbox.js";
import { MODEL_VARIABLES, modelEnvFrom, modelProvider } from "../../src/runtime/model-env.js";

/**
 * Model settings for every provider the CLI supports reach the CLI's process:
 * read back from the environment of a real child process (a stand-in CLI that
 * prints its environment), unsandboxed and inside bwrap; in a sandbox the
 * Anthropic credentials stay with the model proxy.
 */

const HOST_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/home/harness",
  GITHUB_TOKEN: "ghs_not-for-the-agent",
  WEBHOOK_SECRET: "not-for-the-agent",
  PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----",
  HARNESS_SESSION_KEY: "00".repeat(32),
  SOMETHING_ELSE: "x",
};

let root: string;
let cli: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-model-env-"));
  for (const dir of ["tree", "agent.git", "objects", "home", "cli"]) await fs.mkdir(path.join(root, dir));
  // The stand-in CLI prints its whole environment, NUL-separated.
  cli = path.join(root, "cli", "claude");
  await fs.writeFile(cli, "#!/bin/sh\nexec cat /proc/self/environ\n", { mode: 0o755 });
  await fs.writeFile(path.join(root, "bootstrap.md"), "prompt");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function parseEnviron(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}

/** The CLI's environment as the harness starts it without a sandbox (HARNESS_SANDBOX=none). */
async function cliEnvironmentUnsandboxed(hostEnv: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const env = buildClaudeEnv({ home: path.join(root, "home"), agentId: "agent-1", modelEnv: modelEnvFrom(hostEnv) }, hostEnv);
  const result = await execa(cli, [], { env, extendEnv: false });
  return parseEnviron(result.stdout);
}

function sandboxInput(modelEnv: Record<string, string>, network: "isolated" | "open"): AgentSandboxInput {
  return {
    sandbox: createSandbox("bwrap"),
    nodePath: process.execPath,
    forwarderPath: forwarderPath(),
    network: { network, allowHosts: [] },
    modelEnv,
    worktree: path.join(root, "tree"),
    agentGitDir: path.join(root, "agent.git"),
    objectsDir: path.join(root, "objects"),
    home: path.join(root, "home"),
    readOnlyFiles: [path.join(root, "bootstrap.md")],
    cliPath: cli,
    log: silentLogger(),
  };
}

/** Runs the stand-in CLI through the session's sandbox for real and returns the environment it saw. */
async function cliEnvironmentSandboxed(opened: Awaited<ReturnType<typeof openAgentSandbox>>): Promise<Record<string, string>> {
  const env = buildClaudeEnv({ home: path.join(root, "home"), agentId: "agent-1", modelEnv: opened.modelEnv }, HOST_ENV);
  const command = opened.wrap?.(cli, [], env);
  if (!command) throw new Error("no sandbox command");
  const result = await execa(command.file, command.args, { env: command.env, extendEnv: false, reject: false });
  expect(result.exitCode, result.stderr).toBe(0);
  return parseEnviron(result.stdout);
}

const BEDROCK = {
  CLAUDE_CODE_USE_BEDROCK: "1",
  AWS_REGION: "eu-central-1",
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "aws-secret-example",
  AWS_SESSION_TOKEN: "aws-session-example",
  AWS_PROFILE: "bedrock",
  AWS_BEARER_TOKEN_BEDROCK: "bedrock-api-key-example",
  ANTHROPIC_BEDROCK_BASE_URL: "https://bedrock.example.internal",
  ANTHROPIC_MODEL: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
};
const VERTEX = {
  CLAUDE_CODE_USE_VERTEX: "1",
  CLOUD_ML_REGION: "us-east5",
  ANTHROPIC_VERTEX_PROJECT_ID: "my-project",
  GOOGLE_APPLICATION_CREDENTIALS: "/etc/gcp/key.json",
};
const PROXY = {
  HTTPS_PROXY: "http://proxy.corp.example:3128",
  HTTP_PROXY: "http://proxy.corp.example:3128",
  NO_PROXY: "localhost,.corp.example",
  NODE_EXTRA_CA_CERTS: "/etc/ssl/corp-ca.pem",
};

describe("modelEnvFrom", () => {
  it("keeps every documented model variable and nothing else of the host's", () => {
    const all = Object.fromEntries(Object.values(MODEL_VARIABLES).flatMap((names) => names.map((name) => [name, `value-of-${name}`])));
    expect(modelEnvFrom({ ...HOST_ENV, ...all })).toEqual(all);
    expect(modelEnvFrom({ ANTHROPIC_API_KEY: "", AWS_REGION: "eu-west-1" })).toEqual({ AWS_REGION: "eu-west-1" });
  });

  it("names the provider the CLI will use", () => {
    expect(modelProvider({ ANTHROPIC_API_KEY: "k" })).toBe("anthropic");
    expect(modelProvider(BEDROCK)).toBe("bedrock");
    expect(modelProvider(VERTEX)).toBe("vertex");
    expect(modelProvider({ CLAUDE_CODE_USE_BEDROCK: "0" })).toBe("anthropic");
  });
});

describe("the CLI's environment without a sandbox", () => {
  it.each([
    ["Anthropic API key", { ANTHROPIC_API_KEY: "sk-ant-example" }],
    ["gateway token", { ANTHROPIC_BASE_URL: "https://gateway.example", ANTHROPIC_AUTH_TOKEN: "gw-token" }],
    ["subscription token", { CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-example" }],
    ["Bedrock", BEDROCK],
    ["Vertex AI", VERTEX],
    ["proxy and CA", { ANTHROPIC_API_KEY: "sk-ant-example", ...PROXY }],
  ])("%s: every variable arrives, no harness secret does", async (_name, settings) => {
    const inside = await cliEnvironmentUnsandboxed({ ...HOST_ENV, ...settings });
    expect(inside).toMatchObject(settings);
    for (const secret of ["GITHUB_TOKEN", "WEBHOOK_SECRET", "PRIVATE_KEY", "HARNESS_SESSION_KEY", "SOMETHING_ELSE"]) expect(inside[secret]).toBeUndefined();
    expect(inside.HOME).toBe(path.join(root, "home"));
  });
});

describe("the CLI's environment in the bwrap sandbox", () => {
  let model: ModelServer;
  beforeAll(async () => {
    model = await startModelServer({ scenarios: [] });
  });
  afterAll(async () => {
    await model.close();
  });

  it("Bedrock with an isolated network is refused with the fix", async () => {
    await expect(openAgentSandbox(sandboxInput(modelEnvFrom({ ...HOST_ENV, ...BEDROCK }), "isolated"))).rejects.toMatchObject({
      code: "EHARNESS_SANDBOX",
      message: expect.stringContaining("CLAUDE_CODE_USE_BEDROCK"),
      fix: expect.stringContaining("sandbox.network: open"),
    });
    await expect(openAgentSandbox(sandboxInput(modelEnvFrom({ ...HOST_ENV, ...VERTEX }), "isolated"))).rejects.toMatchObject({
      code: "EHARNESS_SANDBOX",
      message: expect.stringContaining("CLAUDE_CODE_USE_VERTEX"),
    });
  });

  it("Bedrock with an open network: the CLI gets the AWS variables itself, and no model proxy", async () => {
    const opened = await openAgentSandbox(sandboxInput(modelEnvFrom({ ...HOST_ENV, ...BEDROCK }), "open"));
    try {
      const inside = await cliEnvironmentSandboxed(opened);
      expect(inside).toMatchObject(BEDROCK);
      expect(inside.ANTHROPIC_BASE_URL).toBeUndefined();
      expect(inside.GITHUB_TOKEN).toBeUndefined();
    } finally {
      await opened.close();
    }
  });

  it("a subscription token stays with the proxy: the CLI gets a placeholder, the endpoint the real token", async () => {
    const real = "sk-ant-oat01-real-subscription-token";
    const opened = await openAgentSandbox(
      sandboxInput(modelEnvFrom({ ...HOST_ENV, ...PROXY, CLAUDE_CODE_OAUTH_TOKEN: real, ANTHROPIC_BASE_URL: model.url }), "isolated"),
    );
    try {
      const inside = await cliEnvironmentSandboxed(opened);
      expect(inside.CLAUDE_CODE_OAUTH_TOKEN).toBe(PLACEHOLDER_AUTH_TOKEN);
      expect(inside.ANTHROPIC_API_KEY).toBeUndefined();
      expect(inside.ANTHROPIC_BASE_URL).toBe("http://127.0.0.1:41001");
      expect(JSON.stringify(inside)).not.toContain(real);
      // The corporate CA file is not mounted in the sandbox, and its model traffic is plain http to the proxy.
      expect(inside.NODE_EXTRA_CA_CERTS).toBeUndefined();
      // The CLI's request, as it sends it (placeholder bearer), through the proxy's socket.
      const runDir = /--bind (\S+harness-run-\S+) \/run\/harness/.exec(opened.wrap?.("/x", [], {}).args.join(" ") ?? "")?.[1] ?? "";
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            socketPath: path.join(runDir, "model.sock"),
            method: "POST",
            path: "/v1/messages/count_tokens",
            headers: { authorization: `Bearer ${PLACEHOLDER_AUTH_TOKEN}`, "content-type": "application/json" },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ model: "m", messages: [] }));
      });
      expect(status).toBe(200);
      expect(model.requests.at(-1)?.headers.authorization).toBe(`Bearer ${real}`);
    } finally {
      await opened.close();
    }
  });
});
