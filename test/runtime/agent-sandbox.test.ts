import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";
import { forwarderPath } from "../../src/cli/paths.js";
import { openAgentSandbox, PLACEHOLDER_API_KEY, type AgentSandboxInput } from "../../src/runtime/agent-sandbox.js";

const REAL_KEY = "sk-ant-real-key-that-stays-outside";
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-agent-sandbox-"));
  for (const dir of ["tree", "agent.git", "objects", "home", "cli"]) await fs.mkdir(path.join(root, dir));
  await fs.writeFile(path.join(root, "cli", "claude"), "#!/bin/sh\n", { mode: 0o755 });
  await fs.writeFile(path.join(root, "bootstrap.md"), "prompt");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function input(backend: "bwrap" | "none", network: "isolated" | "open" = "isolated"): AgentSandboxInput {
  return {
    sandbox: createSandbox(backend),
    nodePath: process.execPath,
    forwarderPath: forwarderPath(),
    network: { network, allowHosts: ["registry.npmjs.org"] },
    modelEnv: { ANTHROPIC_BASE_URL: "http://127.0.0.1:9/model", ANTHROPIC_API_KEY: REAL_KEY },
    worktree: path.join(root, "tree"),
    agentGitDir: path.join(root, "agent.git"),
    objectsDir: path.join(root, "objects"),
    home: path.join(root, "home"),
    readOnlyFiles: [path.join(root, "bootstrap.md")],
    cliPath: path.join(root, "cli", "claude"),
    log: silentLogger(),
  };
}

describe("openAgentSandbox", () => {
  it("bwrap: the CLI gets the proxy's URL and a placeholder key; the real key is in nothing the sandbox is given", async () => {
    const opened = await openAgentSandbox(input("bwrap"));
    try {
      expect(opened.modelEnv).toMatchObject({
        ANTHROPIC_BASE_URL: "http://127.0.0.1:41001",
        ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY,
        HTTPS_PROXY: "http://127.0.0.1:41002",
        NO_PROXY: "127.0.0.1,localhost",
      });
      const command = opened.wrap?.("/ignored", ["-p", "task"], { ...opened.modelEnv, PATH: "/usr/bin", HOME: path.join(root, "home") });
      expect(command).toBeDefined();
      const everything = JSON.stringify(command);
      expect(everything).not.toContain(REAL_KEY);
      // The CLI runs behind the forwarder, inside the mounts the session needs and no others.
      const args = command?.args ?? [];
      expect(args).toContain(forwarderPath());
      expect(args.join(" ")).toContain(`--bind ${path.join(root, "tree")} ${path.join(root, "tree")}`);
      expect(args.join(" ")).toContain(`--ro-bind ${path.join(root, "objects")} ${path.join(root, "objects")}`);
      expect(args.join(" ")).toMatch(/--bind \S+harness-run-\S+ \/run\/harness/);
      expect(args.join(" ")).not.toContain("--share-net");
      expect(args.slice(-3)).toEqual([await fs.realpath(path.join(root, "cli", "claude")), "-p", "task"]);
    } finally {
      await opened.close();
    }
  });

  it("bwrap with sandbox.network open: the host's network, still the proxy for the model", async () => {
    const opened = await openAgentSandbox(input("bwrap", "open"));
    try {
      expect(opened.modelEnv.ANTHROPIC_API_KEY).toBe(PLACEHOLDER_API_KEY);
      expect(opened.modelEnv.HTTPS_PROXY).toBeUndefined();
      const args = opened.wrap?.("/ignored", [], opened.modelEnv).args ?? [];
      expect(args).toContain("--share-net");
    } finally {
      await opened.close();
    }
  });

  it("close removes the socket directory", async () => {
    const opened = await openAgentSandbox(input("bwrap"));
    const runDir = /--bind (\S+harness-run-\S+) \/run\/harness/.exec(opened.wrap?.("/x", [], {}).args.join(" ") ?? "")?.[1] ?? "";
    expect(await fs.readdir(runDir)).toEqual(expect.arrayContaining(["model.sock", "egress.sock"]));
    await opened.close();
    await expect(fs.stat(runDir)).rejects.toThrow(/ENOENT/);
  });

  it("none: the CLI runs as before, with the model settings as they are", async () => {
    const opened = await openAgentSandbox(input("none"));
    expect(opened.wrap).toBeUndefined();
    expect(opened.modelEnv).toEqual({ ANTHROPIC_BASE_URL: "http://127.0.0.1:9/model", ANTHROPIC_API_KEY: REAL_KEY });
    await opened.close();
  });

  it("a missing CLI is EHARNESS_CLI_MISSING", async () => {
    await expect(openAgentSandbox({ ...input("bwrap"), cliPath: path.join(root, "no-such-claude") })).rejects.toMatchObject({ code: "EHARNESS_CLI_MISSING" });
  });
});
