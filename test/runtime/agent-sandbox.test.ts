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

describe.runIf(process.geteuid?.() === 0)("openAgentSandbox with the uid backend (as root)", () => {
  it("claims a slot: the session's paths are the slot's, the sockets its group's alone, TMPDIR in its HOME; close gives all back", async () => {
    const base = await fs.mkdtemp(path.join(os.tmpdir(), "harness-agent-sandbox-uid-"));
    try {
      await fs.chmod(base, 0o711);
      for (const dir of ["tree", "agent.git", "objects", "home", "cli"]) await fs.mkdir(path.join(base, dir));
      await fs.writeFile(path.join(base, "cli", "claude"), "#!/bin/sh\n", { mode: 0o755 });
      await fs.writeFile(path.join(base, "bootstrap.md"), "prompt", { mode: 0o600 });
      const lockDir = path.join(base, "locks");
      const opened = await openAgentSandbox({
        ...input("bwrap"),
        sandbox: createSandbox("uid", { uids: "29600-29601", lockDir, stateRoot: base }),
        worktree: path.join(base, "tree"),
        agentGitDir: path.join(base, "agent.git"),
        objectsDir: path.join(base, "objects"),
        home: path.join(base, "home"),
        readOnlyFiles: [path.join(base, "bootstrap.md")],
        cliPath: path.join(base, "cli", "claude"),
      });
      let closed = false;
      try {
        const command = opened.wrap?.("/ignored", ["-p", "task"], { ...opened.modelEnv, PATH: "/usr/bin", HOME: path.join(base, "home") });
        const args = command?.args ?? [];
        expect(args).toContain("--reuid=29600");
        expect(command?.env.TMPDIR).toBe(path.join(base, "home", ".tmp"));
        expect(JSON.stringify(command)).not.toContain(REAL_KEY);
        // The forwarder links to the sockets at their host paths.
        const listen = args[args.indexOf("--listen") + 1] ?? "";
        const socket = /=(\S+model\.sock)$/.exec(listen)?.[1] ?? "";
        const runDir = path.dirname(socket);
        expect([(await fs.stat(runDir)).mode & 0o777, (await fs.stat(runDir)).gid]).toEqual([0o710, 29600]);
        expect([(await fs.stat(socket)).mode & 0o777, (await fs.stat(socket)).gid]).toEqual([0o660, 29600]);
        for (const dir of ["tree", "agent.git", "home", "home/.tmp"]) expect((await fs.stat(path.join(base, dir))).uid, dir).toBe(29600);
        expect((await fs.stat(path.join(base, "bootstrap.md"))).mode & 0o777).toBe(0o640);
        await opened.close();
        closed = true;
        for (const dir of ["tree", "agent.git", "home", "home/.tmp"]) expect((await fs.stat(path.join(base, dir))).uid, dir).toBe(0);
        expect((await fs.stat(path.join(base, "bootstrap.md"))).mode & 0o777).toBe(0o600);
        expect(await fs.readdir(lockDir)).toEqual([]);
      } finally {
        if (!closed) await opened.close();
      }
    } finally {
      await fs.rm(base, { recursive: true, force: true });
    }
  });
});
