import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { HarnessError } from "./errors.js";

/**
 * Saved sessions (refs/harness/sessions/issue-N) hold tool output, and in a
 * public repository anyone can fetch them. They are sealed with AES-256-GCM
 * under HARNESS_SESSION_KEY, a key every runner of the installation holds.
 *
 * The blob is a versioned envelope: the first line names the format, the
 * second is base64 of iv (12) | tag (16) | ciphertext. The session id and the
 * issue number are additional authenticated data, so a blob moved to another
 * issue's ref, or under another session id, does not open. A blob without the
 * envelope is an older, unencrypted save and is returned as it is.
 */

export const SESSION_ENVELOPE_HEADER = "harness-session-v1 aes-256-gcm";
/** What every envelope, of any version, starts with. */
const ENVELOPE_PREFIX = "harness-session-";
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const SESSION_KEY_BYTES = 32;

/** Whose session a blob is: bound to the ciphertext as additional authenticated data. */
export interface SessionBinding {
  sessionId: string;
  issue: number;
}

const KEY_FIX = "Make a key with `openssl rand -hex 32` and set the same HARNESS_SESSION_KEY on every runner of the installation.";
const OPEN_FIX =
  "Set the same HARNESS_SESSION_KEY on every runner of the installation (the one that saved the session), or comment /retry fresh to start a new session that carries the last summary.";

/**
 * HARNESS_SESSION_KEY as a 32-byte key: 64 hex characters, or base64 /
 * base64url of 32 bytes. Unset or empty is undefined (no key); anything else
 * is EHARNESS_CONFIG. The value itself never appears in the error.
 */
export function parseSessionKey(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text)) {
    const key = Buffer.from(text, "base64");
    if (key.length === SESSION_KEY_BYTES) return key;
  }
  throw new HarnessError("EHARNESS_CONFIG", {
    message: `HARNESS_SESSION_KEY is not a 32-byte key (it must be 64 hex characters or the base64 of 32 bytes; it has ${text.length} characters).`,
    fix: KEY_FIX,
  });
}

function additionalData(binding: SessionBinding): Buffer {
  return Buffer.from(`${SESSION_ENVELOPE_HEADER}\0issue=${binding.issue}\0session=${binding.sessionId}`, "utf8");
}

function checkKey(key: Buffer): void {
  if (key.length !== SESSION_KEY_BYTES) {
    throw new HarnessError("EHARNESS_CONFIG", { message: `The session key has ${key.length} bytes, not ${SESSION_KEY_BYTES}.`, fix: KEY_FIX });
  }
}

/** Seals a session's text for `binding`; `iv` only for tests (a fresh random one otherwise). */
export function sealSession(text: string, key: Buffer, binding: SessionBinding, iv: Buffer = randomBytes(IV_BYTES)): string {
  checkKey(key);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(binding));
  const ciphertext = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  const payload = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
  return `${SESSION_ENVELOPE_HEADER}\n${payload.toString("base64")}\n`;
}

/** Whether a blob is a sealed envelope (of any version) rather than an older plain save. */
export function isSealedSession(blob: string): boolean {
  return blob.startsWith(ENVELOPE_PREFIX);
}

function cannotOpen(binding: SessionBinding, why: string, cause?: unknown): HarnessError {
  return new HarnessError("EHARNESS_SESSION", {
    message: `The saved session ${binding.sessionId} of issue #${binding.issue} cannot be opened: ${why}`,
    fix: OPEN_FIX,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Opens a saved blob: a sealed envelope is decrypted and authenticated with
 * `key` and `binding`; a plain blob (saved before sealing) is returned as it
 * is. A missing or wrong key, a tampered blob, a blob of another issue or
 * session, or an unknown envelope version is EHARNESS_SESSION.
 */
export function openSession(blob: string, key: Buffer | undefined, binding: SessionBinding): string {
  if (!isSealedSession(blob)) return blob;
  const newline = blob.indexOf("\n");
  const header = (newline === -1 ? blob : blob.slice(0, newline)).trim();
  if (header !== SESSION_ENVELOPE_HEADER) throw cannotOpen(binding, `its format "${header.slice(0, 60)}" is not one this harness reads.`);
  if (key === undefined) throw cannotOpen(binding, "it is encrypted and HARNESS_SESSION_KEY is not set on this runner.");
  checkKey(key);
  const body = newline === -1 ? "" : blob.slice(newline + 1).trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw cannotOpen(binding, "its payload is not base64.");
  const payload = Buffer.from(body, "base64");
  if (payload.length < IV_BYTES + TAG_BYTES) throw cannotOpen(binding, "its payload is truncated.");
  const decipher = createDecipheriv("aes-256-gcm", key, payload.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(binding));
  decipher.setAuthTag(payload.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(payload.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch (cause) {
    throw cannotOpen(binding, "the key differs from the one that saved it, or the blob was altered or belongs to another issue or session.", cause);
  }
}

/** Whether (and how) a finished session may be pushed to its ref. */
export type SessionSaving = { save: true; seal: boolean } | { save: false; reason: string };

export const PUBLIC_WITHOUT_KEY = "not saved: public repository without HARNESS_SESSION_KEY";

/**
 * The transcript policy: with a key, every session is sealed; without one, a
 * private repository's session is saved in plain (only its readers can fetch
 * it), a public one's (or one whose visibility is unknown) is not pushed at
 * all, so /retry resumes it only on the host that still has it.
 */
export function decideSessionSaving(input: { hasKey: boolean; isPrivate: boolean | undefined }): SessionSaving {
  if (input.hasKey) return { save: true, seal: true };
  if (input.isPrivate === true) return { save: true, seal: false };
  return { save: false, reason: PUBLIC_WITHOUT_KEY };
}
