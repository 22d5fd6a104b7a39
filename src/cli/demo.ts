import path from "node:path";
import { Writable } from "node:stream";
import { execa } from "execa";
import { createLogger } from "../adapters/logger.js";
import { packageRoot } from "./paths.js";
// The demo is the embedded default: the same app and worker as in production,
// against the fake GitHub and the scripted model that the tests use.
import { loadScenario } from "../offline/model-server.js";
import { startStack } from "./stack.js";

export const DEMO_OWNER = "octo-org";
export const DEMO_REPO = "hello-harness";

export const DEMO_FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "hello-harness", version: "1.0.0", type: "module", scripts: { test: "node --test test/" } }, null, 2) + "\n",
  "README.md": "# hello-harness\n\nA tiny project for the claude-harness demo.\n",
  "src/greet.js": "/** Greets someone in English. */\nexport function greet(name) {\n  return `Hello, ${name}!`;\n}\n",
  "test/greet.test.js":
    'import { test } from "node:test";\nimport assert from "node:assert/strict";\nimport { greet } from "../src/greet.js";\n\ntest("greet greets", () => {\n  assert.equal(greet("Ada"), "Hello, Ada!");\n});\n',
  ".github/harness.yml": "# claude-harness configuration (see the README's reference)\nmaxTurns: 10\nmaxBudgetUsd: 1\n",
};

export const DEMO_ISSUE = {
  title: "Greet in Spanish",
  body: "Add `greetEs(name)` next to `greet`, returning `¡Hola, <name>!`, with a test.\n\n(The harness passes this text to the model as untrusted data: `$(whoami)` stays text.)",
};

/** Formats the JSON log lines of the app and worker as short progress lines. */
function progressStream(out: (line: string) => void, startedAt: number): Writable {
  let buffer = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      buffer += chunk.toString();
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        try {
          const entry = JSON.parse(line) as { msg?: string; level?: number; issue?: string; agent?: string; [key: string]: unknown };
          if (entry.name === "probot" && (entry.level ?? 0) < 40) continue;
          const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(5);
          const extras = ["reason", "outcome", "turns", "costUsd", "lastToolCall", "startPoint", "code"]
            .filter((k) => entry[k] !== undefined)
            .map((k) => `${k}=${JSON.stringify(entry[k])}`)
            .join(" ");
          out(`[${seconds}s] ${entry.agent ? `${entry.agent}: ` : ""}${entry.msg ?? ""}${extras ? ` (${extras})` : ""}`);
        } catch {
          out(line);
        }
      }
      done();
    },
  });
}

export interface DemoOptions {
  out: (line: string) => void;
  /** Keep the temp directory (state, repositories) for inspection. */
  keep?: boolean;
}

/**
 * `npm run demo`: the whole flow on this machine, with no credentials and no
 * network. Fake GitHub (real git behind it), the Probot app receiving a signed
 * webhook over HTTP, an agent running the real Claude Code CLI against the
 * scripted model, and at the end the pull request, its diff stat and the
 * summary comment.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const startedAt = Date.now();
  out("== claude-harness demo: fake GitHub, Probot app, one agent, the real Claude Code CLI, a scripted model");
  const scenario = await loadScenario(path.join(packageRoot(), "test/fixtures/scenarios/demo.yaml"));
  const log = createLogger({ level: "info", destination: progressStream(out, startedAt) });
  const stack = await startStack({ scenarios: [scenario], agents: 1, log, progressIntervalMs: 2_000, keep: options.keep ?? false });
  const { github } = stack;
  try {
    await github.createRepo({ owner: DEMO_OWNER, name: DEMO_REPO, defaultBranch: "main", files: DEMO_FILES });
    out(`fake GitHub at ${github.apiUrl} with ${DEMO_OWNER}/${DEMO_REPO}; scripted model at ${stack.model.url}`);
    out(`Probot app listening at ${stack.server.webhookUrl}`);

    const issue = await github.createIssue(DEMO_OWNER, DEMO_REPO, { title: DEMO_ISSUE.title, body: DEMO_ISSUE.body, user: "ada" });
    out(`issue #${issue.number} "${DEMO_ISSUE.title}" opened by ada; ada labels it harness:queued`);
    const status = await github.addLabel(DEMO_OWNER, DEMO_REPO, issue.number, "harness:queued", { sender: "ada" });
    out(`webhook issues.labeled delivered with its HMAC signature, answered ${status}`);

    await stack.pool.idle();
    const result = stack.results[0];
    if (!result) {
      out("no agent worked the issue: see the log above");
      return 1;
    }

    out("");
    out(`== outcome: ${result.outcome}, label ${result.label}`);
    const pulls = await github.listPulls(DEMO_OWNER, DEMO_REPO);
    for (const pull of pulls) {
      out(`== pull request #${pull.number}: ${pull.title}${pull.draft ? " (draft)" : ""}  ${pull.head.ref} → ${pull.base.ref}`);
      out(pull.body ?? "");
      const stat = await execa("git", ["--git-dir", github.repoPath(DEMO_OWNER, DEMO_REPO), "diff", "--stat", `${pull.base.ref}...${pull.head.ref}`]);
      out("");
      out("== diff stat");
      out(stat.stdout);
    }
    const comments = await github.listComments(DEMO_OWNER, DEMO_REPO, issue.number);
    const summary = comments.find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    out("");
    out("== summary comment on the issue");
    out(summary?.body ?? "(none)");
    const final = await github.getIssue(DEMO_OWNER, DEMO_REPO, issue.number);
    out("");
    out(`== labels now: ${final.labels.map((l) => (typeof l === "string" ? l : l.name)).join(", ")}`);
    const counts = stack.apiCounts.get(`${DEMO_OWNER}/${DEMO_REPO}#${issue.number}`);
    if (counts)
      out(
        `== GitHub API calls for the issue: ${counts.reads} reads, ${counts.writes} writes (plus git ls-remote, fetch and pushes: the lease claim, the branch, the session, the lease release)`,
      );
    out(`== done in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
    return result.outcome === "success" && pulls.length === 1 ? 0 : 1;
  } finally {
    await stack.close();
    if (options.keep) out(`state kept in ${stack.root}`);
  }
}
