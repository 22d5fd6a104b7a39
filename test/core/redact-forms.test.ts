import { describe, expect, it } from "vitest";
import { createRedactor, formsOf, REDACTED } from "../../src/core/redact.js";

// Every sample is built at run time, so that no token-shaped literal sits in the repository.

/** Deterministic bytes (a seeded LCG), so a failure shows the same sample again. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i += 1) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = x >>> 16;
  }
  return out;
}
const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");
const alnum = (n: number, seed: number): string =>
  [...bytes(n, seed)].map((v) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[v % 62]).join("");
const upper = (n: number, seed: number): string => [...bytes(n, seed)].map((v) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[v % 32]).join("");

const JWT_HEADER = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "a1b2c3" }));
const JWT_PAYLOAD = b64url(JSON.stringify({ iss: "github", sub: "installation:54321", app: 1234567, exp: 1767225600, perm: "w" }));
const JWT_SIGNATURE = b64url(bytes(256, 7)); // RS256: 256 bytes, 342 characters
/** GitHub's new installation token: `ghs_<appid>_<JWT>`, ~520 characters of [A-Za-z0-9._-]. */
const GHS_NEW = `ghs_1234567_${JWT_HEADER}.${JWT_PAYLOAD}.${JWT_SIGNATURE}`;
const PEM_BODY = bytes(300, 11)
  .toString("base64")
  .replace(/(.{64})/g, "$1\n")
  .trim();
const pem = (label: string): string => `-----BEGIN ${label}-----\n${PEM_BODY}\n-----END ${label}-----`;
const AWS_SECRET = Buffer.from(bytes(30, 13)).toString("base64"); // 40 of [A-Za-z0-9+/]

interface Sample {
  name: string;
  /** The text as written (the secret with whatever label it comes with). */
  text: string;
  /** What must be left of it. */
  left: string;
}
const whole = (name: string, text: string): Sample => ({ name, text, left: REDACTED });

const SAMPLES: Sample[] = [
  whole("ghs_ new format (~520 characters)", GHS_NEW),
  whole("ghs_ new format ending in '-'", `ghs_42_${JWT_HEADER}.${JWT_PAYLOAD}.${alnum(40, 3)}-`),
  whole("ghs_ new format ending in '_'", `ghs_42_${JWT_HEADER}.${JWT_PAYLOAD}.${alnum(40, 4)}_`),
  ...["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map((p, i) => whole(`${p} classic (36)`, `${p}${alnum(36, 20 + i)}`)),
  ...["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map((p, i) =>
    whole(`${p} long with . _ -`, `${p}${alnum(200, 30 + i)}.${alnum(150, 40 + i)}_x-${alnum(200, 50 + i)}`),
  ),
  whole("github_pat_", `github_pat_${alnum(22, 60)}_${alnum(59, 61)}`),
  whole("sk-ant-api03", `sk-ant-api03-${alnum(60, 62)}-${alnum(32, 63)}AA`),
  whole("sk-ant-admin01", `sk-ant-admin01-${alnum(93, 64)}AA`),
  whole("sk-ant-oat01 (OAuth access)", `sk-ant-oat01-${alnum(50, 65)}_${alnum(45, 66)}`),
  whole("sk-ant-ort01 (OAuth refresh)", `sk-ant-ort01-${alnum(100, 67)}`),
  whole("JWT", `${JWT_HEADER}.${JWT_PAYLOAD}.${JWT_SIGNATURE}`),
  whole("JWT with padding", `${JWT_HEADER}.${JWT_PAYLOAD}.${Buffer.from(bytes(32, 68)).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")}`),
  whole("JWT unsigned (alg none)", `${b64url(JSON.stringify({ alg: "none" }))}.${JWT_PAYLOAD}.`),
  ...["RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK"].map(
    (label) => whole(`PEM ${label}`, pem(label)),
  ),
  whole("AWS access key id AKIA", `AKIA${upper(16, 70)}`),
  whole("AWS temporary access key id ASIA", `ASIA${upper(16, 71)}`),
  { name: "AWS secret key, credentials file", text: `aws_secret_access_key = ${AWS_SECRET}`, left: `aws_secret_access_key = ${REDACTED}` },
  { name: "AWS secret key, environment", text: `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`, left: `AWS_SECRET_ACCESS_KEY=${REDACTED}` },
  { name: "AWS secret key, STS JSON", text: `"SecretAccessKey": "${AWS_SECRET}"`, left: `"SecretAccessKey": "${REDACTED}"` },
  { name: "AWS secret key, SDK config", text: `secretAccessKey: '${AWS_SECRET}'`, left: `secretAccessKey: '${REDACTED}'` },
];

/** Where a secret shows up: the channels' text shapes. */
const CONTEXTS: { name: string; wrap: (s: string) => string }[] = [
  { name: "alone", wrap: (s) => s },
  { name: "in prose, then a full stop", wrap: (s) => `The session printed ${s}. Then it stopped.` },
  { name: "in a markdown code fence", wrap: (s) => `## Summary\n\n\`\`\`\n${s}\n\`\`\`\n` },
  { name: "in a table cell", wrap: (s) => `| output | ${s} |` },
  { name: "after an equals sign, then a comma", wrap: (s) => `env TOKEN=${s}, done` },
  { name: "in a JSON log line", wrap: (s) => JSON.stringify({ level: 30, msg: "tool result", output: `x ${s} y` }) },
  // In JSON a line break is `\n`: the letter before the token is a word character.
  { name: "at the start of a line inside a JSON string", wrap: (s) => JSON.stringify({ type: "tool_result", content: `first line\n${s}\nlast line` }) },
  { name: "after an ANSI colour code", wrap: (s) => `\x1b[32m${s}\x1b[0m` },
  { name: "after an ANSI colour code inside a JSON string", wrap: (s) => JSON.stringify({ content: `\x1b[1;31m${s}\x1b[0m` }) },
];

describe("built-in patterns: every sample in every context is redacted, nothing of it left", () => {
  it("the ghs_ sample is the new format's length and alphabet", () => {
    expect(GHS_NEW.length).toBeGreaterThanOrEqual(500);
    expect(GHS_NEW.length).toBeLessThanOrEqual(540);
    expect(GHS_NEW).toMatch(/^ghs_[0-9]+_[A-Za-z0-9._-]+$/);
    expect(GHS_NEW).toMatch(/[.]/);
    expect(GHS_NEW).toMatch(/[-]/);
    expect(GHS_NEW).toMatch(/_.*_/);
    expect(AWS_SECRET).toMatch(/^[A-Za-z0-9+/]{40}$/);
  });

  const redact = createRedactor([]);
  const cases = SAMPLES.flatMap((sample) => CONTEXTS.map((context) => ({ sample, context })));
  it.each(cases.map((c) => [c.sample.name, c.context.name, c] as const))("%s, %s", (_s, _c, { sample, context }) => {
    const out = redact(context.wrap(sample.text));
    expect(out).toBe(context.wrap(sample.left));
  });
});

/** Asserts `out` is `encoded` with one run replaced, and what is kept holds only bits of the text around the secret. */
function expectOnlySurroundingsLeft(out: string, encoded: string, before: number, after: number): void {
  const at = out.indexOf(REDACTED);
  expect(at).toBeGreaterThanOrEqual(0);
  const head = out.slice(0, at);
  const tail = out.slice(at + REDACTED.length).replace(/=+$/, "");
  expect(encoded.startsWith(head)).toBe(true);
  expect(encoded.replace(/=+$/, "").endsWith(tail)).toBe(true);
  // Each base64 character holds 6 bits: the kept ones must fit in the bytes before and after the secret.
  expect(head.length * 6).toBeLessThanOrEqual(before * 8);
  expect(tail.length * 6).toBeLessThanOrEqual(after * 8);
}

describe("exact known values in every encoding", () => {
  const SECRETS = ["harness-literal-secret-7c1e", 'p@ss/w+rd=&é 99?x"\\tab\tz', "ghs_not-a-pattern-but-a-known-value"];

  for (const secret of SECRETS) {
    describe(JSON.stringify(secret), () => {
      const redact = createRedactor([secret]);
      const utf8 = Buffer.from(secret, "utf8");
      const hex = utf8.toString("hex");
      const table: [string, string][] = [
        ["plain", secret],
        ["base64", utf8.toString("base64")],
        ["base64url", utf8.toString("base64url")],
        ["Basic auth base64", Buffer.from(`x-access-token:${secret}`).toString("base64")],
        ["hex lower", hex],
        ["hex upper", hex.toUpperCase()],
        ["URL-encoded", encodeURIComponent(secret)],
        ["URL-encoded, lower-case escapes", encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())],
        ["encodeURI", encodeURI(secret)],
        ["JSON-escaped", JSON.stringify(secret).slice(1, -1)],
      ];
      it.each(table)("%s", (_name, form) => {
        expect(redact(`before ${form} after`)).toBe(`before ${REDACTED} after`);
        expect(redact(JSON.stringify({ v: form }))).toBe(JSON.stringify({ v: REDACTED }));
      });

      it("hex inside a longer hex string", () => {
        const text = `${"ab".repeat(5)}${hex}${"cd".repeat(5)}`;
        expect(redact(text)).toBe(`${"ab".repeat(5)}${REDACTED}${"cd".repeat(5)}`);
      });

      // The secret inside a longer encoded text, at each of the 3 byte alignments, in base64 and base64url.
      for (const encoding of ["base64", "base64url"] as const) {
        it.each([0, 1, 2, 3, 4, 5])(`${encoding} inside a longer text, %i bytes before it`, (before) => {
          const prefix = Buffer.from("header: value; ".repeat(2).slice(0, 9 + before));
          const suffix = Buffer.from("; trailer text that goes on");
          const encoded = Buffer.concat([prefix, utf8, suffix]).toString(encoding);
          const out = redact(`data:${encoded}`);
          expect(out.startsWith("data:")).toBe(true);
          expectOnlySurroundingsLeft(out.slice("data:".length), encoded, prefix.length, suffix.length);
        });
      }
    });
  }

  it("lists the forms once each, the secret first", () => {
    const forms = formsOf("harness-literal-secret-7c1e");
    expect(forms[0]).toBe("harness-literal-secret-7c1e");
    expect(new Set(forms).size).toBe(forms.length);
    expect(forms).toContain(Buffer.from("harness-literal-secret-7c1e").toString("hex").toUpperCase());
  });
});

describe("ordinary text is left alone", () => {
  const redact = createRedactor(["harness-literal-secret-7c1e", "another-known-value-42"]);
  const texts = [
    "commit 3f9a1c0b7e5d4a2f8c6b1e0d9a7f5c3b2e1d0a9f",
    "Merge 3F9A1C0B7E5D4A2F8C6B1E0D9A7F5C3B2E1D0A9F into main (a40c7d2)",
    "session 0f8b3c2e-9d4a-4e1b-8c7f-2a6d5e4b3c1a, run 123e4567-e89b-12d3-a456-426614174000",
    `base64 of harmless words: ${Buffer.from("hello world, nothing to see here").toString("base64")} and ${Buffer.from("the quick brown fox").toString("base64url")}`,
    "Installation tokens start with ghs_ and now look like ghs_<appid>_<jwt>; see `ghs_APPID_JWT`.",
    "The helper ghs_token_refresh_handler_for_installations renews them.",
    "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_ sk-ant- eyJ AKIA alone.",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----",
    "Set aws_secret_access_key = <your key> in ~/.aws/credentials.",
    "https://github.com/octo/leak/pull/12#issuecomment-1234567890",
    "| outcome | success | cost | $0.42 | turns | 7 |",
    "version 1.2.3-beta.4+build.5, file name.test.ts, a.b.c",
  ];
  it.each(texts)("%s", (text) => {
    expect(redact(text)).toBe(text);
  });
});
