import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/logger.js";
import { processSecrets } from "../../src/adapters/secrets.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const SECRET = "harness-e2e-secret-5a1f0c9d7b";
const TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

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
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/leak.yaml"))], log });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: "octo", name: "leak", files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("redacts a secret from a tool result and the final message in comments, the pull request and the log", async () => {
    const { github } = stack;
    const issue = await github.createIssue("octo", "leak", { title: "t", body: "[scenario:leak] go", user: "ada" });
    await github.addLabel("octo", "leak", issue.number, "harness:queued", { sender: "ada" });
    await stack.pool.idle();
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
});
