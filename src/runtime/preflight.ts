/**
 * The host's preflight: what `harness doctor` reports and what `harness app`
 * and `harness worker` check before they take any work (a failed check refuses
 * the start with EHARNESS_PREFLIGHT, so a broken host claims nothing). Every
 * check answers pass, warn or fail with a detail and, unless it passed, a fix
 * a person can act on. Nothing a check reports holds a secret: every detail
 * and fix goes through the environment's redactor.
 */
import { createSign } from "node:crypto";
import { constants, promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { compareVersions, readCliVersion, VERIFIED_CLI_VERSIONS } from "../adapters/claude/cli-version.js";
import { HarnessError, isHarnessError } from "../core/errors.js";
import { redactorFromEnv, createRedactor, type Redactor } from "../core/redact.js";
import type { Logger } from "../adapters/logger.js";
import type { Sandbox } from "../adapters/sandbox/sandbox.js";
import { DEFAULT_MIN_FREE_DISK_MB, freeDiskMb, type StatFs } from "./free-disk.js";
import { sandboxFromEnv } from "./host-checks.js";
import { modelEnvFrom, modelProvider } from "./model-env.js";

export type CheckStatus = "pass" | "warn" | "fail";

export interface PreflightCheck {
  /** Stable id: node, git, claude-cli, model, github, webhook-secret, sandbox, disk, state-dir. */
  name: string;
  ok: CheckStatus;
  /** What was found, in one sentence. */
  detail: string;
  /** What to do about it; "" when the check passed. */
  fix: string;
}

/** Which command the checks are for: the app also needs a webhook secret; the worker a token. */
export type PreflightRole = "app" | "worker";

export interface PreflightInput {
  env: NodeJS.ProcessEnv;
  /** Absent: `harness doctor` without --for checks the credentials the environment has. */
  role?: PreflightRole;
  /** The Claude CLI the harness would run. */
  cliPath: string;
  /** How `cliPath` was chosen, for the detail (e.g. "CLAUDE_PATH"). */
  cliSource?: string;
  /** The state directory (HARNESS_STATE_DIR or ~/.claude-harness). */
  stateDir: string;
  /** The repositories a token must reach (the worker's --repo, HARNESS_REPOSITORIES). */
  repositories?: { owner: string; repo: string }[];
  /** The sandbox to try; default: the one the environment asks for. */
  sandbox?: Sandbox;
  /** Start mode: make the state directory 0700 when it is ours (as every start did before), instead of only reporting it. */
  repairStateDir?: boolean;
  fetch?: typeof fetch;
  nodeVersion?: string;
  gitPath?: string;
  statfs?: StatFs;
  /** Per network request; default 10 s. */
  timeoutMs?: number;
}

/** The Node.js majors the harness is tested on; 20 still runs but is past its end of life. */
const NODE_SUPPORTED_MAJOR = 22;
const NODE_LAST_WORKING_MAJOR = 20;

/**
 * Every harness git command sets GIT_CONFIG_GLOBAL=/dev/null and passes its
 * credential helper through GIT_CONFIG_COUNT (src/adapters/git.ts): git 2.32
 * is the first that honours both. An older git would read the user's global
 * config and ignore the harness's settings.
 */
export const MIN_GIT_VERSION = "2.32.0";

/** The preflight's line for a CLI version: verified or not, and the range (src/adapters/claude/cli-version.ts). */
function describeCliVersion(version: string): { verified: boolean; message: string } {
  const { min, max } = VERIFIED_CLI_VERSIONS;
  const verified = compareVersions(version, min) >= 0 && compareVersions(version, max) <= 0;
  const range = min === max ? min : `${min} to ${max}`;
  return {
    verified,
    message: verified ? `Claude Code ${version}, verified (${range})` : `Claude Code ${version} is outside the verified range ${range}`,
  };
}

const pass = (name: string, detail: string): PreflightCheck => ({ name, ok: "pass", detail, fix: "" });
const warn = (name: string, detail: string, fix: string): PreflightCheck => ({ name, ok: "warn", detail, fix });
const fail = (name: string, detail: string, fix: string): PreflightCheck => ({ name, ok: "fail", detail, fix });

export function checkNode(version: string = process.versions.node): PreflightCheck {
  const major = Number(version.split(".")[0]);
  if (major >= NODE_SUPPORTED_MAJOR) return pass("node", `Node.js ${version}`);
  if (major >= NODE_LAST_WORKING_MAJOR)
    return warn(
      "node",
      `Node.js ${version} runs the harness, but Node ${major} is past its end of life and dependencies want 22 or later`,
      "Install Node.js 22 or 24 LTS.",
    );
  return fail(
    "node",
    `Node.js ${version} is too old: the harness needs Node ${NODE_LAST_WORKING_MAJOR} or later (22 or 24 LTS recommended)`,
    "Install Node.js 22 or 24 LTS.",
  );
}

export async function checkGit(gitPath = "git"): Promise<PreflightCheck> {
  const result = await execa(gitPath, ["--version"], { reject: false, stdin: "ignore" }).catch((error: unknown) => ({
    exitCode: -1,
    stdout: "",
    stderr: String(error),
  }));
  const version = result.exitCode === 0 ? /(\d+\.\d+(?:\.\d+)?)/.exec(String(result.stdout))?.[1] : undefined;
  if (version === undefined)
    return fail("git", `git was not found or did not answer --version (${gitPath})`, `Install git ${MIN_GIT_VERSION} or later (apt-get install git).`);
  if (compareVersions(version, MIN_GIT_VERSION) < 0)
    return fail(
      "git",
      `git ${version} is older than ${MIN_GIT_VERSION}, the first that honours GIT_CONFIG_GLOBAL and GIT_CONFIG_COUNT, which every harness git command relies on`,
      `Install git ${MIN_GIT_VERSION} or later.`,
    );
  return pass("git", `git ${version}`);
}

export async function checkClaudeCli(cliPath: string, source = "the configured path"): Promise<PreflightCheck> {
  const fix = "Install the Claude Code CLI (npm install -g @anthropic-ai/claude-code) or set CLAUDE_PATH to its binary.";
  try {
    await fs.access(cliPath, constants.X_OK);
  } catch {
    return fail("claude-cli", `the Claude Code CLI was not found at ${cliPath} (${source}), or is not executable`, fix);
  }
  const version = await readCliVersion(cliPath).catch(() => undefined);
  if (version === undefined) return fail("claude-cli", `${cliPath} (${source}) did not answer \`--version\` with a version`, fix);
  const verdict = describeCliVersion(version);
  if (!verdict.verified)
    return warn(
      "claude-cli",
      `${verdict.message}, at ${cliPath} (${source})`,
      `Install a verified version (npm install -g @anthropic-ai/claude-code@${VERIFIED_CLI_VERSIONS.max}) and point CLAUDE_PATH at it, or run it knowing the stream-json output may differ.`,
    );
  return pass("claude-cli", `${verdict.message}, at ${cliPath} (${source})`);
}

/**
 * One cheap request to the model endpoint: `GET /v1/models?limit=1` with the
 * key the CLI would send. Bedrock and Vertex sign their own requests: not checked.
 */
export async function checkModel(env: NodeJS.ProcessEnv, http: typeof fetch = fetch, timeoutMs = 10_000): Promise<PreflightCheck> {
  const modelEnv = modelEnvFrom(env);
  const provider = modelProvider(modelEnv);
  if (provider !== "anthropic") {
    const name = provider === "bedrock" ? "Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK)" : "Google Vertex AI (CLAUDE_CODE_USE_VERTEX)";
    return warn(
      "model",
      `not checked: ${name} is signed by the CLI itself; its credentials are first tried by the first session`,
      "Nothing to do if the provider's credentials are right; note that a repository with sandbox.network: isolated (the default) refuses Bedrock and Vertex.",
    );
  }
  const { ANTHROPIC_API_KEY: apiKey, ANTHROPIC_AUTH_TOKEN: authToken, CLAUDE_CODE_OAUTH_TOKEN: oauth } = modelEnv;
  const keyFix =
    "Set ANTHROPIC_API_KEY (an Anthropic API key), or ANTHROPIC_BASE_URL with ANTHROPIC_AUTH_TOKEN (a gateway), or CLAUDE_CODE_OAUTH_TOKEN (claude setup-token), or CLAUDE_CODE_USE_BEDROCK / CLAUDE_CODE_USE_VERTEX with their settings (README: Model settings).";
  if (!apiKey && !authToken) {
    if (oauth)
      return warn(
        "model",
        "not checked: a subscription token (CLAUDE_CODE_OAUTH_TOKEN) is used by the CLI only; no request is made with it here",
        "Nothing to do if the token is current (claude setup-token makes one).",
      );
    return fail("model", "no model credential is set", keyFix);
  }
  const base = (modelEnv.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com").replace(/\/+$/, "");
  const url = `${base}/v1/models?limit=1`;
  const headers: Record<string, string> = { "anthropic-version": "2023-06-01" };
  if (apiKey) headers["x-api-key"] = apiKey;
  if (authToken) headers.authorization = `Bearer ${authToken}`;
  const using = apiKey ? "ANTHROPIC_API_KEY" : "ANTHROPIC_AUTH_TOKEN";
  let response: Response;
  try {
    response = await http(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const reason = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    return fail(
      "model",
      `the model endpoint ${base} could not be reached: ${reason}`,
      "Check ANTHROPIC_BASE_URL (unset means https://api.anthropic.com), the host's network, and HTTPS_PROXY/NODE_EXTRA_CA_CERTS if a proxy is in the way.",
    );
  }
  const body = await response.text().catch(() => "");
  const apiError = errorOf(body);
  if (response.ok) return pass("model", `${base} accepted ${using} (GET /v1/models answered ${response.status})`);
  if (response.status === 401 || response.status === 403)
    return fail(
      "model",
      `${base} refused ${using}: ${response.status}${apiError ? ` ${apiError}` : ""}`,
      `Set ${using} to a valid, current credential for ${base}.`,
    );
  if (response.status === 404)
    return warn(
      "model",
      `${base} is reachable but has no GET /v1/models (404): ${using} was not verified`,
      "Nothing to do if this is a gateway without that route; the first session tries the key.",
    );
  return warn(
    "model",
    `${base} answered GET /v1/models with ${response.status}${apiError ? ` ${apiError}` : ""}: ${using} was not verified`,
    "Try again later; check the endpoint's status if it persists.",
  );
}

function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: string; message?: string }; message?: string };
    if (parsed.error) return `${parsed.error.type ?? "error"}: ${parsed.error.message ?? ""}`.trim();
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  return "";
}

const GITHUB_FIX_TOKEN =
  "Set GITHUB_TOKEN to a token that can read and write the repositories' contents, issues and pull requests (a fine-grained token with those permissions, or a classic token with the repo scope).";

/** GitHub credentials: a token (GET /repos/… for each repository, or GET /user), or the App (JWT → GET /app, GET /app/installations). */
export async function checkGitHub(
  env: NodeJS.ProcessEnv,
  role: PreflightRole | undefined,
  repositories: { owner: string; repo: string }[],
  http: typeof fetch = fetch,
  timeoutMs = 10_000,
): Promise<PreflightCheck> {
  const api = (env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
  const once = (route: string, authorization: string): Promise<Response> =>
    http(`${api}${route}`, {
      headers: { authorization, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28", "user-agent": "claude-harness-doctor" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  // Up to two retries of a transient failure (a reset, a 5xx, a rate limit), as the harness's own client would retry.
  const get = async (route: string, authorization: string): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      const response = await once(route, authorization).catch((error: unknown) => {
        if (attempt >= 3) throw error;
        return null;
      });
      if (response !== null && (attempt >= 3 || !(await transient(response)))) return response;
    }
  };
  const unreachable = (error: unknown): PreflightCheck =>
    fail(
      "github",
      `${api} could not be reached: ${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)}`,
      "Check GITHUB_API_URL (unset means https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3) and the host's network.",
    );
  const useApp = role !== "worker" && env.APP_ID !== undefined && env.APP_ID !== "";
  if (useApp) {
    let key: string | undefined;
    try {
      key = env.PRIVATE_KEY ?? (env.PRIVATE_KEY_PATH ? readFileSync(env.PRIVATE_KEY_PATH, "utf8") : undefined);
    } catch {
      return fail(
        "github",
        `PRIVATE_KEY_PATH ${env.PRIVATE_KEY_PATH} cannot be read`,
        "Point PRIVATE_KEY_PATH at the App's private key (.pem), readable by this user.",
      );
    }
    if (!key)
      return fail(
        "github",
        "APP_ID is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH",
        "Set PRIVATE_KEY_PATH to the App's private key file (GitHub → Settings → Developer settings → GitHub Apps → your app → Private keys).",
      );
    let jwt: string;
    try {
      jwt = appJwt(env.APP_ID as string, key.replace(/\\n/g, "\n"));
    } catch {
      return fail(
        "github",
        "the App's private key is not a PEM RSA private key",
        "Set PRIVATE_KEY_PATH to the .pem file GitHub gave for the App (-----BEGIN RSA PRIVATE KEY-----).",
      );
    }
    try {
      const app = await get("/app", `Bearer ${jwt}`);
      if (!app.ok) {
        const message = errorOf(await app.text().catch(() => ""));
        return fail(
          "github",
          `GitHub refused the App's JWT for APP_ID ${env.APP_ID}: ${app.status}${message ? ` ${message}` : ""}`,
          "Check that APP_ID and the private key belong to the same App, and that the host's clock is right (the JWT is valid for minutes).",
        );
      }
      const { slug } = (await app.json()) as { slug?: string };
      const installations = await get("/app/installations?per_page=100", `Bearer ${jwt}`);
      if (!installations.ok) return fail("github", `GET /app/installations answered ${installations.status}`, "Check the App's settings on GitHub.");
      const list = (await installations.json()) as unknown[];
      if (list.length === 0)
        return warn(
          "github",
          `the App ${slug ?? env.APP_ID} is installed nowhere: it receives no events`,
          "Install the App on the repositories it should work on (the App's page → Install App).",
        );
      return pass("github", `the App ${slug ?? env.APP_ID} (APP_ID ${env.APP_ID}) is installed ${list.length === 1 ? "once" : `${list.length} times`}`);
    } catch (error) {
      return unreachable(error);
    }
  }
  const token = env.GITHUB_TOKEN;
  if (!token) {
    return role === "worker" || role === undefined
      ? fail("github", "no GitHub credentials: GITHUB_TOKEN is not set", GITHUB_FIX_TOKEN)
      : fail(
          "github",
          "no GitHub credentials: neither APP_ID with PRIVATE_KEY/PRIVATE_KEY_PATH nor GITHUB_TOKEN",
          "Set APP_ID and PRIVATE_KEY_PATH (the GitHub App), or GITHUB_TOKEN (token mode, with HARNESS_REPOSITORIES).",
        );
  }
  const authorization = `token ${token}`;
  const scopesProblem = (response: Response): PreflightCheck | null => {
    const scopes = response.headers.get("x-oauth-scopes");
    if (scopes === null) return null; // not a classic token
    const list = scopes.split(",").map((s) => s.trim());
    if (list.includes("repo") || list.includes("public_repo")) return null;
    return fail(
      "github",
      `the classic token's scopes (${scopes || "none"}) do not include repo`,
      "Give the token the repo scope (or public_repo for public repositories only), or use a fine-grained token.",
    );
  };
  try {
    if (repositories.length > 0) {
      const seen: string[] = [];
      for (const { owner, repo } of repositories.slice(0, 20)) {
        const response = await get(`/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`, authorization);
        if (response.status === 401)
          return fail("github", `GitHub refused GITHUB_TOKEN (401 ${errorOf(await response.text().catch(() => "")) || "Bad credentials"})`, GITHUB_FIX_TOKEN);
        if (response.status === 404 || (response.status === 403 && !(await transient(response))))
          return fail(
            "github",
            `GITHUB_TOKEN cannot see ${owner}/${repo} (${response.status})`,
            `Check the repository's name, and give the token access to ${owner}/${repo}.`,
          );
        if (await transient(response))
          return warn(
            "github",
            `GET /repos/${owner}/${repo} answered ${response.status} three times: GITHUB_TOKEN was not verified`,
            "Check GitHub's status; nothing to do if it is a passing outage.",
          );
        if (!response.ok) return fail("github", `GET /repos/${owner}/${repo} answered ${response.status}`, "Check GitHub's status and try again.");
        const problem = scopesProblem(response);
        if (problem) return problem;
        const json = (await response.json()) as { permissions?: { push?: boolean } };
        if (json.permissions && json.permissions.push === false)
          return fail(
            "github",
            `GITHUB_TOKEN can read ${owner}/${repo} but not push to it`,
            `Give the token write access to ${owner}/${repo} (contents, issues, pull requests).`,
          );
        seen.push(`${owner}/${repo}`);
      }
      return pass("github", `GITHUB_TOKEN reaches ${seen.join(", ")}${repositories.length > seen.length ? ` (first ${seen.length} checked)` : ""}`);
    }
    const user = await get("/user", authorization);
    if (user.status === 401) return fail("github", "GitHub refused GITHUB_TOKEN (401 Bad credentials)", GITHUB_FIX_TOKEN);
    if (user.ok) {
      const problem = scopesProblem(user);
      if (problem) return problem;
      const { login } = (await user.json()) as { login?: string };
      return pass("github", `GITHUB_TOKEN is ${login ?? "a user's token"} (no repositories named to check: --repo or HARNESS_REPOSITORIES)`);
    }
    // An installation token has no user: it lists its repositories instead.
    const repos = await get("/installation/repositories?per_page=1", authorization);
    if (repos.ok) {
      const { total_count: total } = (await repos.json()) as { total_count?: number };
      return pass("github", `GITHUB_TOKEN is an installation token for ${total ?? "some"} repositories`);
    }
    return fail("github", `GITHUB_TOKEN was not accepted by GET /user (${user.status}) nor GET /installation/repositories (${repos.status})`, GITHUB_FIX_TOKEN);
  } catch (error) {
    return unreachable(error);
  }
}

/** A 5xx, a 429, or a 403 that is a rate limit: GitHub says nothing about the credentials. */
async function transient(response: Response): Promise<boolean> {
  if (response.status >= 500 || response.status === 429) return true;
  if (response.status !== 403) return false;
  if (response.headers.get("x-ratelimit-remaining") === "0" || response.headers.get("retry-after") !== null) return true;
  return /rate limit/i.test(
    await response
      .clone()
      .text()
      .catch(() => ""),
  );
}

function appJwt(appId: string, privateKey: string): string {
  const b64 = (value: string | Buffer): string => Buffer.from(value).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = b64(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const body = b64(JSON.stringify({ iat: now - 60, exp: now + 540, iss: appId }));
  const signature = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey);
  return `${head}.${body}.${b64(signature)}`;
}

/** The minimum length of a webhook secret; below it, a secret passes only when it looks like random bytes. */
export const MIN_WEBHOOK_SECRET_LENGTH = 32;

export function checkWebhookSecret(secret: string | undefined): PreflightCheck {
  const fix = "Set WEBHOOK_SECRET to a random secret of at least 32 characters (openssl rand -hex 32), in the App's settings and here.";
  if (!secret) return fail("webhook-secret", "WEBHOOK_SECRET is not set: the app cannot tell GitHub's deliveries from forged ones", fix);
  const distinct = new Set(secret).size;
  if (secret.length < MIN_WEBHOOK_SECRET_LENGTH)
    return fail("webhook-secret", `WEBHOOK_SECRET is ${secret.length} characters long; the app wants at least ${MIN_WEBHOOK_SECRET_LENGTH}`, fix);
  if (distinct < 8) return fail("webhook-secret", `WEBHOOK_SECRET has only ${distinct} distinct characters: it is guessable`, fix);
  return pass("webhook-secret", `WEBHOOK_SECRET is ${secret.length} characters long`);
}

export async function checkSandbox(env: NodeJS.ProcessEnv, given?: Sandbox): Promise<PreflightCheck> {
  let sandbox: Sandbox;
  try {
    sandbox = given ?? sandboxFromEnv(env);
  } catch (error) {
    if (isHarnessError(error)) return fail("sandbox", `${error.message} (${error.code})`, error.fix);
    throw error;
  }
  if (sandbox.backend === "none")
    return warn(
      "sandbox",
      "UNSAFE: agents run without a sandbox (HARNESS_UNSAFE_NO_SANDBOX=1): an issue's text can make the agent read this host's credentials and change the harness's files",
      "Install bubblewrap (apt-get install bubblewrap) and unset HARNESS_SANDBOX and HARNESS_UNSAFE_NO_SANDBOX.",
    );
  try {
    await sandbox.preflight();
  } catch (error) {
    if (isHarnessError(error)) return fail("sandbox", `${error.message} (${error.code})`, error.fix);
    return fail("sandbox", `the ${sandbox.backend} sandbox failed: ${String(error)}`, "Run harness doctor again after installing bubblewrap 0.8 or later.");
  }
  if (sandbox.backend === "uid")
    return pass("sandbox", `uid: a trivial command ran in the sandbox as the first slot uid of HARNESS_SANDBOX_UIDS=${env.HARNESS_SANDBOX_UIDS ?? ""}`);
  return pass("sandbox", `${sandbox.backend}: a trivial command ran in the sandbox`);
}

/** The state directory itself, or its nearest existing parent. */
async function existingDir(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await fs.stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

export async function checkDisk(env: NodeJS.ProcessEnv, stateDir: string, statfs?: StatFs): Promise<PreflightCheck> {
  const raw = env.HARNESS_MIN_FREE_DISK_MB;
  const min = raw === undefined || raw === "" ? DEFAULT_MIN_FREE_DISK_MB : Number(raw);
  if (!Number.isInteger(min) || min < 0)
    return fail("disk", `HARNESS_MIN_FREE_DISK_MB is "${raw}", not a number of MiB`, "Set HARNESS_MIN_FREE_DISK_MB to a whole number like 2048, or unset it.");
  const dir = await existingDir(stateDir);
  const free = Math.floor(await freeDiskMb(dir, statfs));
  if (free < min)
    return fail(
      "disk",
      `${free} MiB free on the file system of ${dir}; the worker needs ${min} MiB (HARNESS_MIN_FREE_DISK_MB)`,
      "Free disk space (old worktrees, session transcripts under the state directory, build caches), point HARNESS_STATE_DIR at a larger disk, or lower HARNESS_MIN_FREE_DISK_MB.",
    );
  return pass("disk", `${free} MiB free on the file system of ${dir} (at least ${min} wanted)`);
}

/** `traversable`: the uid sandbox's state directory, whose slots pass through it (o+x, never read: 0701 passes). */
export async function checkStateDir(stateDir: string, repair = false, traversable = false): Promise<PreflightCheck> {
  const closed = traversable ? 0o076 : 0o077;
  const dir = path.resolve(stateDir);
  let stat: import("node:fs").Stats;
  try {
    stat = await fs.stat(dir);
  } catch {
    if (!repair) return pass("state-dir", `${dir} does not exist yet; app and worker create it 0700`);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      stat = await fs.stat(dir);
    } catch (error) {
      return fail(
        "state-dir",
        `${dir} cannot be created: ${error instanceof Error ? error.message : String(error)}`,
        "Point HARNESS_STATE_DIR at a directory this user can create, or create it (mkdir -m 700).",
      );
    }
  }
  if (!stat.isDirectory()) return fail("state-dir", `${dir} is not a directory`, "Point HARNESS_STATE_DIR at a directory, or remove the file.");
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid)
    return fail(
      "state-dir",
      `${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid})`,
      `Run the harness as the directory's owner, or chown it: chown -R ${uid} ${dir}.`,
    );
  if ((stat.mode & closed) !== 0 && repair) {
    await fs.chmod(dir, 0o700);
    stat = await fs.stat(dir);
  }
  const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
  if ((stat.mode & closed) !== 0)
    return fail(
      "state-dir",
      `${dir} is ${mode}: other users of the host can read transcripts and sessions`,
      `chmod 700 ${dir} (app and worker do so at start).`,
    );
  return pass("state-dir", `${dir} is ${mode}, owned by this user`);
}

/** Runs every check that applies to `role`, in a fixed order. */
export async function runPreflight(input: PreflightInput): Promise<PreflightCheck[]> {
  const { env } = input;
  const http = input.fetch ?? fetch;
  const timeoutMs = input.timeoutMs ?? 10_000;
  const webhook = input.role === "app" || (input.role === undefined && (Boolean(env.APP_ID) || Boolean(env.WEBHOOK_SECRET)));
  const checks = await Promise.all([
    Promise.resolve(checkNode(input.nodeVersion)),
    checkGit(input.gitPath),
    checkClaudeCli(input.cliPath, input.cliSource),
    checkModel(env, http, timeoutMs),
    checkGitHub(env, input.role, input.repositories ?? [], http, timeoutMs),
    ...(webhook ? [Promise.resolve(checkWebhookSecret(env.WEBHOOK_SECRET))] : []),
    checkSandbox(env, input.sandbox),
    checkDisk(env, input.stateDir, input.statfs),
    checkStateDir(input.stateDir, input.repairStateDir, env.HARNESS_SANDBOX === "uid"),
  ]);
  const redact = redactorOf(env);
  return checks.map((c) => ({ ...c, detail: redact(c.detail), fix: redact(c.fix) }));
}

function redactorOf(env: NodeJS.ProcessEnv): Redactor {
  try {
    return redactorFromEnv(env);
  } catch {
    return createRedactor([]);
  }
}

/** EHARNESS_PREFLIGHT listing the failed checks and their fixes, or null when none failed. */
export function preflightError(checks: PreflightCheck[], command: string): HarnessError | null {
  const failed = checks.filter((c) => c.ok === "fail");
  if (failed.length === 0) return null;
  return new HarnessError("EHARNESS_PREFLIGHT", {
    message: `${command} did not start: ${failed.length === 1 ? "a preflight check failed" : `${failed.length} preflight checks failed`}: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}.`,
    fix: failed.map((c) => `${c.name}: ${c.fix}`).join(" ") + " (harness doctor shows every check.)",
  });
}

/**
 * The start of `harness app` and `harness worker`: every check, the state
 * directory made 0700 as before, warnings logged, and EHARNESS_PREFLIGHT
 * thrown on a failure before anything is claimed.
 */
export async function assertPreflight(input: PreflightInput & { role: PreflightRole; log: Logger }): Promise<PreflightCheck[]> {
  const checks = await runPreflight({ ...input, repairStateDir: true });
  for (const check of checks) {
    if (check.ok === "warn")
      (check.name === "sandbox" ? input.log.error.bind(input.log) : input.log.warn.bind(input.log))({ check: check.name, fix: check.fix }, check.detail);
  }
  const error = preflightError(checks, `harness ${input.role}`);
  if (error) throw error;
  input.log.info({ checks: checks.map((c) => `${c.name}:${c.ok}`) }, "preflight passed");
  return checks;
}
