import { isInterruptOf, type LeaseOwner } from "../core/lease.js";
import type { LeaseHead, LeaseStore } from "../adapters/github-lease.js";
import type { Logger } from "../adapters/logger.js";
import { Heartbeat, type LeaseStatus } from "./heartbeat.js";

export interface LeaseHandleOptions {
  leases: LeaseStore;
  issue: number;
  owner: LeaseOwner;
  /** The head the claim wrote. */
  head: LeaseHead;
  termMs: number;
  livenessMs: number;
  now: () => Date;
  /** Records locally that the agent is alive (each beat). */
  beat: () => Promise<void>;
  /** Called once when the lease is no longer ours alone: fenced, or a person asked for an interrupt. */
  onLost: (status: Exclude<LeaseStatus, "ours">) => void;
  /** Each renewal's result (metrics): renewed, lost (fenced), or error (the request failed). An interrupt request is neither. */
  onRenewal?: (result: "renewed" | "lost" | "error") => void;
  log: Logger;
}

/**
 * One issue's lease while an agent holds it: the only owner of the head the
 * agent holds. The heartbeat renews through it, the publishing stages ask it
 * whether the lease is still ours, and the release goes through it, so no
 * caller ever builds on a head that a renewal has moved past.
 */
export class LeaseHandle {
  private current: LeaseHead;
  private readonly heartbeat: Heartbeat;

  constructor(private readonly options: LeaseHandleOptions) {
    this.current = options.head;
    this.heartbeat = new Heartbeat({
      livenessMs: options.livenessMs,
      renewMs: options.termMs / 3,
      now: () => options.now().getTime(),
      beat: options.beat,
      check: async () => this.statusOf(await options.leases.read(options.issue)),
      renew: async () => {
        let renewed: Awaited<ReturnType<LeaseStore["renew"]>>;
        try {
          renewed = await options.leases.renew(options.issue, this.current, options.owner, options.now(), options.termMs);
        } catch (error) {
          options.onRenewal?.("error");
          throw error;
        }
        if (renewed.ok) {
          this.current = renewed.head;
          options.onRenewal?.("renewed");
          return "ours";
        }
        const status = this.statusOf(renewed.head);
        if (status === "fenced") options.onRenewal?.("lost");
        return status;
      },
      onLost: options.onLost,
      log: options.log,
    });
  }

  /** The head this agent holds now (the claim's, or the latest renewal's). */
  get head(): LeaseHead {
    return this.current;
  }

  get attempt(): number {
    return this.current.record.attempt;
  }

  /** Starts renewing: from the claim on, since preparing a big repository can outlast a lease term. */
  start(): void {
    this.heartbeat.start();
  }

  /** Stops renewing and waits for a renewal in flight, so none can race a release. */
  stop(): Promise<void> {
    return this.heartbeat.stop();
  }

  private statusOf(head: LeaseHead | null): LeaseStatus {
    if (head?.sha === this.current.sha) return "ours";
    return head !== null && isInterruptOf(head.record, this.current.record) ? "interrupted" : "fenced";
  }

  /** Reads the lease: ours, interrupted (a stop request on top of ours), or fenced (somebody else's). */
  async status(): Promise<LeaseStatus> {
    return this.statusOf(await this.options.leases.read(this.options.issue));
  }

  /** Throws EHARNESS_LEASE_LOST unless the lease is still ours: called right before every write people see. */
  assertHeld(): Promise<void> {
    return this.options.leases.assertHeld(this.options.issue, this.current);
  }

  /** Records a stop request on the lease, as a person's /interrupt does. */
  async interrupt(): Promise<void> {
    await this.options.leases.interrupt(this.options.issue, this.options.now());
  }

  /** Gives the lease back (the heartbeat is stopped first); false when it was not ours any more. */
  /** `notBefore`: an automatic retry's backoff, written with the release. */
  async release(details: { outcome: string; sessionId: string | null; notBefore?: string | null; defer?: boolean }): Promise<boolean> {
    await this.stop();
    const released = await this.options.leases.release(this.options.issue, this.current, this.options.owner, this.options.now(), details);
    if (released.ok) this.current = released.head;
    else this.options.log.warn({ issue: this.options.issue, head: released.head?.record ?? null }, "the lease was not ours to release any more");
    return released.ok;
  }
}
