import type { HarnessConfig } from "../core/config.js";
import { isBot, maySteer } from "../core/commands.js";
import { renderPromptComments } from "../core/prompt-comments.js";
import type { GitHubClient, IssueData } from "../adapters/github-client.js";

/**
 * The issue's comments as the prompt shows them (src/core/prompt-comments.ts):
 * reads them and each commenter's permission (once per person). A commenter
 * whose permission cannot be read counts as without write access: their
 * comment is left out (fail closed).
 */
export async function readPromptComments(
  deps: { github: GitHubClient; config: HarnessConfig },
  issue: IssueData,
): Promise<{ text: string; included: number; leftOut: number }> {
  const comments = await deps.github.listIssueComments(issue.number);
  const logins = new Map<string, string>();
  for (const c of comments) if (c.user && !isBot(c.user)) logins.set(c.user.login.toLowerCase(), c.user.login);
  const writers = new Set<string>();
  await Promise.all(
    [...logins].map(async ([key, login]) => {
      const permission = await deps.github.permission(login).catch(() => null);
      if (permission !== null && maySteer(permission)) writers.add(key);
    }),
  );
  return renderPromptComments({ comments, writers, author: issue.author ?? null, authorComments: deps.config.trust.authorComments });
}
