import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";

/**
 * The one comment of an attempt, and its only writer: created at the claim,
 * edited in place with progress (cosmetic: merged, or dropped when the write
 * budget is short), and finished as the session summary (essential). As in
 * anthropics/claude-code-action, a person follows one comment per attempt.
 *
 * The claim does not wait for the comment's creation (it is display, off the
 * critical path): the id may be a promise, awaited by the first edit that needs
 * it. A creation that failed (null) drops the progress edits, and the final body
 * creates the comment instead (so the summary still lands, once).
 */
export class TrackingComment {
  private lastBody: string;
  private lastEditAt: number;
  private pending: Promise<void> = Promise.resolve();
  private commentId: Promise<number | null>;

  constructor(
    private readonly github: GitHubClient,
    id: number | Promise<number | null>,
    initialBody: string,
    private readonly options: {
      minIntervalMs: number;
      nowMs: () => number;
      log: Logger;
      /** The issue, for creating the comment at the end when its creation at the claim failed (a null id). */
      issue?: number;
    },
  ) {
    this.lastBody = initialBody;
    this.lastEditAt = options.nowMs();
    // Never rejects: a failed creation is a null id (the claim logs it).
    this.commentId = Promise.resolve(id).catch(() => null);
  }

  /** The comment's id once created; null when its creation failed and no final body created it yet. */
  id(): Promise<number | null> {
    return this.commentId;
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
        const id = await this.commentId;
        if (id === null) {
          this.options.log.debug("progress edit dropped: the tracking comment was not created (the summary creates it)");
          return;
        }
        if (!(await this.github.updateComment(id, body, "cosmetic"))) this.options.log.debug("progress edit dropped: write budget short");
      })
      .catch((error: unknown) => this.options.log.warn({ err: error }, "progress edit failed"));
    return true;
  }

  /** Waits for the comment's creation and a progress edit in flight, so neither can land after the final body. */
  async settle(): Promise<void> {
    await this.commentId;
    await this.pending;
  }

  /** The final body (summary, failure, interruption): an essential write, after any progress edit; creates the comment when the claim could not. */
  async finish(body: string): Promise<void> {
    await this.settle();
    const id = await this.commentId;
    if (id === null) {
      if (this.options.issue === undefined) throw new Error("TrackingComment: the comment was never created and no issue is known to create it on");
      const created = await this.github.createComment(this.options.issue, body);
      this.commentId = Promise.resolve(created);
      this.lastBody = body;
      return;
    }
    if (body === this.lastBody) return;
    await this.github.updateComment(id, body);
    this.lastBody = body;
  }
}
