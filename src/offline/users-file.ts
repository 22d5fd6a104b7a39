import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { HarnessError } from "../core/errors.js";
import type { Permission } from "./fake-github/types.js";

/** One person or bot of `harness offline --users FILE`. */
export interface OfflineUser {
  login: string;
  type: "User" | "Bot";
  permission: Permission;
  token: string;
}

const PERMISSIONS = ["admin", "maintain", "write", "triage", "read", "none"] as const;

const userSchema = z.strictObject({
  login: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/, "a GitHub login: letters, digits and dashes (a bot's ends in [bot])"),
  type: z.enum(["User", "Bot"]).optional(),
  permission: z.enum(PERMISSIONS),
  token: z.string().regex(/^\S{8,}$/, "at least 8 characters, no spaces"),
});

const FIX =
  "Write the users file as a list of {login, type: User|Bot, permission: admin|maintain|write|triage|read|none, token} (YAML or JSON), as docs/offline.md shows; logins and tokens must be unique and a Bot's login ends in [bot].";

/** Reads and checks a users file; every problem of the file is reported at once, as one EHARNESS_CONFIG error. */
export async function loadUsersFile(file: string): Promise<OfflineUser[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `--users ${file}: there is no such file.`,
      fix: "Pass an existing users file to --users.",
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = extname(file) === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `--users ${file} is not valid ${extname(file) === ".json" ? "JSON" : "YAML"}: ${String(error)}`,
      fix: FIX,
    });
  }
  const list: unknown = Array.isArray(raw) ? raw : typeof raw === "object" && raw !== null && "users" in raw ? (raw as { users: unknown }).users : raw;
  if (!Array.isArray(list)) throw new HarnessError("EHARNESS_CONFIG", { message: `--users ${file} is not a list of users.`, fix: FIX });
  // Every problem of every entry, so that one round of fixes is enough.
  const problems: string[] = [];
  const logins = new Map<string, number>();
  const tokens = new Map<string, number>();
  const users: OfflineUser[] = [];
  list.forEach((entry: unknown, i) => {
    const fields = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {};
    const login = typeof fields.login === "string" ? fields.login : null;
    const token = typeof fields.token === "string" ? fields.token : null;
    if (login !== null) {
      const same = logins.get(login.toLowerCase());
      if (same !== undefined) problems.push(`users[${i}] has the login "${login}" of users[${same}]`);
      else logins.set(login.toLowerCase(), i);
    }
    if (token !== null) {
      const same = tokens.get(token);
      if (same !== undefined) problems.push(`users[${i}] (${JSON.stringify(login ?? "")}) has the token of users[${same}]`);
      else tokens.set(token, i);
    }
    const parsed = userSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`users[${i}]${issue.path.map((p) => `.${String(p)}`).join("")}: ${issue.message}`);
      return;
    }
    const u = parsed.data;
    const isBotLogin = u.login.endsWith("[bot]");
    const type = u.type ?? (isBotLogin ? "Bot" : "User");
    if (type === "Bot" && !isBotLogin) problems.push(`users[${i}] "${u.login}" is a Bot, whose login on GitHub ends in [bot] (e.g. "${u.login}[bot]")`);
    if (type === "User" && isBotLogin) problems.push(`users[${i}] "${u.login}" ends in [bot], which only a Bot's login does: set type: Bot`);
    users.push({ login: u.login, type, permission: u.permission, token: u.token });
  });
  if (problems.length > 0) throw new HarnessError("EHARNESS_CONFIG", { message: `--users ${file}: ${problems.join("; ")}.`, fix: FIX });
  return users;
}
