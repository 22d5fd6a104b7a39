import { promises as fs } from "node:fs";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import { minuteOf, rollupDay, type DayRollup, type TrendRecord } from "../core/trend-rollup.js";
import type { StateDir } from "./state-dir.js";

/** Days of trends kept (HARNESS_TRENDS_RETENTION_DAYS). */
export const DEFAULT_TRENDS_RETENTION_DAYS = 90;

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface TrendStoreOptions {
  retentionDays?: number;
  now?: () => Date;
}

/** HARNESS_TRENDS_RETENTION_DAYS: a positive integer, else EHARNESS_USAGE. */
export function trendRetentionDays(env: NodeJS.ProcessEnv): number {
  const value = env.HARNESS_TRENDS_RETENTION_DAYS;
  if (value === undefined || value === "") return DEFAULT_TRENDS_RETENTION_DAYS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `HARNESS_TRENDS_RETENTION_DAYS must be a positive integer, not "${value}".`,
      fix: `Set HARNESS_TRENDS_RETENTION_DAYS to a number of days like ${DEFAULT_TRENDS_RETENTION_DAYS}.`,
    });
  }
  return n;
}

function dateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The trends in the state directory (docs/monitoring.md, "Trends"):
 *
 *   trends/minutes/YYYY-MM-DD/HHMM.jsonl   one line per counted event of that UTC minute
 *   trends/days/YYYY-MM-DD.json            a rolled-up day (src/core/trend-rollup.ts DayRollup)
 *
 * Directories 0700, files 0600. `record` appends an event's record to its minute's
 * file unless that minute already holds its key (so the same event recorded twice,
 * or again after a restart, counts once). `rollup` turns each day older than
 * yesterday into its daily file and removes its minutes (a day whose minutes are
 * still there is read from them, so a crash between the two steps counts nothing
 * twice), and removes days older than the retention. Readers dedupe too.
 */
export class TrendStore {
  readonly dir: string;
  private readonly retentionDays: number;
  private readonly now: () => Date;
  /** Keys of the minute files this process wrote to lately (a few, bounded). */
  private readonly keys = new Map<string, Set<string>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(state: StateDir, options: TrendStoreOptions = {}) {
    this.dir = path.join(state.root, "trends");
    this.retentionDays = options.retentionDays ?? DEFAULT_TRENDS_RETENTION_DAYS;
    this.now = options.now ?? (() => new Date());
  }

  private minutesDir(day: string): string {
    return path.join(this.dir, "minutes", day);
  }

  private dayFile(day: string): string {
    return path.join(this.dir, "days", `${day}.json`);
  }

  /** One at a time in this process: a minute's keys are read, checked and appended without a race. */
  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async mkdirPrivate(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  }

  /** Records `record` in its minute; false when that minute already had it, or its day is rolled up or past retention. */
  record(record: TrendRecord): Promise<boolean> {
    return this.serial(async () => {
      const { day, minute } = minuteOf(record.at);
      if (day < dateOf(this.now().getTime() - this.retentionDays * DAY_MS)) return false;
      const dir = this.minutesDir(day);
      if (!(await exists(dir)) && (await exists(this.dayFile(day)))) return false;
      const file = path.join(dir, `${minute}.jsonl`);
      let keys = this.keys.get(file);
      if (keys === undefined) {
        keys = new Set((await readRecords(file)).map((r) => r.key));
        if (this.keys.size >= 8) this.keys.delete(this.keys.keys().next().value ?? "");
        this.keys.set(file, keys);
      }
      if (keys.has(record.key)) return false;
      await fs.mkdir(path.join(this.dir, "days"), { recursive: true, mode: 0o700 });
      await this.mkdirPrivate(dir);
      await fs.chmod(this.dir, 0o700);
      await fs.appendFile(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      keys.add(record.key);
      return true;
    });
  }

  /** Rolls every day before yesterday (UTC) into its daily file, and removes days past the retention. */
  rollup(): Promise<{ rolled: string[]; removed: string[] }> {
    return this.serial(async () => {
      const now = this.now().getTime();
      const yesterday = dateOf(now - DAY_MS);
      const oldest = dateOf(now - this.retentionDays * DAY_MS);
      const rolled: string[] = [];
      const removed: string[] = [];
      for (const day of await listDates(path.join(this.dir, "minutes"), "")) {
        if (day < oldest) {
          await fs.rm(this.minutesDir(day), { recursive: true, force: true });
          removed.push(day);
        } else if (day < yesterday) {
          await writePrivateJson(this.dayFile(day), await this.readMinutes(day));
          await fs.rm(this.minutesDir(day), { recursive: true, force: true });
          for (const file of [...this.keys.keys()]) if (file.startsWith(this.minutesDir(day))) this.keys.delete(file);
          rolled.push(day);
        }
      }
      for (const day of await listDates(path.join(this.dir, "days"), ".json")) {
        if (day < oldest) {
          await fs.rm(this.dayFile(day), { force: true });
          removed.push(day);
        }
      }
      return { rolled, removed };
    });
  }

  /** A day's minute files (HHMM.jsonl), in order. */
  private async minuteFiles(day: string): Promise<string[]> {
    return (await fs.readdir(this.minutesDir(day)).catch(() => [] as string[])).filter((n) => /^\d{4}\.jsonl$/.test(n)).sort();
  }

  /** The records of a day's minute files from minute `fromMinute` (HHMM) on, in file order. */
  private async minuteRecords(day: string, names: readonly string[], fromMinute = ""): Promise<TrendRecord[]> {
    const records: TrendRecord[] = [];
    for (const name of names) if (name.slice(0, 4) >= fromMinute) records.push(...(await readRecords(path.join(this.minutesDir(day), name))));
    return records;
  }

  private async readMinutes(day: string, fromMinute = ""): Promise<DayRollup> {
    return rollupDay(day, await this.minuteRecords(day, await this.minuteFiles(day), fromMinute));
  }

  /**
   * The days from `since` on, oldest first. A day still kept by the minute counts
   * from the minute of `since`; a rolled-up day counts whole when its date is on or
   * after the date of `since`.
   */
  async days(since: Date): Promise<DayRollup[]> {
    const sinceIso = since.toISOString();
    const { day: sinceDay, minute: sinceMinute } = minuteOf(sinceIso);
    const minuteDays = new Set(await listDates(path.join(this.dir, "minutes"), ""));
    const dates = new Set([...minuteDays, ...(await listDates(path.join(this.dir, "days"), ".json"))]);
    const out: DayRollup[] = [];
    for (const day of [...dates].sort()) {
      if (day < sinceDay) continue;
      if (minuteDays.has(day)) out.push(await this.readMinutes(day, day === sinceDay ? sinceMinute : ""));
      else {
        const rolled = await readJson(this.dayFile(day));
        if (rolled !== null) out.push(rolled);
      }
    }
    return out;
  }

  /**
   * The records from `since` on, for a window shorter than two days (the minutes of
   * yesterday and today are never rolled up), each key once, oldest first.
   */
  async history(since: Date): Promise<TrendHistory> {
    const sinceIso = since.toISOString();
    const { day: sinceDay, minute: sinceMinute } = minuteOf(sinceIso);
    const minuteDays = await listDates(path.join(this.dir, "minutes"), "");
    const dayFiles = await listDates(path.join(this.dir, "days"), ".json");
    const records: TrendRecord[] = [];
    const keys = new Set<string>();
    let oldest: string | null = dayFiles[0] !== undefined ? `${dayFiles[0]}T00:00:00.000Z` : null;
    for (const day of minuteDays) {
      const names = await this.minuteFiles(day);
      const first = names[0];
      if (first !== undefined) {
        const at = `${day}T${first.slice(0, 2)}:${first.slice(2, 4)}:00.000Z`;
        if (oldest === null || at < oldest) oldest = at;
      }
      if (day < sinceDay) continue;
      for (const record of await this.minuteRecords(day, names, day === sinceDay ? sinceMinute : "")) {
        if (keys.has(record.key) || record.at < sinceIso) continue;
        keys.add(record.key);
        records.push(record);
      }
    }
    return { records: records.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)), since: oldest };
  }
}

/** What the status page's 24 h counters start from: the records kept by the minute, from `since` on, each key once. */
export interface TrendHistory {
  records: TrendRecord[];
  /** When the store began counting: its oldest kept day or minute (ISO); null when it holds nothing. */
  since: string | null;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function listDates(dir: string, suffix: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith(suffix))
    .map((n) => n.slice(0, n.length - suffix.length))
    .filter((n) => DATE.test(n))
    .sort();
}

/** The records of a minute file; a torn last line (a process killed mid-append) is skipped. */
async function readRecords(file: string): Promise<TrendRecord[]> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  const out: TrendRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const value = JSON.parse(line) as TrendRecord;
      if (typeof value.key === "string" && typeof value.at === "string") out.push(value);
    } catch {
      // a partial line: skipped
    }
  }
  return out;
}

async function readJson(file: string): Promise<DayRollup | null> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as DayRollup;
  } catch {
    return null;
  }
}

async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}
