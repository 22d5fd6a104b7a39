import { accessSync, constants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../../core/errors.js";
import type { Sandbox, SandboxCommand, SandboxOptions, SandboxSpec } from "./sandbox.js";

/**
 * The bubblewrap backend. Every namespace is unshared (user, pid, ipc, uts,
 * cgroup, and net unless the spec's network is "open"), capabilities are
 * dropped (bwrap keeps them when the harness runs as root), nested user
 * namespaces are refused, and the filesystem is a fresh tmpfs root holding
 * only the read-only system view of `systemMounts()` and the spec's mounts.
 *
 * Signals: the caller signals the whole process group, and the command inside
 * stays in that group (no `--new-session`), so it receives SIGINT itself. bwrap
 * though dies of SIGINT/SIGTERM, and with `--die-with-parent` its death
 * SIGKILLs the namespace before the command can shut down gracefully. So bwrap
 * runs with SIGINT, SIGTERM and SIGHUP ignored (`env --ignore-signal`, coreutils
 * ≥ 8.31) and the command inside gets them back at their defaults
 * (`env --default-signal`). SIGKILL of the group still kills bwrap, and its
 * death kills the namespace's PID 1, which ends every process in it.
 *
 * PID 1: bwrap's own reaper reports the command's exit to bwrap at once, so
 * bwrap would exit while the namespace's other processes are still being
 * killed. With `--as-pid-1` a small sh is PID 1 instead: it runs the command,
 * reaps orphans, and exits with the command's status (128 + signal for a
 * signalled command); the kernel then kills the rest, and bwrap, which waits
 * for PID 1 itself, exits only once the namespace is empty. After a SIGKILL of
 * the group that last step happens just after bwrap is gone: `watchSandboxEnd`
 * waits for it.
 */

/** One piece of the sandbox's read-only system view. */
export type SystemEntry = { kind: "ro-bind"; path: string } | { kind: "symlink"; path: string; target: string };

const ENV = "/usr/bin/env";
const SETPRIV = "/usr/bin/setpriv";
const RELAYED_SIGNALS = "INT,TERM,HUP";
/** PID 1 of the namespace: not `exec` (the command is its child), then the command's status. */
const PID1_SCRIPT = '"$@"; exit $?';

/** Top-level system paths, bound (a directory) or recreated (a symlink, as merged-/usr hosts have them). */
const SYSTEM_ROOTS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * The /etc files a program needs (users, name resolution, the dynamic linker,
 * time zone, CA certificates), never /etc as a whole: /etc/shadow, host keys
 * and /etc/ssl/private are readable by root, and the sandbox runs as the
 * harness's user.
 */
const ETC_FILES = [
  "/etc/passwd",
  "/etc/group",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/ld.so.cache",
  "/etc/localtime",
  "/etc/resolv.conf",
  "/etc/ssl/certs",
  "/etc/ssl/openssl.cnf",
  "/etc/ca-certificates",
  "/etc/ca-certificates.conf",
  "/etc/alternatives",
];

/**
 * The read-only system view of this host: /usr and the /bin /lib … entries as
 * the host has them, the /etc files of ETC_FILES that exist, and the directory
 * of `execPath` (the host's node, for the forwarder) when it is outside them.
 */
export function systemMounts(execPath: string = process.execPath): SystemEntry[] {
  const entries: SystemEntry[] = [];
  for (const root of SYSTEM_ROOTS) {
    const stat = lstatSync(root, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    entries.push(stat.isSymbolicLink() ? { kind: "symlink", path: root, target: readlinkSync(root) } : { kind: "ro-bind", path: root });
  }
  const bound = entries.flatMap((e) => (e.kind === "ro-bind" ? [realpathSync(e.path)] : []));
  for (const file of ETC_FILES) {
    if (!existsSync(file)) continue;
    // A symlink into the system view stays a symlink: a program that reads the link (ICU finds the time
    // zone's name in /etc/localtime's target) sees what it sees on the host. Bound, it would be a plain
    // file, and ICU compares it with every file under /usr/share/zoneinfo (thousands of opens per start).
    const link = lstatSync(file).isSymbolicLink() ? readlinkSync(file) : null;
    const seen = link !== null && bound.some((root) => isWithin(realpathSync(file), root));
    entries.push(seen ? { kind: "symlink", path: file, target: link } : { kind: "ro-bind", path: file });
  }
  const nodeDir = path.dirname(realpathSync(execPath));
  const covered = entries.some((e) => e.kind === "ro-bind" && isWithin(nodeDir, realpathSync(e.path)));
  if (!covered) entries.push({ kind: "ro-bind", path: nodeDir });
  return entries;
}

function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The bwrap backend; `options.bwrapPath` names the executable, `options.runAs` the user it runs as. */
export function createBwrapSandbox(options: SandboxOptions = {}): Sandbox {
  const bwrapPath = options.bwrapPath ?? "bwrap";
  let system: SystemEntry[] | undefined;

  /** The full command line; `wrap` validates the spec first, the preflight's own spec needs no rw mount. */
  const build = (file: string, args: string[], spec: SandboxSpec): SandboxCommand => {
    system ??= systemMounts();
    // --unshare-all only tries the user namespace; without one there is no sandbox worth the name.
    const bwrap: string[] = ["--unshare-all", "--unshare-user"];
    if (spec.network === "open") bwrap.push("--share-net");
    bwrap.push("--disable-userns", "--die-with-parent", "--cap-drop", "ALL", "--clearenv");
    for (const [name, value] of Object.entries(spec.env)) bwrap.push("--setenv", name, value);
    bwrap.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
    for (const entry of system) {
      if (entry.kind === "symlink") bwrap.push("--symlink", entry.target, entry.path);
      else bwrap.push("--ro-bind", entry.path, entry.path);
    }
    for (const mount of spec.mounts) bwrap.push(mount.mode === "rw" ? "--bind" : "--ro-bind", mount.source, mount.target ?? mount.source);
    // bwrap sets PWD for --chdir; the spec's environment is the whole environment.
    const unsetPwd = "PWD" in spec.env ? [] : ["-u", "PWD"];
    bwrap.push("--as-pid-1", "--chdir", spec.cwd, "--", "/bin/sh", "-c", PID1_SCRIPT, "sandbox-init");
    bwrap.push(ENV, `--default-signal=${RELAYED_SIGNALS}`, ...unsetPwd, file, ...args);
    const outer = [`--ignore-signal=${RELAYED_SIGNALS}`, bwrapPath, ...bwrap];
    // The outer environment only has to find bwrap; --clearenv keeps it out of the sandbox.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    if (options.runAs === undefined) return { file: ENV, args: outer, env };
    const { uid, gid } = options.runAs;
    return { file: SETPRIV, args: ["--reuid", String(uid), "--regid", String(gid), "--clear-groups", ENV, ...outer], env };
  };

  return {
    backend: "bwrap",
    watchEnd: watchSandboxEnd,
    wrap(file: string, args: string[], spec: SandboxSpec): SandboxCommand {
      validate(file, spec);
      return build(file, args, spec);
    },
    async preflight(): Promise<void> {
      if (!findExecutable(bwrapPath)) throw missingBwrap(bwrapPath);
      const command = build("/usr/bin/true", [], { cwd: "/", env: {}, mounts: [], network: "isolated" });
      const result = await execa(command.file, command.args, { env: command.env, extendEnv: false, stdin: "ignore", reject: false, timeout: 30_000 });
      if (result.exitCode === 0) return;
      const stderr = result.stderr.trim();
      if (result.exitCode === 127 && stderr.includes("No such file")) throw missingBwrap(bwrapPath);
      if (stderr.startsWith("setpriv")) {
        throw new HarnessError("EHARNESS_SANDBOX", {
          message: `The sandbox could not switch to the unprivileged user ${options.runAs?.uid}:${options.runAs?.gid}: ${stderr}`,
          fix: `Running the sandbox as another user needs a harness running as root; drop the runAs setting otherwise. ${LAST_RESORT_SENTENCE}`,
        });
      }
      if (/Unknown option|unrecognized option/i.test(stderr)) {
        throw new HarnessError("EHARNESS_SANDBOX", {
          message: `The sandbox needs newer tools than this host has: ${stderr}`,
          fix: `Install bubblewrap 0.8.0 or later (for --disable-userns; Debian 12, Ubuntu 24.04) and coreutils 8.31 or later (for env --ignore-signal). ${LAST_RESORT_SENTENCE}`,
        });
      }
      if (/namespace|Operation not permitted|setting up uid map/i.test(stderr)) throw noUserNamespaces(bwrapPath, stderr);
      throw new HarnessError("EHARNESS_SANDBOX", {
        message: `The bwrap sandbox failed to run a trivial command (exit ${result.exitCode ?? result.signal ?? "unknown"}): ${stderr || "no output"}`,
        fix: `Run \`${bwrapPath} --unshare-all --ro-bind /usr /usr -- /usr/bin/true\` by hand to see why. ${LAST_RESORT_SENTENCE}`,
        cause: result,
      });
    },
  };
}

const LAST_RESORT_SENTENCE =
  "Only as a last resort, and knowing that an injected agent then reaches every credential and file of the harness, set HARNESS_UNSAFE_NO_SANDBOX=1 to run without a sandbox.";

function validate(file: string, spec: SandboxSpec): void {
  const bad = (message: string, fix: string): HarnessError => new HarnessError("EHARNESS_SANDBOX", { message, fix });
  if (file.includes("="))
    throw bad(`The sandboxed command "${file}" contains "=", which env(1) would read as a variable.`, "Run a command whose path has no `=`.");
  for (const mount of spec.mounts) {
    for (const p of [mount.source, mount.target ?? mount.source]) {
      if (!path.isAbsolute(p)) throw bad(`The sandbox mount path "${p}" is not absolute.`, "Give every sandbox mount an absolute source and target.");
    }
  }
  for (const name of Object.keys(spec.env)) {
    if (name === "" || name.includes("=")) throw bad(`The sandbox environment has an invalid variable name "${name}".`, "Use variable names without `=`.");
  }
  const inRwMount = spec.mounts.some((m) => m.mode === "rw" && isWithin(spec.cwd, m.target ?? m.source));
  if (!path.isAbsolute(spec.cwd) || !inRwMount) {
    throw bad(`The sandbox's working directory "${spec.cwd}" is not inside a read-write mount.`, "Mount the working directory (or a parent) with mode rw.");
  }
}

function findExecutable(file: string): boolean {
  const candidates = file.includes("/") ? [file] : (process.env.PATH ?? "/usr/bin:/bin").split(":").map((dir) => path.join(dir, file));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function missingBwrap(bwrapPath: string): HarnessError {
  return new HarnessError("EHARNESS_SANDBOX", {
    message: `The sandbox backend is bwrap, but no bwrap executable was found at "${bwrapPath}".`,
    fix: `Install bubblewrap (Debian/Ubuntu: \`apt-get install bubblewrap\`), or point the harness at it. ${LAST_RESORT_SENTENCE}`,
  });
}

/** The sysctls that block unprivileged user namespaces on this host, with their values. */
function userNamespaceSysctls(): string[] {
  const read = (name: string): string | undefined => {
    try {
      return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const found: string[] = [];
  if (read("kernel.unprivileged_userns_clone") === "0") found.push("kernel.unprivileged_userns_clone=0");
  if (read("kernel.apparmor_restrict_unprivileged_userns") === "1") found.push("kernel.apparmor_restrict_unprivileged_userns=1");
  if (read("user.max_user_namespaces") === "0") found.push("user.max_user_namespaces=0");
  return found;
}

function noUserNamespaces(bwrapPath: string, stderr: string): HarnessError {
  const found = userNamespaceSysctls();
  const here = found.length > 0 ? `This host has ${found.join(", ")}. ` : "";
  return new HarnessError("EHARNESS_SANDBOX", {
    message: `bwrap (${bwrapPath}) cannot create the sandbox's namespaces: ${stderr}`,
    fix:
      `${here}Allow unprivileged user namespaces: on Debian \`sysctl kernel.unprivileged_userns_clone=1\`; ` +
      `on Ubuntu 23.10 and later (AppArmor) \`sysctl kernel.apparmor_restrict_unprivileged_userns=0\`; ` +
      `where user.max_user_namespaces is 0, \`sysctl user.max_user_namespaces=10000\` ` +
      `(persist the setting in /etc/sysctl.d/). In a container, run it with user namespaces allowed (e.g. a seccomp profile that permits clone/unshare). ${LAST_RESORT_SENTENCE}`,
  });
}

/**
 * For a caller that SIGKILLs the sandbox's process group: bwrap dies at once,
 * and the namespace's other processes (a `setsid` one too) a moment later,
 * when the kernel tears the namespace down. Call this with bwrap's pid while it
 * runs (before the SIGKILL); the function it returns resolves once the
 * namespace's PID 1 has exited, which the kernel lets happen only after every
 * other process in the namespace is gone.
 */
export function watchSandboxEnd(bwrapPid: number): () => Promise<void> {
  const init = childrenOf(bwrapPid)[0];
  return async () => {
    if (init === undefined) return;
    while (running(init)) await new Promise((resolve) => setTimeout(resolve, 5));
  };
}

/** Fields of /proc/<pid>/stat after the command name: state, ppid, … */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && statFields(entry)?.[1] === String(pid))
    .map(Number);
}

/** Neither gone nor a zombie. */
function running(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== "Z" && state !== "X";
}
