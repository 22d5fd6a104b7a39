import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isHarnessError } from "../../src/core/errors.js";
import { parseDemoArgs, runDemo } from "../../src/cli/demo.js";

/** `harness demo` with its own scenario, repository and issue: the whole flow, the PR's diff printed, the state kept. */

let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-demo-test-"));
});

afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe("harness demo", () => {
  it("parses its flags and refuses unknown ones", () => {
    expect(parseDemoArgs(["--scenario", "s.yaml", "--repo-dir", "r", "--issue-file", "i.md", "--keep", "k"])).toEqual({
      scenario: "s.yaml",
      repoDir: "r",
      issueFile: "i.md",
      keep: "k",
    });
    expect(parseDemoArgs([])).toEqual({});
    for (const bad of [["--keep"], ["--scenario", "--keep", "k"], ["--fast"]]) {
      let error: unknown = null;
      try {
        parseDemoArgs(bad);
      } catch (e) {
        error = e;
      }
      expect(isHarnessError(error) && error.code, bad.join(" ")).toBe("EHARNESS_USAGE");
    }
  });

  it("works a custom repository, issue and scenario, prints the diff and keeps the state in --keep DIR", async () => {
    const repoDir = path.join(root, "notebook");
    await fs.mkdir(path.join(repoDir, "docs"), { recursive: true });
    await fs.writeFile(path.join(repoDir, "README.md"), "# notebook\n");
    await fs.writeFile(path.join(repoDir, "docs", "index.md"), "Notes live here.\n");
    const issueFile = path.join(root, "issue.md");
    await fs.writeFile(issueFile, "Write a note about tides\n\nAdd docs/tides.md saying when the tide turns.\n");
    const scenario = path.join(root, "tides.yaml");
    await fs.writeFile(
      scenario,
      [
        "name: tides",
        "turns:",
        '  - text: "Writing the note."',
        "    toolCalls:",
        "      - name: Write",
        "        input:",
        '          file_path: "{{cwd}}/docs/tides.md"',
        '          content: "The tide turns twice a day, about every 12 hours 25 minutes.\\n"',
        '  - text: "Added docs/tides.md."',
        "",
      ].join("\n"),
    );
    const keep = path.join(root, "kept");
    const lines: string[] = [];
    // With --keep the app stays up until Ctrl-C: its status page serves the worked issue meanwhile.
    let page = "";
    const untilStopped = async (): Promise<void> => {
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/status) ; press Ctrl-C/.exec(lines.join("\n"))?.[1];
      page = url ? await (await fetch(url)).text() : "";
    };
    const code = await runDemo({ out: (line) => lines.push(line), repoDir, issueFile, scenario, keep, untilStopped });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    expect(text).toMatch(/status page at http:\/\/127\.0\.0\.1:\d+\/status/);
    expect(page).toMatch(/<tr data-key="octo-org\/notebook#1" data-state="done">/);
    expect(text).toContain('issue #1 "Write a note about tides" opened by ada');
    expect(text).toContain("fake GitHub at http://127.0.0.1:");
    expect(text).toContain("with octo-org/notebook;");
    expect(text).toMatch(/== pull request #\d+: .*harness\/issue-1 → main/);
    // The stat, then the diff itself.
    expect(text).toMatch(/== diff stat\n docs\/tides\.md \| 1 \+\n/);
    expect(text).toContain("== diff (git diff main...harness/issue-1)\ndiff --git a/docs/tides.md b/docs/tides.md\nnew file mode 100644");
    expect(text).toContain("+The tide turns twice a day, about every 12 hours 25 minutes.");
    expect(text).toContain(`state kept in ${keep}`);
    // The state moved to --keep, with a copy of the fake's repository that has the branch.
    const bare = path.join(keep, "repos", "octo-org", "notebook.git");
    const branchFile = execFileSync("git", ["--git-dir", bare, "show", "harness/issue-1:docs/tides.md"], { encoding: "utf8" });
    expect(branchFile).toBe("The tide turns twice a day, about every 12 hours 25 minutes.\n");
    expect(execFileSync("git", ["--git-dir", bare, "ls-tree", "-r", "--name-only", "main"], { encoding: "utf8" }).split("\n").filter(Boolean)).toEqual([
      "README.md",
      "docs/index.md",
    ]);
    expect(await fs.readdir(path.join(keep, "state"))).toContain("sessions");
  }, 120_000);

  it("the built-in demo works a second issue, a follow-up to #1, whose summary cites #1's summary under Knowledge used", async () => {
    const lines: string[] = [];
    const code = await runDemo({ out: (line) => lines.push(line) });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    // The second issue's number comes after #1's pull request.
    const n = /== second issue #(\d+) "Greet in French" \(its body says "Follow-up to #1"\)/.exec(text)?.[1];
    expect(n, text).toBeDefined();
    expect(text).toContain(`== outcome of #${n}: success, label harness:done`);
    // The first issue had nothing to go on; the second carried the first's record, as a cross-referenced issue.
    const [first, second] = text.split(`== second issue #${n}`) as [string, string];
    expect(first).toContain("**Knowledge used**\n\n- none (no earlier attempt of this issue, nothing related found)");
    expect(second).toMatch(/\*\*Knowledge used\*\*\n\n- #1 attempt 1 summary \(session [0-9a-f-]{36}\) · `session:[\w.-]+\/[\w.-]+#1\/[0-9a-f-]{36}\/1`\n/);
    // The hidden record is said in a few words, not printed as a long line of JSON.
    expect(text).toMatch(/<!-- harness:record … \(hidden: \d+ characters of JSON, also on refs\/harness\/knowledge\) -->/);
    expect(text).not.toContain('"knowledgeUsed"');
  }, 180_000);

  it("refuses a --keep directory that is not empty before starting anything", async () => {
    const keep = path.join(root, "full");
    await fs.mkdir(keep, { recursive: true });
    await fs.writeFile(path.join(keep, "precious.txt"), "mine\n");
    const lines: string[] = [];
    const error: unknown = await runDemo({ out: (line) => lines.push(line), keep }).catch((e: unknown) => e);
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_USAGE");
    expect(lines).toEqual([]);
    expect(await fs.readFile(path.join(keep, "precious.txt"), "utf8")).toBe("mine\n");
  });

  it("--convoy runs a two-issue convoy and shows it land: the status comment after the CLI and after each merge, then the convoy closed", async () => {
    expect(parseDemoArgs(["--convoy"])).toEqual({ convoy: true });
    const lines: string[] = [];
    const code = await runDemo({ out: (line) => lines.push(line), convoy: true });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    expect(text).toMatch(/\$ harness convoy create --title "Greetings convoy" --repo octo-org\/hello-harness '#1' '#2'\n/);
    const heads = [...text.matchAll(/^### Convoy: .*$/gm)].map((m) => m[0]);
    expect(heads).toEqual(["### Convoy: 0/2 landed", "### Convoy: 1/2 landed", "### Convoy: 2/2 landed"]);
    expect(text).toContain("- [ ] #2 `Greet in French`: pull request #5 open, waiting for review");
    expect(text).toContain("- [x] #1 `Greet in Spanish`: landed: pull request #4 merged");
    expect(text).toContain("- [x] #2 `Greet in French`: landed: pull request #5 merged");
    expect(text).toContain("== convoy #3 is closed: it landed");
    // The second item ran its own scenario (examples/demo/convoy/scenario.yaml).
    expect(text).toContain('lastToolCall="Write: src/greet-fr.js"');
    const error: unknown = await runDemo({ out: () => undefined, convoy: true, keep: true }).catch((e: unknown) => e);
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_USAGE");
  }, 180_000);
});
