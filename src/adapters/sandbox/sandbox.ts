/**
 * The sandbox a CLI session runs in: a backend turns a command line into one
 * that runs it isolated (its own PID namespace, a cleared environment, only
 * the mounts it is given, optionally no network). The caller spawns the
 * returned command with `detached: true`, `extendEnv: false`, stdin ignored,
 * and stops it by signalling the process group (SIGINT, SIGTERM, SIGKILL).
 */
import { createBwrapSandbox } from "./bwrap.js";
import { createNoSandbox } from "./none.js";
import { createUidSandbox } from "./uid.js";

export type SandboxBackendName = "bwrap" | "uid" | "none";

/** The unprivileged user a `uid` sandbox runs a session as (gid: its own group). */
export interface SandboxUser {
  uid: number;
  gid: number;
}

/** A session's hold on a backend that prepares the host for it (`uid`: a slot uid owning the session's paths). */
export interface SandboxClaim {
  readonly user: SandboxUser;
  /** After the session ended: the paths are the harness's again and the uid is free. */
  release(): Promise<void>;
}

export interface SandboxMount {
  source: string;
  /** default: same path as source */
  target?: string;
  mode: "ro" | "rw";
}

export interface SandboxSpec {
  /** inside a rw mount */
  cwd: string;
  /** the whole environment inside; nothing is inherited */
  env: Record<string, string>;
  /** beyond the backend's read-only system view, applied in order (a later mount covers an earlier one) */
  mounts: SandboxMount[];
  /** isolated: own network namespace (loopback only) */
  network: "isolated" | "open";
  /** The `uid` backend: the claimed slot user the command runs as. */
  user?: SandboxUser;
}

export interface SandboxCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export interface Sandbox {
  readonly backend: SandboxBackendName;
  /** The command line that runs file+args inside the sandbox described by spec. */
  wrap(file: string, args: string[], spec: SandboxSpec): SandboxCommand;
  /** Runs a trivial command through the backend; throws HarnessError EHARNESS_SANDBOX with a fix. */
  preflight(): Promise<void>;
  /**
   * Called while the wrapped command runs (`pid`: the spawned process); the
   * returned function, awaited after it exited, resolves once nothing of the
   * sandbox is left (after a SIGKILL of the group, bwrap dies before the rest).
   */
  watchEnd?(pid: number): () => Promise<void>;
  /**
   * Backends without a filesystem view of their own (`uid`) take a slot for a
   * session and open its mounts' host paths to it (rw: owned by the slot; ro:
   * readable); the wrapped command then sees host paths, and `spec.user` must
   * be the claim's user. Absent for backends that mount (bwrap).
   */
  claim?(mounts: SandboxMount[]): Promise<SandboxClaim>;
}

export interface SandboxOptions {
  /** The bwrap executable (default: `bwrap` on PATH). */
  bwrapPath?: string;
  /**
   * Run bwrap as this unprivileged user (through `setpriv`), for a harness
   * that runs as root: the agent then owns nothing of the host's files.
   */
  runAs?: { uid: number; gid: number };
  /** uid backend: HARNESS_SANDBOX_UIDS, the slot range (`20001-20008`). */
  uids?: string;
  /** uid backend: the state directory, whose directories it may make traversable (o+x). */
  stateRoot?: string;
  /** uid backend: where the per-uid lock files live (default /run/claude-harness/uid-slots). */
  lockDir?: string;
  /** uid backend: the tools (defaults /usr/bin/unshare, /usr/bin/setpriv, /usr/sbin/ip). */
  unsharePath?: string;
  setprivPath?: string;
  ipPath?: string;
  /** uid backend: the effective uid (default process.geteuid), for tests. */
  geteuid?: () => number;
}

/** The backend the host configuration names. */
export function createSandbox(name: SandboxBackendName, options: SandboxOptions = {}): Sandbox {
  if (name === "uid") return createUidSandbox(options);
  return name === "bwrap" ? createBwrapSandbox(options) : createNoSandbox();
}
