import type { Logger } from "../adapters/logger.js";

/**
 * Runs jobs on at most `agents` concurrent agents, in arrival order. A job for
 * a key that is already queued or running is dropped: a webhook delivered twice
 * must not start two agents for one issue (the lease would stop the second one
 * anyway, but only after it spent API calls).
 */
export class AgentPool {
  private readonly agents: number;
  private readonly log: Logger;
  private readonly queue: { key: string; run: (agentIndex: number) => Promise<void> }[] = [];
  private readonly active = new Set<string>();
  private readonly freeAgents: number[];
  private idleWaiters: (() => void)[] = [];

  constructor(options: { agents: number; log: Logger }) {
    this.agents = options.agents;
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
  submit(key: string, run: (agentIndex: number) => Promise<void>): boolean {
    if (this.active.has(key)) return false;
    this.active.add(key);
    this.queue.push({ key, run });
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
