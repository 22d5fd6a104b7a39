/**
 * The sandbox a CLI session runs in: a backend turns a command line into one
 * that runs it isolated (its own PID namespace, a cleared environment, only
 * the mounts it is given, optionally no network). The caller spawns the
 * returned command with `detached: true`, `extendEnv: false`, stdin ignored,
 * and stops it by signalling the process group (SIGINT, SIGTERM, SIGKILL).
 */
import { createBwrapSandbox } from "./bwrap.js";
import { createNoSandbox } from "./none.js";

export type SandboxBackendName = "bwrap" | "none";

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
}

export interface SandboxOptions {
  /** The bwrap executable (default: `bwrap` on PATH). */
  bwrapPath?: string;
  /**
   * Run bwrap as this unprivileged user (through `setpriv`), for a harness
   * that runs as root: the agent then owns nothing of the host's files.
   */
  runAs?: { uid: number; gid: number };
}

/** The backend the host configuration names. */
export function createSandbox(name: SandboxBackendName, options: SandboxOptions = {}): Sandbox {
  return name === "bwrap" ? createBwrapSandbox(options) : createNoSandbox();
}
