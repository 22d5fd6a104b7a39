import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliVersionVerdict, parseCliVersion, readCliVersion, VERIFIED_CLI_VERSIONS } from "../../../src/adapters/claude/cli-version.js";
import { CLI_PATH } from "../../support/run-cli.js";

describe("CLI version", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-version-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("parses what claude --version prints", () => {
    expect(parseCliVersion("2.1.197 (Claude Code)\n")).toBe("2.1.197");
    expect(parseCliVersion("1.0.0 (Claude Code)")).toBe("1.0.0");
    expect(parseCliVersion("Claude Code")).toBeUndefined();
    expect(parseCliVersion("")).toBeUndefined();
  });

  it("reads the pinned CLI's version, and it is in the verified range", async () => {
    const version = await readCliVersion(CLI_PATH);
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(cliVersionVerdict(version).verified).toBe(true);
  });

  it("reads undefined from a binary that fails or prints no version", async () => {
    const bad = join(dir, "claude-bad");
    await writeFile(bad, "#!/bin/sh\necho hello\n");
    await chmod(bad, 0o755);
    expect(await readCliVersion(bad)).toBeUndefined();
    expect(await readCliVersion(join(dir, "missing"))).toBeUndefined();
  });

  it("says whether a version is verified", () => {
    expect(cliVersionVerdict(VERIFIED_CLI_VERSIONS.min)).toMatchObject({ verified: true });
    expect(cliVersionVerdict(VERIFIED_CLI_VERSIONS.max)).toMatchObject({ verified: true });
    const old = cliVersionVerdict("1.0.0");
    expect(old.verified).toBe(false);
    expect(old.message).toMatch(/1\.0\.0 is older than the verified range/);
    const next = cliVersionVerdict("9.0.0");
    expect(next.verified).toBe(false);
    expect(next.message).toMatch(/newer than/);
    expect(next.message).toContain(`@anthropic-ai/claude-code@${VERIFIED_CLI_VERSIONS.max}`);
    // Compared as numbers, not as text.
    expect(cliVersionVerdict("2.1.20").verified).toBe(false);
    expect(cliVersionVerdict(undefined)).toMatchObject({ verified: false, message: expect.stringMatching(/could not be read/) as unknown });
  });
});
