import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDotEnv } from "../../src/cli/dotenv.js";

const run = promisify(execFile);

describe(".env, as Probot apps read it", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "harness-dotenv-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sets what the environment lacks, keeps what it has, and a missing file is nothing", async () => {
    await writeFile(path.join(dir, ".env"), 'APP_ID=123\nPRIVATE_KEY="-----BEGIN KEY-----\\nabc\\n-----END KEY-----"\nWEBHOOK_SECRET=from-file\n# a comment\n');
    const env: NodeJS.ProcessEnv = { WEBHOOK_SECRET: "from-env" };
    expect(loadDotEnv(env, dir).sort()).toEqual(["APP_ID", "PRIVATE_KEY"]);
    expect(env).toEqual({ APP_ID: "123", PRIVATE_KEY: "-----BEGIN KEY-----\nabc\n-----END KEY-----", WEBHOOK_SECRET: "from-env" });
    expect(loadDotEnv({}, path.join(dir, "nowhere"))).toEqual([]);
  });

  it("harness doctor run in a directory with .env sees its variables", async () => {
    await writeFile(path.join(dir, ".env"), "WEBHOOK_SECRET=short\n");
    const main = path.resolve("src/cli/main.ts");
    const result = await run(path.resolve("node_modules/.bin/tsx"), [main, "doctor", "--json", "--for", "app"], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, HARNESS_STATE_DIR: path.join(dir, "state") },
    }).catch((error: { stdout: string }) => error);
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] };
    // The secret from .env was read and judged (too short), not reported missing.
    const secret = report.checks.find((c) => c.name === "webhook-secret");
    expect(secret?.status).toBe("fail");
    expect(secret?.detail).toMatch(/5 characters/);
  });
});
