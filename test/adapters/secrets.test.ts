import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/logger.js";
import { processSecrets, SecretRegistry } from "../../src/adapters/secrets.js";

// Built at run time so that no token-shaped literal sits in the repository.
const MINTED = `ghs_${"Zq9".repeat(12)}`;
const hex = (s: string): string => Buffer.from(s).toString("hex");
const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("SecretRegistry", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "harness-secrets-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("redacts a secret added later in every form, from the moment it is added", () => {
    const registry = new SecretRegistry();
    const value = "opaque-value-minted-later";
    const text = `plain ${value} hex ${hex(value)} base64 ${b64(value)} url ${encodeURIComponent(value)}`;
    expect(registry.redact(text)).toBe(text);
    registry.add(value);
    expect(registry.redact(text)).toBe("plain [redacted] hex [redacted] base64 [redacted] url [redacted]");
  });

  it("ignores values too short to be secrets", () => {
    const registry = new SecretRegistry();
    registry.add(undefined, "", "short", "  pad7  ");
    expect(registry.redact("short pad7 stay")).toBe("short pad7 stay");
  });

  it("takes the environment's secrets, any variable named like one, and the App key file", () => {
    const key = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n";
    const keyFile = path.join(dir, "app.pem");
    writeFileSync(keyFile, key);
    const registry = new SecretRegistry();
    registry.addFromEnv({
      WEBHOOK_SECRET: "webhook-secret-value",
      HARNESS_SESSION_KEY: "session-key-value-32",
      NPM_TOKEN: "npm-token-value-123",
      DB_PASSWORD: "db-password-value",
      PRIVATE_KEY_PATH: keyFile,
      PATH: "/usr/local/bin:/usr/bin",
    });
    const out = registry.redact(
      `webhook-secret-value session-key-value-32 npm-token-value-123 ${hex("db-password-value")} ${b64(key.trim())} /usr/local/bin:/usr/bin`,
    );
    expect(out).toBe("[redacted] [redacted] [redacted] [redacted] [redacted] /usr/local/bin:/usr/bin");
    // Encoded, the key is no PEM block for the built-in pattern to find: only the registry knows it.
    expect(registry.redact(`key ${hex(key.trim())} end`)).toBe("key [redacted] end");
  });

  it("a missing key file is not its error (the app reports it when it reads the key)", () => {
    const registry = new SecretRegistry();
    expect(() => registry.addFromEnv({ PRIVATE_KEY_PATH: path.join(dir, "missing.pem") })).not.toThrow();
  });
});

describe("the harness log redacts through the process registry", () => {
  it("a token added to the registry, its encodings and the built-in patterns never reach a log line", () => {
    let logs = "";
    const log = createLogger({
      level: "debug",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logs += chunk.toString();
          done();
        },
      }),
    });
    processSecrets.add(MINTED);
    const jwt = `eyJ${"a".repeat(20)}.eyJ${"b".repeat(30)}.${"c-_".repeat(15)}`;
    log.info({ output: `x ${hex(MINTED)} y`, nested: { list: [b64(MINTED), `auth ${jwt}`] } }, `token ${MINTED} minted`);
    expect(logs).toContain("[redacted]");
    for (const leaked of [MINTED, hex(MINTED), b64(MINTED), jwt]) expect(logs).not.toContain(leaked);
    expect(logs).toContain("minted");
  });
});
