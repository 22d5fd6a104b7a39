import type { Sandbox, SandboxCommand, SandboxSpec } from "./sandbox.js";

/**
 * No isolation at all: the command runs as given, with the spec's environment
 * and nothing else. Only for a host that opted in with
 * HARNESS_UNSAFE_NO_SANDBOX=1. The spec's mounts and network are ignored, and
 * the caller must spawn the command in the spec's cwd itself.
 */
export function createNoSandbox(): Sandbox {
  return {
    backend: "none",
    wrap(file: string, args: string[], spec: SandboxSpec): SandboxCommand {
      return { file, args, env: spec.env };
    },
    preflight(): Promise<void> {
      return Promise.resolve();
    },
  };
}
