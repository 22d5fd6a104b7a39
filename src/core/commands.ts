/**
 * Steering commands in issue comments: `/interrupt`, `/retry`, `/retry fresh`,
 * `/retry <instructions>`, `/status`, `/convoy #12 #13`, and on the agent's pull request
 * `/harness <instructions>`. A command is a line of its own, outside code blocks
 * and quotes, so that quoting or documenting a command never triggers it.
 */

export type SteeringCommand =
  | { kind: "interrupt" }
  /** `instructions`: a follow-up's text (docs/pull-request-follow-ups.md), absent for a plain retry. */
  | { kind: "retry"; fresh: boolean; instructions?: string }
  | { kind: "status" }
  /** `/harness <instructions>` in a comment on the agent's pull request: a follow-up session. */
  | { kind: "harness"; instructions: string }
  /** `/convoy #12 #13 owner/repo#4`: make this issue a convoy of those items (none: of its own sub-issues), docs/convoys.md. */
  | { kind: "convoy"; items: string[] };

const COMMAND_LINE = /^\/(interrupt|retry|status)(?:[ \t]+(\S+))?[ \t]*$/;
const CONVOY_LINE = /^\/convoy((?:[ \t]+\S+)*)[ \t]*$/;
/** `/retry` or `/harness` with text after it on the line, the text's following lines included. */
const INSTRUCTION_LINE = /^\/(retry|harness)(?:[ \t]+(.*))?$/;

/**
 * The instructions of `/retry …` or `/harness …`: the rest of the command's line and every line
 * after it, trimmed. `/retry` needs two words or more, or text on the following lines: a single
 * word after it (`/retry later` in prose) is not a command, and `/retry fresh` keeps its meaning.
 * A bare `/retry` (or `/retry fresh`) line stays a plain retry whatever follows it.
 */
function instructionsOf(name: string, rest: string, following: string[]): SteeringCommand | null {
  let text = [rest, ...following].join("\n").trim();
  if (name === "harness") return text === "" ? null : { kind: "harness", instructions: text };
  let fresh = false;
  const first = /^(\S+)(?:[ \t]+|\n|$)/.exec(text);
  if (first?.[1] === "fresh" && text.length > first[0].length) {
    fresh = true;
    text = text.slice(first[0].length).trim();
  }
  const singleWord = !/\s/.test(text);
  if (text === "" || (singleWord && following.every((l) => l.trim() === ""))) return null;
  return { kind: "retry", fresh, instructions: text };
}

/** The first command in a comment body, or null when there is none. */
export function parseCommand(body: string): SteeringCommand | null {
  let fence: string | null = null;
  const lines = body.replace(/\r\n?/g, "\n").split("\n");
  for (const [index, rawLine] of lines.entries()) {
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(rawLine);
    if (fenceMatch) {
      const marker = fenceMatch[1] as string;
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length && rawLine.trim() === marker) fence = null;
      continue;
    }
    if (fence !== null) continue;
    if (/^( {4}|\t)/.test(rawLine)) continue; // indented code block
    const line = rawLine.trim();
    if (line.startsWith(">")) continue; // quote
    const convoy = CONVOY_LINE.exec(line);
    if (convoy) return { kind: "convoy", items: (convoy[1] ?? "").split(/[ \t]+/).filter((w) => w !== "") };
    const match = COMMAND_LINE.exec(line);
    if (!match) {
      const withText = INSTRUCTION_LINE.exec(line);
      const parsed = withText ? instructionsOf(withText[1] as string, withText[2] ?? "", lines.slice(index + 1)) : null;
      if (parsed) return parsed;
      continue;
    }
    const [, name, argument] = match;
    if (name === "interrupt" && argument === undefined) return { kind: "interrupt" };
    if (name === "status" && argument === undefined) return { kind: "status" };
    if (name === "retry" && (argument === undefined || argument === "fresh")) return { kind: "retry", fresh: argument === "fresh" };
  }
  return null;
}

/** GitHub's collaborator permission (and role name) that may steer agents. */
export function maySteer(permission: { permission: string; role_name?: string | null }): boolean {
  const role = permission.role_name ?? permission.permission;
  return role === "admin" || role === "maintain" || role === "write" || permission.permission === "admin" || permission.permission === "write";
}

/** Comments from bots are never commands (loops between apps start that way). */
export function isBot(user: { login: string; type?: string | null }): boolean {
  return user.type === "Bot" || user.login.endsWith("[bot]");
}
