import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import { startFakeGitHub, type FakeGitHub } from "../offline/fake-github/index.js";
import { startModelServer, type ModelServer } from "../offline/model-server.js";
import { loadOfflineInputs, type OfflineInputFlags } from "../offline/offline-inputs.js";
import { loadUsersFile, type OfflineUser } from "../offline/users-file.js";
import { demoDir } from "./demo.js";
import { parseCommandArgs, usageError } from "./args.js";
import { offlineSpec } from "./commands.js";

interface OfflineArgs extends OfflineInputFlags {
  users?: string;
  webhookUrl?: string;
  stateDir?: string;
}

export interface OfflineIo {
  /** The export lines (stdout). */
  out: (text: string) => void;
  /** Everything for people (stderr). */
  err: (text: string) => void;
}

function usage(message: string): HarnessError {
  return usageError(offlineSpec, message);
}

function parseArgs(args: string[]): OfflineArgs {
  const { values } = parseCommandArgs(offlineSpec, args);
  const parsed: OfflineArgs = {};
  if (values.scenario !== undefined) parsed.scenario = values.scenario;
  if (values["repo-dir"] !== undefined) parsed.repoDir = values["repo-dir"];
  if (values.repo !== undefined) parsed.repo = values.repo;
  if (values["issue-file"] !== undefined) parsed.issueFile = values["issue-file"];
  if (values.users !== undefined) parsed.users = values.users;
  if (values["webhook-url"] !== undefined) parsed.webhookUrl = values["webhook-url"];
  if (values["state-dir"] !== undefined) parsed.stateDir = values["state-dir"];
  if (parsed.webhookUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(parsed.webhookUrl);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw usage(`--webhook-url "${parsed.webhookUrl}" is not an http(s) URL.`);
  }
  return parsed;
}

/** `NAME='value'` for sh, bash and zsh: single quotes, a quote inside as '\''. */
const exportLine = (name: string, value: string): string => `export ${name}='${value.replace(/'/g, `'\\''`)}'`;

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(temp, text, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** Writes `github.json` after changes, one write at a time, coalescing the changes that arrive meanwhile. */
function stateDumper(github: FakeGitHub, file: string, onError: (error: unknown) => void): { schedule: () => void; flush: () => Promise<void> } {
  let running: Promise<void> | null = null;
  let again = false;
  const run = async (): Promise<void> => {
    do {
      again = false;
      try {
        await writeAtomically(file, `${JSON.stringify(await github.snapshot(), null, 2)}\n`);
      } catch (error) {
        onError(error);
      }
    } while (again);
    running = null;
  };
  const schedule = (): void => {
    if (running) again = true;
    else running = run();
  };
  return {
    schedule,
    flush: async () => {
      while (running) await running;
      schedule();
      while (running) await running;
    },
  };
}

/**
 * `harness offline`: the fake GitHub and the scripted model on 127.0.0.1, with one repository and
 * one issue, until SIGINT/SIGTERM (or `stop`). The variables for `harness worker` and `harness app`
 * go to stdout as export lines (and `<state-dir>/env.sh`); everything else to stderr.
 */
export async function offlineCommand(args: string[], _env: NodeJS.ProcessEnv, io: OfflineIo, stop?: Promise<void>): Promise<number> {
  const parsed = parseArgs(args);
  // Every input is read and checked before anything starts.
  const inputs = await loadOfflineInputs(parsed, demoDir());
  const users: OfflineUser[] = parsed.users !== undefined ? await loadUsersFile(parsed.users) : [];
  const stateDir = parsed.stateDir === undefined ? null : path.resolve(parsed.stateDir);
  if (stateDir) await fs.mkdir(stateDir, { recursive: true });

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch((error: unknown) => io.err(`harness offline: while closing: ${String(error)}\n`));
  };
  let model: ModelServer;
  let github: FakeGitHub;
  try {
    model = await startModelServer({ scenarios: [inputs.scenario] });
    closers.push(() => model.close());
    github = await startFakeGitHub({ restWebhooks: true, ...(stateDir ? { dir: path.join(stateDir, "github") } : {}) });
    const fake = github;
    closers.push(() => fake.close({ keep: stateDir !== null }));
    const { owner, name } = inputs;
    await github.createRepo({ owner, name, defaultBranch: "main", files: inputs.files, executable: inputs.executable });
    for (const user of users) {
      github.addUserToken(user.token, user.login, user.type);
      github.setPermission(owner, name, user.login, user.permission);
    }
    const issue = await github.createIssue(owner, name, { title: inputs.issue.title, body: inputs.issue.body });
    const webhookSecret = randomBytes(20).toString("hex");
    if (parsed.webhookUrl !== undefined) github.setWebhook({ url: parsed.webhookUrl, secret: webhookSecret });

    const variables: [string, string][] = [
      ["GITHUB_API_URL", github.apiUrl],
      ["GITHUB_TOKEN", github.token],
      ["HARNESS_REPOSITORIES", `${owner}/${name}`],
      ["ANTHROPIC_BASE_URL", model.url],
      ["ANTHROPIC_API_KEY", "scripted-model-key"],
      ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"],
      // The fake's repositories are public: sessions are pushed only sealed, so workers need a shared key.
      ["HARNESS_SESSION_KEY", randomBytes(32).toString("hex")],
      ["WEBHOOK_SECRET", webhookSecret],
    ];
    const exports = variables.map(([k, v]) => exportLine(k, v)).join("\n") + "\n";

    let dumper: ReturnType<typeof stateDumper> | null = null;
    if (stateDir) {
      await writeAtomically(path.join(stateDir, "env.sh"), `# harness offline: source this file (. ${path.join(stateDir, "env.sh")})\n${exports}`);
      const d = stateDumper(github, path.join(stateDir, "github.json"), (error) => io.err(`harness offline: could not write github.json: ${String(error)}\n`));
      dumper = d;
      github.onRequest(() => d.schedule());
      await d.flush();
      // At shutdown, after the fake stopped: the last state, the whole request log.
      closers.unshift(async () => {
        fake.onRequest(null);
        await d.flush();
      });
    }

    io.out(exports);
    const lines = [
      `harness offline: fake GitHub at ${github.apiUrl} (git: ${github.gitUrl(owner, name)}), scripted model at ${model.url}`,
      `  repository ${owner}/${name} (default branch main, ${Object.keys(inputs.files).length} files from ${inputs.repoDir})`,
      `  issue #${issue.number} "${issue.title}" (from ${inputs.issueFile}); scenario "${inputs.scenario.name}" (from ${inputs.scenarioFile})`,
      `  GITHUB_TOKEN acts as harness-tester (admin)`,
      ...users.map((u) => `  user ${u.login} (${u.type}, ${u.permission}) with the token from ${parsed.users ?? ""}`),
      parsed.webhookUrl !== undefined
        ? `  webhooks (HMAC-signed with WEBHOOK_SECRET) go to ${parsed.webhookUrl}`
        : `  no webhooks (--webhook-url http://127.0.0.1:3000/api/github/webhooks for 'harness app')`,
      stateDir
        ? `  state in ${stateDir}: env.sh (source it in another shell), github.json, the bare repositories under github/`
        : `  no --state-dir: nothing is kept after exit`,
      `  next, in another shell: ${stateDir ? `. ${path.join(stateDir, "env.sh")}` : "eval the export lines above"}; harness worker --agents 1 --once`,
      `  stop with Ctrl-C (SIGINT) or SIGTERM`,
    ];
    io.err(lines.join("\n") + "\n");

    await (stop ?? waitForSignal());
    io.err("harness offline: stopping\n");
    await closeAll();
    if (dumper && stateDir) io.err(`harness offline: state kept in ${stateDir} (github.json, env.sh, github/)\n`);
    return 0;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
