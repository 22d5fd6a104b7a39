/**
 * Which of an issue's comments reach the agent's prompt, and how: only those
 * of people with write, maintain or admin access, and the issue author's only
 * when `trust.authorComments` allows it. Bots (the harness's own App among
 * them), the harness's own comments (`<!-- harness:` markers) and bare
 * steering commands never do. Each comment, hidden text stripped, is fenced as
 * untrusted data with its own random delimiter and labeled with who wrote it;
 * the prompt says how many others were left out. Pure: the session stage
 * reads the comments and the permissions.
 */
import { isBot, parseCommand } from "./commands.js";
import { fenceUntrusted } from "./render-template.js";
import { stripHidden } from "./strip-hidden.js";

export interface PromptComment {
  body: string;
  user: { login: string; type: string | null } | null;
  createdAt: string;
}

/** At most this many comments (the newest) reach the prompt, each cut at MAX_CHARS. */
const MAX_COMMENTS = 30;
const MAX_CHARS = 8_000;

/**
 * Whether a comment can reach the prompt at all, by its author's permission: not a bot's, not
 * the harness's own (`<!-- harness:` markers), not a bare steering command. Only these
 * commenters' permissions need reading.
 */
export function mayQuote(comment: PromptComment): comment is PromptComment & { user: NonNullable<PromptComment["user"]> } {
  const user = comment.user;
  if (user === null || isBot(user) || comment.body.trimStart().startsWith("<!-- harness:")) return false;
  return !(parseCommand(comment.body) !== null && comment.body.trim().split("\n").length === 1);
}

export function renderPromptComments(input: {
  comments: PromptComment[];
  /** Lower-cased logins with write, maintain or admin access. */
  writers: ReadonlySet<string>;
  /** Who filed the issue. */
  author: string | null;
  /** `trust.authorComments`. */
  authorComments: boolean;
}): { text: string; included: number; leftOut: number } {
  const author = input.author?.toLowerCase() ?? null;
  const kept: { comment: PromptComment; who: string }[] = [];
  let leftOut = 0;
  for (const comment of input.comments) {
    if (!mayQuote(comment)) continue;
    const user = comment.user;
    const login = user.login.toLowerCase();
    if (input.writers.has(login)) kept.push({ comment, who: `comment by @${user.login} (write access) at ${comment.createdAt}` });
    else if (input.authorComments && login === author) {
      kept.push({ comment, who: `comment by @${user.login}, the issue's author, without write access, at ${comment.createdAt}` });
    } else leftOut += 1;
  }
  const shown = kept.slice(-MAX_COMMENTS);
  const older = kept.length - shown.length;
  const blocks = shown.map(({ comment, who }) => {
    const text = stripHidden(comment.body).text;
    return fenceUntrusted(text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}\n(cut at ${MAX_CHARS} characters)` : text, who);
  });
  const notes = [
    ...(older > 0 ? [`(${older} older ${older === 1 ? "comment" : "comments"} not shown)`] : []),
    ...(leftOut > 0 ? [`(${leftOut} ${leftOut === 1 ? "comment" : "comments"} by people without write access left out)`] : []),
  ];
  const text = blocks.length === 0 ? ["(no comments from people with write access)", ...notes].join("\n") : [...blocks, ...notes].join("\n\n");
  return { text, included: shown.length, leftOut };
}
