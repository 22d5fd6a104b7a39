import { execFileSync } from "node:child_process";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/logger.js";
import { processSecrets } from "../../src/adapters/secrets.js";
import { formsOf } from "../../src/core/redact.js";
import { loadScenario, type Scenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { isSealedSession, openSession } from "../../src/core/session-seal.js";

const SECRET = "harness-e2e-secret-5a1f0c9d7b";
const TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

// Canaries the harness was never told about, found by their shape; built at run time so that
// no token-shaped literal sits in the repository.
const b64url = (s: string | Buffer): string => Buffer.from(s).toString("base64url");
const filler = (n: number, from: number): string => Array.from({ length: n }, (_, i) => "Aa0Bb1Cc2-Dd3_Ee4"[(i * 7 + from) % 17]).join("");
const JWT = `${b64url('{"alg":"RS256","typ":"JWT"}')}.${b64url('{"iss":"github","sub":"installation:7","exp":1767225600}')}.${filler(342, 1)}`;
const CANARIES = {
  ghsNew: `ghs_1234567_${b64url('{"alg":"RS256","typ":"JWT","kid":"k1"}')}.${b64url('{"iss":"github","app":1234567,"inst":7,"exp":1767225600,"perm":"contents"}')}.${filler(342, 5)}`,
  pat: `github_pat_${filler(22, 2).replace(/[-_]/g, "x")}_${filler(59, 3).replace(/[-_]/g, "y")}`,
  oauth: `sk-ant-oat01-${filler(95, 4)}`,
  jwt: JWT,
  awsId: `AKIA${"QWERTYUIOPASDFGH"}`,
  awsSecret: Buffer.from("not a real aws secret key!!!!!").toString("base64"),
};
/** The known secret encoded as a tool might print it: inside longer base64 at each alignment, base64url, hex, URL-encoded. */
const ENCODED = [
  Buffer.from(`user:${SECRET}:x`).toString("base64"),
  Buffer.from(`ab:${SECRET}`).toString("base64"),
  Buffer.from(`a:${SECRET}!`).toString("base64url"),
  Buffer.from(SECRET).toString("hex"),
  Buffer.from(SECRET).toString("hex").toUpperCase(),
  encodeURIComponent(`${SECRET}/?`),
];
const PRINTED = [...Object.entries(CANARIES).map(([k, v]) => (k === "awsSecret" ? `aws_secret_access_key=${v}` : v)), ...ENCODED].join(" ");
const FORMS: Scenario = {
  name: "leak-forms",
  match: "[scenario:leak-forms]",
  turns: [
    { toolCalls: [{ name: "Bash", input: { command: `echo '${PRINTED}'`, description: "Print the canaries" } }] },
    { toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "nothing secret here\n" } }] },
    { text: `Done. Output was:\n${PRINTED}\n-----BEGIN OPENSSH PRIVATE KEY-----\n${filler(70, 6)}\n-----END OPENSSH PRIVATE KEY-----` },
  ],
};
/** Strings no channel may hold: each canary, a 16-character slice of each, and every form of the known secret. */
const FORBIDDEN = [
  ...Object.values(CANARIES).flatMap((c) => [c, ...Array.from({ length: Math.floor(c.length / 16) }, (_, i) => c.slice(i * 16, i * 16 + 16))]),
  ...formsOf(SECRET),
  filler(70, 6),
];

describe("no secret leaves the host", () => {
  let stack: Stack;
  let logs = "";
  beforeAll(async () => {
    // The secret is one the harness knows from its environment (as WEBHOOK_SECRET, say).
    processSecrets.addFromEnv({ WEBHOOK_SECRET: SECRET });
    const log = createLogger({
      level: "debug",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logs += chunk.toString();
          done();
        },
      }),
    });
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/leak.yaml")), FORMS], log });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: "octo", name: "leak", files: { "README.md": "x\n" } });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: "octo", name: "leak-forms", files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("redacts a secret from a tool result and the final message in comments, the pull request and the log", async () => {
    const { github } = stack;
    const issue = await github.createIssue("octo", "leak", { title: "t", body: "[scenario:leak] go", user: "ada" });
    await github.addLabel("octo", "leak", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results[0]?.outcome).toBe("success");
    // The secret really went through the session...
    expect(stack.results[0]?.report?.finalMessage).toContain(SECRET);
    // ...and nowhere out of it.
    const pulls = await github.listPulls("octo", "leak");
    expect(pulls).toHaveLength(1);
    const written = [...github.listComments("octo", "leak", issue.number).map((c) => c.body ?? ""), ...pulls.map((p) => `${p.title}\n${p.body ?? ""}`), logs];
    expect(written.join("\n")).toContain("[redacted]");
    for (const text of written) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(github.token);
    }
    expect(logs).toContain("tool call"); // the log was really captured
  });

  it("redacts unknown tokens by shape and the known secret in every encoding from comments, the pull request, the log, the saved session and every pushed object", async () => {
    const { github } = stack;
    const issue = await github.createIssue("octo", "leak-forms", { title: "t", body: "[scenario:leak-forms] go", user: "ada" });
    await github.addLabel("octo", "leak-forms", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const result = stack.results.find((r) => r.repository === "octo/leak-forms");
    expect(result?.outcome).toBe("success");
    // The canaries really went through the session (the CLI ran the command and reported it)...
    expect(CANARIES.ghsNew.length).toBeGreaterThanOrEqual(500);
    expect(result?.report?.finalMessage).toContain(CANARIES.ghsNew);
    for (const encoded of ENCODED) expect(result?.report?.finalMessage).toContain(encoded);
    // ...and nowhere out of it.
    const pulls = await github.listPulls("octo", "leak-forms");
    expect(pulls).toHaveLength(1);
    const repo = github.repoPath("octo", "leak-forms");
    const sessionRef = execFileSync("git", ["-C", repo, "for-each-ref", "--format=%(refname)", "refs/harness/sessions/"], { encoding: "utf8" }).trim();
    expect(sessionRef).not.toBe("");
    // The session is pushed sealed (the fake's repositories are public); opened with the stack's key,
    // it was redacted before it was sealed.
    const sealed = execFileSync("git", ["-C", repo, "log", "-p", "--format=%B", sessionRef], { encoding: "utf8", maxBuffer: 64 << 20 });
    const meta = JSON.parse(execFileSync("git", ["-C", repo, "show", `${sessionRef}:meta.json`], { encoding: "utf8" })) as { sessionId: string };
    const blob = execFileSync("git", ["-C", repo, "show", `${sessionRef}:session.jsonl`], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(isSealedSession(blob)).toBe(true);
    const session = `${sealed}\n${openSession(blob, stack.sessionKey, { sessionId: meta.sessionId, issue: issue.number })}`;
    expect(session).toContain("[redacted]");
    // Every object in the repository: the branch, its commits, the session, the leases.
    const objects = execFileSync("git", ["-C", repo, "cat-file", "--batch-all-objects", "--batch"], { encoding: "utf8", maxBuffer: 256 << 20 });
    const channels: Record<string, string> = {
      comments: github
        .listComments("octo", "leak-forms", issue.number)
        .map((c) => c.body ?? "")
        .join("\n"),
      pullRequest: pulls.map((p) => `${p.title}\n${p.body ?? ""}`).join("\n"),
      log: logs,
      session,
      objects,
    };
    expect(channels.comments).toContain("[redacted]");
    for (const [channel, text] of Object.entries(channels)) {
      const leaked = FORBIDDEN.filter((f) => text.includes(f));
      expect({ channel, leaked }).toEqual({ channel, leaked: [] });
    }
  });
});
