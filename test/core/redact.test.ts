import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isHarnessError } from "../../src/core/errors.js";
import { createRedactor, redactDeep, redactorFromEnv, secretsFromEnv } from "../../src/core/redact.js";

// Built at run time so that no token-shaped literal sits in the repository.
const GH_TOKEN = `ghs_${"A1b2C3d4E5".repeat(3)}xYz123`;
const PAT = `github_pat_11ABCDEFG0${"x".repeat(20)}_${"Yz9".repeat(20)}`;
const ANTHROPIC = `sk-ant-api03-${"Q".repeat(40)}-${"w".repeat(20)}AA`;
const PEM = [
  "-----BEGIN RSA PRIVATE KEY-----",
  "MIIEowIBAAKCAQEA1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL",
  "bm90IGEgcmVhbCBrZXkgYnV0IGxvbmcgZW5vdWdoIHRvIGxvb2sgbGlrZSBvbmU=",
  "-----END RSA PRIVATE KEY-----",
].join("\n");

describe("createRedactor", () => {
  it("replaces every occurrence of each secret", () => {
    const redact = createRedactor(["hunter2-is-long", "s3cr3t-value"]);
    expect(redact("a hunter2-is-long b hunter2-is-long c s3cr3t-value")).toBe("a [redacted] b [redacted] c [redacted]");
  });

  it("ignores empty and short secrets", () => {
    const redact = createRedactor(["", "   ", "short", "1234567"]);
    expect(redact("short 1234567 stays")).toBe("short 1234567 stays");
  });

  it("replaces the longest secret first", () => {
    const redact = createRedactor(["abcdefgh", "abcdefgh-ijklmnop"]);
    expect(redact("x abcdefgh-ijklmnop y abcdefgh")).toBe("x [redacted] y [redacted]");
  });

  it("finds each of thousands of secrets sharing a prefix (a long-running app registers every token it mints)", () => {
    const secrets = Array.from({ length: 3000 }, (_, i) => `minted-token-${String(i).padStart(4, "0")}-${(i * 7919).toString(36)}`);
    const redact = createRedactor(secrets);
    const picked = [secrets[0], secrets[1234], secrets[2999]] as string[];
    const text = picked.map((s) => `<${s}> <${Buffer.from(s).toString("hex")}>`).join(" ");
    expect(redact(text)).toBe(picked.map(() => "<[redacted]> <[redacted]>").join(" "));
  });

  it("treats regex characters in secrets literally", () => {
    const redact = createRedactor(["a.b*c+d?(e)[f]{g}|h\\i$"]);
    expect(redact("<a.b*c+d?(e)[f]{g}|h\\i$>")).toBe("<[redacted]>");
    expect(redact("aXbbbcdde")).toBe("aXbbbcdde");
  });

  it("redacts the base64 form used in Basic auth, plain base64 and the URL-encoded form", () => {
    const token = "my-token/with+odd=chars&more";
    const redact = createRedactor([token]);
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    // Outside an Authorization header, so only the literal forms can catch them.
    expect(redact(`extraheader=${basic}`)).toBe("extraheader=[redacted]");
    expect(redact(`b64 ${Buffer.from(token).toString("base64")}`)).toBe("b64 [redacted]");
    expect(redact(`https://x.test/?t=${encodeURIComponent(token)}&a=1`)).toBe("https://x.test/?t=[redacted]&a=1");
  });

  it("redacts GitHub tokens, Anthropic keys and PEM private keys without being told", () => {
    const redact = createRedactor([]);
    for (const prefix of ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) {
      expect(redact(`token=${prefix}${"a1B2".repeat(9)} end`)).toBe("token=[redacted] end");
    }
    expect(redact(`use ${PAT} please`)).toBe("use [redacted] please");
    expect(redact(`key ${ANTHROPIC}.`)).toBe("key [redacted].");
    expect(redact(`before\n${PEM}\nafter`)).toBe("before\n[redacted]\nafter");
    // A PEM block cut off (e.g. a truncated log line) is redacted to the end.
    expect(redact(`x ${PEM.slice(0, 80)}`)).toBe("x [redacted]");
    // A JSON-escaped PEM.
    expect(redact(JSON.stringify({ key: PEM }))).toBe('{"key":"[redacted]"}');
    // Cut off inside a JSON line (a session's JSONL): the block ends with the string, the line stays JSON.
    const line = JSON.stringify({ type: "tool_result", content: PEM.slice(0, 120), is_error: false });
    expect(JSON.parse(redact(line))).toEqual({ type: "tool_result", content: "[redacted]", is_error: false });
    // Cut off in prose: the block ends with the sentence, not with the text.
    expect(redact(`${PEM.slice(0, 40)}. Then the run went on.`)).toBe("[redacted]. Then the run went on.");
    // A cut-off block, then prose, then a whole block: each goes, the prose between stays.
    expect(redact(`${PEM.slice(0, 40)}; later:\n${PEM}\nend`)).toBe("[redacted]; later:\n[redacted]\nend");
    expect(redact(`${PEM.slice(0, 40)}${PEM}`)).toBe("[redacted][redacted]");
  });

  it("redacts Authorization header values and keeps the header name and scheme", () => {
    const redact = createRedactor([]);
    expect(redact("Authorization: Bearer abc.def.ghi")).toBe("Authorization: Bearer [redacted]");
    expect(redact("authorization: token 0123456789")).toBe("authorization: token [redacted]");
    expect(redact("Authorization: Basic eC1hY2Nlc3M=\nnext")).toBe("Authorization: Basic [redacted]\nnext");
    expect(redact('{"authorization":"Bearer xyz","a":1}')).toBe('{"authorization":"Bearer [redacted]","a":1}');
    expect(redact("git -c http.extraheader=AUTHORIZATION: basic Zm9vOmJhcg== fetch")).toBe("git -c http.extraheader=AUTHORIZATION: basic [redacted] fetch");
  });

  it("applies configured patterns, with or without the g flag", () => {
    const redact = createRedactor([], [/corp-[0-9]{6}/, /TICKET-\d+/g]);
    expect(redact("corp-123456 and corp-654321, TICKET-7 TICKET-8")).toBe("[redacted] and [redacted], [redacted] [redacted]");
  });

  it("leaves ordinary text alone", () => {
    const redact = createRedactor(["a-real-secret"]);
    const text = "## Session summary\n\n| outcome | success |\n\nghp_ alone, sk-ant- alone, github_pat_ alone.";
    expect(redact(text)).toBe(text);
    expect(redact("")).toBe("");
  });

  it("redacts a secret seeded into a captured tool result", () => {
    const dir = fileURLToPath(new URL("../fixtures/cli/2.1.197/", import.meta.url));
    const lines = readFileSync(`${dir}success.jsonl`, "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    const secret = GH_TOKEN;
    const seeded = lines.map((l) => l.replace("hello from the scripted model", `hello ${secret} from the scripted model`)).join("\n");
    expect(seeded).toContain(secret);
    const redact = redactorFromEnv({ GITHUB_TOKEN: secret });
    const out = redact(seeded);
    expect(out).not.toContain(secret);
    expect(out).toContain("hello [redacted] from the scripted model");
    // Still valid JSON lines.
    for (const line of out.split("\n")) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });
});

describe("redactDeep", () => {
  const redact = createRedactor(["top-secret-value"]);

  it("returns a redacted copy of nested objects and arrays", () => {
    const input = {
      msg: "sent top-secret-value",
      n: 3,
      ok: true,
      none: null,
      nested: { list: ["a", "x top-secret-value y", { deep: `k ${GH_TOKEN}` }] },
    };
    const out = redactDeep(input, redact);
    expect(out).toEqual({
      msg: "sent [redacted]",
      n: 3,
      ok: true,
      none: null,
      nested: { list: ["a", "x [redacted] y", { deep: "k [redacted]" }] },
    });
    expect(input.msg).toBe("sent top-secret-value");
  });

  it("redacts errors and survives cycles", () => {
    const error = new TypeError("failed with top-secret-value");
    const cyclic: Record<string, unknown> = { name: "top-secret-value" };
    cyclic.self = cyclic;
    const out = redactDeep({ err: error, cyclic }, redact);
    expect(out.err).toBeInstanceOf(TypeError);
    expect(out.err.message).toBe("failed with [redacted]");
    expect(out.err.stack).not.toContain("top-secret-value");
    expect(out.cyclic.name).toBe("[redacted]");
    expect(out.cyclic.self).toBe(out.cyclic);
    expect(redactDeep("top-secret-value", redact)).toBe("[redacted]");
    expect(redactDeep(42, redact)).toBe(42);
  });
});

describe("secretsFromEnv", () => {
  it("collects the known secret variables and the configured patterns", () => {
    const env = {
      GITHUB_TOKEN: GH_TOKEN,
      GH_TOKEN: "gh-token-value-1",
      ANTHROPIC_API_KEY: ANTHROPIC,
      ANTHROPIC_AUTH_TOKEN: "auth-token-value",
      WEBHOOK_SECRET: "webhook-secret-1",
      PRIVATE_KEY: PEM.replace(/\n/g, "\\n"),
      HARNESS_REDACT_PATTERNS: "corp-[0-9]{6}, internal\\.example\\.com ,x{2\\,3}y",
      PATH: "/usr/bin",
      HOME: "/root",
    };
    const { secrets, patterns } = secretsFromEnv(env);
    expect(secrets).toEqual([GH_TOKEN, "gh-token-value-1", ANTHROPIC, "auth-token-value", "webhook-secret-1", env.PRIVATE_KEY]);
    expect(patterns.map((p) => p.source)).toEqual(["corp-[0-9]{6}", "internal\\.example\\.com", "x{2,3}y"]);
    const redact = createRedactor(secrets, patterns);
    const text = `${Object.values(env).join(" | ")} | ${PEM} | corp-123456 | api.internal.example.com | xxxy`;
    const out = redact(text);
    for (const name of ["GITHUB_TOKEN", "GH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "WEBHOOK_SECRET", "PRIVATE_KEY"] as const) {
      expect(out).not.toContain(env[name]);
    }
    expect(out).not.toContain("BEGIN RSA PRIVATE KEY");
    expect(out).not.toMatch(/corp-123456|internal\.example\.com|xxxy/);
    expect(out).toContain("/usr/bin");
  });

  it("takes the CLI's OAuth token, the session key, AWS credentials and any variable named like a secret", () => {
    const env = {
      CLAUDE_CODE_OAUTH_TOKEN: "oauth-token-value",
      HARNESS_SESSION_KEY: "session-key-value",
      AWS_SECRET_ACCESS_KEY: "aws-secret-value",
      AWS_SESSION_TOKEN: "aws-session-value",
      ACTIONS_RUNTIME_TOKEN: "runtime-token-value",
      npm_config_password: "npm-password-value",
      STRIPE_API_KEY: "stripe-key-value",
      TOKEN_PATH: "/var/run/token-path",
      GITHUB_TOKEN_URL: "https://example.test/token",
      HARNESS_STATE_DIR: "/var/lib/harness",
    };
    expect(secretsFromEnv(env).secrets).toEqual([
      "oauth-token-value",
      "session-key-value",
      "aws-secret-value",
      "aws-session-value",
      "runtime-token-value",
      "npm-password-value",
      "stripe-key-value",
    ]);
  });

  it("returns nothing for an environment without secrets", () => {
    expect(secretsFromEnv({ PATH: "/bin", HARNESS_REDACT_PATTERNS: " , " })).toEqual({ secrets: [], patterns: [] });
  });

  it.each([["corp-[0-9"], ["(unclosed"], ["a*"]])("rejects the pattern %s with EHARNESS_CONFIG", (pattern) => {
    let error: unknown;
    try {
      secretsFromEnv({ HARNESS_REDACT_PATTERNS: `ok-pattern,${pattern}` });
    } catch (e) {
      error = e;
    }
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_CONFIG");
    expect(String(error)).toContain("HARNESS_REDACT_PATTERNS");
  });
});
