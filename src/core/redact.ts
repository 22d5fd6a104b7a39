/**
 * Redaction of secrets from everything the harness writes (comments, PR bodies,
 * job summaries, logs, saved sessions). Pure: the secrets and patterns are passed in.
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

/**
 * Where a token may start although `\b` says no: right after an escape such as `\n` (a token at the
 * start of a line inside a JSON string: a session's JSONL, a log line) or an ANSI colour code, raw
 * or JSON-escaped (`\x1b[32m`, `\u001b[32m`), since the letter before the token is a word character.
 */
const AFTER_ESCAPE = String.raw`(?<=\\[nrt]|\x1b\[[0-9;]*m|\\u001b\[[0-9;]*m)`;
/** The start of a token: a word boundary, or after an escape. */
const START = String.raw`(?:${AFTER_ESCAPE}|\b)`;
/** The start of a base64url run (not `\b`, so a run like `-eyJ-eyJ-eyJ…` is scanned once, not once per `eyJ`). */
const RUN_START = String.raw`(?:${AFTER_ESCAPE}|(?<![A-Za-z0-9_-]))`;

/** The BEGIN and END lines of PEM private keys: PKCS#1 (RSA, EC, DSA), PKCS#8 (PRIVATE KEY, ENCRYPTED PRIVATE KEY), OPENSSH, PGP (…PRIVATE KEY BLOCK). */
const PEM_MARKER = /-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
/** What the body of a PEM block is made of: base64, whitespace, escaped newlines, header characters. */
const PEM_BODY = /^[A-Za-z0-9+/=\s:,\\-]*/;

/**
 * Every PEM private key block, from its BEGIN line to the END line that
 * follows, whatever is between. A block with no END (a truncated log line)
 * goes as far as PEM text goes (`PEM_BODY`): it stops at the quote that closes
 * a JSON string, so a session line stays valid JSON, and at the end of a
 * sentence. One pass over the markers, so many BEGIN lines cost no more than one.
 */
function redactPemBlocks(text: string): string {
  let out = "";
  let from = 0;
  let open: { start: number; bodyStart: number } | null = null;
  const closeUnterminated = (limit: number): void => {
    if (open === null) return;
    // Only up to the next BEGIN, so that a run of BEGIN lines is read once.
    const body = PEM_BODY.exec(text.slice(open.bodyStart, limit))?.[0] ?? "";
    out += `${text.slice(from, open.start)}${REDACTED}`;
    from = open.bodyStart + body.length;
    open = null;
  };
  for (const marker of text.matchAll(PEM_MARKER)) {
    const end = marker.index + marker[0].length;
    if (marker[1] === "BEGIN") {
      closeUnterminated(marker.index);
      open = { start: marker.index, bodyStart: end };
    } else if (open !== null) {
      out += `${text.slice(from, open.start)}${REDACTED}`;
      from = end;
      open = null;
    }
  }
  closeUnterminated(text.length);
  return out + text.slice(from);
}

/**
 * Patterns applied whatever the configured secrets are, in this order (a
 * GitHub token holding a JWT goes whole before the JWT pattern could take
 * only its tail).
 */
export const BUILTIN_PATTERNS: readonly RegExp[] = [
  // GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), installation (ghs_), refresh (ghr_).
  // https://github.blog/changelog/2021-03-31-authentication-token-format-updates-are-generally-available/
  // Installation tokens are now `ghs_<appid>_<JWT>`, ~520 characters with dots and underscores, and GitHub
  // suggests `ghs_[A-Za-z0-9._]{36,}`:
  // https://github.blog/changelog/2026-04-24-notice-about-upcoming-new-format-for-github-app-installation-tokens/
  // The `-` is in the JWT's base64url and in GitHub's own fix (github/gh-aw#35016, github/awesome-copilot#1840).
  // No upper bound (the old one, 255, left the tail of a long token); a trailing `.` is punctuation, not token.
  // The lookahead wants a capital or digit early on, which a random token has and a snake_case name often
  // lacks; it is bounded so that a long run of text costs one bounded look per `gh?_`.
  new RegExp(String.raw`${START}gh[pousr]_(?=[A-Za-z0-9._-]{0,40}[A-Z0-9])[A-Za-z0-9._-]{19,}[A-Za-z0-9_-]`, "g"),
  // Fine-grained personal access tokens, `github_pat_<22>_<59>` (github/redacting-logger lib/patterns/default.rb);
  // no fixed length here, as GitHub asks of every token type.
  new RegExp(String.raw`${START}github_pat_[A-Za-z0-9_]{20,}`, "g"),
  // Anthropic keys: sk-ant-api03-… and sk-ant-admin01-… (<93 chars>AA), OAuth access sk-ant-oat01-… and
  // refresh sk-ant-ort01-… tokens (gitleaks cmd/generate/config/rules/anthropic.go).
  new RegExp(String.raw`${START}sk-ant-[A-Za-z0-9_-]{8,}`, "g"),
  // JSON Web Tokens: three base64url parts, the header JSON so starting `eyJ`; the signature may be
  // empty (`alg: none`) or padded (gitleaks cmd/generate/config/rules/jwt.go).
  new RegExp(String.raw`${RUN_START}eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*={0,2}`, "g"),
  // AWS access key ids: AKIA (long-term), ASIA (STS temporary), ABIA, ACCA, then 16 of [A-Z0-9]
  // (gitleaks cmd/generate/config/rules/aws.go;
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids).
  new RegExp(String.raw`${START}(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`, "g"),
];

/**
 * Values whose name says what they are: the value goes, the name stays.
 * `Authorization: Bearer x`, `"authorization":"token x"`, `authorization=Basic x`.
 */
const AUTHORIZATION = /(["']?(?:proxy-)?authorization["']?\s*[:=]\s*["']?)((?:bearer|basic|token|digest)\s+)?[^\s"',;]+/gi;
/**
 * An AWS secret access key (40 of base64) is only recognisable by its label: `aws_secret_access_key = …`
 * (credentials file), `AWS_SECRET_ACCESS_KEY=…` (environment), `"SecretAccessKey": "…"` (STS output),
 * `secretAccessKey: …` (SDK configuration); quotes may be JSON-escaped (a log line holding JSON).
 */
const AWS_SECRET = /((?:\\?["'])?(?:aws)?[_.-]?secret[_.-]?(?:access)?[_.-]?key(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/gi;

function withGlobal(pattern: RegExp): RegExp {
  return pattern.flags.includes("g") ? new RegExp(pattern.source, pattern.flags) : new RegExp(pattern.source, `${pattern.flags}g`);
}

/**
 * The base64 characters that depend on `bytes` alone when they sit at byte
 * offset `k` (0, 1 or 2) of a longer encoded text: whatever comes before and
 * after, an encoding of that text contains this run.
 */
function base64Core(bytes: Buffer, k: number): string {
  const full = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
  const first = Math.ceil((8 * k) / 6);
  const end = Math.floor((8 * (k + bytes.length)) / 6);
  return full.slice(first, end);
}

function toBase64Url(base64: string): string {
  return base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** One form of a secret: its text, and the alphabet of the encoding it sits in when it is a run cut from one. */
interface Form {
  text: string;
  /** Base64 alphabet of a run whose neighbouring characters also hold a few bits of the secret. */
  edges?: RegExp;
}

const BASE64_CHAR = /[A-Za-z0-9+/]/;
const BASE64URL_CHAR = /[A-Za-z0-9_-]/;

function formsWithEdges(secret: string): Form[] {
  const values = new Set<string>([secret]);
  // A PEM key configured with escaped newlines (as in many .env files), and its real form.
  if (secret.includes("\\n")) values.add(secret.replace(/\\n/g, "\n"));
  // As it stands inside a JSON string (a session's JSONL, a log line): `"`, `\` and control characters
  // escaped; twice, for JSON inside a JSON string (a tool's JSON output in a transcript line).
  for (let depth = 0; depth < 2; depth += 1) for (const value of [...values]) values.add(JSON.stringify(value).slice(1, -1));
  const forms: Form[] = [];
  for (const value of values) {
    const bytes = Buffer.from(value, "utf8");
    forms.push({ text: value });
    for (const whole of [bytes.toString("base64"), Buffer.from(`x-access-token:${value}`, "utf8").toString("base64")]) {
      forms.push({ text: whole }, { text: toBase64Url(whole) });
    }
    for (let k = 0; k < 3; k += 1) {
      const core = base64Core(bytes, k);
      forms.push({ text: core, edges: BASE64_CHAR }, { text: toBase64Url(core), edges: BASE64URL_CHAR });
    }
    const hex = bytes.toString("hex");
    const url = encodeURIComponent(value);
    for (const text of [hex, hex.toUpperCase(), url, url.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), encodeURI(value)]) forms.push({ text });
  }
  return forms;
}

/**
 * The forms a secret takes in text we might post: itself, JSON-escaped (once and twice); base64
 * and base64url, whole (also inside Basic auth) and as the run it leaves at each of the 3 byte
 * alignments inside a longer encoded text; hex in lower and upper case; URL-encoded (upper- and
 * lower-case escapes, and `encodeURI`). The publish gate can scan a diff for the same list.
 */
export function formsOf(secret: string): string[] {
  return [...new Set(formsWithEdges(secret).map((f) => f.text))];
}

/** Every form of every secret is at least this long, so its first characters are a key to look it up by. */
const KEY_LENGTH = MIN_SECRET_LENGTH;

/**
 * Replaces the forms in a text. One look-up per position in a map keyed by
 * the forms' first characters, so the cost does not grow with the number of
 * secrets (a long-running app adds every installation token it mints; one
 * regular expression of thousands of alternatives took seconds per comment).
 * At a position the longest form wins; a run cut from an encoding also takes
 * one character each side and its padding (they hold bits of the secret).
 */
function literalReplacer(forms: Form[]): Redactor {
  const byKey = new Map<string, Form[]>();
  // The forms' first two characters: most positions are passed over without building a key.
  const pairs = new Set<number>();
  const pair = (text: string, i: number): number => text.charCodeAt(i) * 65536 + text.charCodeAt(i + 1);
  for (const form of [...forms].sort((a, b) => b.text.length - a.text.length)) {
    pairs.add(pair(form.text, 0));
    const key = form.text.slice(0, KEY_LENGTH);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [form]);
    else list.push(form);
  }
  return (text) => {
    let out = "";
    let from = 0;
    let i = 0;
    while (i + KEY_LENGTH <= text.length) {
      const form = pairs.has(pair(text, i)) ? byKey.get(text.slice(i, i + KEY_LENGTH))?.find((f) => text.startsWith(f.text, i)) : undefined;
      if (form === undefined) {
        i += 1;
        continue;
      }
      let start = i;
      let end = i + form.text.length;
      if (form.edges !== undefined) {
        if (start > from && form.edges.test(text.charAt(start - 1))) start -= 1;
        if (end < text.length && form.edges.test(text.charAt(end))) end += 1;
        for (let pad = 0; pad < 2 && text.charAt(end) === "="; pad += 1) end += 1;
      }
      out += `${text.slice(from, start)}${REDACTED}`;
      from = end;
      i = end;
    }
    return from === 0 ? text : out + text.slice(from);
  };
}

/**
 * A function that replaces every occurrence of each secret (ignoring ones shorter
 * than 8 characters; longest first) in each of its forms (`formsOf`), the
 * built-in patterns (GitHub tokens, Anthropic keys, JWTs, AWS keys, PEM private
 * keys, Authorization header values) and `patterns`, with `[redacted]`.
 */
export function createRedactor(secrets: string[], patterns: RegExp[] = []): Redactor {
  const byText = new Map<string, Form>();
  for (const secret of secrets.map((s) => s.trim()).filter((s) => s.length >= MIN_SECRET_LENGTH)) {
    for (const form of formsWithEdges(secret)) {
      if (form.text.length < MIN_SECRET_LENGTH) continue;
      // The same text as a whole form and as a run: the whole form (a run also takes its neighbours).
      if (!byText.has(form.text) || form.edges === undefined) byText.set(form.text, form);
    }
  }
  const literal = byText.size === 0 ? null : literalReplacer([...byText.values()]);
  const regexps = [...BUILTIN_PATTERNS, ...patterns].map(withGlobal);
  const keepName = (_whole: string, name: string, scheme: string | undefined): string => `${name}${scheme ?? ""}${REDACTED}`;

  return (text: string): string => {
    if (text.length === 0) return text;
    let out = redactPemBlocks(literal === null ? text : literal(text));
    for (const re of regexps) {
      re.lastIndex = 0;
      out = out.replace(re, REDACTED);
    }
    AWS_SECRET.lastIndex = 0;
    out = out.replace(AWS_SECRET, (_whole, name: string) => `${name}${REDACTED}`);
    AUTHORIZATION.lastIndex = 0;
    return out.replace(AUTHORIZATION, keepName);
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

/** The environment variables whose values are secrets, whatever their names say. */
export const SECRET_VARIABLES = [
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "WEBHOOK_SECRET",
  "PRIVATE_KEY",
  "HARNESS_SESSION_KEY",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_BEARER_TOKEN_BEDROCK",
] as const;

/**
 * Other variables whose names say they hold a secret (`NPM_TOKEN`,
 * `ACTIONS_RUNTIME_TOKEN`, `DB_PASSWORD`, `STRIPE_API_KEY`…): a secret the
 * harness never uses can still reach the agent's output through a tool.
 */
export const SECRET_NAME = /(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|ACCESS_KEY|SECRET_KEY|SESSION_KEY)$/i;

export interface EnvSecrets {
  secrets: string[];
  patterns: RegExp[];
}

/**
 * The secrets in `env` (the SECRET_VARIABLES, then every other variable whose
 * name matches SECRET_NAME) and the patterns of HARNESS_REDACT_PATTERNS
 * (comma-separated regular expressions, `\,` for a comma inside one). An
 * invalid pattern, or one that matches the empty string, is EHARNESS_CONFIG.
 */
export function secretsFromEnv(env: Record<string, string | undefined>): EnvSecrets {
  const names = [...SECRET_VARIABLES, ...Object.keys(env).filter((name) => SECRET_NAME.test(name) && !(SECRET_VARIABLES as readonly string[]).includes(name))];
  const secrets: string[] = [];
  for (const name of names) {
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
