import type { Logger } from "../adapters/logger.js";

/**
 * Keeps a running session's signals apart, on two clocks:
 * - liveness, every `livenessMs` (default 30 s): a local write, free;
 * - lease renewal, every `renewMs` (a third of the lease term): a GitHub write,
 *   so rare — at 50 agents a 30-second renewal alone would pass GitHub's limit
 *   of 80 content-creating requests a minute.
 * Between renewals each beat also checks the lease head with a conditional
 * read (a 304 costs nothing against the rate limit), so an interrupt request
 * is noticed within one beat. A check or renewal that finds the lease not ours
 * any more (fenced, or an interrupt request on top of ours) calls `onLost` once
 * and stops. One that fails for another reason is tried again on the next beat,
 * so one lost request does not cost the lease.
 */
export type LeaseStatus = "ours" | "fenced" | "interrupted";

export interface HeartbeatOptions {
  livenessMs: number;
  renewMs: number;
  now: () => number;
  /** Records that the agent is alive (local state). */
  beat: () => Promise<void>;
  /** Reads the lease head (cheap): is it still ours? */
  check: () => Promise<LeaseStatus>;
  /** Renews the lease, when it is still ours. */
  renew: () => Promise<LeaseStatus>;
  onLost: (status: Exclude<LeaseStatus, "ours">) => void;
  log: Logger;
}

export class Heartbeat {
  private readonly options: HeartbeatOptions;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewal: number;
  private running: Promise<void> = Promise.resolve();
  private lost = false;

  constructor(options: HeartbeatOptions) {
    this.options = options;
    this.lastRenewal = options.now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick());
    }, this.options.livenessMs);
    this.timer.unref();
  }

  /** Stops the clock and waits for a tick in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.lost || this.timer === undefined) return;
    const { log } = this.options;
    await this.options.beat().catch((error: unknown) => log.warn({ err: error }, "liveness not recorded"));
    const renewing = this.options.now() - this.lastRenewal >= this.options.renewMs;
    let status: LeaseStatus;
    try {
      status = renewing ? await this.options.renew() : await this.options.check();
    } catch (error) {
      log.warn({ err: error }, renewing ? "lease renewal failed; retrying on the next beat" : "lease check failed");
      return;
    }
    if (status === "ours") {
      if (renewing) {
        this.lastRenewal = this.options.now();
        log.debug("lease renewed");
      }
      return;
    }
    this.lost = true;
    log.warn({ status }, status === "interrupted" ? "interrupt requested: stopping the session" : "lease lost: stopping the session, writing nothing more");
    this.options.onLost(status);
  }
}
