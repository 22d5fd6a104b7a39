/**
 * GitHub allows an installation (or a token) 80 content-creating requests a
 * minute and 500 an hour; past that come secondary rate limits and blocks. One
 * budget per installation takes every write of every agent, at most `perSecond`
 * (10) of them in any second (a burst such as an issue's claim or its publication
 * goes at once; a sustained stream is paced to one per 100 ms on average, as
 * GitHub asks of many writes), in two classes:
 * - essential (lease, pull request, final summary, labels): waits for a slot;
 * - cosmetic (progress edits of the tracking comment): only while the budget
 *   keeps a reserve for essential writes, otherwise dropped — the next edit
 *   carries the newer state anyway, so dropping merges them.
 * The clock and the sleep are injected: no timers in tests.
 */
export type WriteClass = "essential" | "cosmetic";

export interface WriteBudgetOptions {
  /** Writes in any one second (default 10): the pacing of a burst. */
  perSecond?: number;
  perMinute?: number;
  perHour?: number;
  /** Share of each window kept for essential writes: cosmetic writes stop above `1 - reserve`. */
  reserve?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface WriteBudgetStats {
  essential: number;
  cosmetic: number;
  dropped: number;
  waitedMs: number;
  /** Essential writes that had to wait for a slot (each counted once, however long it waited). */
  waits: number;
}

export class WriteBudget {
  private readonly perSecond: number;
  private readonly perMinute: number;
  private readonly perHour: number;
  private readonly reserve: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Times of the writes of the last hour, oldest first. */
  private readonly spent: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  readonly stats: WriteBudgetStats = { essential: 0, cosmetic: 0, dropped: 0, waitedMs: 0, waits: 0 };

  constructor(options: WriteBudgetOptions = {}) {
    this.perSecond = options.perSecond ?? 10;
    this.perMinute = options.perMinute ?? 80;
    this.perHour = options.perHour ?? 500;
    this.reserve = options.reserve ?? 0.25;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private prune(t: number): void {
    while (this.spent.length > 0 && (this.spent[0] as number) <= t - HOUR) this.spent.shift();
  }

  /** Writes within `window` ms before `t`, newest last. */
  private within(t: number, window: number): number[] {
    let i = this.spent.length;
    while (i > 0 && (this.spent[i - 1] as number) > t - window) i -= 1;
    return this.spent.slice(i);
  }

  /** Milliseconds until a write fits under `secondCap`, `minuteCap` and `hourCap`. */
  private waitFor(t: number, secondCap: number, minuteCap: number, hourCap: number): number {
    this.prune(t);
    let wait = 0;
    // The write that has to leave a window before one more fits: the cap-th newest of it.
    const free = (window: number, cap: number): number => {
      const inWindow = this.within(t, window);
      return inWindow.length < cap ? 0 : (inWindow[inWindow.length - cap] as number) + window - t + 1;
    };
    if (Number.isFinite(secondCap)) wait = Math.max(wait, free(SECOND, secondCap));
    if (Number.isFinite(minuteCap)) wait = Math.max(wait, free(MINUTE, minuteCap));
    if (this.spent.length >= hourCap) wait = Math.max(wait, (this.spent[this.spent.length - hourCap] as number) + HOUR - t + 1);
    return wait;
  }

  /** A cosmetic write: true (and counted) when the budget has room beyond its reserve, false to drop it. */
  tryCosmetic(): boolean {
    const t = this.now();
    const cap = (limit: number): number => Math.floor(limit * (1 - this.reserve));
    if (this.waitFor(t, this.perSecond, cap(this.perMinute), cap(this.perHour)) > 0) {
      this.stats.dropped += 1;
      return false;
    }
    this.spent.push(t);
    this.stats.cosmetic += 1;
    return true;
  }

  /** An essential write: resolves when it may be sent (at once while under the limits). Writes leave in order. */
  essential(): Promise<void> {
    const turn = this.queue.then(async () => {
      let waited = false;
      for (;;) {
        const t = this.now();
        const wait = this.waitFor(t, this.perSecond, this.perMinute, this.perHour);
        if (wait === 0) {
          this.spent.push(t);
          this.stats.essential += 1;
          return;
        }
        this.stats.waitedMs += wait;
        if (!waited) this.stats.waits += 1;
        waited = true;
        await this.sleep(wait);
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

/** One budget per installation (or token), shared by every agent of the process. */
export class WriteBudgets {
  private readonly budgets = new Map<string, WriteBudget>();
  private readonly options: WriteBudgetOptions;
  /** While an override is on: its options and the budgets handed out under it. */
  private overridden: { options: WriteBudgetOptions; budgets: Map<string, WriteBudget> } | null = null;

  constructor(options: WriteBudgetOptions = {}) {
    this.options = options;
  }

  /** Writes that waited and cosmetic writes dropped, over every budget of the process (metrics). */
  totals(): { waits: number; drops: number } {
    let waits = 0;
    let drops = 0;
    for (const budget of [...this.budgets.values(), ...(this.overridden?.budgets.values() ?? [])]) {
      waits += budget.stats.waits;
      drops += budget.stats.dropped;
    }
    return { waits, drops };
  }

  for(key: string): WriteBudget {
    const budgets = this.overridden?.budgets ?? this.budgets;
    let budget = budgets.get(key);
    if (!budget) {
      budget = new WriteBudget(this.overridden?.options ?? this.options);
      budgets.set(key, budget);
    }
    return budget;
  }

  /**
   * Until the returned function is called, `for` hands out budgets with these options instead, fresh
   * ones apart from the usual (a stack against the offline fake GitHub, which has no write limits to
   * pace for). Budgets handed out meanwhile keep those options; the restore brings back the ones before.
   */
  override(options: WriteBudgetOptions): () => void {
    const previous = this.overridden;
    const mine = { options, budgets: new Map<string, WriteBudget>() };
    this.overridden = mine;
    return () => {
      if (this.overridden === mine) this.overridden = previous;
    };
  }
}
