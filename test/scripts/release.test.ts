import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, appendFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareSemver as cmp, cutChangelog as cut } from "../../scripts/release.mjs";

describe("release: the changelog cut and the version order", () => {
  it("moves the Unreleased entries under the version and leaves Unreleased empty", () => {
    const text = "# Changelog\n\nintro\n\n## Unreleased\n\n### Added\n- x\n\n## 0.1.0 - 2026-11-26\n\n- first\n";
    expect(cut(text, "0.2.0", "2026-12-02")).toBe(
      "# Changelog\n\nintro\n\n## Unreleased\n\n## 0.2.0 - 2026-12-02\n\n### Added\n- x\n\n## 0.1.0 - 2026-11-26\n\n- first\n",
    );
  });
  it("refuses an empty Unreleased section and a changelog without one", () => {
    expect(() => cut("## Unreleased\n\n## 0.1.0 - d\n- a\n", "0.2.0", "d")).toThrow(/empty/);
    expect(() => cut("# Changelog\n", "0.2.0", "d")).toThrow(/no "## Unreleased"/);
  });
  it("orders versions as semver does", () => {
    expect(cmp("0.10.0", "0.9.9")).toBe(1);
    expect(cmp("1.0.0-rc.1", "1.0.0")).toBe(-1);
    expect(cmp("1.0.0", "1.0.0")).toBe(0);
  });
});

/** The script for real, in a clone of this repository (HEAD), with this checkout's node_modules. */
describe("npm run release in a clone", () => {
  let dir: string;
  const git = (...args: string[]): string => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
  const release = (version: string) => spawnSync("node", ["scripts/release.mjs", version], { cwd: dir, encoding: "utf8" });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "harness-release-"));
    execFileSync("git", ["clone", "-q", "--no-hardlinks", path.resolve("."), dir]);
    await symlink(path.resolve("node_modules"), path.join(dir, "node_modules"));
    await appendFile(path.join(dir, ".git", "info", "exclude"), "node_modules\n");
    git("config", "user.name", "Release Test");
    git("config", "user.email", "release@example.invalid");
    git("switch", "-q", "-C", "main");
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses a non-semver or non-increasing version with a coded error, changing nothing", () => {
    const head = git("rev-parse", "HEAD");
    for (const bad of ["v1.0.0", "1.0", "0.0.1"]) {
      const result = release(bad);
      expect(result.status, bad).toBe(2);
      expect(result.stderr).toMatch(/^EHARNESS_USAGE: .* Fix: /);
    }
    expect(git("rev-parse", "HEAD")).toBe(head);
    expect(git("status", "--porcelain")).toBe("");
  });

  it("bumps the version, cuts the changelog, rebuilds the bundle, commits and tags", async () => {
    const result = release("99.0.0");
    expect(result.status, result.stderr).toBe(0);
    expect(git("log", "-1", "--format=%s")).toBe("Release v99.0.0");
    expect(git("tag", "--points-at", "HEAD")).toBe("v99.0.0");
    expect(JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")).version).toBe("99.0.0");
    expect(JSON.parse(await readFile(path.join(dir, "package-lock.json"), "utf8")).version).toBe("99.0.0");
    expect(await readFile(path.join(dir, "CHANGELOG.md"), "utf8")).toMatch(/## Unreleased\n\n## 99\.0\.0 - \d{4}-\d{2}-\d{2}\n/);
    expect(git("status", "--porcelain")).toBe("");
    // The same version again: the tag exists now.
    expect(release("99.0.0").status).toBe(2);
  });
});
