import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { NotifyConfig } from "../../core/notify-config.js";
import type { GitHubClient } from "../../adapters/github-client.js";
import { acquireLock } from "../../adapters/lockfile.js";
import type { Notifier } from "./notifier.js";

/** Dollars as people read them: cents from $1 up, two significant digits below. */
const usd = (v: number): string => `$${v >= 1 ? v.toFixed(2) : v.toPrecision(2)}`;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Daily spend per repository, from the cost of the sessions this app's agents ran, kept in
 * `<state>/notify/spend/<owner>--<repo>--<YYYY-MM-DD>.json` (UTC days; updated under a lockfile,
 * replaced whole by rename). Once a day's total reaches the threshold (`notify.dailySpendUsd`,
 * else the installation's), every later session of that day notifies `spend` again, and the
 * outbox, keyed by the repository and the day, sends it once.
 */
export class SpendWatch {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly notifier: Notifier,
    private readonly installationThresholdUsd: number | undefined,
  ) {}

  private dir(): string {
    return path.join(this.notifier.outbox.root, "spend");
  }

  /** Adds a session's cost; resolves once the total is saved (and the transition recorded when over; `github` makes its cross-host claim). */
  add(repository: string, costUsd: number, config: NotifyConfig, now: Date, github?: GitHubClient): Promise<void> {
    const run = this.chain.then(() => this.update(repository, costUsd, config, now, github));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async update(repository: string, costUsd: number, config: NotifyConfig, now: Date, github?: GitHubClient): Promise<void> {
    const threshold = config.dailySpendUsd ?? this.installationThresholdUsd;
    if (threshold === undefined || !(costUsd > 0)) return;
    const day = now.toISOString().slice(0, 10);
    const name = `${repository.replace("/", "--")}--${day}`;
    await fs.mkdir(this.dir(), { recursive: true, mode: 0o700 });
    const file = path.join(this.dir(), `${name}.json`);
    let lock = await acquireLock(this.dir(), name, "spend");
    for (let i = 0; !lock.acquired && i < 100; i += 1) {
      await pause(20);
      lock = await acquireLock(this.dir(), name, "spend");
    }
    if (!lock.acquired) throw new Error(`the spend file ${file} stays locked by another process`);
    let total: number;
    try {
      const before = await fs.readFile(file, "utf8").then(
        (text) => (JSON.parse(text) as { totalUsd: number }).totalUsd,
        () => 0,
      );
      total = before + costUsd;
      const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
      await fs.writeFile(temp, JSON.stringify({ repository, day, totalUsd: total }), { mode: 0o600 });
      await fs.rename(temp, file);
    } finally {
      await lock.release();
    }
    if (total < threshold) return;
    await this.notifier.notify(
      {
        repository,
        issue: 0,
        title: `${usd(total)} on ${day} (UTC), threshold ${usd(threshold)}`,
        url: "",
        event: "spend",
        sha: `spend-${name}`,
        attempt: 0,
        outcome: null,
        at: now.toISOString(),
      },
      config,
      github,
    );
  }
}
