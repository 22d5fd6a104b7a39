import type { Logger } from "../adapters/logger.js";
import { compareQueued, type Priority } from "../core/queue.js";

/** Where a job stands in the pool's queue: the queue's own rule (src/core/queue.ts, compareQueued), across repositories. */
export interface JobOrder {
  priority: Priority;
  /** When the wait began (ISO). */
  waitingSince: string;
  number: number;
}

/**
 * Runs jobs on at most `agents` concurrent agents. Jobs waiting for an agent are
 * ordered by the queue's rule (priority class, then the longer wait, then the
 * number: compareQueued), whatever repository they come from; a job submitted
 * without an order (a webhook's) ranks as medium, waiting since it arrived; equal
 * jobs keep their arrival order. A job for
 * a key that is already queued or running is dropped: a webhook delivered twice
 * must not start two agents for one issue (the lease would stop the second one
 * anyway, but only after it spent API calls).
 */
export class AgentPool {
  private readonly agents: number;
  private readonly log: Logger;
  private readonly queue: { key: string; run: (agentIndex: number) => Promise<void>; order: JobOrder }[] = [];
  private readonly now: () => Date;
  private readonly active = new Set<string>();
  private readonly freeAgents: number[];
  private idleWaiters: (() => void)[] = [];

  constructor(options: { agents: number; log: Logger; now?: () => Date }) {
    this.agents = options.agents;
    this.now = options.now ?? (() => new Date());
    this.log = options.log;
    this.freeAgents = Array.from({ length: options.agents }, (_, i) => i);
  }

  get size(): number {
    return this.agents;
  }

  /** Agents running a job now. */
  get busy(): number {
    return this.agents - this.freeAgents.length;
  }

  /** Jobs accepted that wait for a free agent. */
  get waiting(): number {
    return this.queue.length;
  }

  /** True when the job was accepted, false when one for `key` is already queued or running. */
  submit(key: string, run: (agentIndex: number) => Promise<void>, order?: JobOrder): boolean {
    if (this.active.has(key)) return false;
    this.active.add(key);
    const job = { key, run, order: order ?? { priority: "medium" as const, waitingSince: this.now().toISOString(), number: Number.MAX_SAFE_INTEGER } };
    const rank = (o: JobOrder) => ({ priority: o.priority, createdAt: o.waitingSince, number: o.number });
    // Before the first waiting job it comes strictly before: equal ones keep arrival order.
    const at = this.queue.findIndex((queued) => compareQueued(rank(job.order), rank(queued.order)) < 0);
    if (at < 0) this.queue.push(job);
    else this.queue.splice(at, 0, job);
    this.pump();
    return true;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.freeAgents.length > 0) {
      const job = this.queue.shift();
      const agent = this.freeAgents.shift();
      if (job === undefined || agent === undefined) return;
      void job
        .run(agent)
        .catch((error: unknown) => this.log.error({ err: error, job: job.key }, "agent job failed"))
        .finally(() => {
          this.active.delete(job.key);
          this.freeAgents.push(agent);
          this.pump();
          if (this.active.size === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const resolve of waiters) resolve();
          }
        });
    }
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
