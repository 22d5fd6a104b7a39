import type { HarnessConfig } from "../core/config.js";
import { maySteer } from "../core/commands.js";
import { mayQuote, renderPromptComments } from "../core/prompt-comments.js";
import type { GitHubClient, IssueData } from "../adapters/github-client.js";

/** The issue's comments as a prompt shows them (`{{issueComments}}`), and how many were left out. */
export interface PromptComments {
  text: string;
  included: number;
  leftOut: number;
}

/**
 * The issue's comments as the prompt shows them (src/core/prompt-comments.ts):
 * reads them and each commenter's permission (once per person). A commenter
 * whose permission cannot be read counts as without write access: their
 * comment is left out (fail closed).
 */
export async function readPromptComments(
  deps: {
    github: GitHubClient;
    config: HarnessConfig;
    /** Permission lookups shared with the claim's gates (src/runtime/claim-issue.ts `Claim.permission`); the client's otherwise. */
    permission?: GitHubClient["permission"];
  },
  issue: IssueData,
): Promise<PromptComments> {
  const comments = await deps.github.listIssueComments(issue.number);
  const logins = new Map<string, string>();
  // Only those whose comment could be quoted: the harness's own tracking comment costs no read (token mode: its author is a User).
  for (const c of comments) if (mayQuote(c)) logins.set(c.user.login.toLowerCase(), c.user.login);
  const writers = new Set<string>();
  await Promise.all(
    [...logins].map(async ([key, login]) => {
      const permission = await (deps.permission ?? ((l: string) => deps.github.permission(l)))(login).catch(() => null);
      if (permission !== null && maySteer(permission)) writers.add(key);
    }),
  );
  return renderPromptComments({ comments, writers, author: issue.author ?? null, authorComments: deps.config.trust.authorComments });
}
