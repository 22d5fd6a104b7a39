import type { Logger } from "../adapters/logger.js";

/**
 * Keeps a running session's signals apart, on two clocks:
 * - liveness, every `livenessMs` (default 30 s): a local write, free;
 * - lease renewal, every `renewMs` (a third of the lease term): a GitHub write,
 *   so rare — at 50 agents a 30-second renewal alone would pass GitHub's limit
 *   of 80 content-creating requests a minute.
 * A renewal that finds the lease gone (fenced) calls `onFenced` once and stops.
 * A renewal that fails for another reason is retried on the next liveness tick,
 * so one lost request does not cost the lease.
 */
export interface HeartbeatOptions {
  livenessMs: number;
  renewMs: number;
  now: () => number;
  /** Records that the agent is alive (local state). */
  beat: () => Promise<void>;
  /** Renews the lease: true when it is still ours, false when fenced. */
  renew: () => Promise<boolean>;
  onFenced: () => void;
  log: Logger;
}

export class Heartbeat {
  private readonly options: HeartbeatOptions;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewal: number;
  private running: Promise<void> = Promise.resolve();
  private fenced = false;

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
    if (this.fenced || this.timer === undefined) return;
    const { log } = this.options;
    await this.options.beat().catch((error: unknown) => log.warn({ err: error }, "liveness not recorded"));
    if (this.options.now() - this.lastRenewal < this.options.renewMs) return;
    try {
      const ours = await this.options.renew();
      if (!ours) {
        this.fenced = true;
        log.warn("lease lost: stopping the session, writing nothing more");
        this.options.onFenced();
        return;
      }
      this.lastRenewal = this.options.now();
      log.debug("lease renewed");
    } catch (error) {
      log.warn({ err: error }, "lease renewal failed; retrying on the next beat");
    }
  }
}
