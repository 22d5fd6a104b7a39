import type { GitHubClient } from "./github-client.js";

/**
 * Whether the client's credential may push changes to `.github/workflows/`, known in advance
 * only in App mode: the installation token's `permissions` (what `POST
 * /app/installations/{id}/access_tokens` answered, cached with the token by @octokit/auth-app,
 * so no request is spent) include `workflows: "write"` or not. Null when it cannot be known
 * before the push (a personal token, the Action's `GITHUB_TOKEN`): GitHub's refusal is then read
 * from git's output.
 */
export async function readWorkflowPermission(github: GitHubClient): Promise<boolean | null> {
  const auth = (await github.api.auth({ type: "installation" })) as { tokenType?: unknown; permissions?: unknown };
  if (auth.tokenType !== "installation" || typeof auth.permissions !== "object" || auth.permissions === null) return null;
  return (auth.permissions as Record<string, unknown>).workflows === "write";
}
