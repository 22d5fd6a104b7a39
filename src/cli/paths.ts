import { existsSync } from "node:fs";
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

/** The Claude Code CLI: $CLAUDE_PATH, else the one installed with the package. */
export function defaultCliPath(): string {
  return process.env.CLAUDE_PATH ?? path.join(packageRoot(), "node_modules", ".bin", "claude");
}
