/**
 * The uid backend: its command line (unit), and, on a host where the tests run
 * as root (CI's container, this repository's machines), the real unshare and
 * setpriv: each test claims a slot, wraps a command, spawns it the way the
 * harness does, and checks from the host what it could see and what is left.
 */
import { randomInt } from "node:crypto";
import { existsSync, promises as fs, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSandbox, type Sandbox, type SandboxClaim, type SandboxSpec } from "../../../src/adapters/sandbox/sandbox.js";
import { parseUidRange } from "../../../src/adapters/sandbox/uid.js";
import { isHarnessError } from "../../../src/core/errors.js";

const PATH = "/usr/bin:/bin";
const AS_ROOT = process.geteuid?.() === 0;
/** A range of its own, so that this file's slots never meet another test file's. */
const FIRST = 29_100;
const UIDS = `${FIRST}-${FIRST + 3}`;
let dir: string;
let lockDir: string;
const started: number[] = [];
const claims: SandboxClaim[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-uid-"));
  await fs.chmod(dir, 0o711);
  lockDir = path.join(dir, "locks");
});
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const claim of claims.splice(0)) await claim.release();
  await fs.rm(dir, { recursive: true, force: true });
});

function uidSandbox(overrides: Parameters<typeof createSandbox>[1] = {}): Sandbox {
  return createSandbox("uid", { uids: UIDS, lockDir, stateRoot: dir, ...overrides });
}

async function claim(sandbox: Sandbox, mounts: SandboxSpec["mounts"]): Promise<SandboxClaim> {
  const held = await sandbox.claim!(mounts);
  claims.push(held);
  return held;
}

const SPAWN = { extendEnv: false, detached: true, stdin: "ignore", reject: false } as const;
type Child = ResultPromise<typeof SPAWN & { env: Record<string, string> }>;

function start(sandbox: Sandbox, file: string, args: string[], spec: SandboxSpec): Child {
  const command = sandbox.wrap(file, args, spec);
  const child = execa(command.file, command.args, { ...SPAWN, env: command.env });
  if (child.pid !== undefined) started.push(child.pid);
  return child;
}

/** A worktree-like directory (root's, as git leaves it) claimed for a slot, and the spec to run in it. */
async function session(sandbox: Sandbox, name = "work", overrides: Partial<SandboxSpec> = {}): Promise<{ spec: SandboxSpec; held: SandboxClaim; cwd: string }> {
  const cwd = path.join(dir, name);
  await fs.mkdir(path.join(cwd, "sub"), { recursive: true });
  await fs.writeFile(path.join(cwd, "sub", "file.txt"), "data\n");
  const mounts: SandboxSpec["mounts"] = [{ source: cwd, mode: "rw" }];
  const held = await claim(sandbox, mounts);
  return { spec: { cwd, env: { PATH, HOME: cwd }, mounts, network: "isolated", user: held.user, ...overrides }, held, cwd };
}

describe("uid sandbox: the command line", () => {
  const sandbox = createSandbox("uid", { uids: UIDS });
  const spec: SandboxSpec = { cwd: "/w", env: { PATH, HOME: "/h" }, mounts: [], network: "isolated", user: { uid: 20001, gid: 20001 } };

  it("drops to the slot uid inside fresh PID, mount, IPC and network namespaces, with a cleared environment", () => {
    const command = sandbox.wrap("/usr/bin/claude", ["-p", "hi"], spec);
    expect(command.file).toBe("/usr/bin/env");
    expect(command.env).toEqual({ PATH, HOME: "/h" });
    const args = command.args;
    const at = (item: string): number => args.indexOf(item);
    expect(args.slice(0, at("--"))).toEqual([
      "--ignore-signal=INT,TERM,HUP",
      "/usr/bin/unshare",
      "--pid",
      "--fork",
      "--kill-child",
      "--mount-proc",
      "--ipc",
      "--net",
      "--wd=/w",
    ]);
    // As root inside the namespaces: the loopback up, then the drop.
    expect(args.slice(at("--") + 1, at("--") + 5)).toEqual([
      "/bin/sh",
      "-c",
      'ip link set lo up && exec "$@"'.replace("ip ", "/usr/sbin/ip "),
      "sandbox-setup",
    ]);
    const setpriv = args.indexOf("/usr/bin/setpriv");
    expect(args.slice(setpriv, setpriv + 9)).toEqual([
      "/usr/bin/setpriv",
      "--reuid=20001",
      "--regid=20001",
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
      "--",
      "/bin/sh",
    ]);
    expect(args.slice(-7)).toEqual(["/usr/bin/env", "--default-signal=INT,TERM,HUP", "-u", "PWD", "/usr/bin/claude", "-p", "hi"]);
  });

  it("keeps the host's network for network: open (no --net, no ip)", () => {
    const args = sandbox.wrap("/bin/true", [], { ...spec, network: "open" }).args;
    expect(args).not.toContain("--net");
    expect(args.join(" ")).not.toContain("ip link");
  });

  it("refuses to wrap without a claimed slot, as root, or a file with =", () => {
    const refused = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (error) {
        return isHarnessError(error) ? error.code : String(error);
      }
      return undefined;
    };
    const { user: _user, ...noUser } = spec;
    expect(refused(() => sandbox.wrap("/bin/true", [], noUser))).toBe("EHARNESS_SANDBOX");
    expect(refused(() => sandbox.wrap("/bin/true", [], { ...spec, user: { uid: 0, gid: 0 } }))).toBe("EHARNESS_SANDBOX");
    expect(refused(() => sandbox.wrap("/bin/a=b", [], spec))).toBe("EHARNESS_SANDBOX");
  });

  it("parses HARNESS_SANDBOX_UIDS and refuses an unset, reversed, low or huge range", () => {
    expect(parseUidRange("20001-20008")).toEqual({ first: 20001, last: 20008 });
    expect(parseUidRange("20001")).toEqual({ first: 20001, last: 20001 });
    for (const bad of [undefined, "", "abc", "20008-20001", "0-10", "500-600", "20001-90000", "-5"]) {
      expect(() => parseUidRange(bad), String(bad)).toThrow(/HARNESS_SANDBOX_UIDS/);
    }
  });
});

describe("uid sandbox: preflight refusals", () => {
  const code = async (sandbox: Sandbox): Promise<string> => {
    try {
      await sandbox.preflight();
      return "passed";
    } catch (error) {
      return isHarnessError(error) ? `${error.code}: ${error.message} | ${error.fix}` : String(error);
    }
  };
  it("not root", async () => {
    expect(await code(createSandbox("uid", { uids: UIDS, geteuid: () => 1000 }))).toMatch(
      /^EHARNESS_SANDBOX: .*needs a harness running as root.*HARNESS_SANDBOX=bwrap/,
    );
  });
  it("no range", async () => {
    expect(await code(createSandbox("uid", { geteuid: () => 0 }))).toMatch(/^EHARNESS_SANDBOX: .*HARNESS_SANDBOX_UIDS.*unset.*20001-20008/);
  });
  it("setpriv or unshare missing", async () => {
    expect(await code(createSandbox("uid", { uids: UIDS, geteuid: () => 0, setprivPath: "/nonexistent/setpriv" }))).toMatch(
      /^EHARNESS_SANDBOX: .*\/nonexistent\/setpriv.*apt-get install util-linux/,
    );
    expect(await code(createSandbox("uid", { uids: UIDS, geteuid: () => 0, unsharePath: "/nonexistent/unshare" }))).toMatch(/nonexistent\/unshare/);
  });
});

describe.runIf(AS_ROOT)("uid sandbox against the real unshare and setpriv (as root)", () => {
  it("preflight passes", async () => {
    await expect(uidSandbox().preflight()).resolves.toBeUndefined();
  });

  it("preflight refuses a state directory under a directory closed to others (the default one under /root)", async () => {
    const closedParent = await fs.mkdtemp(path.join(os.tmpdir(), "harness-uid-closed-"));
    try {
      const sandbox = uidSandbox({ stateRoot: path.join(closedParent, "state") });
      await expect(sandbox.preflight()).rejects.toThrow(/closed to other users/);
      await fs.chmod(closedParent, 0o711);
      await expect(sandbox.preflight()).resolves.toBeUndefined();
    } finally {
      await fs.rm(closedParent, { recursive: true, force: true });
    }
  });

  it("runs as the slot uid with no capabilities, sees only its own processes, and exactly the spec's environment", async () => {
    const sandbox = uidSandbox();
    const { spec, held } = await session(sandbox, "work", { env: { PATH, HOME: "/h", ONLY: "this" } });
    const script =
      'id -u; id -g; id -G; grep -E "^Cap(Eff|Prm|Bnd|Inh|Amb)|^NoNewPrivs" /proc/self/status; echo ---; ls /proc | grep -E "^[0-9]+$" | wc -l; echo ---; cat /proc/self/environ | tr "\\0" "\\n" | sort';
    const result = await start(sandbox, "/bin/sh", ["-c", script], spec);
    expect(result.exitCode, result.stderr).toBe(0);
    const [ids = "", count = "", env = ""] = result.stdout.split("---\n");
    const lines = ids.trim().split("\n");
    expect(lines.slice(0, 3)).toEqual([String(held.user.uid), String(held.user.gid), String(held.user.gid)]);
    for (const cap of lines.slice(3, 8)) expect(cap).toMatch(/:\s+0+$/);
    expect(lines).toContain("NoNewPrivs:\t1");
    // PID 1 (the init sh), the script, ls, grep, wc: a handful, never the host's hundreds.
    expect(Number(count.trim())).toBeLessThanOrEqual(6);
    // The script's sh sets PWD itself; nothing else is there but the spec's.
    expect(
      env
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("PWD=")),
    ).toEqual(["HOME=/h", "ONLY=this", `PATH=${PATH}`]);
  });

  it("owns its worktree while it runs, cannot read root's 0600/0700 files or another slot's tree, and gives everything back", async () => {
    const sandbox = uidSandbox();
    const secret = path.join(dir, "key.pem");
    await fs.writeFile(secret, "canary-key\n", { mode: 0o600 });
    const closed = path.join(dir, "claims");
    await fs.mkdir(closed, { mode: 0o700 });
    await fs.writeFile(path.join(closed, "x.lock"), "canary-lock\n", { mode: 0o644 });
    // Left 0755 by umask 022: closed by the claim, since the state directory is passable.
    const agents = path.join(dir, "agents");
    await fs.mkdir(agents, { mode: 0o755 });
    await fs.chmod(agents, 0o755);
    const other = await session(sandbox, "other");
    const mine = await session(sandbox, "mine");
    expect((await fs.stat(agents)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o701);
    expect(mine.held.user.uid).not.toBe(other.held.user.uid);
    const stat = await fs.stat(path.join(mine.cwd, "sub", "file.txt"));
    expect([stat.uid, stat.gid]).toEqual([mine.held.user.uid, mine.held.user.gid]);
    const script = [
      "echo written > sub/new.txt && echo rw-ok",
      `cat ${secret} 2>/dev/null || echo key-denied`,
      `cat ${closed}/x.lock 2>/dev/null || echo closed-denied`,
      `ls ${dir} >/dev/null 2>&1 || echo list-denied`,
      `ls ${agents} >/dev/null 2>&1 || echo agents-denied`,
      `cat ${other.cwd}/sub/file.txt 2>/dev/null || echo other-read-denied`,
      `touch ${other.cwd}/planted 2>/dev/null || echo other-write-denied`,
    ].join("; ");
    const result = await start(sandbox, "/bin/sh", ["-c", script], mine.spec);
    expect(result.stdout.split("\n")).toEqual([
      "rw-ok",
      "key-denied",
      "closed-denied",
      "list-denied",
      "agents-denied",
      "other-read-denied",
      "other-write-denied",
    ]);
    await mine.held.release();
    for (const p of ["", "sub", "sub/file.txt", "sub/new.txt"]) expect((await fs.lstat(path.join(mine.cwd, p))).uid, p).toBe(0);
    expect(existsSync(path.join(other.cwd, "planted"))).toBe(false);
  });

  it("never gives the slot a file with another link (a host file linked in by an earlier session)", async () => {
    const sandbox = uidSandbox();
    const cwd = path.join(dir, "linked");
    await fs.mkdir(cwd);
    const host = path.join(dir, "host-file");
    await fs.writeFile(host, "root's\n", { mode: 0o600 });
    await fs.link(host, path.join(cwd, "link"));
    await claim(sandbox, [{ source: cwd, mode: "rw" }]);
    expect((await fs.stat(host)).uid).toBe(0);
  });

  it("hands out each uid once at a time, across sandboxes sharing the lock directory, and again after release", async () => {
    const a = uidSandbox({ uids: `${FIRST}-${FIRST + 1}` });
    const b = uidSandbox({ uids: `${FIRST}-${FIRST + 1}` });
    const mk = async (name: string): Promise<string> => {
      const p = path.join(dir, name);
      await fs.mkdir(p);
      return p;
    };
    const first = await claim(a, [{ source: await mk("a"), mode: "rw" }]);
    const second = await claim(b, [{ source: await mk("b"), mode: "rw" }]);
    expect(new Set([first.user.uid, second.user.uid]).size).toBe(2);
    await expect(a.claim!([{ source: await mk("c"), mode: "rw" }])).rejects.toThrow(/held by a running session/);
    await first.release();
    const third = await claim(b, [{ source: path.join(dir, "c"), mode: "rw" }]);
    expect(third.user.uid).toBe(first.user.uid);
  });

  it("never hands out a uid a process still runs as (a killed harness's session), lock or no lock", async () => {
    const sandbox = uidSandbox({ uids: `${FIRST}-${FIRST + 1}` });
    const p = path.join(dir, "busy");
    await fs.mkdir(p);
    // A leftover of the first uid, with no lock file naming it.
    const leftover = execa("/usr/bin/setpriv", [`--reuid=${FIRST}`, `--regid=${FIRST}`, "--clear-groups", "/bin/sh", "-c", "echo up; exec sleep 30"], SPAWN);
    if (leftover.pid !== undefined) started.push(leftover.pid);
    await new Promise<void>((resolve) => leftover.stdout?.once("data", () => resolve()));
    const held = await claim(sandbox, [{ source: p, mode: "rw" }]);
    expect(held.user.uid).toBe(FIRST + 1);
  });

  it("refuses a path under a directory closed to others outside the state directory", async () => {
    const closedParent = await fs.mkdtemp(path.join(os.tmpdir(), "harness-uid-closed-"));
    try {
      await fs.mkdir(path.join(closedParent, "w"));
      await expect(uidSandbox().claim!([{ source: path.join(closedParent, "w"), mode: "rw" }])).rejects.toThrow(/closed to other users/);
      expect(readdirSync(lockDir)).toEqual([]);
    } finally {
      await fs.rm(closedParent, { recursive: true, force: true });
    }
  });

  describe("network", () => {
    let server: net.Server;
    let port: number;
    beforeEach(async () => {
      server = net.createServer((socket) => socket.on("error", () => undefined).end("hello\n"));
      // Port 0: the kernel picks a free port (a random one collided with another test's: EADDRINUSE, and the hook never resolved).
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
      port = (server.address() as net.AddressInfo).port;
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const connect = async (network: SandboxSpec["network"]): Promise<string> => {
      const sandbox = uidSandbox();
      const { spec } = await session(sandbox, `net-${network}`, { network });
      const code = `require("net").connect(${port}, "127.0.0.1").on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(1); });`;
      const result = await start(sandbox, process.execPath, ["-e", code], spec);
      return result.stdout.trim();
    };
    it("isolated: the host's loopback is unreachable", async () => {
      expect(await connect("isolated")).toBe("ECONNREFUSED");
    });
    it("open: the host's loopback is reachable", async () => {
      expect(await connect("open")).toBe("connected");
    });
  });

  it("no process outlives the session: setsid, nohup, double fork and env -i are gone once the command exited", async () => {
    const sandbox = uidSandbox();
    const { spec, cwd } = await session(sandbox, "survivors");
    const tag = `uid-survivor-${randomInt(1e9)}`;
    const loop = `while :; do sleep 0.1; done`;
    const script = [
      `setsid sh -c '${loop}' ${tag} &`,
      `nohup sh -c '${loop}' ${tag} >/dev/null 2>&1 &`,
      `( ( sh -c '${loop}' ${tag} & ) & )`,
      `env -i /bin/sh -c '${loop}' ${tag} &`,
      "sleep 0.3; echo started",
    ].join("\n");
    const child = start(sandbox, "/bin/sh", ["-c", script], spec);
    const end = sandbox.watchEnd!(child.pid!);
    const result = await child;
    await end();
    expect(result.stdout.trim()).toBe("started");
    const alive = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && readFileSyncSafe(`/proc/${p}/cmdline`).includes(tag));
    expect(alive).toEqual([]);
    expect(existsSync(cwd)).toBe(true);
  });
});

function readFileSyncSafe(file: string): string {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return "";
  }
}
