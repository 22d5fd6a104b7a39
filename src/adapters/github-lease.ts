import { HarnessError } from "../core/errors.js";
import {
  decideClaim,
  describeLease,
  interruptLease,
  leaseRefName,
  parseLease,
  reclaimLease,
  releaseLease,
  requestRetry,
  renewLease,
  sameOwner,
  serializeLease,
  type ClaimInput,
  type LeaseOwner,
  type LeaseRecord,
} from "../core/lease.js";
import { httpStatus, type GitHubClient } from "./github-client.js";

/** Git's well-known empty tree: lease commits carry no files, only a message. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export interface LeaseHead {
  sha: string;
  record: LeaseRecord;
}

export type ClaimResult = { ok: true; head: LeaseHead } | { ok: false; reason: string; holder: LeaseRecord | null; head?: LeaseHead | null };
export type UpdateResult = { ok: true; head: LeaseHead } | { ok: false; fenced: true; head: LeaseHead | null };

/**
 * Lease writes as git: the commit made in a local clone and the ref moved by a
 * push without force (a fast-forward-only compare-and-swap, like the REST
 * PATCH with `force: false`). A push spends none of the installation's REST
 * writes (80 a minute, 500 an hour), which a claim (2) and every renewal (2)
 * otherwise would.
 */
export interface LeaseGitTransport {
  /** Makes the lease commit with `parent` (fetching the lease ref first when the clone lacks it); its sha. */
  commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string>;
  /** Pushes `sha` to `refs/<ref>` without force: landed, rejected (not a fast-forward), or unknown. */
  push(sha: string, ref: string): Promise<"landed" | "rejected" | "unknown">;
}

export interface LeaseStoreOptions {
  /**
   * Move the lease ref by git push instead of REST writes. Reads stay on the
   * API; a push the host refuses (the ref namespace, permissions) or a git
   * failure falls back to the REST path for the rest of this store's life.
   */
  git?: LeaseGitTransport;
  /** Told when the git path failed and the store went back to REST writes. */
  onGitFallback?: (error: unknown) => void;
  /** Tries per request when GitHub answers 5xx, resets the connection or rate-limits (default 8). */
  attempts?: number;
  /** Pause before retry `n` (1-based) after a 5xx or reset (default 50 ms · 2^(n-1), at most 2 s, jittered). */
  backoffMs?: (retry: number) => number;
  /** Wait after a rate limit that names no `retry-after` and no reset time (default 60 s, GitHub's advice). */
  rateLimitFallbackMs?: number;
  /** Longest rate-limit wait honoured; a longer one fails the call instead (default 120 s). */
  maxWaitMs?: number;
  /** Full CAS rounds in one claim, when the head moved to a state that is still free (default 3). */
  claimRounds?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `x-ratelimit-reset` (epoch ms). */
  now?: () => number;
}

type Failure = "rate-limited" | "ambiguous" | "rejected" | "fatal";

/** What a failed request means for the lease protocol. */
export function classifyFailure(error: unknown): Failure {
  const status = httpStatus(error);
  if (status === undefined) {
    // A thrown non-HTTP error (our own parse errors, programming errors) is not a network fault.
    return error instanceof HarnessError ? "fatal" : "ambiguous";
  }
  if (status === 429) return "rate-limited";
  if (status === 403 && isRateLimit(error)) return "rate-limited";
  if (status === 422 || status === 409) return "rejected";
  if (status >= 500 || status === 408) return "ambiguous";
  return "fatal";
}

function headersOf(error: unknown): Record<string, string | number | undefined> {
  if (typeof error !== "object" || error === null || !("response" in error)) return {};
  const response = (error as { response?: { headers?: unknown } }).response;
  const headers = response?.headers;
  return typeof headers === "object" && headers !== null ? (headers as Record<string, string | number | undefined>) : {};
}

function isRateLimit(error: unknown): boolean {
  const headers = headersOf(error);
  if (headers["retry-after"] !== undefined || String(headers["x-ratelimit-remaining"]) === "0") return true;
  const message = error instanceof Error ? error.message : "";
  return /rate limit/i.test(message);
}

/** How long GitHub asks us to wait: retry-after, else the primary limit's reset time, else the fallback. */
export function rateLimitWaitMs(error: unknown, nowMs: number, fallbackMs: number): number {
  const headers = headersOf(error);
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter)) return Math.max(0, retryAfter * 1000);
  const reset = Number(headers["x-ratelimit-reset"]);
  if (String(headers["x-ratelimit-remaining"]) === "0" && Number.isFinite(reset)) return Math.max(0, reset * 1000 - nowMs);
  return fallbackMs;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface CommitInfo {
  record: LeaseRecord;
  parents: string[];
}

/** The outcome of a compare-and-swap of the lease ref, after reading it back when unsure. */
type Swap =
  | { kind: "landed" }
  /** Our commit landed, and somebody has since moved the head past it. */
  | { kind: "superseded"; head: LeaseHead }
  /** Our commit did not land: the head is somebody else's (or gone). */
  | { kind: "moved"; head: LeaseHead | null };

/**
 * Executes the lease transitions of src/core/lease.ts as compare-and-swap
 * writes of `refs/<prefix>N` through the REST API: create (422 = it exists) or
 * fast-forward update (`force: false`; 422 = somebody moved it).
 *
 * Every write whose outcome is not a clear success (5xx, reset, lost response,
 * 422 after a retry of our own, …) is settled by reading the ref back and
 * comparing it with the commit we wrote: ours, ours with more on top, the
 * expected base (not applied: write again, the CAS keeps that safe), or
 * somebody else's. Reads retry 5xx and resets; rate limits (429, 403 secondary)
 * wait as GitHub asks, bounded. A lost `createCommit` response just retries:
 * an orphan commit is harmless.
 */
export class LeaseStore {
  private readonly github: GitHubClient;
  private readonly refPrefix: string;
  private readonly attempts: number;
  private readonly backoffMs: (retry: number) => number;
  private readonly rateLimitFallbackMs: number;
  private readonly maxWaitMs: number;
  private readonly claimRounds: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: () => number;
  /** Commits are immutable: their lease records are read once. */
  private readonly commits = new Map<string, CommitInfo>();
  /** ETag and head of the last read of each ref, for conditional requests (304s are free). */
  private readonly etags = new Map<string, { etag: string; sha: string }>();
  private git: LeaseGitTransport | null;
  private readonly onGitFallback: (error: unknown) => void;
  /** Per ref: the head this store last moved it to, and commits the ref has moved past to get there. */
  private readonly ours = new Map<string, { head: LeaseHead; passed: Set<string> }>();
  /** The tail of each ref's queue of operations (see exclusive). */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(github: GitHubClient, refPrefix: string, options: LeaseStoreOptions = {}) {
    this.github = github;
    this.refPrefix = refPrefix;
    this.attempts = Math.max(1, options.attempts ?? 8);
    this.backoffMs = options.backoffMs ?? ((retry) => Math.min(2000, 50 * 2 ** (retry - 1)) * (0.5 + Math.random() / 2));
    this.rateLimitFallbackMs = options.rateLimitFallbackMs ?? 60_000;
    this.maxWaitMs = options.maxWaitMs ?? 120_000;
    this.claimRounds = Math.max(1, options.claimRounds ?? 3);
    this.sleep = options.sleep ?? realSleep;
    this.clock = options.now ?? Date.now;
    this.git = options.git ?? null;
    this.onGitFallback = options.onGitFallback ?? (() => undefined);
  }

  /** Whether lease writes currently travel as git pushes. */
  get writesByPush(): boolean {
    return this.git !== null;
  }

  private ref(issue: number): string {
    return leaseRefName(this.refPrefix, issue);
  }

  /**
   * Runs one request, retrying what GitHub did not apply (rate limits) and, when
   * `idempotent`, what may or may not have been applied (5xx, resets).
   */
  private async request<T>(what: string, idempotent: boolean, call: () => Promise<T>): Promise<T> {
    let retries = 0;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const failure = classifyFailure(error);
        retries += 1;
        if (retries >= this.attempts) throw error;
        if (failure === "rate-limited") {
          const wait = rateLimitWaitMs(error, this.clock(), this.rateLimitFallbackMs);
          if (wait > this.maxWaitMs) {
            throw new HarnessError("EHARNESS_GITHUB", {
              message: `GitHub rate-limited ${what} and asks to wait ${Math.ceil(wait / 1000)} s, longer than the ${Math.ceil(this.maxWaitMs / 1000)} s this agent waits.`,
              fix: "Fewer agents per installation, or wait for the limit to reset; the issue stays queued.",
              cause: error,
            });
          }
          await this.sleep(wait);
          continue;
        }
        if (failure === "ambiguous" && idempotent) {
          await this.sleep(this.backoffMs(retries));
          continue;
        }
        throw error;
      }
    }
  }

  private async commitInfo(sha: string): Promise<CommitInfo> {
    const cached = this.commits.get(sha);
    if (cached) return cached;
    const { api, owner, repo } = this.github;
    const { data } = await this.request("reading a lease commit", true, () => {
      this.github.countRead();
      return api.rest.git.getCommit({ owner, repo, commit_sha: sha });
    });
    const info = { record: parseLease(data.message), parents: data.parents.map((p) => p.sha) };
    if (this.commits.size >= 2048) this.commits.clear();
    this.commits.set(sha, info);
    return info;
  }

  /**
   * One lease operation at a time per issue in this store: the heartbeat's
   * renewal runs beside the publishing steps' checks, and a check must not read
   * the ref between a renewal's push and the store recording it as ours.
   */
  private exclusive<T>(issue: number, operation: () => Promise<T>): Promise<T> {
    const ref = this.ref(issue);
    const run = (this.turns.get(ref) ?? Promise.resolve()).then(operation);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(ref, settled);
    void settled.then(() => {
      if (this.turns.get(ref) === settled) this.turns.delete(ref);
    });
    return run;
  }

  /** The head of the lease ref, or null when there is none. Retries 5xx and resets. */
  read(issue: number): Promise<LeaseHead | null> {
    return this.exclusive(issue, () => this.readHead(issue));
  }

  private async readHead(issue: number): Promise<LeaseHead | null> {
    const { api, owner, repo } = this.github;
    const ref = this.ref(issue);
    const known = this.etags.get(ref);
    let sha: string;
    try {
      const response = await this.request("reading the lease ref", true, () => {
        this.github.countRead();
        return api.rest.git.getRef({ owner, repo, ref, ...(known ? { headers: { "if-none-match": known.etag } } : {}) });
      });
      sha = response.data.object.sha;
      const etag = response.headers.etag;
      if (typeof etag === "string") this.etags.set(ref, { etag, sha });
    } catch (error) {
      const status = httpStatus(error);
      if (status === 304 && known) {
        sha = known.sha;
      } else if (status === 404) {
        this.etags.delete(ref);
        return null;
      } else {
        throw error;
      }
    }
    // Reads after our own write: the ref only moves forward, so a head we know it moved past
    // is a stale view (a replica behind the write, a push seen late by the API), not news.
    const mine = this.ours.get(ref);
    if (mine?.passed.has(sha)) return mine.head;
    return { sha, record: (await this.commitInfo(sha)).record };
  }

  /** Remembers a write of ours that landed on top of `base`. */
  private landed(issue: number, base: string | null, head: LeaseHead): LeaseHead {
    const ref = this.ref(issue);
    const previous = this.ours.get(ref);
    const passed = previous && previous.head.sha === base ? previous.passed : new Set<string>();
    if (base !== null) passed.add(base);
    this.ours.set(ref, { head, passed });
    return head;
  }

  /** Creates the lease commit; a retry after a lost answer just makes another (orphan) commit. */
  private async writeCommit(record: LeaseRecord, parent: string | null): Promise<string> {
    const { api, owner, repo } = this.github;
    const { data } = await this.request("writing a lease commit", true, async () => {
      await this.github.spend("essential");
      return api.rest.git.createCommit({ owner, repo, message: serializeLease(record), tree: EMPTY_TREE, parents: parent ? [parent] : [] });
    });
    this.commits.set(data.sha, { record, parents: parent ? [parent] : [] });
    return data.sha;
  }

  /** Whether `ours` is `head` or one of its recent ancestors (first parents). */
  private async contains(head: LeaseHead, ours: string, depth = 16): Promise<boolean> {
    let sha: string | undefined = head.sha;
    for (let i = 0; sha !== undefined && i < depth; i += 1) {
      if (sha === ours) return true;
      sha = (await this.commitInfo(sha)).parents[0];
    }
    return false;
  }

  /**
   * Moves the ref from `base` (null: create it) to `ours`, a commit whose parent is
   * `base`, and says what happened. Never assumes: anything but a clean 2xx is
   * settled by reading the ref back.
   */
  private async swap(issue: number, base: string | null, ours: string): Promise<Swap> {
    const { api, owner, repo } = this.github;
    const ref = this.ref(issue);
    for (let attempt = 1; ; attempt += 1) {
      let failure: Failure;
      let error: unknown;
      try {
        await this.github.spend("essential");
        if (base === null) await api.rest.git.createRef({ owner, repo, ref: `refs/${ref}`, sha: ours });
        else await api.rest.git.updateRef({ owner, repo, ref, sha: ours, force: false });
        return { kind: "landed" };
      } catch (caught) {
        error = caught;
        failure = classifyFailure(caught);
      }
      if (failure === "fatal") throw error;
      if (failure === "rate-limited" && attempt < this.attempts) {
        // Refused before it was applied; an earlier try of ours may still have landed,
        // which the read-back after the next answer settles.
        const wait = rateLimitWaitMs(error, this.clock(), this.rateLimitFallbackMs);
        if (wait <= this.maxWaitMs) {
          await this.sleep(wait);
          continue;
        }
      }
      const { settled, head } = await this.readBack(issue, ours);
      if (settled) return settled;
      const unchanged = (head?.sha ?? null) === base;
      if (unchanged && failure !== "rejected" && attempt < this.attempts) {
        // Not applied (a 5xx before the write, a reset): write again; the CAS keeps it safe.
        await this.sleep(this.backoffMs(attempt));
        continue;
      }
      // A create refused as existing whose ref is gone again: the caller decides afresh.
      if (unchanged && !(failure === "rejected" && base === null)) {
        throw new HarnessError("EHARNESS_GITHUB", {
          message: `Could not move the lease ref of issue #${issue} after ${attempt} tries (${httpStatus(error) ?? "no answer"}); it is unchanged.`,
          fix: "GitHub is failing or rate-limiting; the issue stays queued and is claimed on a later pass.",
          cause: error,
        });
      }
      return { kind: "moved", head };
    }
  }

  /** After a write of `ours` whose answer was unclear: landed, or landed and superseded, or not settled (with the head now). */
  private async readBack(issue: number, ours: string): Promise<{ settled: Swap | null; head: LeaseHead | null }> {
    const head = await this.readHead(issue);
    if (head?.sha === ours) return { settled: { kind: "landed" }, head };
    if (head && (await this.contains(head, ours))) return { settled: { kind: "superseded", head }, head };
    return { settled: null, head };
  }

  /**
   * Writes `record` on top of `base` (null: the first commit) and moves the ref
   * to it: by git push when the store has a transport, else through the API.
   */
  private async put(issue: number, record: LeaseRecord, base: string | null): Promise<{ sha: string; swap: Swap }> {
    if (this.git !== null) {
      const git = this.git;
      try {
        const byPush = await this.putByPush(git, issue, record, base);
        if (byPush !== null) return byPush;
      } catch (error) {
        this.git = null;
        this.onGitFallback(error);
      }
    }
    const sha = await this.writeCommit(record, base);
    return { sha, swap: await this.swap(issue, base, sha) };
  }

  /** The git path of `put`; null when the push did not land and the ref is unchanged (the host refused it). */
  private async putByPush(git: LeaseGitTransport, issue: number, record: LeaseRecord, base: string | null): Promise<{ sha: string; swap: Swap } | null> {
    const ref = this.ref(issue);
    const sha = await git.commit(record, base, ref);
    this.commits.set(sha, { record, parents: base ? [base] : [] });
    const pushed = await git.push(sha, ref);
    if (pushed === "landed") return { sha, swap: { kind: "landed" } };
    // Never assume: read the ref back, as after an unclear REST write.
    const { settled, head } = await this.readBack(issue, sha);
    if (settled) return { sha, swap: settled };
    // Git refused a non-fast-forward: somebody else's commit is there (even if the API has not shown it yet).
    if (pushed === "rejected" || (head?.sha ?? null) !== base) return { sha, swap: { kind: "moved", head } };
    this.git = null;
    this.onGitFallback(new Error(`the push of refs/${ref} was refused and the ref is unchanged`));
    return null;
  }

  claim(input: ClaimInput): Promise<ClaimResult> {
    return this.exclusive(input.issue, () => this.claimOnce(input));
  }

  private async claimOnce(input: ClaimInput): Promise<ClaimResult> {
    let lastReason = "the lease ref kept moving";
    let lastHead: LeaseHead | null = null;
    for (let round = 0; round < this.claimRounds; round += 1) {
      const current = round === 0 ? await this.readHead(input.issue) : lastHead;
      if (current && current.record.state === "claimed" && sameOwner(current.record.owner, input.owner) && current.record.sessionId === input.sessionId) {
        // Our own claim, from a call whose answer we never saw: it is ours.
        return { ok: true, head: current };
      }
      const decision = decideClaim(current?.record ?? null, input);
      if (decision.kind === "held") return { ok: false, reason: decision.reason, holder: decision.holder, head: current };
      const { sha, swap } = await this.put(input.issue, decision.record, current?.sha ?? null);
      if (swap.kind === "landed") return { ok: true, head: this.landed(input.issue, current?.sha ?? null, { sha, record: decision.record }) };
      if (swap.kind === "superseded") {
        return { ok: false, reason: `claimed, then lost at once: ${describeLease(swap.head.record, input.now)}`, holder: swap.head.record, head: swap.head };
      }
      lastHead = swap.head;
      lastReason = swap.head ? `lost the race: ${describeLease(swap.head.record, input.now)}` : "lost the race: the lease ref was deleted";
      // Somebody else's write won. Held: say by whom. Still free (e.g. a reclaim): try again on top.
      if (swap.head && decideClaim(swap.head.record, input).kind === "held") {
        return { ok: false, reason: lastReason, holder: swap.head.record, head: swap.head };
      }
    }
    return { ok: false, reason: lastReason, holder: lastHead?.record ?? null, head: lastHead };
  }

  /**
   * The head we hold now, given the one the caller holds: the same, or a later one
   * this store itself moved the ref to from it (a renewal the caller has not seen
   * yet: it runs beside the publishing steps). Null when the head is anybody else's.
   */
  private heldNow(issue: number, held: LeaseHead, current: LeaseHead | null): LeaseHead | null {
    if (current === null) return null;
    if (current.sha === held.sha) return current;
    const mine = this.ours.get(this.ref(issue));
    return mine?.head.sha === current.sha && mine.passed.has(held.sha) ? current : null;
  }

  /** Fast-forwards the head we hold to `next(head)`; fenced, writing nothing, when the head is not ours any more. */
  private async advance(issue: number, held: LeaseHead, next: (head: LeaseRecord) => LeaseRecord | null): Promise<UpdateResult> {
    const head = await this.readHead(issue);
    const current = this.heldNow(issue, held, head);
    if (current === null) return { ok: false, fenced: true, head };
    const record = next(current.record);
    if (record === null) return { ok: false, fenced: true, head: current };
    const { sha, swap } = await this.put(issue, record, current.sha);
    if (swap.kind === "landed") return { ok: true, head: this.landed(issue, current.sha, { sha, record }) };
    return { ok: false, fenced: true, head: swap.head };
  }

  renew(issue: number, held: LeaseHead, owner: LeaseOwner, now: Date, termMs: number): Promise<UpdateResult> {
    return this.exclusive(issue, () => this.advance(issue, held, (head) => renewLease(head, owner, now, termMs)));
  }

  release(issue: number, held: LeaseHead, owner: LeaseOwner, now: Date, details: { outcome: string; sessionId: string | null }): Promise<UpdateResult> {
    return this.exclusive(issue, () => this.advance(issue, held, (head) => releaseLease(head, owner, now, details)));
  }

  /** Advances whatever head is there now (the reclaimer, the steering commands): a CAS on the head just read. */
  private advanceCurrent(issue: number, next: (head: LeaseRecord) => LeaseRecord | null): Promise<UpdateResult> {
    return this.exclusive(issue, async () => {
      const current = await this.readHead(issue);
      if (current === null) return { ok: false, fenced: true, head: null };
      return this.advance(issue, current, next);
    });
  }

  /**
   * The reclaimer: takes back an expired claim, by CAS on the head it saw.
   * Not ok when the head is not an expired claim or moved meanwhile.
   */
  reclaim(issue: number, now: Date, details: { backoffMs: number }): Promise<UpdateResult> {
    return this.advanceCurrent(issue, (head) => reclaimLease(head, now, details));
  }

  /** An interrupt request on top of the current claim; its holder is fenced at its next renewal. */
  interrupt(issue: number, now: Date): Promise<UpdateResult> {
    return this.advanceCurrent(issue, (head) => interruptLease(head, now));
  }

  /** `/retry` on a free lease: the next claim resumes the session or starts fresh (see requestRetry). */
  requestRetry(issue: number, mode: "resume" | "fresh", by: string, now: Date): Promise<UpdateResult> {
    return this.advanceCurrent(issue, (head) => requestRetry(head, mode, by, now));
  }

  /** Throws EHARNESS_LEASE_LOST unless the head is still the one we hold (or our own renewal of it). */
  async assertHeld(issue: number, held: LeaseHead): Promise<void> {
    const current = await this.read(issue);
    if (this.heldNow(issue, held, current) === null) {
      throw new HarnessError("EHARNESS_LEASE_LOST", {
        message: `The lease on issue #${issue} is no longer held by this agent${current ? ` (now ${describeLease(current.record, new Date(this.clock()))})` : ""}.`,
        fix: "Nothing to do: another agent or the reclaimer owns the issue now, and this agent wrote nothing more.",
      });
    }
  }
}
