import { promises as fs } from "node:fs";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import { loadScenario, type Scenario } from "./model-server.js";

/** What `harness demo` and `harness offline` start from: a scenario, a repository's files and one issue. */
export interface OfflineInputs {
  scenario: Scenario;
  scenarioFile: string;
  /** Repository-relative path (always `/`-separated) → content. */
  files: Record<string, Buffer>;
  /** Paths among `files` whose mode has an execute bit. */
  executable: string[];
  repoDir: string;
  issue: { title: string; body: string };
  issueFile: string;
  /** The repository to create: `--repo`, else the demo's for the demo's files, else `octo-org/<directory name>`. */
  owner: string;
  name: string;
}

/** The flags; each one left out takes the demo's (`<demoDir>/scenario.yaml`, `repo/`, `issue.md`). */
export interface OfflineInputFlags {
  scenario?: string;
  repoDir?: string;
  issueFile?: string;
  /** `owner/name`. */
  repo?: string;
}

export const DEMO_REPOSITORY = { owner: "octo-org", name: "hello-harness" };

function repository(flags: OfflineInputFlags, repoDir: string): { owner: string; name: string } {
  if (flags.repo !== undefined) {
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(flags.repo);
    if (!m?.[1] || !m[2] || m[2] === "." || m[2] === "..") {
      throw new HarnessError("EHARNESS_USAGE", { message: `--repo "${flags.repo}" is not owner/name.`, fix: "Pass --repo like octo-org/hello-harness." });
    }
    return { owner: m[1], name: m[2] };
  }
  if (flags.repoDir === undefined) return { ...DEMO_REPOSITORY };
  const base = path
    .basename(path.resolve(repoDir))
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^\.+/, "");
  return { owner: DEMO_REPOSITORY.owner, name: base === "" ? DEMO_REPOSITORY.name : base };
}

async function statOrThrow(file: string, flag: string, kind: "file" | "directory"): Promise<void> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat || (kind === "file" ? !stat.isFile() : !stat.isDirectory())) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `${flag} ${file}: there is no such ${kind}.`,
      fix: `Pass an existing ${kind} to ${flag}, or leave ${flag} out to use the demo's.`,
    });
  }
}

/** Every file under `dir`, recursively, except a `.git` directory (or file, as in a worktree) at any depth. */
async function readTree(dir: string): Promise<{ files: Record<string, Buffer>; executable: string[] }> {
  const files: Record<string, Buffer> = {};
  const executable: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, relative), { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const full = path.join(dir, rel);
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile()) {
        files[rel] = await fs.readFile(full);
        if (((await fs.stat(full)).mode & 0o111) !== 0) executable.push(rel);
      }
      // Symbolic links and other special files are left out: the first commit holds regular files only.
    }
  };
  await walk("");
  return { files, executable };
}

/** First line the title (a leading Markdown `# ` dropped), the rest the body (blank lines around it trimmed). */
export function parseIssue(text: string, file: string): { title: string; body: string } {
  const [first = "", ...rest] = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const title = first.replace(/^#+\s+/, "").trim();
  if (title === "") {
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `--issue-file ${file}: the first line (the issue's title) is empty.`,
      fix: "Write the title on the first line and the body below it.",
    });
  }
  return {
    title,
    body: rest
      .join("\n")
      .replace(/^\s*\n/, "")
      .trimEnd(),
  };
}

/** Reads and checks the inputs; every problem is a coded error naming the flag and the file. */
export async function loadOfflineInputs(flags: OfflineInputFlags, demoDir: string): Promise<OfflineInputs> {
  const paths = {
    scenario: flags.scenario ?? path.join(demoDir, "scenario.yaml"),
    repoDir: flags.repoDir ?? path.join(demoDir, "repo"),
    issueFile: flags.issueFile ?? path.join(demoDir, "issue.md"),
  };
  const { owner, name } = repository(flags, paths.repoDir);
  await statOrThrow(paths.scenario, "--scenario", "file");
  await statOrThrow(paths.repoDir, "--repo-dir", "directory");
  await statOrThrow(paths.issueFile, "--issue-file", "file");
  let scenario: Scenario;
  try {
    scenario = await loadScenario(paths.scenario);
  } catch (error) {
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `--scenario ${paths.scenario} is not a valid scenario: ${error instanceof Error ? error.message : String(error)}`,
      fix: "Fix the file as docs/scenarios.md describes (a name and a list of turns), or leave --scenario out to use the demo's.",
      cause: error,
    });
  }
  const { files, executable } = await readTree(paths.repoDir);
  if (Object.keys(files).length === 0) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `--repo-dir ${paths.repoDir} holds no files (a .git directory does not count).`,
      fix: "Point --repo-dir at a directory with the repository's files.",
    });
  }
  const issue = parseIssue(await fs.readFile(paths.issueFile, "utf8"), paths.issueFile);
  return { scenario, scenarioFile: paths.scenario, files, executable, repoDir: paths.repoDir, issue, issueFile: paths.issueFile, owner, name };
}
