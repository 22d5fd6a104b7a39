import { promises as fs } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { HarnessConfig } from "../core/config.js";
import { HarnessError } from "../core/errors.js";
import type { Logger } from "../adapters/logger.js";
import type { Sandbox, SandboxMount, SandboxSpec } from "../adapters/sandbox/sandbox.js";
import { startModelProxy } from "../adapters/sandbox/model-proxy.js";
import { startEgressProxy } from "../adapters/sandbox/egress-proxy.js";
import { splitModelEnvForSandbox } from "./model-env.js";
import { NON_SECRETS } from "../core/non-secrets.js";
import type { RunClaudeOptions } from "../adapters/claude/run-claude.js";

/** What the agent gets instead of the real model credential: worthless outside the harness's proxy. */
export const PLACEHOLDER_API_KEY = NON_SECRETS.placeholderApiKey;
export const PLACEHOLDER_AUTH_TOKEN = NON_SECRETS.placeholderAuthToken;

/** Where the session's sockets appear inside the sandbox. */
const RUN_DIR_INSIDE = "/run/harness";
/** Loopback ports of the forwarder inside the sandbox's own network namespace. */
const MODEL_PORT = 41001;
const EGRESS_PORT = 41002;

export interface AgentSandboxInput {
  sandbox: Sandbox;
  /** `node` that runs the forwarder inside the sandbox, and the forwarder script. */
  nodePath: string;
  forwarderPath: string;
  network: HarnessConfig["sandbox"];
  /** The model variables as the host has them (the real key among them). */
  modelEnv: Record<string, string>;
  worktree: string;
  /** The agent's own git dir and the clone's objects, shared read-only. */
  agentGitDir: string;
  objectsDir: string;
  home: string;
  /** Files the CLI reads: the bootstrap prompt. */
  readOnlyFiles: string[];
  cliPath: string;
  log: Logger;
}

export interface AgentSandbox {
  /** The model variables the CLI gets: the proxy's URL and a placeholder key in a sandbox. */
  modelEnv: Record<string, string>;
  /** Turns the CLI's command line into the sandboxed one; absent for the `none` backend. */
  wrap?: RunClaudeOptions["wrap"];
  /** Requests the egress proxy refused, for the log. */
  denied(): { host: string; port: number }[];
  close(): Promise<void>;
}

/**
 * Opens the session's sandbox: the model proxy that adds the real credential,
 * the egress proxy that lets out only `sandbox.allowHosts`, both on unix
 * sockets in the session's run directory, and the command wrapper that starts
 * the CLI behind the forwarder inside the backend. With the `none` backend
 * (explicit opt-in only) the CLI runs as before: on the host, with the key.
 */
export async function openAgentSandbox(input: AgentSandboxInput): Promise<AgentSandbox> {
  if (input.sandbox.backend === "none") {
    return { modelEnv: input.modelEnv, denied: () => [], close: async () => undefined };
  }
  // The Anthropic credentials stay here with the model proxy; Bedrock/Vertex only in an open network (refused otherwise).
  const split = splitModelEnvForSandbox(input.modelEnv, input.network.network);
  // Unix socket paths are limited to 107 bytes, which a state directory's session path can
  // exceed: the sockets live in a short private directory of their own.
  const runDir = await fs.mkdtemp(path.join(shortTmp(), "harness-run-"));
  await fs.chmod(runDir, 0o700);
  const closers: (() => Promise<void>)[] = [() => fs.rm(runDir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const isolated = input.network.network === "isolated";
    const model = split.direct
      ? null
      : await startModelProxy({
          socketPath: path.join(runDir, "model.sock"),
          upstream: split.upstream ?? "https://api.anthropic.com",
          ...(split.apiKey !== undefined ? { apiKey: split.apiKey } : {}),
          ...(split.authToken !== undefined ? { authToken: split.authToken } : {}),
          log: input.log,
        });
    if (model) closers.push(() => model.close());
    if (split.direct)
      input.log.warn({ sandbox: input.sandbox.backend }, "Bedrock/Vertex: the CLI reaches its provider itself, with the cloud credentials inside its sandbox");
    const egress = isolated
      ? await startEgressProxy({ socketPath: path.join(runDir, "egress.sock"), allowHosts: input.network.allowHosts, log: input.log })
      : null;
    if (egress) closers.push(() => egress.close());
    if (!isolated) input.log.warn({ sandbox: input.sandbox.backend }, "sandbox network is open (sandbox.network: open): the agent reaches any host");
    // In an open network the sandbox shares the host's loopback, so the port must be free there.
    const modelPort = isolated ? MODEL_PORT : await freeLoopbackPort();
    // A backend without mounts (uid) sees the host's paths: the run directory is where it is.
    const runDirSeen = input.sandbox.claim ? runDir : RUN_DIR_INSIDE;
    const listen = model ? [`127.0.0.1:${modelPort}=${runDirSeen}/model.sock`] : [];
    if (egress) listen.push(`127.0.0.1:${EGRESS_PORT}=${runDirSeen}/egress.sock`);
    const proxyUrl = `http://127.0.0.1:${EGRESS_PORT}`;
    const placeholders = {
      ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY,
      ANTHROPIC_AUTH_TOKEN: PLACEHOLDER_AUTH_TOKEN,
      CLAUDE_CODE_OAUTH_TOKEN: PLACEHOLDER_AUTH_TOKEN,
    };
    const modelEnv: Record<string, string> = {
      ...split.rest,
      ...(model ? { ANTHROPIC_BASE_URL: `http://127.0.0.1:${modelPort}`, [split.placeholder]: placeholders[split.placeholder] } : {}),
      ...(egress ? { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, https_proxy: proxyUrl, http_proxy: proxyUrl } : {}),
      // Telemetry and update checks could not get out of an isolated sandbox anyway: do not try.
      ...(isolated ? { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" } : {}),
      ...(model ? { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" } : {}),
    };
    const cliReal = await fs.realpath(input.cliPath).catch((error: unknown) => {
      throw new HarnessError("EHARNESS_CLI_MISSING", {
        message: `The Claude Code CLI was not found at ${input.cliPath}.`,
        fix: "Install it (npm install @anthropic-ai/claude-code) and point the harness at its binary (node_modules/.bin/claude), or fix the configured CLI path.",
        cause: error,
      });
    });
    const mounts: SandboxMount[] = [
      { source: path.dirname(cliReal), mode: "ro" },
      { source: input.forwarderPath, mode: "ro" },
      { source: input.objectsDir, mode: "ro" },
      ...input.readOnlyFiles.map((source): SandboxMount => ({ source, mode: "ro" })),
      { source: input.worktree, mode: "rw" },
      { source: input.agentGitDir, mode: "rw" },
      { source: input.home, mode: "rw" },
      { source: runDir, target: RUN_DIR_INSIDE, mode: "rw" },
    ];
    // uid: a private TMPDIR in the HOME (the host's /tmp is shared), the session's paths given to the
    // slot uid, and the sockets reachable by its group alone (run dir root:slot 0710, sockets 0660).
    let tmpDir = "/tmp";
    let user: SandboxSpec["user"];
    if (input.sandbox.claim) {
      tmpDir = path.join(input.home, ".tmp");
      await fs.mkdir(tmpDir, { recursive: true });
      const claim = await input.sandbox.claim(mounts.filter((m) => m.source !== runDir));
      closers.push(() => claim.release());
      user = claim.user;
      await fs.chown(runDir, 0, user.gid);
      await fs.chmod(runDir, 0o710);
      for (const name of [...(model ? ["model.sock"] : []), ...(egress ? ["egress.sock"] : [])]) {
        await fs.chown(path.join(runDir, name), 0, user.gid);
        await fs.chmod(path.join(runDir, name), 0o660);
      }
    }
    const sandbox = input.sandbox;
    const network = input.network.network;
    const watchEnd = sandbox.watchEnd?.bind(sandbox);
    const wrap: NonNullable<RunClaudeOptions["wrap"]> = (_file, args, env) => ({
      ...sandbox.wrap(input.nodePath, [input.forwarderPath, ...listen.flatMap((l) => ["--listen", l]), "--", cliReal, ...args], {
        cwd: input.worktree,
        env: { ...env, TMPDIR: tmpDir },
        mounts,
        network,
        ...(user ? { user } : {}),
      }),
      ...(watchEnd ? { watchEnd } : {}),
    });
    return { modelEnv, wrap, denied: () => (egress ? [...egress.denied] : []), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The system's temp directory when a socket path in it stays short, else /tmp. */
function shortTmp(): string {
  const tmp = os.tmpdir();
  return tmp.length <= 40 ? tmp : "/tmp";
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
