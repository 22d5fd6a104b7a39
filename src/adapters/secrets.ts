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

  /** The environment's secrets and HARNESS_REDACT_PATTERNS (EHARNESS_CONFIG on a bad pattern). */
  addFromEnv(env: Record<string, string | undefined>): void {
    const found = secretsFromEnv(env);
    this.patterns = [...this.patterns, ...found.patterns];
    for (const secret of found.secrets) this.secrets.add(secret);
    this.rebuild();
  }

  private rebuild(): void {
    this.redactor = createRedactor([...this.secrets], this.patterns);
  }

  readonly redact: Redactor = (text) => this.redactor(text);
}

/** The registry of this process. */
export const processSecrets = new SecretRegistry();
