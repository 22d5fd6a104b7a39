/**
 * The bwrap backend against the real bubblewrap: each test wraps a command,
 * spawns it the way the harness does (own process group, no inherited
 * environment, stdin ignored) and checks from the host what the command could
 * see and what is left of it afterwards.
 */
import { randomInt, randomUUID } from "node:crypto";
import { existsSync, promises as fs, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchSandboxEnd } from "../../../src/adapters/sandbox/bwrap.js";
import { createSandbox, type Sandbox, type SandboxSpec } from "../../../src/adapters/sandbox/sandbox.js";

const PATH = "/usr/bin:/bin";
let dir: string;
const started: number[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-sandbox-"));
});
afterEach(async () => {
  // A failed test may leave a sandbox running: end it as the harness would.
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
});

/** A spec with `dir` mounted read-write as the working directory. */
function specIn(cwd: string, overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return { cwd, env: { PATH, HOME: cwd }, mounts: [{ source: cwd, mode: "rw" }], network: "isolated", ...overrides };
}

/** How the session runner spawns a wrapped command. */
const SPAWN = { extendEnv: false, detached: true, stdin: "ignore", reject: false } as const;
type Child = ResultPromise<typeof SPAWN & { env: Record<string, string> }>;

function start(sandbox: Sandbox, file: string, args: string[], spec: SandboxSpec): Child {
  const command = sandbox.wrap(file, args, spec);
  const child = execa(command.file, command.args, { ...SPAWN, env: command.env });
  if (child.pid !== undefined) started.push(child.pid);
  return child;
}

function run(file: string, args: string[], spec: SandboxSpec) {
  return start(createSandbox("bwrap"), file, args, spec);
}

/** Resolves once the child's stdout has printed `line`. */
function printed(child: Child, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split("\n").includes(line)) resolve();
    });
    void child.then((r) => reject(new Error(`exited (${r.exitCode}) before printing ${line}: ${r.stdout} ${r.stderr}`)));
  });
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

/**
 * Host processes with an argument of `marker` and one more digit (not the
 * scripts that mention it). Synchronous, so it can run inside an exit handler.
 */
function hostProcessesWith(marker: string): number[] {
  const argvOf = (pid: string): string[] => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return []; // gone meanwhile
    }
  };
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && argvOf(entry).some((arg) => arg.length === marker.length + 1 && arg.startsWith(marker)))
    .map(Number);
}

describe("bwrap sandbox", () => {
  it("passes exactly the spec's environment, nothing of the host's", async () => {
    const canary = `canary-${randomUUID()}`;
    process.env.HARNESS_SANDBOX_CANARY = canary;
    try {
      const env = { PATH, HOME: dir, ANTHROPIC_API_KEY: "sk-ant-harness-placeholder" };
      const result = await run("cat", ["/proc/self/environ"], specIn(dir, { env }));
      expect(result.exitCode).toBe(0);
      const inside = Object.fromEntries(
        result.stdout
          .split("\0")
          .filter((entry) => entry !== "")
          .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
      );
      expect(inside).toEqual(env);
      expect(result.stdout).not.toContain(canary);
    } finally {
      delete process.env.HARNESS_SANDBOX_CANARY;
    }
  });

  it("has its own PID namespace: no host process is visible", async () => {
    const result = await run("sh", ["-c", "ls /proc; echo ---; tr '\\0' ' ' < /proc/1/cmdline"], specIn(dir));
    expect(result.exitCode).toBe(0);
    const [listing = "", init = ""] = result.stdout.split("---\n");
    const pids = listing.split("\n").filter((name) => /^\d+$/.test(name));
    expect(pids).not.toContain(String(process.pid));
    // bwrap's reaper, sh, ls: a handful, where the host has dozens.
    expect(pids.length).toBeLessThan(10);
    expect(init).not.toBe(readFileSync("/proc/1/cmdline", "utf8").replaceAll("\0", " "));
  });

  it("runs with no capabilities and cannot make a user namespace of its own", async () => {
    const result = await run("sh", ["-c", "grep CapEff /proc/self/status; unshare -U true && echo nested-userns"], specIn(dir));
    expect(result.stdout).toMatch(/^CapEff:\s+0+$/m);
    expect(result.stdout).not.toContain("nested-userns");
  });

  it("shows rw mounts writable, ro mounts read-only, and nothing else of the host", async () => {
    const rw = path.join(dir, "rw");
    const ro = path.join(dir, "ro");
    const state = path.join(dir, "state");
    await Promise.all([fs.mkdir(rw), fs.mkdir(ro), fs.mkdir(state)]);
    await fs.writeFile(path.join(ro, "kept.txt"), "original\n");
    await fs.writeFile(path.join(state, "canary.txt"), "state canary\n");
    const hidden = [state, "/root", "/work/main", "/etc/shadow", "/home"].filter((p) => existsSync(p));
    // The host has them, so their absence inside means something.
    expect(hidden).toEqual(expect.arrayContaining([state, "/root", "/work/main", "/etc/shadow"]));

    const script = [
      `echo written > ${rw}/out.txt && echo rw-ok`,
      `echo changed > ${ro}/kept.txt 2>/dev/null || echo ro-refused`,
      `touch ${ro}/new.txt 2>/dev/null || echo ro-create-refused`,
      `for p in ${hidden.join(" ")}; do if [ -e "$p" ]; then echo "visible $p"; fi; done`,
      `cat /etc/shadow 2>/dev/null && echo shadow-read`,
      `/usr/bin/git --version`,
      `${process.execPath} -e 'console.log("node " + process.version)'`,
    ].join("\n");
    const spec = specIn(rw, {
      mounts: [
        { source: rw, mode: "rw" },
        { source: ro, mode: "ro" },
      ],
    });
    const result = await run("sh", ["-c", script], spec);
    const lines = result.stdout.split("\n");
    expect(lines).toEqual(expect.arrayContaining(["rw-ok", "ro-refused", "ro-create-refused", `node ${process.version}`]));
    expect(lines.some((l) => l.startsWith("git version"))).toBe(true);
    expect(lines.filter((l) => l.startsWith("visible") || l === "shadow-read")).toEqual([]);
    expect(await fs.readFile(path.join(rw, "out.txt"), "utf8")).toBe("written\n");
    expect(await fs.readFile(path.join(ro, "kept.txt"), "utf8")).toBe("original\n");
    expect(existsSync(path.join(ro, "new.txt"))).toBe(false);
  });

  it("shows /etc/localtime as the host has it: a symlink into the system view stays one (ICU reads the zone's name from it)", async (context) => {
    const host = await fs.readlink("/etc/localtime").catch(() => null);
    if (host === null) context.skip(); // not a symlink on this host: bound as a file, as before
    const result = await run("sh", ["-c", "readlink /etc/localtime && cat /etc/localtime | wc -c"], specIn(dir));
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split("\n")).toEqual([host, String(readFileSync("/etc/localtime").length)]);
  });

  it("mounts a source at another target", async () => {
    const source = path.join(dir, "socket-dir");
    await fs.mkdir(source);
    const result = await run(
      "sh",
      ["-c", "echo hi > /run/harness/hello"],
      specIn(dir, {
        mounts: [
          { source: dir, mode: "rw" },
          { source, target: "/run/harness", mode: "rw" },
        ],
      }),
    );
    expect(result.exitCode).toBe(0);
    expect(await fs.readFile(path.join(source, "hello"), "utf8")).toBe("hi\n");
  });

  describe("network", () => {
    let server: net.Server;
    let port: number;
    let connections: number;
    beforeEach(async () => {
      connections = 0;
      server = net.createServer((socket) => {
        connections += 1;
        socket.end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as net.AddressInfo).port;
    });
    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    const connect = (network: SandboxSpec["network"]) =>
      run(
        process.execPath,
        [
          "-e",
          `require("net").connect(${port}, "127.0.0.1").on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(1); });`,
        ],
        specIn(dir, { network }),
      );

    it("isolated: a server on the host's loopback is unreachable", async () => {
      const result = await connect("isolated");
      expect(result.stdout).toBe("ECONNREFUSED");
      expect(connections).toBe(0);
    });

    it("open: the host's loopback is reachable", async () => {
      const result = await connect("open");
      expect(result.stdout).toBe("connected");
      expect(connections).toBe(1);
    });
  });

  describe("no process outlives the sandbox", () => {
    /**
     * Survivors the way an agent would try: a new session, nohup, a double
     * fork, a cleared environment, a renamed binary. Each is a `sleep` whose
     * duration carries a unique marker, so the host can find it in
     * /proc/<pid>/cmdline whatever its pid outside.
     */
    async function startSurvivors(): Promise<{ child: Child; marker: string }> {
      const marker = `300.${randomInt(1e8, 1e9)}`;
      const script = [
        `cp /usr/bin/sleep ./innocent-name`,
        `setsid sleep ${marker}1 > /dev/null 2>&1 & echo $! >> pids`,
        `nohup sleep ${marker}2 > /dev/null 2>&1 & echo $! >> pids`,
        `sh -c 'sleep ${marker}3 > /dev/null 2>&1 & echo $! >> pids'`,
        `env -i sleep ${marker}4 > /dev/null 2>&1 & echo $! >> pids`,
        `./innocent-name ${marker}5 > /dev/null 2>&1 & echo $! >> pids`,
        `echo ready`,
        // The main command waits for the test's go-ahead, then exits.
        `while [ ! -e go ]; do sleep 0.05; done`,
      ].join("\n");
      const child = run("sh", ["-c", script], specIn(dir));
      await printed(child, "ready");
      expect((await fs.readFile(path.join(dir, "pids"), "utf8")).trim().split("\n")).toHaveLength(5);
      // All five run (once each has exec'd sleep), and the host sees them: the checks below can fail.
      while (hostProcessesWith(marker).length < 5) await tick();
      expect(hostProcessesWith(marker)).toHaveLength(5);
      return { child, marker };
    }

    it("when the main command exits: gone by the time bwrap has exited", async () => {
      const { child, marker } = await startSurvivors();
      // Looked at the moment bwrap's exit is known, before anything else can run.
      let leftAtExit: number[] | undefined;
      child.once("exit", () => (leftAtExit = hostProcessesWith(marker)));
      await fs.writeFile(path.join(dir, "go"), "");
      expect((await child).exitCode).toBe(0);
      expect(leftAtExit).toEqual([]);
    });

    it("when the harness SIGKILLs the process group", async () => {
      const { child, marker } = await startSurvivors();
      // bwrap dies first; its death then kills the namespace's PID 1, and the kernel the rest
      // (the setsid one included) a moment later: watchSandboxEnd waits for that.
      const ended = watchSandboxEnd(child.pid ?? 0);
      // Looked at as soon as bwrap's exit is known and ended() says so, not after execa's bookkeeping.
      const leftAfterEnd = new Promise<number[]>((resolve) => child.once("exit", () => void ended().then(() => resolve(hostProcessesWith(marker)))));
      process.kill(-(child.pid ?? 0), "SIGKILL");
      expect((await child).signal).toBe("SIGKILL");
      expect(await leftAfterEnd).toEqual([]);
    });
  });

  it("delivers SIGINT of the process group to the command, and waits for its shutdown", async () => {
    // The handler takes a while, as the CLI's own shutdown does: bwrap must neither die of the
    // signal nor end the namespace before the command is done.
    const script = `trap 'sleep 0.2; echo interrupted > trapped; exit 3' INT\necho ready\nsleep 300 & wait`;
    const child = run("sh", ["-c", script], specIn(dir));
    await printed(child, "ready");
    process.kill(-(child.pid ?? 0), "SIGINT");
    const result = await child;
    expect(await fs.readFile(path.join(dir, "trapped"), "utf8")).toBe("interrupted\n");
    expect(result.exitCode).toBe(3);
  });

  it("delivers SIGTERM with its default action: the command ends, bwrap reports 128 + 15", async () => {
    const child = run("sh", ["-c", "echo ready; sleep 300 & wait"], specIn(dir));
    await printed(child, "ready");
    process.kill(-(child.pid ?? 0), "SIGTERM");
    expect((await child).exitCode).toBe(143);
  });

  it.skipIf(process.getuid?.() !== 0)("runs as an unprivileged user with runAs", async () => {
    await fs.chmod(dir, 0o777);
    const sandbox = createSandbox("bwrap", { runAs: { uid: 65534, gid: 65534 } });
    await sandbox.preflight();
    const result = await start(sandbox, "sh", ["-c", "id -u > whoami"], specIn(dir));
    expect(result.exitCode).toBe(0);
    expect(await fs.readFile(path.join(dir, "whoami"), "utf8")).toBe("65534\n");
    expect((await fs.stat(path.join(dir, "whoami"))).uid).toBe(65534);
  });

  it("refuses a spec it cannot honour", () => {
    const sandbox = createSandbox("bwrap");
    expect(() => sandbox.wrap("true", [], specIn(dir, { mounts: [{ source: dir, mode: "ro" }] }))).toThrow(
      expect.objectContaining({ code: "EHARNESS_SANDBOX", message: expect.stringContaining("not inside a read-write mount") }),
    );
    expect(() =>
      sandbox.wrap(
        "true",
        [],
        specIn(dir, {
          mounts: [
            { source: dir, mode: "rw" },
            { source: "relative", mode: "ro" },
          ],
        }),
      ),
    ).toThrow(expect.objectContaining({ code: "EHARNESS_SANDBOX" }));
  });

  describe("preflight", () => {
    it("passes with the installed bwrap", async () => {
      await expect(createSandbox("bwrap").preflight()).resolves.toBeUndefined();
    });

    it("names the package when bwrap is missing", async () => {
      const error = createSandbox("bwrap", { bwrapPath: path.join(dir, "no-such-bwrap") }).preflight();
      await expect(error).rejects.toMatchObject({
        code: "EHARNESS_SANDBOX",
        fix: expect.stringMatching(/apt-get install bubblewrap.*HARNESS_UNSAFE_NO_SANDBOX=1/s),
      });
    });

    it("names the versions it needs when bwrap is too old", async () => {
      const fake = path.join(dir, "bwrap");
      await fs.writeFile(fake, `#!/bin/sh\necho "bwrap: Unknown option --disable-userns" >&2\nexit 1\n`, { mode: 0o755 });
      await expect(createSandbox("bwrap", { bwrapPath: fake }).preflight()).rejects.toMatchObject({
        code: "EHARNESS_SANDBOX",
        fix: expect.stringMatching(/bubblewrap 0\.8\.0 or later.*HARNESS_UNSAFE_NO_SANDBOX=1/s),
      });
    });

    it("names the sysctl when the kernel refuses user namespaces", async () => {
      const fake = path.join(dir, "bwrap");
      const realMessage =
        "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'.";
      await fs.writeFile(fake, `#!/bin/sh\necho "${realMessage}" >&2\nexit 1\n`, { mode: 0o755 });
      const error = createSandbox("bwrap", { bwrapPath: fake }).preflight();
      await expect(error).rejects.toMatchObject({
        code: "EHARNESS_SANDBOX",
        message: expect.stringContaining("No permissions to creating new namespace"),
        fix: expect.stringMatching(
          /Debian `sysctl kernel.unprivileged_userns_clone=1`.*Ubuntu.*`sysctl kernel.apparmor_restrict_unprivileged_userns=0`.*HARNESS_UNSAFE_NO_SANDBOX=1/s,
        ),
      });
    });
  });
});

describe("none sandbox", () => {
  it("runs the command as given, with the spec's environment", async () => {
    const sandbox = createSandbox("none");
    expect(sandbox.backend).toBe("none");
    await expect(sandbox.preflight()).resolves.toBeUndefined();
    const env = { PATH, HOME: "/somewhere" };
    expect(sandbox.wrap("/usr/bin/claude", ["-p", "hi"], specIn("/somewhere", { env }))).toEqual({ file: "/usr/bin/claude", args: ["-p", "hi"], env });
  });
});
