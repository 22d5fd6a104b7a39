import { promises as fs } from "node:fs";
import path from "node:path";
import { sessionFile } from "./session-store.js";

/**
 * A session this host ran and still keeps: when it was not pushed (a public
 * repository without HARNESS_SESSION_KEY) a `/retry` on the same host resumes
 * from the attempt directories of the state dir
 * (`sessions/<id>-attempt-<n>/home/.claude/projects/<key>/<id>.jsonl`, the
 * newest attempt first), copied under the new attempt's HOME for `cwd`.
 * Returns the file it wrote, or null when this host has no copy.
 */
export async function restoreLocalSession(input: { sessionsDir: string; sessionId: string; home: string; cwd: string }): Promise<string | null> {
  const prefix = `${input.sessionId}-attempt-`;
  let entries: string[];
  try {
    entries = await fs.readdir(input.sessionsDir);
  } catch {
    return null;
  }
  const attempts = entries
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)));
  const target = sessionFile(input.home, input.cwd, input.sessionId);
  for (const attempt of attempts) {
    const projects = path.join(input.sessionsDir, attempt, "home", ".claude", "projects");
    let keys: string[];
    try {
      keys = await fs.readdir(projects);
    } catch {
      continue;
    }
    for (const key of keys) {
      const file = path.join(projects, key, `${input.sessionId}.jsonl`);
      if (file === target) continue;
      try {
        const text = await fs.readFile(file);
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.writeFile(target, text, { mode: 0o600 });
        return target;
      } catch {
        // Not in this project directory: look on.
      }
    }
  }
  return null;
}
