import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root, found from this file whether it runs from src/ (tsx) or dist/src/ (built). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("package.json not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export function promptsDir(): string {
  return path.join(packageRoot(), "prompts");
}

/** The script that runs inside the agent's sandbox in front of the CLI and links its loopback to the harness's proxies. */
export function forwarderPath(): string {
  return path.join(packageRoot(), "sandbox", "forwarder.mjs");
}

/** An executable regular file (following symlinks). */
function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The binary of the package's own dependency `@anthropic-ai/claude-code`, wherever npm put it
 * (nested in the package's node_modules, or hoisted beside it in an install), or null.
 */
export function bundledCliPath(): string | null {
  try {
    const manifest = createRequire(import.meta.url).resolve("@anthropic-ai/claude-code/package.json");
    const { bin } = JSON.parse(readFileSync(manifest, "utf8")) as { bin?: string | Record<string, string> };
    const relative = typeof bin === "string" ? bin : bin?.claude;
    if (relative === undefined) return null;
    const file = path.join(path.dirname(manifest), relative);
    return isExecutable(file) ? file : null;
  } catch {
    return null;
  }
}

/** The first executable `claude` in the directories of PATH (absolute ones only), or null. */
export function claudeOnPath(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "" || !path.isAbsolute(dir)) continue;
    const file = path.join(dir, "claude");
    if (isExecutable(file)) return file;
  }
  return null;
}

/**
 * The Claude Code CLI for `harness app`, `worker`, `demo` and `offline`, in this order: $CLAUDE_PATH
 * (as given); the package's own dependency (@anthropic-ai/claude-code, the verified version);
 * `claude` on PATH. Found nowhere: "claude", which the session refuses with EHARNESS_CLI_MISSING.
 */
export function defaultCliPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLAUDE_PATH) return env.CLAUDE_PATH;
  return bundledCliPath() ?? claudeOnPath(env) ?? "claude";
}
