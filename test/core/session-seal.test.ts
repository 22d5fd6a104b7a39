import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HarnessError } from "../../src/core/errors.js";
import {
  decideSessionSaving,
  isSealedSession,
  openSession,
  parseSessionKey,
  PUBLIC_WITHOUT_KEY,
  SESSION_ENVELOPE_HEADER,
  sealSession,
} from "../../src/core/session-seal.js";

const key = Buffer.from("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex");
const binding = { sessionId: "0b8f6a52-6c7e-4d1e-9a43-5f2f1c9a7e10", issue: 7 };
const transcript = `${JSON.stringify({ type: "user", text: "CANARY-tool-output-4711" })}\n${JSON.stringify({ type: "assistant", text: "done ✓" })}\n`;

function thrown(fn: () => unknown): HarnessError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HarnessError);
    return error as HarnessError;
  }
  throw new Error("expected a HarnessError");
}

/** Flips one bit of the payload byte at `index` (0–11 iv, 12–27 tag, 28… ciphertext). */
function flip(blob: string, index: number): string {
  const [header, body] = blob.split("\n");
  const payload = Buffer.from(body!, "base64");
  payload[index] = payload[index]! ^ 0x01;
  return `${header}\n${payload.toString("base64")}\n`;
}

describe("session seal", () => {
  it("round-trips a transcript, with the versioned envelope and no plain text in the blob", () => {
    const blob = sealSession(transcript, key, binding);
    expect(blob.split("\n")[0]).toBe(SESSION_ENVELOPE_HEADER);
    expect(blob).not.toContain("CANARY");
    expect(isSealedSession(blob)).toBe(true);
    const payload = Buffer.from(blob.split("\n")[1]!, "base64");
    expect(payload.length).toBe(12 + 16 + Buffer.byteLength(transcript));
    expect(openSession(blob, key, binding)).toBe(transcript);
  });

  it("uses a fresh iv each time", () => {
    expect(sealSession(transcript, key, binding)).not.toBe(sealSession(transcript, key, binding));
  });

  it("refuses a wrong key and a missing key with EHARNESS_SESSION whose fix names the key and /retry fresh", () => {
    const blob = sealSession(transcript, key, binding);
    for (const attempt of [() => openSession(blob, randomBytes(32), binding), () => openSession(blob, undefined, binding)]) {
      const error = thrown(attempt);
      expect(error.code).toBe("EHARNESS_SESSION");
      expect(error.fix).toContain("same HARNESS_SESSION_KEY on every runner");
      expect(error.fix).toContain("/retry fresh");
    }
    expect(thrown(() => openSession(blob, undefined, binding)).message).toContain("HARNESS_SESSION_KEY is not set");
  });

  it("refuses a tampered iv, tag or ciphertext, and a truncated or non-base64 payload", () => {
    const blob = sealSession(transcript, key, binding);
    for (const index of [0, 11, 12, 27, 28, 40]) expect(thrown(() => openSession(flip(blob, index), key, binding)).code).toBe("EHARNESS_SESSION");
    expect(thrown(() => openSession(`${SESSION_ENVELOPE_HEADER}\nAAAA\n`, key, binding)).code).toBe("EHARNESS_SESSION");
    expect(thrown(() => openSession(`${SESSION_ENVELOPE_HEADER}\n{"type":"user"}\n`, key, binding)).code).toBe("EHARNESS_SESSION");
    expect(thrown(() => openSession(`${SESSION_ENVELOPE_HEADER}\n`, key, binding)).code).toBe("EHARNESS_SESSION");
  });

  it("binds the blob to its issue and session id (a blob moved to another issue's ref does not open)", () => {
    const blob = sealSession(transcript, key, binding);
    expect(thrown(() => openSession(blob, key, { ...binding, issue: 8 })).code).toBe("EHARNESS_SESSION");
    expect(thrown(() => openSession(blob, key, { ...binding, sessionId: "0b8f6a52-6c7e-4d1e-9a43-5f2f1c9a7e11" })).code).toBe("EHARNESS_SESSION");
    // Not a prefix trick either: issue 7 vs 70, 17.
    expect(thrown(() => openSession(blob, key, { ...binding, issue: 70 })).code).toBe("EHARNESS_SESSION");
  });

  it("refuses an envelope version it does not know", () => {
    const blob = sealSession(transcript, key, binding).replace("harness-session-v1", "harness-session-v2");
    const error = thrown(() => openSession(blob, key, binding));
    expect(error.code).toBe("EHARNESS_SESSION");
    expect(error.message).toContain("harness-session-v2");
  });

  it("returns an old unencrypted blob as it is, with or without a key", () => {
    expect(isSealedSession(transcript)).toBe(false);
    expect(openSession(transcript, key, binding)).toBe(transcript);
    expect(openSession(transcript, undefined, binding)).toBe(transcript);
  });

  it("parses 64 hex characters and base64 / base64url of 32 bytes; unset or empty is no key", () => {
    const raw = randomBytes(32);
    expect(parseSessionKey(raw.toString("hex"))).toEqual(raw);
    expect(parseSessionKey(raw.toString("hex").toUpperCase())).toEqual(raw);
    expect(parseSessionKey(` ${raw.toString("hex")}\n`)).toEqual(raw);
    expect(parseSessionKey(raw.toString("base64"))).toEqual(raw);
    expect(parseSessionKey(raw.toString("base64").replace(/=$/, ""))).toEqual(raw);
    expect(parseSessionKey(raw.toString("base64url"))).toEqual(raw);
    expect(parseSessionKey(undefined)).toBeUndefined();
    expect(parseSessionKey("")).toBeUndefined();
    expect(parseSessionKey("  ")).toBeUndefined();
  });

  it("refuses any other key format with EHARNESS_CONFIG whose fix says how to make one, never echoing the value", () => {
    const bad = [
      "secret-passphrase-that-is-long-enough",
      "00112233445566778899aabbccddeeff", // 16 bytes of hex
      `${"ab".repeat(32)}00`, // 33 bytes of hex
      "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", // not hex
      randomBytes(16).toString("base64"),
      randomBytes(48).toString("base64"),
      `${randomBytes(32).toString("base64").slice(0, 42)}!=`,
    ];
    for (const value of bad) {
      const error = thrown(() => parseSessionKey(value));
      expect(error.code).toBe("EHARNESS_CONFIG");
      expect(error.fix).toContain("openssl rand -hex 32");
      expect(error.message).not.toContain(value);
    }
    expect(thrown(() => sealSession(transcript, randomBytes(16), binding)).code).toBe("EHARNESS_CONFIG");
  });

  it("decides what is saved: sealed with a key, plain for a private repository without one, nothing for a public one", () => {
    expect(decideSessionSaving({ hasKey: true, isPrivate: false })).toEqual({ save: true, seal: true });
    expect(decideSessionSaving({ hasKey: true, isPrivate: true })).toEqual({ save: true, seal: true });
    expect(decideSessionSaving({ hasKey: false, isPrivate: true })).toEqual({ save: true, seal: false });
    expect(decideSessionSaving({ hasKey: false, isPrivate: false })).toEqual({ save: false, reason: PUBLIC_WITHOUT_KEY });
    expect(decideSessionSaving({ hasKey: false, isPrivate: undefined })).toEqual({ save: false, reason: PUBLIC_WITHOUT_KEY });
    expect(PUBLIC_WITHOUT_KEY).toBe("not saved: public repository without HARNESS_SESSION_KEY");
  });
});
