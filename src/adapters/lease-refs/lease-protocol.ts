import { BoundedLru } from "../../core/bounded-lru.js";
import { HarnessError } from "../../core/errors.js";
import { EtagCache } from "../../core/etag-cache.js";
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
  type ClaimInput,
  type LeaseOwner,
  type LeaseRecord,
} from "../../core/lease.js";
import type { FollowUp } from "../../core/follow-up.js";
import type { LeaseRefs, SwapOutcome } from "./lease-refs.js";

export interface LeaseHead {
  sha: string;
  record: LeaseRecord;
}

export type ClaimResult = { ok: true; head: LeaseHead } | { ok: false; reason: string; holder: LeaseRecord | null; head?: LeaseHead | null };
export type UpdateResult = { ok: true; head: LeaseHead } | { ok: false; fenced: true; head: LeaseHead | null };

export interface LeaseProtocolOptions {
  /** Writes of one transition when the ref reads back unchanged after an unclear answer (default 8). */
  attempts?: number;
  /** Pause before write `n + 1` after such an answer. */
  backoffMs?: (retry: number) => number;
  /** Full CAS rounds in one claim, when the head moved to a state that is still free (default 3). */
  claimRounds?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock for the messages (describeLease). */
  now?: () => number;
  /** ETags of the lease refs' reads (default: one of the store's own). */
  etags?: EtagCache;
}

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

/** In a ref's `passed` set: the ref did not exist before our write (a create). */
const ABSENT = "";

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The lease transitions of src/core/lease.ts as compare-and-swap writes of
 * `refs/<prefix>N`, over any LeaseRefs (REST, push, the fallback between
 * them, memory). Written once; the transports only answer landed, rejected or
 * unknown.
 *
 * - Claim: create the ref, or fast-forward it from a free head (a few rounds
 *   while the head keeps moving to free states).
 * - Renew, release: fast-forward from the head we hold; fenced, writing
 *   nothing, when the head is anybody else's. Interrupt, reclaim, /retry:
 *   fast-forward from the head just read.
 * - An answer that is not "landed" is settled by reading the ref back: our
 *   commit (landed), our commit with more on top (landed, superseded),
 *   somebody else's (moved), or unchanged: after "unknown", write again
 *   (bounded by `attempts`; the CAS keeps it safe), never blindly.
 * - One operation at a time per issue in this store, and read-your-writes: a
 *   head our own landed write moved past reads as the newer head; a renewal
 *   landed but not yet seen by the caller still counts as held.
 * - Lease commits are read one way: LeaseRefs.readCommit, once per sha.
 */
export class LeaseProtocol {
  private readonly refs: LeaseRefs;
  private readonly refPrefix: string;
  private readonly attempts: number;
  private readonly backoffMs: (retry: number) => number;
  private readonly claimRounds: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: () => number;
  private readonly etags: EtagCache;
  /** Commits are immutable: their lease records are read once. */
  private readonly commits = new BoundedLru<string, CommitInfo>(2048);
  /** Per ref: the head this store last moved it to, and commits the ref has moved past to get there. */
  private readonly ours = new Map<string, { head: LeaseHead; passed: Set<string> }>();
  /** The tail of each ref's queue of operations (see exclusive). */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(refs: LeaseRefs, refPrefix: string, options: LeaseProtocolOptions = {}) {
    this.refs = refs;
    this.refPrefix = refPrefix;
    this.attempts = Math.max(1, options.attempts ?? 8);
    this.backoffMs = options.backoffMs ?? ((retry) => Math.min(2000, 50 * 2 ** (retry - 1)) * (0.5 + Math.random() / 2));
    this.claimRounds = Math.max(1, options.claimRounds ?? 3);
    this.sleep = options.sleep ?? realSleep;
    this.clock = options.now ?? Date.now;
    this.etags = options.etags ?? new EtagCache(2048);
  }

  /** Whether lease writes currently travel as git pushes. */
  get writesByPush(): boolean {
    return this.refs.writesByPush;
  }

  private ref(issue: number): string {
    return leaseRefName(this.refPrefix, issue);
  }

  private async commitInfo(sha: string): Promise<CommitInfo> {
    const cached = this.commits.get(sha);
    if (cached) return cached;
    const commit = await this.refs.readCommit(sha);
    const info = { record: parseLease(commit.message), parents: commit.parents };
    this.commits.set(sha, info);
    return info;
  }

  /**
   * One lease operation at a time per issue in this store: the heartbeat's
   * renewal runs beside the publishing steps' checks, and a check must not read
   * the ref between a renewal's write and the store recording it as ours.
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

  /** The head of the lease ref, or null when there is none. */
  read(issue: number): Promise<LeaseHead | null> {
    return this.exclusive(issue, () => this.readHead(issue));
  }

  /** The one read of a head: conditional (its ETag in `etags`), then the commit's record. */
  private async readHead(issue: number): Promise<LeaseHead | null> {
    const ref = this.ref(issue);
    const key = `lease-ref:${ref}`;
    const known = this.etags.get<string>(key);
    const answer = await this.refs.read(ref, known?.etag);
    let sha: string;
    if (answer === "notModified" && known) {
      this.etags.stats.notModified += 1;
      sha = known.value;
    } else if (answer === "notModified") {
      throw new HarnessError("EHARNESS_GITHUB", {
        message: `GitHub answered "not modified" to a read of refs/${ref} that named no ETag.`,
        fix: "A proxy between the harness and GitHub answers conditional requests on its own; let it pass them through.",
      });
    } else if (answer === null) {
      this.etags.delete(key);
      // No ref, right after our own create: a read behind the write (see below), not a deletion.
      const created = this.ours.get(ref);
      return created?.passed.has(ABSENT) ? created.head : null;
    } else {
      this.etags.stats.fresh += 1;
      sha = answer.sha;
      if (answer.etag !== null) this.etags.set(key, answer.etag, sha);
      else this.etags.delete(key);
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
    passed.add(base ?? ABSENT);
    this.ours.set(ref, { head, passed });
    return head;
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
   * Writes `record` on top of `base` (null: the first commit) and moves the ref
   * to it. Never assumes: anything but "landed" is settled by reading the ref
   * back; an unclear write the ref does not show is written again, as a new
   * commit (the transport may have changed, and an orphan commit is harmless).
   */
  private async put(issue: number, record: LeaseRecord, base: string | null): Promise<{ sha: string; swap: Swap }> {
    const ref = this.ref(issue);
    /** Every commit this transition wrote: an earlier unclear write may be the one that landed. */
    const written: string[] = [];
    for (let attempt = 1; ; attempt += 1) {
      const sha = await this.refs.commit(record, base, ref);
      written.push(sha);
      this.commits.set(sha, { record, parents: base === null ? [] : [base] });
      const outcome: SwapOutcome = await this.refs.compareAndSwap(ref, base, sha);
      if (outcome === "landed") return { sha, swap: { kind: "landed" } };
      let head = await this.readHead(issue);
      // A rejected compare-and-swap says the ref is not at `base`: a read that still shows `base`
      // is behind the writes (a lagging replica), so read again (bounded) before judging.
      for (let stale = 1; outcome === "rejected" && (head?.sha ?? null) === base && stale <= this.attempts; stale += 1) {
        await this.sleep(this.backoffMs(stale));
        head = await this.readHead(issue);
      }
      const ours = written.find((w) => w === head?.sha);
      if (ours !== undefined) return { sha: ours, swap: { kind: "landed" } };
      for (const w of written) if (head && (await this.contains(head, w))) return { sha: w, swap: { kind: "superseded", head } };
      const unchanged = (head?.sha ?? null) === base;
      // Rejected: somebody else's write won, even if the ref does not show it yet (a push seen late by the API).
      if (!unchanged || outcome === "rejected") return { sha, swap: { kind: "moved", head } };
      if (attempt >= this.attempts) {
        throw new HarnessError("EHARNESS_GITHUB", {
          message: `Could not move the lease ref of issue #${issue} after ${attempt} tries (no clear answer); it is unchanged.`,
          fix: "GitHub is failing or rate-limiting; the issue stays queued and is claimed on a later pass.",
        });
      }
      await this.sleep(this.backoffMs(attempt));
    }
  }

  /**
   * Claims the lease. `known`: the head the caller has just read (null: no ref), so the claim
   * builds on it without reading it again; a stale one only makes the first write lose the
   * compare-and-swap, which reads the ref back as always.
   */
  claim(input: ClaimInput, known?: LeaseHead | null): Promise<ClaimResult> {
    return this.exclusive(input.issue, () => this.claimOnce(input, known));
  }

  private async claimOnce(input: ClaimInput, known: LeaseHead | null | undefined): Promise<ClaimResult> {
    let lastReason = "the lease ref kept moving";
    let lastHead: LeaseHead | null = null;
    for (let round = 0; round < this.claimRounds; round += 1) {
      const current = round > 0 ? lastHead : known !== undefined ? known : await this.readHead(input.issue);
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

  release(
    issue: number,
    held: LeaseHead,
    owner: LeaseOwner,
    now: Date,
    details: { outcome: string; sessionId: string | null; notBefore?: string | null; defer?: boolean },
  ): Promise<UpdateResult> {
    const next = (head: LeaseRecord): LeaseRecord | null => releaseLease(head, owner, now, details);
    // By push the compare-and-swap is free of REST writes: it is the check, no read before it.
    return this.exclusive(issue, () => (this.writesByPush ? this.advanceUnread(issue, held, next) : this.advance(issue, held, next)));
  }

  /**
   * `advance` without the read before the write: from the head this store knows it holds
   * (`held`, or our own later write of it), the compare-and-swap itself is the check. A head
   * that moved (an interrupt request, a reclaim) rejects it, the ref is read back (put) and
   * the answer is fenced, as `advance` answers after its read; only the commit written for the
   * rejected swap is left behind (an orphan, harmless). For the push transport, whose commits
   * are made in the host's clone and spend no REST write.
   */
  private async advanceUnread(issue: number, held: LeaseHead, next: (head: LeaseRecord) => LeaseRecord | null): Promise<UpdateResult> {
    const mine = this.ours.get(this.ref(issue));
    const known = mine && (mine.head.sha === held.sha || mine.passed.has(held.sha)) ? mine.head : held;
    const record = next(known.record);
    if (record === null) return this.advance(issue, held, next);
    const { sha, swap } = await this.put(issue, record, known.sha);
    if (swap.kind === "landed") return { ok: true, head: this.landed(issue, known.sha, { sha, record }) };
    return { ok: false, fenced: true, head: swap.head };
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

  /** Any pure transition of src/core (null: none applies to the head), written as the others are: a compare-and-swap, read back when unclear. */
  transition(issue: number, next: (head: LeaseRecord) => LeaseRecord | null): Promise<UpdateResult> {
    return this.advanceCurrent(issue, next);
  }

  /** `/retry` on a free lease: the next claim resumes the session or starts fresh (see requestRetry). */
  requestRetry(issue: number, mode: "resume" | "fresh", by: string, now: Date, followUp?: FollowUp): Promise<UpdateResult> {
    return this.advanceCurrent(issue, (head) => requestRetry(head, mode, by, now, followUp));
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
