import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";

/**
 * The one comment of an attempt, and its only writer: created at the claim,
 * edited in place with progress (cosmetic: merged, or dropped when the write
 * budget is short), and finished as the session summary (essential). As in
 * anthropics/claude-code-action, a person follows one comment per attempt.
 */
export class TrackingComment {
  private lastBody: string;
  private lastEditAt: number;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly github: GitHubClient,
    readonly id: number,
    initialBody: string,
    private readonly options: { minIntervalMs: number; nowMs: () => number; log: Logger },
  ) {
    this.lastBody = initialBody;
    this.lastEditAt = options.nowMs();
  }

  /**
   * A progress edit, at most one per `minIntervalMs` and only when the body
   * changed; never waits and never fails the caller. True when one was queued.
   */
  progress(body: string): boolean {
    const now = this.options.nowMs();
    if (now - this.lastEditAt < this.options.minIntervalMs || body === this.lastBody) return false;
    this.lastEditAt = now;
    this.lastBody = body;
    this.pending = this.pending
      .then(async () => {
        if (!(await this.github.updateComment(this.id, body, "cosmetic"))) this.options.log.debug("progress edit dropped: write budget short");
      })
      .catch((error: unknown) => this.options.log.warn({ err: error }, "progress edit failed"));
    return true;
  }

  /** Waits for a progress edit in flight, so it cannot land after the final body. */
  settle(): Promise<void> {
    return this.pending;
  }

  /** The final body (summary, failure, interruption): an essential write, after any progress edit. */
  async finish(body: string): Promise<void> {
    await this.settle();
    if (body === this.lastBody) return;
    await this.github.updateComment(this.id, body);
    this.lastBody = body;
  }
}
