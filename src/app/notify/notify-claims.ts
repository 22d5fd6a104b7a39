import { createHash, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { httpStatus, type GitHubClient } from "../../adapters/github-client.js";
import { CALLER_RETRIES } from "../../adapters/github-requests/caller-retries.js";
import { classifyFailure } from "../../adapters/lease-refs/classify-failure.js";
import { EMPTY_TREE } from "../../adapters/lease-refs/empty-tree.js";
import type { Logger } from "../../adapters/logger.js";
import { EtagCache } from "../../core/etag-cache.js";
import type { OutboxEntry } from "./outbox.js";

/** Where the claims live in each repository (after `refs/`): one ref per outbox entry. */
export const NOTIFY_REF_PREFIX = "harness/notify/";

/**
 * What a cross-host claim of an outbox entry came to:
 * - `ours`: this state directory holds the entry's ref (created now, or before a restart): send;
 * - `theirs`: another host's state directory holds it: it sends, this one records it done unsent;
 * - `unknown`: no answer to trust (5xx and the read-back failed too, a rate limit, no client for
 *   the repository yet): the entry stays pending and is tried again later;
 * - `local`: the installation cannot write refs in this repository: the local outbox alone decides.
 */
export type ClaimAnswer =
  | { kind: "ours" }
  | { kind: "theirs"; holder: string }
  /** `noClient`: nothing was tried; `use` of the repository's first client schedules it again. */
  | { kind: "unknown"; detail: string; noClient?: boolean }
  | { kind: "local" };

/** The cross-host claim the notifier asks before it sends an entry (GitHubNotifyClaims; a test double). */
export interface NotifyClaims {
  /** Tells the claims a client for its repository (from a webhook or a job): the latest one is used. */
  use(github: GitHubClient): boolean;
  claim(entry: OutboxEntry): Promise<ClaimAnswer>;
  /** Deletes the refs of this state directory's claims older than the retention; how many. */
  sweep(now?: Date): Promise<number>;
}

/**
 * A ref name for an outbox id: the characters git allows in one component, nothing else (an id
 * that needed replacements ends in a hash of the original); an id longer than 160 characters
 * (a convoy's) keeps its start and ends in a hash of the whole.
 */
export function notifyRefOf(id: string): string {
  let safe = id
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/\.{2,}/g, (dots) => "_".repeat(dots.length))
    .replace(/^\./, "_")
    .replace(/\.lock$/, "_lock");
  const digest = (): string => createHash("sha256").update(id).digest("hex");
  if (safe.length > 160) safe = `${safe.slice(0, 100)}--${digest().slice(0, 40)}`;
  // Two ids that differ only in replaced characters must not share a ref.
  else if (safe !== id) safe = `${safe}--${digest().slice(0, 12)}`;
  return `${NOTIFY_REF_PREFIX}${safe}`;
}

/** The message of a holder commit: whose claims point at it. */
interface HolderMessage {
  harness: "notify-claim-holder";
  /** The state directory's id (notify/holder.json): the same across restarts of its host. */
  holder: string;
  host: string;
  pid: number;
  at: string;
  /**
   * The UTC day (YYYY-MM-DD) whose claims point at it: a holder makes one holder commit per
   * repository and day, so a claim ref's holder commit dates the claim, for any host's sweep.
   * Absent in holder commits of versions before it (their refs are swept by their own host only).
   */
  day?: string;
}

export interface GitHubNotifyClaimsOptions {
  /** The state directory's root: `<root>/notify/holder.json`, `holder-commits/`, `claimed/`. */
  stateRoot: string;
  /** This host's name, written into the holder commit. */
  host?: string;
  log: Logger;
  /** How long a claim ref is kept after it was made (default 7 days; GitHub lets a delivery be redelivered for 3). */
  retentionMs?: number;
  now?: () => Date;
  /** Create tries when the answer stays unclear and the read-back finds no ref (default 3). */
  tries?: number;
  /** At most this many refs of other (gone) holders deleted per repository and sweep (default 50; each is a write). */
  orphanDeletes?: number;
}

const DAY_MS = 86_400_000;

/** The UTC day of `at`, as holder commits name it. */
const dayOf = (at: Date): string => at.toISOString().slice(0, 10);

/** The end of a UTC day (YYYY-MM-DD) in milliseconds: the newest a claim of that day can be. */
const dayEnd = (day: string): number => Date.parse(`${day}T00:00:00.000Z`) + DAY_MS;

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === "ENOENT";

/** Writes `data` to `file` whole unless it exists (link(2) of a temp file): true when this call made it. */
async function createOnce(file: string, data: unknown): Promise<boolean> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await fs.writeFile(temp, JSON.stringify(data), { mode: 0o600, flag: "wx" });
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as T;
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/**
 * Exactly one sender per transition across hosts that share no state directory: before it
 * sends an outbox entry, a notifier creates `refs/harness/notify/<channel>--<event>--<lease sha>`
 * in the transition's repository, create-only (`POST /git/refs`; GitHub answers 422 "Reference
 * already exists" to every later create). The ref points at this state directory's holder
 * commit (one commit on the empty tree per repository, made once and kept in
 * `notify/holder-commits/`, whose message names the holder id, host and pid), so one write per
 * notification, and whoever reads the ref knows whose claim it is:
 * - created: ours; 422 or an unclear answer (5xx, a lost connection, "Reference update
 *   failed"): read the ref back: our holder commit is ours (a restart finds its own claim
 *   too), another commit is theirs, no ref is tried again (a few times, then `unknown`);
 * - refused for good (403, 404, or an empty repository's 409): the installation cannot write
 *   refs there: `local`, warned once per repository;
 * - rate limited: `unknown` (nothing applied; tried later).
 * `sweep` deletes (`DELETE /git/refs`, one write each) the refs this state directory made once
 * they are older than the retention, from its `notify/claimed/` list: the refs stay bounded by
 * what the fleet sent in the retention window.
 */
export class GitHubNotifyClaims implements NotifyClaims {
  private readonly root: string;
  private readonly clients = new Map<string, GitHubClient>();
  private readonly refused = new Set<string>();
  private holderId: Promise<string> | null = null;
  /** By `repository day`: this state directory's holder commit of that day. */
  private readonly holderCommits = new Map<string, Promise<string>>();
  /** What each holder commit's message says (commits do not change): by sha; null when it is not one. */
  private readonly holderMessages = new Map<string, HolderMessage | null>();
  /** The sweep's list of claim refs per repository, asked conditionally. */
  private readonly etags = new EtagCache(100);

  constructor(private readonly options: GitHubNotifyClaimsOptions) {
    this.root = path.join(options.stateRoot, "notify");
  }

  use(github: GitHubClient): boolean {
    const known = this.clients.has(github.fullName);
    this.clients.set(github.fullName, github);
    return !known;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  /** The state directory's holder id, made once (link(2), so every process of it agrees). */
  private holder(): Promise<string> {
    this.holderId ??= (async () => {
      const file = path.join(this.root, "holder.json");
      const existing = await readJson<{ id: string }>(file);
      if (existing) return existing.id;
      await createOnce(file, { id: randomUUID(), host: this.options.host ?? os.hostname(), at: this.now().toISOString() });
      const made = await readJson<{ id: string }>(file);
      if (!made) throw new Error(`${file} vanished`);
      return made.id;
    })().catch((error: unknown) => {
      this.holderId = null;
      throw error;
    });
    return this.holderId;
  }

  private holderCommitFile(repository: string, day: string): string {
    return path.join(this.root, "holder-commits", `${repository.replace("/", "--")}--${day}.json`);
  }

  /**
   * This state directory's holder commit in `github`'s repository for today (UTC): made on the
   * day's first claim there (one write a day; concurrent sends share it).
   */
  private holderCommit(github: GitHubClient, day: string): Promise<string> {
    const key = `${github.fullName} ${day}`;
    const known = this.holderCommits.get(key);
    if (known) return known;
    const made = this.makeHolderCommit(github, day).catch((error: unknown) => {
      this.holderCommits.delete(key);
      throw error;
    });
    this.holderCommits.set(key, made);
    return made;
  }

  private async makeHolderCommit(github: GitHubClient, day: string): Promise<string> {
    const file = this.holderCommitFile(github.fullName, day);
    const known = await readJson<{ sha: string }>(file);
    if (known) return known.sha;
    const message: HolderMessage = {
      harness: "notify-claim-holder",
      holder: await this.holder(),
      host: this.options.host ?? os.hostname(),
      pid: process.pid,
      at: this.now().toISOString(),
      day,
    };
    const { data } = await github.api.rest.git.createCommit({
      owner: github.owner,
      repo: github.repo,
      message: JSON.stringify(message),
      tree: EMPTY_TREE,
      parents: [],
      request: CALLER_RETRIES,
    });
    await createOnce(file, { sha: data.sha });
    return (await readJson<{ sha: string }>(file))?.sha ?? data.sha;
  }

  /** Who holds the claim ref: null when there is none. */
  private async readBack(github: GitHubClient, ref: string, ours: string): Promise<ClaimAnswer | null> {
    let sha: string;
    try {
      const { data } = await github.api.rest.git.getRef({ owner: github.owner, repo: github.repo, ref, request: CALLER_RETRIES });
      sha = data.object.sha;
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
    if (sha === ours) return { kind: "ours" };
    // Another commit: another state directory's, unless it is ours (another day's, or from before its file was lost).
    let message: HolderMessage | null = null;
    try {
      message = await this.holderMessage(github, sha);
    } catch {
      // Unreadable: not ours (ours is always readable JSON); the ref is theirs all the same.
    }
    if (message?.holder === (await this.holder())) return { kind: "ours" };
    return { kind: "theirs", holder: message ? `${message.host} (pid ${message.pid})` : `commit ${sha}` };
  }

  /** The holder message of commit `sha` (read once: commits do not change); null when the commit is not a holder commit. */
  private async holderMessage(github: GitHubClient, sha: string): Promise<HolderMessage | null> {
    if (this.holderMessages.has(sha)) return this.holderMessages.get(sha) ?? null;
    const { data } = await github.api.rest.git.getCommit({ owner: github.owner, repo: github.repo, commit_sha: sha, request: CALLER_RETRIES });
    let message: HolderMessage | null = null;
    try {
      const parsed = JSON.parse(data.message) as Partial<HolderMessage>;
      if (parsed.harness === "notify-claim-holder" && typeof parsed.holder === "string") message = parsed as HolderMessage;
    } catch {
      // Not JSON: not a holder commit.
    }
    if (this.holderMessages.size >= 1_000) this.holderMessages.clear();
    this.holderMessages.set(sha, message);
    return message;
  }

  private refusedHere(repository: string, error: unknown): ClaimAnswer {
    if (!this.refused.has(repository)) {
      this.refused.add(repository);
      this.options.log.warn(
        { repository, status: httpStatus(error), err: error },
        "cannot write refs/harness/notify/* in this repository: notifications there are kept exactly once by this host's outbox only (another host may send them too)",
      );
    }
    return { kind: "local" };
  }

  async claim(entry: OutboxEntry): Promise<ClaimAnswer> {
    const repository = entry.notification.repository;
    if (this.refused.has(repository)) return { kind: "local" };
    const github = this.clients.get(repository);
    if (!github) return { kind: "unknown", detail: `no GitHub client for ${repository} yet (it comes with the repository's next event)`, noClient: true };
    const ref = notifyRefOf(entry.id);
    const day = dayOf(this.now());
    let ours: string;
    try {
      ours = await this.holderCommit(github, day);
    } catch (error) {
      const status = httpStatus(error);
      if (status === 403 || status === 404 || status === 409) return this.refusedHere(repository, error);
      return { kind: "unknown", detail: `the holder commit: ${(error as Error).message}` };
    }
    let last = "";
    for (let attempt = 1; attempt <= (this.options.tries ?? 3); attempt += 1) {
      try {
        await github.api.rest.git.createRef({ owner: github.owner, repo: github.repo, ref: `refs/${ref}`, sha: ours, request: CALLER_RETRIES });
        await this.remember(entry.id, repository, ref);
        return { kind: "ours" };
      } catch (error) {
        const status = httpStatus(error);
        const failure = classifyFailure(error);
        last = `${status ?? "network"}: ${(error as Error).message}`;
        if (status === 422 && /object does not exist/i.test((error as Error).message)) {
          // Our holder commit is gone from the repository (recreated, or its file is stale): make it again.
          await fs.unlink(this.holderCommitFile(repository, day)).catch(() => undefined);
          this.holderCommits.delete(`${repository} ${day}`);
          try {
            ours = await this.holderCommit(github, day);
          } catch (again) {
            return { kind: "unknown", detail: `the holder commit: ${(again as Error).message}` };
          }
          continue;
        }
        if (failure === "rate-limited") return { kind: "unknown", detail: `rate limited: ${last}` };
        if (failure === "fatal") {
          if (status === 403 || status === 404 || status === 409) return this.refusedHere(repository, error);
          return { kind: "unknown", detail: last };
        }
        // 422 "Reference already exists" (rejected), or unclear (5xx, lost, "Reference update failed"): read it back.
      }
      let holder: ClaimAnswer | null;
      try {
        holder = await this.readBack(github, ref, ours);
      } catch (error) {
        return { kind: "unknown", detail: `${last}; reading it back: ${(error as Error).message}` };
      }
      if (holder?.kind === "ours") await this.remember(entry.id, repository, ref);
      if (holder) return holder;
    }
    return { kind: "unknown", detail: `the claim ref was not created: ${last}` };
  }

  /** The claims this state directory holds, for `sweep`: `notify/claimed/<id>.json`. */
  private async remember(id: string, repository: string, ref: string): Promise<void> {
    await createOnce(path.join(this.root, "claimed", `${id}.json`), { repository, ref, at: this.now().toISOString() });
  }

  /**
   * Deletes the claim refs older than the retention: this state directory's own, from its
   * `notify/claimed/` list; then, in each repository it has a client for, those of holders that
   * never swept them (a host gone with its state directory, a container restarted without its
   * volume), read from the refs themselves: one conditional list of `refs/harness/notify/*`, one
   * read per holder commit not seen before, whose `day` dates every ref pointing at it. A holder
   * commit without a day (an older version's) or unreadable keeps its refs. Returns how many
   * refs were deleted.
   */
  async sweep(now: Date = this.now()): Promise<number> {
    const retention = this.options.retentionMs ?? 7 * DAY_MS;
    let deleted = await this.sweepOwn(now, retention);
    for (const github of this.clients.values()) {
      if (this.refused.has(github.fullName)) continue;
      deleted += await this.sweepOrphans(github, now, retention);
    }
    await this.forgetHolderCommits(now, retention);
    return deleted;
  }

  private async sweepOrphans(github: GitHubClient, now: Date, retention: number): Promise<number> {
    const heads = await github.listRefHeads(NOTIFY_REF_PREFIX, this.etags);
    const budget = this.options.orphanDeletes ?? 50;
    let deleted = 0;
    for (const [ref, sha] of heads) {
      if (deleted >= budget) break;
      const message = await this.holderMessage(github, sha).catch(() => null);
      const made = message?.day ? dayEnd(message.day) : NaN;
      if (!Number.isFinite(made) || now.getTime() - made < retention) continue;
      try {
        await github.api.rest.git.deleteRef({ owner: github.owner, repo: github.repo, ref: ref.replace(/^refs\//, ""), request: CALLER_RETRIES });
        deleted += 1;
      } catch (error) {
        // 422 "Reference does not exist": another sweep took it; anything else: the next sweep.
        if (httpStatus(error) !== 422 && httpStatus(error) !== 404) break;
      }
    }
    return deleted;
  }

  /** This state directory's holder commits of days past the retention, in its files and in memory: their refs are gone or going. */
  private async forgetHolderCommits(now: Date, retention: number): Promise<void> {
    const past = (day: string | undefined): boolean => day !== undefined && now.getTime() - dayEnd(day) >= retention;
    const dir = path.join(this.root, "holder-commits");
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) if (past(/--(\d{4}-\d{2}-\d{2})\.json$/.exec(name)?.[1])) await fs.unlink(path.join(dir, name)).catch(() => undefined);
    for (const key of [...this.holderCommits.keys()]) if (past(key.split(" ")[1])) this.holderCommits.delete(key);
  }

  private async sweepOwn(now: Date, retention: number): Promise<number> {
    const dir = path.join(this.root, "claimed");
    let names: string[];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith("."));
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let deleted = 0;
    for (const name of names) {
      const file = path.join(dir, name);
      const claim = await readJson<{ repository: string; ref: string; at: string }>(file).catch(() => null);
      if (!claim || now.getTime() - Date.parse(claim.at) < retention) continue;
      const github = this.clients.get(claim.repository);
      if (!github) continue;
      try {
        await github.api.rest.git.deleteRef({ owner: github.owner, repo: github.repo, ref: claim.ref, request: CALLER_RETRIES });
        deleted += 1;
      } catch (error) {
        // 422 "Reference does not exist" (deleted already): done; anything else: next sweep.
        if (httpStatus(error) !== 422 && httpStatus(error) !== 404) continue;
      }
      await fs.unlink(file).catch(() => undefined);
    }
    return deleted;
  }
}
