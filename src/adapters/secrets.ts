import { readFileSync } from "node:fs";
import { createRedactor, MIN_SECRET_LENGTH, secretsFromEnv, type Redactor } from "../core/redact.js";

/**
 * The secrets this process knows, and the one redactor built from them.
 * Secrets are process-wide by nature (the environment, the tokens the App
 * mints), so everything that writes outside the host (comments, pull requests,
 * job summaries, logs, saved sessions) redacts through this registry, and every
 * token the harness obtains is added to it the moment it is obtained.
 */
export class SecretRegistry {
  private readonly secrets = new Set<string>();
  private patterns: RegExp[] = [];
  private redactor: Redactor = createRedactor([]);

  /** Adds literal secrets (shorter than MIN_SECRET_LENGTH are ignored). */
  add(...values: (string | undefined)[]): void {
    let changed = false;
    for (const value of values) {
      if (value !== undefined && value.length >= MIN_SECRET_LENGTH && !this.secrets.has(value)) {
        this.secrets.add(value);
        changed = true;
      }
    }
    if (changed) this.rebuild();
  }

  /**
   * The environment's secrets (see `secretsFromEnv`), the contents of the file
   * named by PRIVATE_KEY_PATH (the App's key, read by the app later) and
   * HARNESS_REDACT_PATTERNS (EHARNESS_CONFIG on a bad pattern).
   */
  addFromEnv(env: Record<string, string | undefined>): void {
    const found = secretsFromEnv(env);
    this.patterns = [...this.patterns, ...found.patterns];
    for (const secret of found.secrets) this.secrets.add(secret);
    const keyFile = readKeyFile(env.PRIVATE_KEY_PATH);
    if (keyFile !== undefined && keyFile.trim().length >= MIN_SECRET_LENGTH) this.secrets.add(keyFile);
    this.rebuild();
  }

  private rebuild(): void {
    this.redactor = createRedactor([...this.secrets], this.patterns);
  }

  readonly redact: Redactor = (text) => this.redactor(text);
}

/** The key file's text; a missing or unreadable file is the app's error to report when it reads it, not ours. */
function readKeyFile(file: string | undefined): string | undefined {
  if (file === undefined || file === "") return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The registry of this process. */
export const processSecrets = new SecretRegistry();
