import { readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";

/**
 * Reads `.env` from the working directory into `env`, as Probot apps do: the
 * file Probot's App registration writes (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET),
 * or any `NAME=value` lines. A variable already set in the environment wins over
 * the file. No file is not an error. Returns the names it set.
 */
export function loadDotEnv(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(cwd, ".env"), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
