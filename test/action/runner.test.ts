import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import { INPUT_NAMES, issueFromEvent, resolveClaudePath, runner } from "../../src/action/runner.js";
import { OUTPUT_NAMES, type ActionSettings, type MainDeps } from "../../src/action/main.js";
import { promptsDir } from "../../src/cli/paths.js";
import { fakeCore } from "./fake-core.js";

let dir: string;
let bin: string;
let claude: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "action-runner-"));
  bin = path.join(dir, "bin");
  await fs.mkdir(bin);
  claude = path.join(bin, "claude");
  await fs.writeFile(claude, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await fs.writeFile(path.join(bin, "not-executable"), "", { mode: 0o644 });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function eventFile(name: string, payload: unknown): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  await fs.writeFile(file, JSON.stringify(payload));
  return file;
}

/** A job's environment: nothing of the test process leaks in. */
function jobEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: path.join(dir, "home"),
    GITHUB_REPOSITORY: "octo-org/widgets",
    GITHUB_API_URL: "http://127.0.0.1:9/api",
    GITHUB_RUN_ID: "77",
    GITHUB_RUN_ATTEMPT: "2",
    RUNNER_NAME: "runner 1 (gpu)",
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9/model",
    GITHUB_TOKEN: "ghs_from_env_never_for_the_cli",
    ...extra,
  };
}

const VALID = { mode: "issue", issue: "7", "github-token": "ghs_secret_token", "anthropic-api-key": "sk-ant-test" };

async function run(inputs: Record<string, string>, env: NodeJS.ProcessEnv, prompts = promptsDir()) {
  const core = fakeCore(inputs);
  const main = vi.fn<(deps: MainDeps, settings: ActionSettings) => Promise<void>>(async () => undefined);
  await runner({ core, env, promptsDir: prompts, main, hostname: () => "host-a" });
  return { core, main };
}

describe("runner: inputs are validated in one place, before anything runs", () => {
  it("valid inputs become settings; the defaults are filled in", async () => {
    const { core, main } = await run(VALID, jobEnv());
    expect(core.failed).toEqual([]);
    expect(main).toHaveBeenCalledTimes(1);
    const settings = main.mock.calls[0]![1];
    expect(settings).toMatchObject({
      mode: "issue",
      issue: 7,
      githubToken: "ghs_secret_token",
      apiUrl: "http://127.0.0.1:9/api",
      repository: { owner: "octo-org", repo: "widgets" },
      claudePath: claude,
      stateDir: path.join(dir, "home", ".claude-harness"),
      maxIssues: 10,
      agentId: "runner-1-gpu",
      host: "host-a",
      runId: "77-2",
      permissionMode: "dontAsk",
    });
    // The CLI gets the model variables only: never a GitHub token.
    expect(settings.modelEnv).toEqual({ ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: "http://127.0.0.1:9/model" });
    expect(JSON.stringify(settings.modelEnv)).not.toMatch(/ghs_/);
    // Secrets are masked in the log.
    expect(core.secrets).toEqual(["ghs_secret_token", "sk-ant-test"]);
  });

  it.each([
    [
      { mode: "drain" },
      "EHARNESS_USAGE",
      /Input "mode" must be `issue`, `worker` or `reclaim`, not "drain"\. Fix: Set `mode: issue`.*`mode: reclaim` \(take back stalled leases, for a schedule\)/,
    ],
    [{ mode: "reclaim", "github-token": "" }, "EHARNESS_USAGE", /^EHARNESS_USAGE: Input "github-token" is empty\. Fix: Pass `github-token:[^\n]*$/],
    [{ issue: "seven" }, "EHARNESS_USAGE", /Input "issue" must be an issue number like 7/],
    [{ issue: "0" }, "EHARNESS_USAGE", /Input "issue" must be an issue number/],
    [{ "github-token": "" }, "EHARNESS_USAGE", /Input "github-token" is empty.*Fix: Pass `github-token:/],
    [{ "github-token": "${{ github.token }}" }, "EHARNESS_USAGE", /Input "github-token" is an expression the runner did not expand/],
    [{ "max-issues": "-3" }, "EHARNESS_USAGE", /Input "max-issues" must be a whole number of at least 1\. Fix: Set `max-issues` to a number like 5/],
    [{ "max-issues": "2.5" }, "EHARNESS_USAGE", /Input "max-issues" must be a whole number/],
    [{ "agent-id": "../etc" }, "EHARNESS_USAGE", /Input "agent-id" must be 1 to 64 letters/],
    [
      { "claude-path": "./nowhere/claude" },
      "EHARNESS_CLI_MISSING",
      /Input "claude-path": .*nowhere\/claude is not an executable file\. Fix: Install Claude Code/,
    ],
    [{ "claude-path": "not-executable" }, "EHARNESS_CLI_MISSING", /Input "claude-path": `not-executable` is not on the runner's PATH/],
  ])("%j fails with %s naming the input and a fix, and runs nothing", async (bad, code, message) => {
    const { core, main } = await run({ ...VALID, ...bad }, jobEnv());
    expect(main).not.toHaveBeenCalled();
    expect(core.failed).toHaveLength(1);
    expect(core.failed[0]).toContain(`${code}: `);
    expect(core.failed[0]).toMatch(message);
    expect(core.failed[0]).toContain("Fix: ");
    expect(core.outputs).toEqual({});
  });

  it("without claude on PATH: EHARNESS_CLI_MISSING with how to install it", async () => {
    const { core, main } = await run(VALID, jobEnv({ PATH: "/usr/bin:/bin" }));
    expect(main).not.toHaveBeenCalled();
    expect(core.failed[0]).toMatch(
      /^EHARNESS_CLI_MISSING: The Claude Code CLI \(`claude`\) is not on the runner's PATH.*Fix: Install Claude Code on the runner \(`npm install -g @anthropic-ai\/claude-code`\)/,
    );
  });

  it("without model credentials: EHARNESS_CREDENTIALS naming anthropic-api-key", async () => {
    const { core, main } = await run({ ...VALID, "anthropic-api-key": "" }, jobEnv());
    expect(main).not.toHaveBeenCalled();
    expect(core.failed[0]).toMatch(
      /^EHARNESS_CREDENTIALS: .*input "anthropic-api-key" is not set.*Fix: Pass `anthropic-api-key: \$\{\{ secrets\.ANTHROPIC_API_KEY \}\}`/,
    );
  });

  it("a subscription token (CLAUDE_CODE_OAUTH_TOKEN) is a model credential, passed to the CLI's settings", async () => {
    const { main } = await run({ ...VALID, "anthropic-api-key": "" }, jobEnv({ CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-subscription" }));
    expect(main).toHaveBeenCalled();
    expect(JSON.stringify(main.mock.calls[0])).toContain("sk-ant-oat01-subscription");
  });

  it("reports every problem at once, one line each", async () => {
    const { core, main } = await run({ mode: "nope", "github-token": "", "max-issues": "x" }, jobEnv({ GITHUB_REPOSITORY: "", PATH: "/nowhere" }));
    expect(main).not.toHaveBeenCalled();
    const lines = core.failed[0]!.split("\n");
    expect(lines.map((l) => l.split(":")[0])).toEqual([
      "EHARNESS_USAGE", // mode
      "EHARNESS_USAGE", // github-token
      "EHARNESS_USAGE", // max-issues
      "EHARNESS_USAGE", // GITHUB_REPOSITORY
      "EHARNESS_CLI_MISSING",
      "EHARNESS_CREDENTIALS",
    ]);
  });

  it("mode issue without an issue and an event without one fails, naming the event", async () => {
    const event = await eventFile("push", { ref: "refs/heads/main" });
    const { core, main } = await run({ ...VALID, issue: "" }, jobEnv({ GITHUB_EVENT_NAME: "push", GITHUB_EVENT_PATH: event }));
    expect(main).not.toHaveBeenCalled();
    expect(core.failed[0]).toMatch(/^EHARNESS_USAGE: Input "issue" is not set and the event \(push\) names no issue/);
  });

  it("mode worker needs no issue", async () => {
    const { core, main } = await run({ ...VALID, mode: "worker", issue: "", "max-issues": "3" }, jobEnv());
    expect(core.failed).toEqual([]);
    expect(main.mock.calls[0]![1]).toMatchObject({ mode: "worker", issue: null, maxIssues: 3 });
  });

  it("mode reclaim needs no Claude Code CLI, no model credentials and no prompts", async () => {
    const event = await eventFile("schedule", { schedule: "*/15 * * * *" });
    const { core, main } = await run(
      { mode: "reclaim", "github-token": "ghs_secret_token" },
      jobEnv({ PATH: "/usr/bin:/bin", ANTHROPIC_BASE_URL: "", GITHUB_EVENT_NAME: "schedule", GITHUB_EVENT_PATH: event }),
      path.join(dir, "no-prompts-here"),
    );
    expect(core.failed).toEqual([]);
    expect(main).toHaveBeenCalledTimes(1);
    expect(main.mock.calls[0]![1]).toMatchObject({
      mode: "reclaim",
      issue: null,
      claudePath: null,
      githubToken: "ghs_secret_token",
      repository: { owner: "octo-org", repo: "widgets" },
    });
    expect(main.mock.calls[0]![1].modelEnv).toEqual({});
    expect(core.secrets).toEqual(["ghs_secret_token"]);
  });

  it("mode reclaim still checks the repository and the other inputs, all at once", async () => {
    const { core, main } = await run({ mode: " reclaim ", "github-token": "", "agent-id": "a b" }, jobEnv({ GITHUB_REPOSITORY: "nope", PATH: "/nowhere" }));
    expect(main).not.toHaveBeenCalled();
    const lines = core.failed[0]!.split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^EHARNESS_USAGE: Input "github-token" is empty/),
      expect.stringMatching(/^EHARNESS_USAGE: Input "agent-id" must be 1 to 64 letters/),
      expect.stringMatching(/^EHARNESS_USAGE: GITHUB_REPOSITORY must be `owner\/repo`/),
    ]);
  });

  it("modes issue and worker still need the prompts", async () => {
    const { core, main } = await run({ ...VALID, mode: "worker" }, jobEnv(), path.join(dir, "no-prompts-here"));
    expect(main).not.toHaveBeenCalled();
    expect(core.failed[0]).toMatch(/^EHARNESS_PROMPT: The harness's prompts are not at .*no-prompts-here\. Fix: /);
  });

  it("claude-path may name a file relative to the workspace or a command on PATH", async () => {
    await expect(resolveClaudePath("bin/claude", { GITHUB_WORKSPACE: dir })).resolves.toBe(claude);
    await expect(resolveClaudePath("claude", { PATH: `relative:${bin}` })).resolves.toBe(claude);
    await expect(resolveClaudePath(undefined, { PATH: `/nowhere:${bin}` })).resolves.toBe(claude);
  });

  it("main throwing ends in setFailed with a coded message", async () => {
    const core = fakeCore(VALID);
    await runner({ core, env: jobEnv(), promptsDir: promptsDir(), main: async () => Promise.reject(new Error("boom")) });
    expect(core.failed).toEqual([expect.stringMatching(/^EHARNESS_GITHUB: boom Fix: /)]);
  });
});

describe("the issue comes from the event", () => {
  it.each([
    ["issues", { action: "labeled", issue: { number: 12 }, label: { name: "harness:queued" } }, 12],
    ["issue_comment", { action: "created", issue: { number: 13 }, comment: { body: "/retry" } }, 13],
    ["workflow_dispatch", { inputs: { issue: "14" } }, 14],
    ["workflow_dispatch", { inputs: { issue: " 15 " } }, 15],
    ["workflow_dispatch", { inputs: { issue: "x" } }, null],
    ["schedule", { schedule: "*/15 * * * *" }, null],
  ])("%s → %s", async (name, payload, expected) => {
    const file = await eventFile(`event-${name}-${String(expected)}`, payload);
    await expect(issueFromEvent({ GITHUB_EVENT_PATH: file })).resolves.toBe(expected);
  });

  it("the input wins over the event", async () => {
    const event = await eventFile("labeled", { issue: { number: 12 } });
    const { main } = await run({ ...VALID, issue: "3" }, jobEnv({ GITHUB_EVENT_PATH: event }));
    expect(main.mock.calls[0]![1].issue).toBe(3);
    const { main: fromEvent } = await run({ ...VALID, issue: "" }, jobEnv({ GITHUB_EVENT_PATH: event }));
    expect(fromEvent.mock.calls[0]![1].issue).toBe(12);
  });
});

describe("action.yml", () => {
  it("declares exactly the inputs the runner reads and the outputs main sets, each documented", async () => {
    const action = parseYaml(await fs.readFile("action/action.yml", "utf8")) as {
      runs: { using: string; main: string };
      inputs: Record<string, { description?: string; required?: boolean; default?: string }>;
      outputs: Record<string, { description?: string }>;
    };
    expect(action.runs).toEqual({ using: "node24", main: "dist/index.js" });
    expect(Object.keys(action.inputs)).toEqual([...INPUT_NAMES]);
    for (const [name, input] of Object.entries(action.inputs)) expect(input.description?.length, name).toBeGreaterThan(20);
    expect(action.inputs["github-token"]?.required).toBe(true);
    expect(action.inputs["max-issues"]?.default).toBe("10");
    expect(action.inputs.mode?.default).toBe("issue");
    expect(Object.keys(action.outputs)).toEqual([...OUTPUT_NAMES]);
    expect(action.inputs.mode?.description).toContain("`reclaim`");
    expect(action.outputs.outcome?.description).toMatch(/Mode reclaim: reclaimed when .* none when/);
    for (const [name, output] of Object.entries(action.outputs)) expect(output.description?.length, name).toBeGreaterThan(20);
  });
});
