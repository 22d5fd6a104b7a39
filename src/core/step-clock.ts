/**
 * Where an issue's time goes: consecutive named steps, each measured from the
 * previous mark (a name that comes back adds up). The worker logs the result
 * once per issue, so a slow phase shows in production logs and in the benches
 * without a profiler.
 */
export class StepClock {
  private last: number;
  private readonly totals = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {
    this.last = now();
  }

  /** Ends the step `name` now; the next step starts here. */
  mark(name: string): void {
    const t = this.now();
    this.totals.set(name, (this.totals.get(name) ?? 0) + (t - this.last));
    this.last = t;
  }

  /** Skips the time since the last mark (a wait that belongs to nobody's step). */
  restart(): void {
    this.last = this.now();
  }

  /** The steps in the order they first ended, in whole milliseconds. */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.totals].map(([name, ms]) => [name, Math.round(ms)]));
  }
}
