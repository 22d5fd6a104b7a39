import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offlineCommand } from "../../src/cli/offline-command.js";
import { reportCommand, type ReportJson } from "../../src/cli/report-command.js";

/**
 * The real `harness offline` CLI as a child process, driven as a person would: read its export
 * lines, label the issue with a user's token through the REST API, run the real
 * `harness worker --agents 1 --once` with exactly those variables, read the pull request back
 * through the REST API, then SIGTERM it and read github.json.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const MAIN = path.join(ROOT, "src", "cli", "main.ts");

let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-offline-cli-"));
});

afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderrFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnCli(args: string[], env: Record<string, string>, name: string): Spawned {
  const child = spawn(TSX, [MAIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  const stderrFile = path.join(root, `${name}.stderr`);
  child.stderr?.pipe(createWriteStream(stderrFile));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderrFile, exited };
}

const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: path.join(root, "home"), LANG: "C.UTF-8" });

/** `export NAME='value'` lines, as the command prints them. */
function parseExports(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return vars;
}

/** Resolves once the child printed its last export line (WEBHOOK_SECRET), or rejects when it exits first. */
async function exportsOf(offline: Spawned): Promise<Record<string, string>> {
  const ready = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (/^export WEBHOOK_SECRET=.*\n/m.test(offline.stdout())) resolve();
    };
    offline.child.stdout?.on("data", check);
    check();
    void offline.exited.then(async (exit) => reject(new Error(`offline exited ${JSON.stringify(exit)}: ${await fs.readFile(offline.stderrFile, "utf8")}`)));
  });
  await ready;
  return parseExports(offline.stdout());
}

describe("harness offline", () => {
  it("serves the real worker: a user's label through REST, one PR closing the issue with the scenario's file, github.json at SIGTERM", async () => {
    // A repository directory with its own .git, which must not become part of the first commit.
    const repoDir = path.join(root, "greeter");
    await fs.cp(path.join(ROOT, "examples", "demo", "repo"), repoDir, { recursive: true });
    execFileSync("git", ["init", "--quiet", repoDir]);
    const issueFile = path.join(root, "issue.md");
    await fs.writeFile(issueFile, "# Greet in Spanish, please\n\nAdd `greetEs(name)` with a test.\n");
    const usersFile = path.join(root, "users.yaml");
    await fs.writeFile(
      usersFile,
      ["- login: maria", "  permission: write", "  token: maria-token-0001", "- login: reader", "  permission: read", "  token: reader-token-0001", ""].join(
        "\n",
      ),
    );
    const stateDir = path.join(root, "offline-state");
    const offline = spawnCli(
      ["offline", "--state-dir", stateDir, "--repo-dir", repoDir, "--issue-file", issueFile, "--users", usersFile],
      baseEnv(),
      "offline",
    );
    try {
      const vars = await exportsOf(offline);
      expect(Object.keys(vars).sort()).toEqual(
        [
          "ANTHROPIC_API_KEY",
          "ANTHROPIC_BASE_URL",
          "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
          "GITHUB_API_URL",
          "GITHUB_TOKEN",
          "HARNESS_REPOSITORIES",
          "HARNESS_SESSION_KEY",
          "WEBHOOK_SECRET",
        ].sort(),
      );
      expect(vars.HARNESS_REPOSITORIES).toBe("octo-org/greeter");
      // The same lines in env.sh, for `source` in another shell.
      expect(parseExports(await fs.readFile(path.join(stateDir, "env.sh"), "utf8"))).toEqual(vars);

      const api = vars.GITHUB_API_URL ?? "";
      const repoApi = `${api}/repos/octo-org/greeter`;
      const as = (token: string): Record<string, string> => ({ authorization: `token ${token}`, accept: "application/vnd.github+json" });
      const issue = (await (await fetch(`${repoApi}/issues/1`, { headers: as("maria-token-0001") })).json()) as { title: string; body: string };
      expect(issue).toMatchObject({ title: "Greet in Spanish, please", body: "Add `greetEs(name)` with a test." });
      // The directory's files are the first commit of main; its .git is not.
      expect((await fetch(`${repoApi}/contents/src/greet.js?ref=main`, { headers: as("maria-token-0001") })).status).toBe(200);
      expect((await fetch(`${repoApi}/contents/.github/harness.yml?ref=main`, { headers: as("maria-token-0001") })).status).toBe(200);
      expect((await fetch(`${repoApi}/contents/.git/HEAD?ref=main`, { headers: as("maria-token-0001") })).status).toBe(404);

      // A reader cannot queue it; maria (write) can.
      const refused = await fetch(`${repoApi}/issues/1/labels`, {
        method: "POST",
        headers: as("reader-token-0001"),
        body: JSON.stringify({ labels: ["harness:queued"] }),
      });
      expect(refused.status).toBe(403);
      const labeled = await fetch(`${repoApi}/issues/1/labels`, {
        method: "POST",
        headers: as("maria-token-0001"),
        body: JSON.stringify({ labels: ["harness:queued"] }),
      });
      expect(labeled.status).toBe(200);

      const worker = spawnCli(["worker", "--agents", "1", "--once"], { ...baseEnv(), ...vars, HARNESS_STATE_DIR: path.join(root, "worker-state") }, "worker");
      const exit = await worker.exited;
      expect(exit, (await fs.readFile(worker.stderrFile, "utf8")).slice(-4000)).toEqual({ code: 0, signal: null });
      expect(worker.stdout()).toMatch(/^octo-org\/greeter#1\tsuccess\tharness:done\tPR #\d+$/m);
      // The worker recorded its trends in its state directory (harness report, docs/monitoring.md).
      const trends: string[] = [];
      await reportCommand(["--json", "--state-dir", path.join(root, "worker-state")], {}, (line) => trends.push(line));
      expect((JSON.parse(trends.join("\n")) as ReportJson).total).toMatchObject({ sessions: 1, done: 1, failed: 0, claims: 1 });

      const pulls = (await (await fetch(`${repoApi}/pulls?state=all`, { headers: as("maria-token-0001") })).json()) as {
        number: number;
        body: string | null;
        head: { ref: string };
      }[];
      expect(pulls).toHaveLength(1);
      expect(pulls[0]?.body ?? "").toMatch(/Closes #1\b/);
      const file = await fetch(`${repoApi}/contents/src/greet-es.js?ref=${encodeURIComponent(pulls[0]?.head.ref ?? "")}`, { headers: as("maria-token-0001") });
      expect(file.status).toBe(200);
      const content = (await file.json()) as { content: string };
      expect(Buffer.from(content.content, "base64").toString("utf8")).toContain("export function greetEs(name)");
    } finally {
      offline.child.kill("SIGTERM");
    }
    expect(await offline.exited).toEqual({ code: 0, signal: null });
    const dump = JSON.parse(await fs.readFile(path.join(stateDir, "github.json"), "utf8")) as {
      repositories: { fullName: string; pulls: unknown[]; issues: { number: number; labelNames: string[] }[] }[];
      requestLog: { kind: string; operationId: string | null; actor: string | null; status: number }[];
      violations: unknown[];
    };
    // Strict here too: the worker's and the people's requests were all as GitHub's description says.
    expect(dump.violations).toEqual([]);
    expect(dump.repositories.map((r) => r.fullName)).toEqual(["octo-org/greeter"]);
    expect(dump.repositories[0]?.pulls).toHaveLength(1);
    expect(dump.repositories[0]?.issues.find((i) => i.number === 1)?.labelNames).toContain("harness:done");
    // Every request: the reader's refused label, maria's label, the worker's pushes.
    expect(dump.requestLog).toContainEqual(expect.objectContaining({ operationId: "issues/add-labels", actor: "reader", status: 403 }));
    expect(dump.requestLog).toContainEqual(expect.objectContaining({ operationId: "issues/add-labels", actor: "maria", status: 200 }));
    expect(dump.requestLog.some((r) => r.kind === "git" && r.operationId === "git:git-receive-pack" && r.actor === "harness-tester")).toBe(true);
  }, 180_000);

  it("refuses bad input with a coded error and exit code 2, before starting anything", async () => {
    const badUsers = path.join(root, "bad-users.yaml");
    await fs.writeFile(badUsers, "- login: ana\n  permission: owner\n  token: ana-token-0001\n");
    const dupUsers = path.join(root, "dup-users.json");
    await fs.writeFile(
      dupUsers,
      JSON.stringify([
        { login: "ana", permission: "write", token: "same-token-001" },
        { login: "Ana", permission: "read", token: "same-token-001" },
      ]),
    );
    const emptyIssue = path.join(root, "empty-issue.md");
    await fs.writeFile(emptyIssue, "\n\nno title above\n");
    const badScenario = path.join(root, "bad-scenario.yaml");
    await fs.writeFile(badScenario, "turns:\n  - text: 3\n");
    const cases: { args: string[]; code: string; says: RegExp }[] = [
      { args: ["--users", badUsers], code: "EHARNESS_CONFIG", says: /permission/ },
      { args: ["--users", dupUsers], code: "EHARNESS_CONFIG", says: /login "Ana" of users\[0\].*token of users\[0\]/ },
      { args: ["--issue-file", path.join(root, "missing.md")], code: "EHARNESS_USAGE", says: /no such file/ },
      { args: ["--issue-file", emptyIssue], code: "EHARNESS_CONFIG", says: /title/ },
      { args: ["--scenario", badScenario], code: "EHARNESS_CONFIG", says: /not a valid scenario/ },
    ];
    const results = await Promise.all(
      cases.map(async (c, i) => {
        const run = spawnCli(["offline", ...c.args], baseEnv(), `bad-${i}`);
        const exit = await run.exited;
        return { exit, stdout: run.stdout(), stderr: await fs.readFile(run.stderrFile, "utf8") };
      }),
    );
    results.forEach((r, i) => {
      const c = cases[i];
      expect(r.exit, r.stderr).toEqual({ code: 2, signal: null });
      expect(r.stdout).toBe(""); // no export lines: nothing started
      expect(r.stderr).toMatch(new RegExp(`^${c?.code}: `));
      expect(r.stderr).toMatch(c?.says ?? /./);
      expect(r.stderr).toContain("Fix: ");
    });
  }, 120_000);

  it("names the repository with --repo and delivers signed webhooks to --webhook-url with the acting user as sender", async () => {
    const bodies: { event: string; signature: string; body: string }[] = [];
    let arrived: () => void = () => undefined;
    const delivered = new Promise<void>((resolve) => (arrived = resolve));
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({
          event: String(req.headers["x-github-event"]),
          signature: String(req.headers["x-hub-signature-256"]),
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(202).end();
        arrived();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const usersFile = path.join(root, "bot-users.json");
    await fs.writeFile(usersFile, JSON.stringify([{ login: "triager[bot]", permission: "triage", token: "triager-token-01" }]));
    let stdout = "";
    let stderr = "";
    let printed: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (printed = resolve));
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = offlineCommand(
      ["--repo", "acme/widgets", "--users", usersFile, "--webhook-url", `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`],
      {},
      {
        out: (s) => {
          stdout += s;
          printed();
        },
        err: (s) => {
          stderr += s;
        },
      },
      stopped,
    );
    try {
      await Promise.race([ready, running.then((code) => Promise.reject(new Error(`exited ${code}: ${stderr}`)))]);
      const vars = parseExports(stdout);
      expect(vars.HARNESS_REPOSITORIES).toBe("acme/widgets");
      expect(stderr).toContain("repository acme/widgets");
      const res = await fetch(`${vars.GITHUB_API_URL}/repos/acme/widgets/issues/1/labels`, {
        method: "POST",
        headers: { authorization: "token triager-token-01" },
        body: JSON.stringify({ labels: ["harness:queued"] }),
      });
      expect(res.status).toBe(200);
      await delivered;
      const [first] = bodies;
      expect(first?.event).toBe("issues");
      expect(first?.signature).toBe(
        `sha256=${createHmac("sha256", vars.WEBHOOK_SECRET ?? "")
          .update(first?.body ?? "")
          .digest("hex")}`,
      );
      expect(JSON.parse(first?.body ?? "{}")).toMatchObject({
        action: "labeled",
        label: { name: "harness:queued" },
        sender: { login: "triager[bot]", type: "Bot" },
        repository: { full_name: "acme/widgets" },
      });
    } finally {
      stop();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
    expect(await running).toBe(0);
  });
});
