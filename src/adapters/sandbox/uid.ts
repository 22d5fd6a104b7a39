import { constants, promises as fs, accessSync, type Stats } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../../core/errors.js";
import type { Sandbox, SandboxClaim, SandboxCommand, SandboxMount, SandboxOptions, SandboxSpec, SandboxUser } from "./sandbox.js";
import { watchSandboxEnd } from "./bwrap.js";

/**
 * The `uid` backend, for a harness that runs as root (a container, the ARC
 * runner image): each session runs as a dedicated unprivileged user of the
 * configured range (HARNESS_SANDBOX_UIDS, e.g. `20001-20008`; gid = uid), in
 * its own PID, IPC and mount namespace (`unshare --pid --fork --mount-proc`,
 * and `--net` for an isolated network), with no capabilities, no new
 * privileges and a cleared environment:
 *
 *   env --ignore-signal=INT,TERM,HUP unshare --pid --fork --kill-child --mount-proc --ipc [--net] --wd CWD --
 *     /bin/sh -c '[ip link set lo up &&] exec "$@"' sandbox-setup
 *     setpriv --reuid U --regid U --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs --
 *     /bin/sh -c '"$@"; exit $?' sandbox-init env --default-signal=INT,TERM,HUP [-u PWD] FILE ARGS…
 *
 * There is no filesystem view of its own: the host's files are what the slot's
 * uid may read by their modes. `claim` therefore gives the session's read-write
 * paths (worktree, agent git dir, HOME) to the slot uid (0700), makes the
 * read-only ones readable to it (a 0600 file: group slot, 0640), and makes the
 * directories above them inside the state directory traversable only (o+x, no
 * listing); `release` gives everything back to root. The state directory's
 * entries, other worktrees and HOMEs, the key files and the harness's git dirs
 * stay the harness's own (0700/0600, or another slot's uid). A uid is held by
 * one session at a time on the host: a lock file per uid in `lockDir`, taken
 * with O_EXCL and naming the holder's pid (a dead holder's lock is broken).
 *
 * Ending the session ends the PID namespace: PID 1 is the small sh (as in the
 * bwrap backend), and when it exits, or when unshare dies (`--kill-child`
 * SIGKILLs it), the kernel kills every process left, whatever it did with
 * setsid, env -i or a double fork.
 */

const ENV = "/usr/bin/env";
const SH = "/bin/sh";
const RELAYED_SIGNALS = "INT,TERM,HUP";
const PID1_SCRIPT = '"$@"; exit $?';
/** The loopback of a fresh network namespace is down: brought up as root, before the uid drop. */
const SETUP_ISOLATED = 'ip link set lo up && exec "$@"';
const SETUP_OPEN = 'exec "$@"';
const DEFAULT_LOCK_DIR = "/run/claude-harness/uid-slots";
/** Below this a uid is likely a system account or a person. */
const MIN_UID = 1000;
const MAX_SLOTS = 4096;

export interface UidRange {
  first: number;
  last: number;
}

const LAST_RESORT_SENTENCE =
  "Only as a last resort, and knowing that an injected agent then reaches every credential and file of the harness, set HARNESS_UNSAFE_NO_SANDBOX=1 to run without a sandbox.";

function sandboxError(message: string, fix: string, cause?: unknown): HarnessError {
  return new HarnessError("EHARNESS_SANDBOX", { message, fix, ...(cause !== undefined ? { cause } : {}) });
}

/** `20001-20008` (or one uid, `20001`): the uids (and gids, the same numbers) of the agent slots. */
export function parseUidRange(text: string | undefined): UidRange {
  const fix = `Set HARNESS_SANDBOX_UIDS to a range of unused uids at or above ${MIN_UID}, one per agent slot, e.g. HARNESS_SANDBOX_UIDS=20001-20008 (at most ${MAX_SLOTS}).`;
  if (text === undefined || text.trim() === "")
    throw sandboxError("The uid sandbox needs HARNESS_SANDBOX_UIDS, the uids its agent slots run as; it is unset.", fix);
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2] ?? match?.[1]);
  if (
    !match ||
    !Number.isSafeInteger(first) ||
    !Number.isSafeInteger(last) ||
    first < MIN_UID ||
    last < first ||
    last >= 2 ** 31 - 1 ||
    last - first + 1 > MAX_SLOTS
  ) {
    throw sandboxError(`HARNESS_SANDBOX_UIDS is "${text}", which is not a range of uids FIRST-LAST with ${MIN_UID} <= FIRST <= LAST.`, fix);
  }
  return { first, last };
}

/** The command line of one sandboxed command as `user` (the unit tests read it through the backend's wrap). */
function commandLine(
  options: Required<Pick<SandboxOptions, "unsharePath" | "setprivPath" | "ipPath">>,
  file: string,
  args: string[],
  spec: SandboxSpec,
  user: SandboxUser,
): SandboxCommand {
  const isolated = spec.network === "isolated";
  const unshare = ["--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", ...(isolated ? ["--net"] : []), `--wd=${spec.cwd}`, "--"];
  const setup = [SH, "-c", isolated ? SETUP_ISOLATED.replace("ip ", `${options.ipPath} `) : SETUP_OPEN, "sandbox-setup"];
  const setpriv = [
    options.setprivPath,
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "--",
  ];
  const unsetPwd = "PWD" in spec.env ? [] : ["-u", "PWD"];
  const inner = [SH, "-c", PID1_SCRIPT, "sandbox-init", ENV, `--default-signal=${RELAYED_SIGNALS}`, ...unsetPwd, file, ...args];
  return {
    file: ENV,
    args: [`--ignore-signal=${RELAYED_SIGNALS}`, options.unsharePath, ...unshare, ...setup, ...setpriv, ...inner],
    // The spec's environment is the whole environment: every step of the chain passes it on unchanged.
    env: { ...spec.env },
  };
}

/** The uid backend; see the file's comment. `options.uids` is the slot range (HARNESS_SANDBOX_UIDS). */
export function createUidSandbox(options: SandboxOptions): Sandbox {
  const tools = {
    unsharePath: options.unsharePath ?? "/usr/bin/unshare",
    setprivPath: options.setprivPath ?? "/usr/bin/setpriv",
    ipPath: options.ipPath ?? "/usr/sbin/ip",
  };
  const lockDir = options.lockDir ?? DEFAULT_LOCK_DIR;
  const stateRoot = options.stateRoot !== undefined ? path.resolve(options.stateRoot) : undefined;
  const geteuid = options.geteuid ?? (() => process.geteuid?.() ?? -1);
  let range: UidRange | undefined;
  const theRange = (): UidRange => (range ??= parseUidRange(options.uids));

  const requireRoot = (): void => {
    if (geteuid() === 0) return;
    throw sandboxError(
      `The uid sandbox switches each agent to an unprivileged user, which needs a harness running as root; this one runs as uid ${geteuid()}.`,
      `Run the harness as root (a container, the runner image), or use HARNESS_SANDBOX=bwrap (the default) as a normal user. ${LAST_RESORT_SENTENCE}`,
    );
  };

  return {
    backend: "uid",
    watchEnd: watchSandboxEnd,
    wrap(file: string, args: string[], spec: SandboxSpec): SandboxCommand {
      if (spec.user === undefined)
        throw sandboxError("The uid sandbox was asked to run a command without a claimed slot uid.", "Claim a slot (sandbox.claim) before wrapping a command.");
      if (spec.user.uid === 0 || spec.user.gid === 0)
        throw sandboxError("The uid sandbox refuses to run a command as root.", "Claim a slot uid from HARNESS_SANDBOX_UIDS.");
      if (!path.isAbsolute(spec.cwd))
        throw sandboxError(`The sandbox's working directory "${spec.cwd}" is not absolute.`, "Give the sandbox an absolute working directory.");
      if (file.includes("="))
        throw sandboxError(`The sandboxed command "${file}" contains "=", which env(1) would read as a variable.`, "Run a command whose path has no `=`.");
      return commandLine(tools, file, args, spec, spec.user);
    },
    async claim(mounts: SandboxMount[]): Promise<SandboxClaim> {
      requireRoot();
      const user = await takeSlot(theRange(), lockDir);
      const rw = mounts.filter((m) => m.mode === "rw").map((m) => m.source);
      const ro = mounts.filter((m) => m.mode === "ro").map((m) => m.source);
      /** Private files made readable to the slot's group, made private again on release. */
      const opened: string[] = [];
      try {
        for (const p of [...rw, ...ro]) await openPathTo(p, stateRoot);
        if (stateRoot !== undefined) await closeStateEntries(stateRoot, [...rw, ...ro]);
        for (const p of rw) {
          await chownTree(p, user.uid, user.gid);
          await fs.chmod(p, 0o700);
        }
        for (const p of ro) if (await makeReadable(p, user.gid)) opened.push(p);
      } catch (error) {
        await giveBack(rw, opened).catch(() => undefined);
        await freeSlot(lockDir, user.uid);
        throw error;
      }
      let released = false;
      return {
        user,
        async release(): Promise<void> {
          if (released) return;
          released = true;
          try {
            await giveBack(rw, opened);
          } finally {
            await freeSlot(lockDir, user.uid);
          }
        },
      };
    },
    async preflight(): Promise<void> {
      requireRoot();
      const { first, last } = theRange();
      for (const tool of [tools.unsharePath, tools.setprivPath, tools.ipPath]) {
        try {
          accessSync(tool, constants.X_OK);
        } catch {
          throw sandboxError(
            `The uid sandbox needs ${tool}, which is missing.`,
            `Install util-linux (unshare, setpriv) and iproute2 (ip): \`apt-get install util-linux iproute2\`. ${LAST_RESORT_SENTENCE}`,
          );
        }
      }
      // The slots reach their worktrees and HOMEs through the state directory's parents.
      if (stateRoot !== undefined) await openPathTo(path.join(stateRoot, "worktrees"), undefined, stateRoot);
      const command = commandLine(tools, "/usr/bin/true", [], { cwd: "/", env: {}, mounts: [], network: "isolated" }, { uid: first, gid: first });
      const result = await execa(command.file, command.args, { env: command.env, extendEnv: false, stdin: "ignore", reject: false, timeout: 30_000 });
      if (result.exitCode === 0) return;
      throw sandboxError(
        `The uid sandbox (uids ${first}-${last}) failed to run a trivial command (exit ${result.exitCode ?? result.signal ?? "unknown"}): ${result.stderr.trim() || "no output"}`,
        `Run \`unshare --pid --fork --mount-proc --net -- setpriv --reuid=${first} --regid=${first} --clear-groups -- /usr/bin/true\` as root to see why; a container needs CAP_SYS_ADMIN (or --privileged) to create namespaces. ${LAST_RESORT_SENTENCE}`,
        result,
      );
    },
  };
}

/** The first uid of the range that no live session on this host holds; its lock file names this process. */
async function takeSlot(range: UidRange, lockDir: string): Promise<SandboxUser> {
  await fs.mkdir(lockDir, { recursive: true, mode: 0o700 });
  // A uid some process still runs as (a session of a harness that was killed, whose namespace
  // outlived it; a user of the host) is never handed out, lock or no lock.
  const running = await uidsRunning();
  for (let uid = range.first; uid <= range.last; uid += 1) {
    if (running.has(uid)) continue;
    const lock = path.join(lockDir, `${uid}.lock`);
    for (let tries = 0; tries < 2; tries += 1) {
      try {
        await fs.writeFile(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
        return { uid, gid: uid };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const holder = Number((await fs.readFile(lock, "utf8").catch(() => "")).trim());
        if (Number.isSafeInteger(holder) && holder > 0 && alive(holder)) break;
        // A dead holder's lock (a crashed harness): its namespace died with it.
        await fs.rm(lock, { force: true });
      }
    }
  }
  throw sandboxError(
    `Every uid of the sandbox range ${range.first}-${range.last} is held by a running session on this host, or runs a process.`,
    "Widen HARNESS_SANDBOX_UIDS to at least as many uids as agents run on this host at once (all harness processes together).",
  );
}

/** The real uids of every process on the host (/proc/<pid>/status, `Uid:` line). */
async function uidsRunning(): Promise<Set<number>> {
  const uids = new Set<number>();
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await fs.readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    const match = /^Uid:\s+(\d+)/m.exec(status);
    if (match) uids.add(Number(match[1]));
  }
  return uids;
}

async function freeSlot(lockDir: string, uid: number): Promise<void> {
  await fs.rm(path.join(lockDir, `${uid}.lock`), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Every directory above `target` must let others through (o+x). Those inside the
 * state directory (and the state directory itself) are made traversable, never
 * listable; one outside it that is not is an error, since opening it would open
 * whatever else lies there (a HOME's dotfiles).
 */
async function openPathTo(target: string, stateRoot: string | undefined, stopAt?: string): Promise<void> {
  let dir = path.dirname(path.resolve(target));
  const chain: string[] = [];
  for (;;) {
    chain.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const ancestor of chain.reverse()) {
    if (stopAt !== undefined && ancestor === stopAt) break;
    // Not there yet (a state directory to be created): the harness creates it, and it is then checked on claim.
    const stat = await fs.stat(ancestor).catch(() => undefined);
    if (stat === undefined) break;
    const inState = stateRoot !== undefined && isWithin(ancestor, stateRoot);
    if (inState && stat.uid === 0) {
      // Traverse only: others may pass (o+x), neither list nor read; the group gets nothing.
      const mode = (stat.mode & 0o7777 & ~0o077) | 0o001;
      if ((stat.mode & 0o7777) !== mode) await fs.chmod(ancestor, mode);
      continue;
    }
    if ((stat.mode & 0o001) !== 0) continue;
    throw sandboxError(
      `The uid sandbox's agent cannot reach ${target}: the directory ${ancestor} is closed to other users (mode ${(stat.mode & 0o777).toString(8)}).`,
      `Keep the state directory, the harness and the CLI under directories other users may traverse: e.g. HARNESS_STATE_DIR=/var/lib/claude-harness rather than one under /root (or \`chmod o+x ${ancestor}\` if nothing there is secret).`,
    );
  }
}

function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The state directory's own entries off the slots' paths (claims/, agents/,
 * git-home/, …) lose every group and other bit: once the state directory may
 * be passed through, what umask 022 left readable there would be readable by name.
 */
async function closeStateEntries(stateRoot: string, paths: string[]): Promise<void> {
  const onPath = new Set(paths.filter((p) => isWithin(p, stateRoot) && p !== stateRoot).map((p) => path.relative(stateRoot, p).split(path.sep)[0]));
  for (const entry of await fs.readdir(stateRoot).catch(() => [] as string[])) {
    if (onPath.has(entry)) continue;
    const stat = await fs.lstat(path.join(stateRoot, entry));
    if (stat.isSymbolicLink() || (stat.mode & 0o077) === 0) continue;
    await fs.chmod(path.join(stateRoot, entry), stat.mode & 0o7700);
  }
}

/**
 * Makes a read-only path readable by the slot: a file the harness keeps private gets
 * group slot and 0640 (true: to be made private again); a directory must already be.
 */
async function makeReadable(target: string, gid: number): Promise<boolean> {
  const stat = await fs.stat(target);
  if ((stat.mode & 0o004) !== 0) return false;
  if (stat.isFile() && stat.uid === 0) {
    await fs.chown(target, 0, gid);
    await fs.chmod(target, 0o640);
    return true;
  }
  throw sandboxError(
    `The uid sandbox's agent cannot read ${target} (mode ${(stat.mode & 0o777).toString(8)}).`,
    `Make it readable by other users (\`chmod -R o+rX ${target}\`), e.g. install the harness and the CLI with umask 022.`,
  );
}

/** lchown of a whole tree, never following a symlink; a file with several links is left alone (it may be a host file linked in). */
async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  const visit = async (p: string, stat: Stats): Promise<void> => {
    if (uid !== 0 && !stat.isDirectory() && stat.nlink > 1) return;
    await fs.lchown(p, uid, gid);
    if (!stat.isDirectory()) return;
    for (const entry of await fs.readdir(p)) {
      const child = path.join(p, entry);
      await visit(child, await fs.lstat(child));
    }
  };
  await visit(root, await fs.lstat(root));
}

/** After the session (its namespace is gone, nothing of the slot runs): the read-write paths are root's again. */
async function giveBack(paths: string[], opened: string[]): Promise<void> {
  for (const p of paths) {
    const stat = await fs.lstat(p).catch(() => undefined);
    if (stat !== undefined) await chownTree(p, 0, 0);
  }
  for (const p of opened) {
    await fs.chown(p, 0, 0);
    await fs.chmod(p, 0o600);
  }
}
