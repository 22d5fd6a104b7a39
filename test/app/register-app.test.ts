import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { ProbotOctokit } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistration, webUrlOf, withEnvValues, type RunningRegistration } from "../../src/app/register-app.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

/**
 * `harness app` without credentials: the App registered from app.yml by GitHub's
 * manifest flow, against the fake GitHub's `POST /app-manifests/{code}/conversions`.
 */
describe("registering the GitHub App from app.yml", () => {
  let dir: string;
  let github: FakeGitHub;
  let registration: RunningRegistration;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "harness-register-"));
    github = await startFakeGitHub({});
    await writeFile(path.join(dir, ".env"), "LOG_LEVEL=debug\nAPP_ID=stale\n");
    registration = await startRegistration({
      manifestFile: path.resolve("app.yml"),
      envFile: path.join(dir, ".env"),
      apiUrl: github.apiUrl,
      webUrl: "https://github.com",
      publicUrl: "https://harness.example.org",
      organization: "octo-org",
      port: 0,
      host: "127.0.0.1",
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await registration?.close();
    await github?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves the manifest of app.yml, with this app's webhook and redirect URLs, posted to GitHub", async () => {
    const html = await (await fetch(`${registration.url}/`)).text();
    expect(html).toContain('action="https://github.com/organizations/octo-org/settings/apps/new"');
    const value = /name="manifest" value="([^"]*)"/.exec(html)?.[1] ?? "";
    const manifest = JSON.parse(
      value
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&"),
    ) as {
      default_permissions: Record<string, string>;
      hook_attributes: { url: string };
      redirect_url: string;
      default_events: string[];
    };
    expect(manifest.default_permissions).toEqual({
      issues: "write",
      contents: "write",
      pull_requests: "write",
      checks: "read",
      statuses: "read",
      metadata: "read",
      actions: "read",
    });
    expect(manifest.default_events).toEqual(["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "status", "sub_issues"]);
    expect(manifest.hook_attributes.url).toBe("https://harness.example.org/api/github/webhooks");
    expect(manifest.redirect_url).toBe(`${registration.url}/setup`);
  });

  it("exchanges GitHub's code for the App and writes its id, key and secret to .env (0600), keeping other lines", async () => {
    const code = github.manifestCode({ name: "claude-harness" });
    const response = await fetch(`${registration.url}/setup?code=${code}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("installations/new");
    const file = path.join(dir, ".env");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const env = parseEnv(await readFile(file, "utf8")) as Record<string, string>;
    expect(env.LOG_LEVEL).toBe("debug");
    expect(env.APP_ID).toMatch(/^\d+$/);
    expect(env.WEBHOOK_SECRET).toMatch(/^[0-9a-f]{64}$/);
    // The key in .env is the App's: GitHub (the fake) accepts a JWT signed with it.
    const app = new ProbotOctokit({ auth: { appId: Number(env.APP_ID), privateKey: env.PRIVATE_KEY }, baseUrl: github.apiUrl });
    const { data } = await app.rest.apps.getAuthenticated();
    expect(data?.id).toBe(Number(env.APP_ID));
    expect(data?.slug).toBe("claude-harness");
  });

  it("a code used twice (or made up) is refused with a coded error and changes nothing", async () => {
    const before = await readFile(path.join(dir, ".env"), "utf8");
    const response = await fetch(`${registration.url}/setup?code=not-a-code`);
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("EHARNESS_CREDENTIALS");
    expect(await readFile(path.join(dir, ".env"), "utf8")).toBe(before);
  });
});

describe("the helpers", () => {
  it("GitHub's web host from its API URL", () => {
    expect(webUrlOf("https://api.github.com")).toBe("https://github.com");
    expect(webUrlOf("https://ghe.example.com/api/v3")).toBe("https://ghe.example.com");
  });
  it(".env lines of the written names are replaced, others kept, values quoted so parseEnv reads them back", () => {
    const text = withEnvValues('A=1\nexport B=2\nPRIVATE_KEY="old"\n', { PRIVATE_KEY: "-----BEGIN-----\nkey\n-----END-----", B: "3" });
    expect(parseEnv(text)).toEqual({ A: "1", B: "3", PRIVATE_KEY: "-----BEGIN-----\nkey\n-----END-----" });
    expect(() => withEnvValues("", { X: 'a"b' })).toThrow(/quote/);
  });
});
