import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The repository's own documentation links only to files in the repository:
// markdown links and repository paths in backticks (`src/…`, `docs/…`, …) must
// name files or folders that exist, nothing may point outside the repository
// (`../shared/…`), and web links go only to public upstream documentation.

const root = path.resolve(".");

/** Top-level folders whose paths in backticks are taken as repository paths. */
const REPOSITORY_DIRS = ["src", "docs", "test", "bench", "scripts", "prompts", "action", "deploy", ".github", ".ci"];

/** Hosts of upstream tool documentation that the docs may link to. */
const ALLOWED_HOSTS = [
  "docs.github.com",
  "keepachangelog.com",
  "semver.org",
  "docs.anthropic.com",
  "docs.claude.com",
  "code.claude.com",
  "kubernetes.io",
  "nodejs.org",
  "git-scm.com",
];

/**
 * Files other engineers write on their own branches, linked from these docs
 * before they land. Allowed to be missing; once a file exists, its entry must go
 * (the test says so), so the list never hides a broken link for long.
 */
const PENDING: string[] = [];

interface Problem {
  file: string;
  line: number;
  target: string;
  why: string;
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  text.split("\n").forEach((raw, index) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(raw)?.[1];
    if (marker !== undefined) {
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return;
    }
    if (fence === null) out.push({ line: index + 1, text: raw });
  });
  return out;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
}

/** Whether `relative` (from the repository root, maybe with `*` in its last part) names something that exists. */
function exists(repositoryRoot: string, relative: string): boolean {
  const clean = relative.replace(/\/$/, "");
  if (!clean.includes("*")) return existsSync(path.join(repositoryRoot, clean));
  const dir = path.join(repositoryRoot, path.dirname(clean));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const pattern = globToRegExp(path.basename(clean));
  return readdirSync(dir).some((name) => pattern.test(name));
}

/** Every link problem of one markdown file (`file` relative to `repositoryRoot`). */
function linkProblems(repositoryRoot: string, file: string, text: string, pending: readonly string[] = []): Problem[] {
  const problems: Problem[] = [];
  const here = path.dirname(path.join(repositoryRoot, file));
  const inRepository = (absolute: string): string | null => {
    const relative = path.relative(repositoryRoot, absolute);
    return relative.startsWith("..") || path.isAbsolute(relative) ? null : relative.split(path.sep).join("/");
  };
  for (const { line, text: prose } of proseLines(text)) {
    // Markdown links and images: [text](target) or [text](target "title").
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1] as string;
      if (/^https?:\/\//.test(target)) {
        const host = new URL(target).hostname;
        if (!ALLOWED_HOSTS.includes(host))
          problems.push({ file, line, target, why: `links outside the repository to ${host}, which is not upstream documentation` });
        continue;
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        problems.push({ file, line, target, why: "a link that is neither a repository file nor upstream documentation" });
        continue;
      }
      const local = decodeURIComponent(target.split("#")[0] as string);
      if (local === "") continue; // an anchor in the same file
      const relative = inRepository(path.resolve(here, local));
      if (relative === null) problems.push({ file, line, target, why: "points outside the repository" });
      else if (!exists(repositoryRoot, relative) && !pending.includes(relative)) problems.push({ file, line, target, why: `${relative} does not exist` });
    }
    // Repository paths in backticks (inline code): `src/…`, `docs/…`, `test/…`, and anything starting with ../
    for (const match of prose.matchAll(/`([^`\n]+)`/g)) {
      const code = (match[1] as string).trim();
      if (code.startsWith("../")) {
        problems.push({ file, line, target: code, why: "points outside the repository" });
        continue;
      }
      const first = code.split("/")[0] as string;
      if (!code.includes("/") || !REPOSITORY_DIRS.includes(first) || !/^[\w.*/-]+$/.test(code)) continue;
      if (!exists(repositoryRoot, code) && !pending.includes(code)) problems.push({ file, line, target: code, why: `${code} does not exist` });
    }
  }
  return problems;
}

function documentation(): string[] {
  const docs = existsSync(path.join(root, "docs"))
    ? readdirSync(path.join(root, "docs"))
        .filter((name) => name.endsWith(".md"))
        .map((name) => `docs/${name}`)
    : [];
  return ["README.md", ...docs];
}

describe("documentation links", () => {
  it("README.md and docs/*.md link only to files that exist in the repository", () => {
    const files = documentation();
    expect(files).toEqual(expect.arrayContaining(["README.md", "docs/ARCHITECTURE.md", "docs/CLAUDE-CLI.md"]));
    const problems = files.flatMap((file) => linkProblems(root, file, readFileSync(path.join(root, file), "utf8"), PENDING));
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.target}: ${p.why}`)).toEqual([]);
  });

  it("the docs link to each other and to the code", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme).toContain("](docs/ARCHITECTURE.md)");
    expect(readme).toContain("](docs/CLAUDE-CLI.md)");
  });

  it("lists as pending only files that have not landed yet", () => {
    const landed = PENDING.filter((file) => existsSync(path.join(root, file)));
    expect(landed, "these exist now: remove them from PENDING in test/docs/links.test.ts").toEqual([]);
  });

  describe("the checker", () => {
    const check = (text: string, file = "docs/X.md"): string[] => linkProblems(root, file, text, ["docs/later.md"]).map((p) => `${p.target}: ${p.why}`);

    it("refuses a markdown link to a missing file, resolved from the linking file", () => {
      expect(check("See [the plan](PLAN.md).")).toEqual(["PLAN.md: docs/PLAN.md does not exist"]);
      expect(check("See [the plan](PLAN.md#top).", "README.md")).toEqual(["PLAN.md#top: PLAN.md does not exist"]);
    });

    it("refuses links and backtick paths outside the repository", () => {
      expect(check("[design](../../shared/ARCHITECTURE.md)")).toEqual(["../../shared/ARCHITECTURE.md: points outside the repository"]);
      expect(check("[design](/work/shared/ARCHITECTURE.md)")).toEqual(["/work/shared/ARCHITECTURE.md: points outside the repository"]);
      expect(check("kept in `../shared/CLAUDE-CLI.md`")).toEqual(["../shared/CLAUDE-CLI.md: points outside the repository"]);
    });

    it("refuses repository paths in backticks that do not exist, globs that match nothing included", () => {
      expect(check("the runner is `src/runtime/no-such-file.ts`")).toEqual(["src/runtime/no-such-file.ts: src/runtime/no-such-file.ts does not exist"]);
      expect(check("captures in `test/fixtures/cli/*.yaml`")).toEqual(["test/fixtures/cli/*.yaml: test/fixtures/cli/*.yaml does not exist"]);
    });

    it("refuses web links other than upstream documentation", () => {
      expect(check("[blog](https://example.com/post)")).toEqual([
        "https://example.com/post: links outside the repository to example.com, which is not upstream documentation",
      ]);
    });

    it("accepts what exists, upstream docs, anchors, pending files and text that is no path", () => {
      expect(
        check(
          [
            "[runner](../src/runtime/work-issue.ts), [readme](../README.md#errors), [here](#events), [later](later.md)",
            "[GitHub](https://docs.github.com/en/rest), `src/runtime/`, `test/fixtures/cli/2.1.197/*.jsonl`, `refs/harness/leases/issue-N`",
            "`npm run demo`, `src/<layer>/x.ts`, `owner/repo#N`",
            "```",
            "[not checked](nowhere.md) `src/not/checked.ts`",
            "```",
          ].join("\n"),
        ),
      ).toEqual([]);
    });
  });
});
