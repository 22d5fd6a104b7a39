import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultCliPath } from "../../src/cli/paths.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadScenario, startModelServer, type ModelServer } from "../../src/offline/model-server.js";

export const OWNER = "octo-org";
export const REPO = "widgets";

/** The fake GitHub with one repository, the scripted model, and a directory for a job's files. */
export interface ActionFixture {
  dir: string;
  github: FakeGitHub;
  model: ModelServer;
  /** The environment the runner would give the Action's process (inputs as INPUT_*, GITHUB_*). */
  jobEnv(options: { inputs: Record<string, string>; event: { name: string; payload: unknown } }): Promise<Record<string, string>>;
  summaryFile: string;
  outputFile: string;
  stateDir: string;
  close(): Promise<void>;
}

export async function startActionFixture(scenarios: string[]): Promise<ActionFixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-action-"));
  const model = await startModelServer({ scenarios: await Promise.all(scenarios.map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f)))) });
  const github = await startFakeGitHub({ dir: path.join(dir, "github") });
  await github.createRepo({ owner: OWNER, name: REPO, defaultBranch: "main", files: { "README.md": "# widgets\n" }, collaborators: { ada: "write" } });
  const summaryFile = path.join(dir, "step-summary.md");
  const outputFile = path.join(dir, "github-output");
  const stateDir = path.join(dir, "state");
  await fs.writeFile(summaryFile, "");
  await fs.writeFile(outputFile, "");
  return {
    dir,
    github,
    model,
    summaryFile,
    outputFile,
    stateDir,
    async jobEnv({ inputs, event }) {
      const eventPath = path.join(dir, `event-${event.name}.json`);
      await fs.writeFile(eventPath, JSON.stringify(event.payload));
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: path.join(dir, "home"),
        GITHUB_API_URL: github.apiUrl,
        GITHUB_SERVER_URL: github.apiUrl,
        GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
        GITHUB_EVENT_NAME: event.name,
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_OUTPUT: outputFile,
        GITHUB_RUN_ID: "4242",
        GITHUB_RUN_ATTEMPT: "1",
        RUNNER_NAME: "local runner",
        ANTHROPIC_BASE_URL: model.url,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        "INPUT_GITHUB-TOKEN": github.token,
        "INPUT_ANTHROPIC-API-KEY": "scripted-model-key",
        "INPUT_CLAUDE-PATH": defaultCliPath(),
        "INPUT_STATE-DIR": stateDir,
      };
      for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
      await fs.mkdir(env.HOME!, { recursive: true });
      return env;
    },
    async close() {
      await github.close().catch(() => undefined);
      await model.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Parses a GITHUB_OUTPUT file as @actions/core writes it (`name<<DELIMITER … DELIMITER`). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const heredoc = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? "");
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i += 1; i < lines.length && lines[i] !== delimiter; i += 1) value.push(lines[i] ?? "");
      out[name!] = value.join("\n");
      continue;
    }
    const plain = /^([^=]+)=(.*)$/.exec(lines[i] ?? "");
    if (plain) out[plain[1]!] = plain[2]!;
  }
  return out;
}
