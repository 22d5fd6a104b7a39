import { promises as fs, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledCliPath, claudeOnPath, defaultCliPath } from "../../src/cli/paths.js";

/** Where app, worker, demo and offline find the Claude Code CLI: CLAUDE_PATH, the package's own dependency, PATH. */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-paths-"));
  for (const dir of ["a", "b", "c"]) await fs.mkdir(path.join(root, dir));
  await fs.writeFile(path.join(root, "a", "claude"), "#!/bin/sh\n", { mode: 0o644 }); // not executable
  await fs.mkdir(path.join(root, "b", "claude")); // a directory
  await fs.writeFile(path.join(root, "c", "claude"), "#!/bin/sh\n", { mode: 0o755 });
});

afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe("the Claude CLI lookup", () => {
  it("CLAUDE_PATH first, as given", () => {
    expect(defaultCliPath({ CLAUDE_PATH: "/opt/claude/bin/claude", PATH: path.join(root, "c") })).toBe("/opt/claude/bin/claude");
  });

  it("then the package's own @anthropic-ai/claude-code, resolved as node resolves it (hoisted or nested)", () => {
    const bundled = bundledCliPath();
    expect(bundled).not.toBeNull();
    expect(realpathSync(bundled ?? "")).toBe(realpathSync(path.join(ROOT, "node_modules", ".bin", "claude")));
    expect(defaultCliPath({ PATH: path.join(root, "c") })).toBe(bundled);
  });

  it("on PATH: the first executable regular file named claude, relative directories skipped", () => {
    expect(claudeOnPath({ PATH: ["relative", path.join(root, "a"), path.join(root, "b"), path.join(root, "c")].join(path.delimiter) })).toBe(
      path.join(root, "c", "claude"),
    );
    expect(claudeOnPath({ PATH: [path.join(root, "a"), path.join(root, "b")].join(path.delimiter) })).toBeNull();
    expect(claudeOnPath({})).toBeNull();
  });
});
