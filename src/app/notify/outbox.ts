import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Notification } from "../../core/notification.js";
import { acquireLock } from "../../adapters/lockfile.js";

export type NotifyChannel = "slack" | "email";

/** A transition waiting for (or done with) one channel. */
export interface OutboxEntry {
  id: string;
  channel: NotifyChannel;
  notification: Notification;
  /** Email recipients, fixed when the transition was recorded. */
  to: string[];
}

export interface OutboxRecord {
  /** `elsewhere`: another host claimed it on GitHub (refs/harness/notify/*) and sends it; not sent here. */
  result: "sent" | "failed" | "elsewhere";
  attempts: number;
  at: string;
  detail?: string;
}

/**
 * A set of entries claimed by this process: send them, then `finish`, or `release` to leave them
 * for later; both for all entries still held, or for those of `ids` only.
 */
export interface OutboxClaim {
  entries: OutboxEntry[];
  finish(record: OutboxRecord, ids?: readonly string[]): Promise<void>;
  release(ids?: readonly string[]): Promise<void>;
}

/**
 * The notifier's outbox in the state directory (`notify/`, 0700 directories, 0600 files):
 *   pending/<id>.json   a transition to send to one channel
 *   done/<id>.json      its outcome (sent or failed): the record that it is never sent again
 *   claims/<id>.lock    held while a process sends it (src/adapters/lockfile.ts: link(2),
 *                       a lock of a dead process on this boot is broken)
 * `<id>` is the channel, the event and the lease commit of the transition. Every file is made
 * whole with link(2) of a written temp file, so of many processes (or deliveries) exactly one
 * records a transition, exactly one claims it, and a sender re-reads `done/` after its claim.
 */
export class Outbox {
  readonly root: string;

  constructor(stateRoot: string) {
    this.root = path.join(stateRoot, "notify");
  }

  static id(channel: NotifyChannel, notification: Pick<Notification, "event" | "sha">): string {
    return `${channel}--${notification.event}--${notification.sha}`;
  }

  private dir(kind: "pending" | "done" | "claims"): string {
    return path.join(this.root, kind);
  }

  private async ensure(): Promise<void> {
    for (const dir of [this.root, this.dir("pending"), this.dir("done"), this.dir("claims")]) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    }
  }

  /** Writes `data` to `target` whole, unless `target` exists: true when this call made it. */
  private async createOnce(target: string, data: unknown): Promise<boolean> {
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomUUID()}.tmp`);
    const handle = await fs.open(temp, "wx", 0o600);
    try {
      await handle.writeFile(JSON.stringify(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    } finally {
      await fs.unlink(temp).catch(() => undefined);
    }
  }

  private async exists(file: string): Promise<boolean> {
    return fs.stat(file).then(
      () => true,
      () => false,
    );
  }

  /** The outcome recorded for `id`, or null. */
  async record(id: string): Promise<OutboxRecord | null> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir("done"), `${id}.json`), "utf8")) as OutboxRecord;
    } catch {
      return null;
    }
  }

  /** Records a transition for a channel: true when it is new (not pending, not done before). */
  async add(entry: OutboxEntry): Promise<boolean> {
    await this.ensure();
    if (await this.exists(path.join(this.dir("done"), `${entry.id}.json`))) return false;
    return this.createOnce(path.join(this.dir("pending"), `${entry.id}.json`), entry);
  }

  /** Every pending entry (transitions recorded and not yet finished, by any process). */
  async pending(): Promise<OutboxEntry[]> {
    await this.ensure();
    const out: OutboxEntry[] = [];
    for (const name of (await fs.readdir(this.dir("pending"))).filter((n) => n.endsWith(".json") && !n.startsWith("."))) {
      try {
        out.push(JSON.parse(await fs.readFile(path.join(this.dir("pending"), name), "utf8")) as OutboxEntry);
      } catch {
        // Removed meanwhile by the process that finished it.
      }
    }
    return out;
  }

  /**
   * Claims those of `entries` nobody else holds and nobody has finished. An entry already done
   * (finished by another process after we listed it) is tidied away, not returned.
   */
  async claim(entries: readonly OutboxEntry[]): Promise<OutboxClaim> {
    await this.ensure();
    const held: { entry: OutboxEntry; release: () => Promise<void> }[] = [];
    for (const entry of entries) {
      const lock = await acquireLock(this.dir("claims"), entry.id, "notifier");
      if (!lock.acquired) continue;
      if (await this.exists(path.join(this.dir("done"), `${entry.id}.json`))) {
        await fs.unlink(path.join(this.dir("pending"), `${entry.id}.json`)).catch(() => undefined);
        await lock.release();
        continue;
      }
      held.push({ entry, release: lock.release });
    }
    const take = (ids?: readonly string[]): typeof held => {
      const taken = held.filter((h) => ids === undefined || ids.includes(h.entry.id));
      for (const h of taken) held.splice(held.indexOf(h), 1);
      return taken;
    };
    return {
      entries: held.map((h) => h.entry),
      release: async (ids) => {
        for (const h of take(ids)) await h.release();
      },
      finish: async (record, ids) => {
        const taken = take(ids);
        for (const h of taken) {
          await this.createOnce(path.join(this.dir("done"), `${h.entry.id}.json`), record);
          await fs.unlink(path.join(this.dir("pending"), `${h.entry.id}.json`)).catch(() => undefined);
        }
        for (const h of taken) await h.release();
      },
    };
  }
}
