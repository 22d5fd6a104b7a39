import os from "node:os";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import type { Logger } from "../adapters/logger.js";
import { createSandbox, type Sandbox } from "../adapters/sandbox/sandbox.js";
import type { StateDir } from "./state-dir.js";

/**
 * What every command that runs agents checks before it takes any work: the
 * state directory is the harness's alone (0700), and the agent's sandbox
 * works (a trivial command run through it; EHARNESS_SANDBOX with the fix when
 * not). The `none` backend, allowed only with HARNESS_UNSAFE_NO_SANDBOX=1, is
 * logged as an error on every start.
 */
export async function checkHost(input: { state: StateDir; sandbox: Sandbox; log: Logger }): Promise<void> {
  await input.state.ensurePrivate();
  if (input.sandbox.backend === "none") {
    input.log.error(
      { sandbox: "none" },
      "UNSAFE: agents run without a sandbox (HARNESS_UNSAFE_NO_SANDBOX=1): an issue's text can make the agent read this host's credentials and change the harness's files",
    );
    return;
  }
  await input.sandbox.preflight();
  input.log.info({ sandbox: input.sandbox.backend }, "sandbox ready");
}

/**
 * The sandbox backend this host's environment asks for: HARNESS_SANDBOX
 * (`bwrap`, the default; `uid` for a root harness, with HARNESS_SANDBOX_UIDS
 * the slot range; `none`), HARNESS_BWRAP (bwrap's path). `none` needs
 * HARNESS_UNSAFE_NO_SANDBOX=1 as well, and HARNESS_UNSAFE_NO_SANDBOX=1 alone
 * means `none`.
 */
export function sandboxFromEnv(env: NodeJS.ProcessEnv): Sandbox {
  const unsafe = env.HARNESS_UNSAFE_NO_SANDBOX === "1";
  const asked = env.HARNESS_SANDBOX === undefined || env.HARNESS_SANDBOX === "" ? (unsafe ? "none" : "bwrap") : env.HARNESS_SANDBOX;
  if (asked !== "bwrap" && asked !== "uid" && asked !== "none") {
    throw new HarnessError("EHARNESS_SANDBOX", {
      message: `HARNESS_SANDBOX is "${asked}"; the backends are bwrap, uid and none.`,
      fix: "Set HARNESS_SANDBOX=bwrap (the default) or leave it unset; as root, HARNESS_SANDBOX=uid with HARNESS_SANDBOX_UIDS=20001-20008.",
    });
  }
  if (asked === "none" && !unsafe) {
    throw new HarnessError("EHARNESS_SANDBOX", {
      message: "HARNESS_SANDBOX=none runs agents without a sandbox: an issue's text could then make the agent read this host's credentials.",
      fix: "Install bubblewrap (apt-get install bubblewrap) and unset HARNESS_SANDBOX; or, knowing the risk, also set HARNESS_UNSAFE_NO_SANDBOX=1.",
    });
  }
  if (asked === "uid") {
    // The slot range is checked by the preflight, which says how to fix it.
    return createSandbox("uid", {
      ...(env.HARNESS_SANDBOX_UIDS !== undefined ? { uids: env.HARNESS_SANDBOX_UIDS } : {}),
      stateRoot: env.HARNESS_STATE_DIR ?? path.join(os.homedir(), ".claude-harness"),
    });
  }
  return createSandbox(asked, env.HARNESS_BWRAP ? { bwrapPath: env.HARNESS_BWRAP } : {});
}
