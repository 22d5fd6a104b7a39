/**
 * Redaction of secrets from everything the harness writes (comments, PR bodies,
 * job summaries, logs). Pure: the secrets and patterns are passed in.
 *
 *   const { secrets, patterns } = secretsFromEnv(process.env);
 *   const redact = createRedactor(secrets, patterns);
 *   redact("token ghp_…")            // "token [redacted]"
 *   redactDeep({ msg: "…" }, redact) // a redacted copy of a log line
 */
import { HarnessError } from "./errors.js";

export const REDACTED = "[redacted]";

/** Secrets shorter than this are ignored: they would redact ordinary words. */
export const MIN_SECRET_LENGTH = 8;

export type Redactor = (text: string) => string;

/** Patterns applied whatever the configured secrets are. */
export const BUILTIN_PATTERNS: readonly RegExp[] = [
  // PEM private keys (an unterminated block is redacted to the end of the text).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  // GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), installation (ghs_), refresh (ghr_), fine-grained PATs.
  /\bgh[pousr]_[A-Za-z0-9]{20,255}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,255}\b/g,
  // Anthropic API keys and OAuth tokens (sk-ant-api03-…, sk-ant-oat01-…).
  /\bsk-ant-[A-Za-z0-9_-]{8,}/g,
];

/** `Authorization: Bearer x`, `"authorization":"token x"`, `authorization=Basic x`: the value goes, the name stays. */
const AUTHORIZATION = /(["']?(?:proxy-)?authorization["']?\s*[:=]\s*["']?)((?:bearer|basic|token|digest)\s+)?[^\s"',;]+/gi;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function withGlobal(pattern: RegExp): RegExp {
  return pattern.flags.includes("g") ? new RegExp(pattern.source, pattern.flags) : new RegExp(pattern.source, `${pattern.flags}g`);
}

/** The forms a secret takes in text we might post: itself, base64 (also inside Basic auth), URL-encoded. */
function formsOf(secret: string): string[] {
  const forms = new Set<string>([secret]);
  forms.add(Buffer.from(secret, "utf8").toString("base64"));
  forms.add(Buffer.from(`x-access-token:${secret}`, "utf8").toString("base64"));
  forms.add(Buffer.from(secret, "utf8").toString("base64url"));
  forms.add(encodeURIComponent(secret));
  // A PEM key configured with escaped newlines (as in many .env files), and its real form.
  if (secret.includes("\\n")) forms.add(secret.replace(/\\n/g, "\n"));
  if (secret.includes("\n")) forms.add(secret.replace(/\n/g, "\\n"));
  return [...forms];
}

/**
 * A function that replaces every occurrence of each secret (ignoring ones shorter
 * than 8 characters; longest first; also its base64 and URL-encoded forms), the
 * built-in patterns (GitHub tokens, Anthropic keys, PEM private keys,
 * Authorization header values) and `patterns`, with `[redacted]`.
 */
export function createRedactor(secrets: string[], patterns: RegExp[] = []): Redactor {
  const literals = [
    ...new Set(
      secrets
        .map((s) => s.trim())
        .filter((s) => s.length >= MIN_SECRET_LENGTH)
        .flatMap(formsOf)
        .filter((s) => s.length >= MIN_SECRET_LENGTH),
    ),
  ].sort((a, b) => b.length - a.length);
  // One alternation: at each position the first (longest) secret that matches wins.
  const literal = literals.length === 0 ? null : new RegExp(literals.map(escapeRegExp).join("|"), "g");
  const regexps = [...BUILTIN_PATTERNS, ...patterns].map(withGlobal);

  return (text: string): string => {
    if (text.length === 0) return text;
    let out = literal === null ? text : text.replace(literal, REDACTED);
    for (const re of regexps) {
      re.lastIndex = 0;
      out = out.replace(re, REDACTED);
    }
    AUTHORIZATION.lastIndex = 0;
    return out.replace(AUTHORIZATION, (_whole, name: string, scheme: string | undefined) => `${name}${scheme ?? ""}${REDACTED}`);
  };
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A redacted copy of `value` (a log line, a request body): every string inside
 * objects and arrays goes through `redact`; errors keep their class with a
 * redacted message and stack. Keys, numbers, booleans and other objects are kept.
 */
export function redactDeep<T>(value: T, redact: Redactor): T {
  const seen = new WeakMap<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redact(v);
    if (typeof v !== "object" || v === null) return v;
    const known = seen.get(v);
    if (known !== undefined) return known;
    if (Array.isArray(v)) {
      const copy: unknown[] = [];
      seen.set(v, copy);
      for (const item of v) copy.push(walk(item));
      return copy;
    }
    if (v instanceof Error) {
      const copy = Object.create(Object.getPrototypeOf(v) as object) as Record<string, unknown>;
      seen.set(v, copy);
      for (const key of Object.getOwnPropertyNames(v)) {
        copy[key] = walk((v as unknown as Record<string, unknown>)[key]);
      }
      return copy;
    }
    if (!isPlainObject(v)) return v;
    const copy: Record<string, unknown> = {};
    seen.set(v, copy);
    for (const [key, item] of Object.entries(v)) copy[key] = walk(item);
    return copy;
  };
  return walk(value) as T;
}

/** The environment variables whose values are secrets. */
export const SECRET_VARIABLES = ["GITHUB_TOKEN", "GH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WEBHOOK_SECRET", "PRIVATE_KEY"] as const;

export interface EnvSecrets {
  secrets: string[];
  patterns: RegExp[];
}

/**
 * The secrets in `env` (GITHUB_TOKEN, GH_TOKEN, ANTHROPIC_API_KEY,
 * ANTHROPIC_AUTH_TOKEN, WEBHOOK_SECRET, PRIVATE_KEY) and the patterns of
 * HARNESS_REDACT_PATTERNS (comma-separated regular expressions, `\,` for a comma
 * inside one). An invalid
 * pattern, or one that matches the empty string, is EHARNESS_CONFIG.
 */
export function secretsFromEnv(env: Record<string, string | undefined>): EnvSecrets {
  const secrets: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim().length > 0) secrets.push(value);
  }
  const patterns: RegExp[] = [];
  // Commas separate patterns; `\,` is a literal comma inside one (e.g. `x{1\,3}`).
  for (const source of (env.HARNESS_REDACT_PATTERNS ?? "").split(/(?<!\\),/)) {
    const trimmed = source.replace(/\\,/g, ",").trim();
    if (trimmed.length === 0) continue;
    let re: RegExp;
    try {
      re = new RegExp(trimmed, "g");
    } catch (error) {
      throw new HarnessError("EHARNESS_CONFIG", {
        message: `HARNESS_REDACT_PATTERNS holds an invalid regular expression: ${trimmed} (${error instanceof Error ? error.message : String(error)}).`,
        fix: "Fix or remove that pattern; HARNESS_REDACT_PATTERNS is a comma-separated list of JavaScript regular expressions without slashes or flags.",
        cause: error,
      });
    }
    if (new RegExp(trimmed).test("")) {
      throw new HarnessError("EHARNESS_CONFIG", {
        message: `HARNESS_REDACT_PATTERNS holds a pattern that matches the empty string: ${trimmed}.`,
        fix: "Make the pattern match at least one character (e.g. use + instead of *).",
      });
    }
    patterns.push(re);
  }
  return { secrets, patterns };
}

/** `createRedactor` from the environment's secrets and patterns. */
export function redactorFromEnv(env: Record<string, string | undefined>): Redactor {
  const { secrets, patterns } = secretsFromEnv(env);
  return createRedactor(secrets, patterns);
}
