/**
 * Steering commands in issue comments: `/interrupt`, `/retry`, `/retry fresh`,
 * `/status`, `/convoy #12 #13`. A command is a line of its own, outside code blocks and quotes, so
 * that quoting or documenting a command never triggers it.
 */

export type SteeringCommand =
  | { kind: "interrupt" }
  | { kind: "retry"; fresh: boolean }
  | { kind: "status" }
  /** `/convoy #12 #13 owner/repo#4`: make this issue a convoy of those items (none: of its own sub-issues), docs/convoys.md. */
  | { kind: "convoy"; items: string[] };

const COMMAND_LINE = /^\/(interrupt|retry|status)(?:[ \t]+(\S+))?[ \t]*$/;
const CONVOY_LINE = /^\/convoy((?:[ \t]+\S+)*)[ \t]*$/;

/** The first command in a comment body, or null when there is none. */
export function parseCommand(body: string): SteeringCommand | null {
  let fence: string | null = null;
  for (const rawLine of body.replace(/\r\n?/g, "\n").split("\n")) {
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
    if (!match) continue;
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
