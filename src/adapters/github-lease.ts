import { HarnessError } from "../core/errors.js";
import {
  decideClaim,
  leaseRefName,
  parseLease,
  releaseLease,
  renewLease,
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

export type ClaimResult = { ok: true; head: LeaseHead } | { ok: false; reason: string; holder: LeaseRecord | null };
export type UpdateResult = { ok: true; head: LeaseHead } | { ok: false; fenced: true; head: LeaseHead | null };

/**
 * Executes the lease transitions of src/core/lease.ts as compare-and-swap
 * writes of `refs/<prefix>N` through the REST API: create (422 = it exists) or
 * fast-forward update (`force: false`; 422 = somebody moved it). A write whose
 * outcome is unknown (5xx, timeout, reset) is settled by reading the ref back.
 */
export class LeaseStore {
  private readonly github: GitHubClient;
  private readonly refPrefix: string;

  constructor(github: GitHubClient, refPrefix: string) {
    this.github = github;
    this.refPrefix = refPrefix;
  }

  private ref(issue: number): string {
    return leaseRefName(this.refPrefix, issue);
  }

  async read(issue: number): Promise<LeaseHead | null> {
    const { api, owner, repo } = this.github;
    let sha: string;
    try {
      this.github.countRead();
      const { data } = await api.rest.git.getRef({ owner, repo, ref: this.ref(issue) });
      sha = data.object.sha;
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
    this.github.countRead();
    const { data: commit } = await api.rest.git.getCommit({ owner, repo, commit_sha: sha });
    return { sha, record: parseLease(commit.message) };
  }

  private async writeCommit(record: LeaseRecord, parent: string | null): Promise<string> {
    const { api, owner, repo } = this.github;
    this.github.countWrite();
    const { data } = await api.rest.git.createCommit({
      owner,
      repo,
      message: serializeLease(record),
      tree: EMPTY_TREE,
      parents: parent ? [parent] : [],
    });
    return data.sha;
  }

  /** Reads the ref back after a write with an unknown outcome: did ours land? */
  private async settle(issue: number, ours: string, error: unknown): Promise<LeaseHead | null> {
    const status = httpStatus(error);
    if (status !== undefined && status < 500 && status !== 408 && status !== 429) return null;
    const head = await this.read(issue);
    if (head?.sha === ours) return head;
    return null;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const { api, owner, repo } = this.github;
    const current = await this.read(input.issue);
    const decision = decideClaim(current?.record ?? null, input);
    if (decision.kind === "held") return { ok: false, reason: decision.reason, holder: decision.holder };
    const sha = await this.writeCommit(decision.record, current?.sha ?? null);
    try {
      this.github.countWrite();
      if (current === null) {
        await api.rest.git.createRef({ owner, repo, ref: `refs/${this.ref(input.issue)}`, sha });
      } else {
        await api.rest.git.updateRef({ owner, repo, ref: this.ref(input.issue), sha, force: false });
      }
      return { ok: true, head: { sha, record: decision.record } };
    } catch (error) {
      const landed = await this.settle(input.issue, sha, error);
      if (landed) return { ok: true, head: landed };
      const status = httpStatus(error);
      if (status === 422 || status === 409) {
        const now = await this.read(input.issue);
        return { ok: false, reason: `lost the race: ${now ? `held by ${now.record.owner.agent}@${now.record.owner.host}` : "the ref changed"}`, holder: now?.record ?? null };
      }
      throw error;
    }
  }

  /** Fast-forwards our lease to `next`; fenced when the head is not ours any more. */
  private async advance(issue: number, held: LeaseHead, next: (head: LeaseRecord) => LeaseRecord | null): Promise<UpdateResult> {
    const { api, owner, repo } = this.github;
    const current = await this.read(issue);
    if (current === null || current.sha !== held.sha) return { ok: false, fenced: true, head: current };
    const record = next(current.record);
    if (record === null) return { ok: false, fenced: true, head: current };
    const sha = await this.writeCommit(record, current.sha);
    try {
      this.github.countWrite();
      await api.rest.git.updateRef({ owner, repo, ref: this.ref(issue), sha, force: false });
      return { ok: true, head: { sha, record } };
    } catch (error) {
      const landed = await this.settle(issue, sha, error);
      if (landed) return { ok: true, head: landed };
      if (httpStatus(error) === 422) return { ok: false, fenced: true, head: await this.read(issue) };
      throw error;
    }
  }

  renew(issue: number, held: LeaseHead, owner: LeaseOwner, now: Date, termMs: number): Promise<UpdateResult> {
    return this.advance(issue, held, (head) => renewLease(head, owner, now, termMs));
  }

  release(issue: number, held: LeaseHead, owner: LeaseOwner, now: Date, details: { outcome: string; sessionId: string | null }): Promise<UpdateResult> {
    return this.advance(issue, held, (head) => releaseLease(head, owner, now, details));
  }

  /** Throws EHARNESS_LEASE_LOST unless the head is still the one we hold. */
  async assertHeld(issue: number, held: LeaseHead): Promise<void> {
    const current = await this.read(issue);
    if (current?.sha !== held.sha) {
      throw new HarnessError("EHARNESS_LEASE_LOST", {
        message: `The lease on issue #${issue} is no longer held by this agent${current ? ` (now ${current.record.state} by ${current.record.owner.agent}@${current.record.owner.host})` : ""}.`,
        fix: "Nothing to do: another agent or the reclaimer owns the issue now, and this agent wrote nothing more.",
      });
    }
  }
}
