import type { HarnessError } from "../core/errors.js";

/** A repository a command works on. */
export interface RepositoryName {
  owner: string;
  repo: string;
}

const NAME = /^([^/\s]+)\/([^/\s]+)$/;

/**
 * The repositories a command names: its `--repo` values, then
 * `HARNESS_REPOSITORIES` (comma-separated, spaces around names allowed), each
 * once (GitHub's names are case-insensitive; the first spelling is kept). A
 * name that is not `owner/repo` is refused with `refuse(message)` — the
 * command's usage error — never dropped, so a typo cannot silently leave a
 * repository unworked. The one reader of HARNESS_REPOSITORIES.
 */
export function repositoriesFrom(
  options: { flags?: readonly string[] | undefined; env: NodeJS.ProcessEnv },
  refuse: (message: string) => HarnessError,
): RepositoryName[] {
  const fromEnv = (options.env.HARNESS_REPOSITORIES ?? "").split(",").filter((s) => s.trim() !== "");
  const seen = new Map<string, RepositoryName>();
  for (const name of [...(options.flags ?? []), ...fromEnv]) {
    const m = NAME.exec(name.trim());
    if (!m?.[1] || !m[2]) {
      throw refuse(`"${name}" is not owner/repo${(options.flags ?? []).includes(name) ? "" : " (in HARNESS_REPOSITORIES)"}.`);
    }
    const key = `${m[1]}/${m[2]}`.toLowerCase();
    if (!seen.has(key)) seen.set(key, { owner: m[1], repo: m[2] });
  }
  return [...seen.values()];
}

/** `owner/repo` */
export function repositoryFullName(r: RepositoryName): string {
  return `${r.owner}/${r.repo}`;
}
