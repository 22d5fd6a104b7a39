/**
 * The catalogue of coded errors. Every error the harness reports to a person
 * carries a stable code (`EHARNESS_*`), a message that says what happened and a
 * fix that says what to do about it. Modelled on semantic-release/github's
 * lib/definitions/errors.js.
 */

export type HarnessErrorCode =
  | "EHARNESS_CONFIG"
  | "EHARNESS_PROMPT"
  | "EHARNESS_CLI_MISSING"
  | "EHARNESS_NO_DEFAULT_BRANCH"
  | "EHARNESS_PUSH_REJECTED"
  | "EHARNESS_GIT"
  | "EHARNESS_LEASE_LOST"
  | "EHARNESS_LEASE_CORRUPT"
  | "EHARNESS_NO_WEBHOOK_SECRET"
  | "EHARNESS_CREDENTIALS"
  | "EHARNESS_TRANSCRIPT"
  | "EHARNESS_USAGE"
  | "EHARNESS_GITHUB"
  | "EHARNESS_SESSION"
  | "EHARNESS_DISK"
  | "EHARNESS_SANDBOX"
  | "EHARNESS_PUBLISH_REFUSED"
  | "EHARNESS_WORKFLOW_PERMISSION"
  | "EHARNESS_NOT_ALLOWED"
  | "EHARNESS_UNAPPROVED_EDIT"
  | "EHARNESS_PREFLIGHT"
  | "EHARNESS_KNOWLEDGE"
  | "EHARNESS_KNOWLEDGE_NOT_FOUND"
  | "EHARNESS_CONVOY"
  | "EHARNESS_CONFLICT_UNRESOLVED"
  | "EHARNESS_BUDGET_SETTING";

export interface HarnessErrorDetails {
  /** What happened, in one or two sentences a person can read. */
  message: string;
  /** What to do about it. */
  fix: string;
  /** Extra context for the log (never posted). */
  cause?: unknown;
}

export class HarnessError extends Error {
  readonly code: HarnessErrorCode;
  readonly fix: string;

  constructor(code: HarnessErrorCode, details: HarnessErrorDetails) {
    super(details.message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "HarnessError";
    this.code = code;
    this.fix = details.fix;
  }

  /** `EHARNESS_X: message Fix: ...` – the one-line form for logs and CLIs. */
  override toString(): string {
    return `${this.code}: ${this.message} Fix: ${this.fix}`;
  }
}

export function isHarnessError(value: unknown): value is HarnessError {
  return value instanceof HarnessError;
}

/** Wraps anything thrown into a HarnessError, keeping coded errors as they are. */
export function toHarnessError(value: unknown, code: HarnessErrorCode, fix: string): HarnessError {
  if (isHarnessError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new HarnessError(code, { message, fix, cause: value });
}
