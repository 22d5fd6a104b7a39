/**
 * Everything the harness writes by git push (the claim, the renewal, the release, the branch,
 * the saved session), each in its three outcomes against the fake's git smart HTTP faults:
 * landed (also when the answer was lost after the refs moved), rejected (the ref moved under
 * the push), and unclear (a 5xx, a reset mid-pack, a lost answer whose read-back also fails),
 * settled by reading the remote back.
 */
import { writeFileSync, unlinkSync } from "node:fs";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { isGitPush, type FaultKind, type FaultRequest } from "../../src/offline/fake-github/faults.js";
import type { FakeGitHub } from "../../src/offline/fake-github/index.js";
import { saveSession, sessionFile, sessionRef } from "../../src/runtime/session-store.js";
import { makeClaimer, OWNER, PREFIX, REPO, startRaceFake, TERM_MS, trialTime, FAST_RETRIES, type Claimer } from "./race-kit.js";

let fake: FakeGitHub;
let root: string;
let nextIssue = 1;
const issue = (): number => nextIssue++;
const leaseRef = (n: number): string => `refs/${PREFIX}${n}`;

beforeAll(async () => {
  fake = await startRaceFake();
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-git-outcomes-"));
});
afterAll(async () => {
  await fake?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** A claimer whose lease writes travel by git push from its own clone. */
const byPush = (agent: string): Claimer => makeClaimer(fake, agent, `host-${agent}`, FAST_RETRIES, path.join(root, `state-${agent}`));

/** Faults of `kind` on the first `n` pushes only. */
function faultPushes(kind: FaultKind, n = 1): void {
  let left = n;
  fake.setFaults({ rate: 1, kinds: [kind], seed: 7, git: true, match: (r) => isGitPush(r) && left-- > 0 });
}

/** The answer of the first push is lost after it applied, and so is the git read that follows it. */
function loseAnswerAndReadBack(): void {
  let pushed = false;
  let readsLost = 0;
  fake.setFaults({
    rate: 1,
    kinds: ["lost-response"],
    seed: 7,
    git: true,
    match: (r: FaultRequest) => {
      if (!pushed && isGitPush(r)) return (pushed = true);
      if (pushed && r.kind === "git" && r.method === "GET" && readsLost < 1) return Boolean((readsLost += 1));
      return false;
    },
  });
}

/** Someone else moves `ref` to `sha` the moment the next push reaches the host (between our read and our push). */
function moveRefUnderNextPush(ref: string, sha: string): void {
  let done = false;
  fake.setFaults({
    rate: 1,
    kinds: ["5xx"],
    seed: 7,
    git: true,
    match: (r) => {
      if (!done && isGitPush(r)) {
        done = true;
        writeFileSync(path.join(fake.repoPath(OWNER, REPO), ...ref.split("/")), `${sha}\n`);
      }
      return false;
    },
  });
}

const injected = (): Record<FaultKind, number> | undefined => fake.faults?.counts();

async function chain(n: number): Promise<string[]> {
  const states: string[] = [];
  let sha = await fake.readRef(OWNER, REPO, leaseRef(n));
  while (sha) {
    const c = await fake.readCommit(OWNER, REPO, sha);
    states.unshift((JSON.parse(c.message) as { state: string }).state);
    sha = c.parents[0] ?? null;
  }
  return states;
}

async function claim(c: Claimer, n: number) {
  return c.store.claim({ issue: n, owner: c.owner, now: trialTime(n), termMs: TERM_MS, sessionId: `s-${c.name}` });
}

async function claimed(c: Claimer, n: number) {
  const r = await claim(c, n);
  if (!r.ok) throw new Error(r.reason);
  return r.head;
}

describe("the claim by git push", () => {
  it("landed: one claim commit, no REST write", async () => {
    fake.setFaults(null);
    const a = byPush("claim-ok");
    const n = issue();
    await claimed(a, n);
    expect(await chain(n)).toEqual(["claimed"]);
    expect(a.counts.write).toBe(0);
  });

  it("landed but its answer lost: recognised as ours by the read-back, not claimed twice, git kept", async () => {
    const a = byPush("claim-lost");
    const n = issue();
    faultPushes("lost-response");
    const head = await claimed(a, n);
    expect(injected()?.["lost-response"]).toBe(1);
    expect(head.record.owner).toEqual(a.owner);
    expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(head.sha);
    expect(await chain(n)).toEqual(["claimed"]);
    expect(a.counts.write).toBe(0);
  });

  it("answer lost and the git read-back lost too: the protocol reads the ref back and finds its claim", async () => {
    const a = byPush("claim-lost-twice");
    const n = issue();
    loseAnswerAndReadBack();
    const head = await claimed(a, n);
    expect(injected()?.["lost-response"]).toBe(2);
    expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(head.sha);
    expect(await chain(n)).toEqual(["claimed"]);
    // Settled as ours: a later renewal still goes by push.
    fake.setFaults(null);
    const renewed = await a.store.renew(n, head, a.owner, new Date(trialTime(n).getTime() + 60_000), TERM_MS);
    expect(renewed.ok).toBe(true);
    expect(a.counts.write).toBe(0);
  });

  it.each(["reset", "5xx"] as const)("not applied (%s): sent again, one claim commit, git kept", async (kind) => {
    const a = byPush(`claim-${kind}`);
    const n = issue();
    faultPushes(kind);
    const head = await claimed(a, n);
    expect(injected()?.[kind]).toBe(1);
    expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(head.sha);
    expect(await chain(n)).toEqual(["claimed"]);
    expect(a.counts.write).toBe(0);
  });

  it("rejected: another claimer got there between the read and the push; told who holds it, nothing more written", async () => {
    fake.setFaults(null);
    const n = issue();
    const b = makeClaimer(fake, "rival", "host-rival");
    const rival = await claimed(b, n);
    // Take the rival's claim away, so that `a` reads a free lease, and put it back under a's push.
    unlinkSync(path.join(fake.repoPath(OWNER, REPO), ...leaseRef(n).split("/")));
    const a = byPush("claim-rejected");
    moveRefUnderNextPush(leaseRef(n), rival.sha);
    const result = await claim(a, n);
    expect(result).toMatchObject({ ok: false, holder: { owner: b.owner } });
    expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(rival.sha);
    expect(await chain(n)).toEqual(["claimed"]);
    expect(a.counts.write).toBe(0);
  });
});

describe("the renewal and the release by git push", () => {
  for (const step of ["renew", "release"] as const) {
    const write = (c: Claimer, n: number, head: Awaited<ReturnType<typeof claimed>>) =>
      step === "renew"
        ? c.store.renew(n, head, c.owner, new Date(trialTime(n).getTime() + 60_000), TERM_MS)
        : c.store.release(n, head, c.owner, trialTime(n), { outcome: "success", sessionId: "s" });
    const after = step === "renew" ? "claimed" : "released";

    it(`${step} landed, and landed with its answer lost: one commit, ours`, async () => {
      for (const fault of [null, "lost-response"] as const) {
        fake.setFaults(null);
        const a = byPush(`${step}-${fault ?? "ok"}`);
        const n = issue();
        const head = await claimed(a, n);
        if (fault) faultPushes(fault);
        const r = await write(a, n, head);
        if (!r.ok) throw new Error(`${step} must land`);
        expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(r.head.sha);
        expect(await chain(n)).toEqual(["claimed", after]);
        if (fault) expect(injected()?.[fault]).toBe(1);
        expect(a.counts.write).toBe(0);
      }
    });

    it(`${step} not applied (reset mid-pack, 5xx): sent again, one commit`, async () => {
      for (const fault of ["reset", "5xx"] as const) {
        fake.setFaults(null);
        const a = byPush(`${step}-${fault}`);
        const n = issue();
        const head = await claimed(a, n);
        faultPushes(fault);
        const r = await write(a, n, head);
        if (!r.ok) throw new Error(`${step} must land after ${fault}`);
        expect(injected()?.[fault]).toBe(1);
        expect(await chain(n)).toEqual(["claimed", after]);
        expect(a.counts.write).toBe(0);
      }
    });

    it(`${step} with its answer and read-back lost: read back through the API, ours`, async () => {
      fake.setFaults(null);
      const a = byPush(`${step}-lost-twice`);
      const n = issue();
      const head = await claimed(a, n);
      loseAnswerAndReadBack();
      const r = await write(a, n, head);
      if (!r.ok) throw new Error(`${step} must be recognised as landed`);
      expect(injected()?.["lost-response"]).toBe(2);
      expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(r.head.sha);
      expect(await chain(n)).toEqual(["claimed", after]);
    });

    it(`${step} rejected: interrupted between the read and the push, fenced, nothing more written`, async () => {
      fake.setFaults(null);
      const a = byPush(`${step}-rejected`);
      const admin = makeClaimer(fake, `admin-${step}`, "host-app");
      const n = issue();
      const head = await claimed(a, n);
      const interrupted = await admin.store.interrupt(n, trialTime(n));
      if (!interrupted.ok) throw new Error("interrupt must land");
      // Back to a's claim for a's read; the interrupt comes back under a's push.
      writeFileSync(path.join(fake.repoPath(OWNER, REPO), ...leaseRef(n).split("/")), `${head.sha}\n`);
      moveRefUnderNextPush(leaseRef(n), interrupted.head.sha);
      const r = await write(a, n, head);
      expect(r).toMatchObject({ ok: false, fenced: true, head: { record: { state: "interrupted" } } });
      expect(await fake.readRef(OWNER, REPO, leaseRef(n))).toBe(interrupted.head.sha);
      expect(await chain(n)).toEqual(["claimed", "interrupted"]);
      expect(a.counts.write).toBe(0);
    });
  }
});

describe("the branch push and the session save", () => {
  const url = (): string => fake.gitUrl(OWNER, REPO);
  const credentials = (): { token: string } => ({ token: fake.token });
  let n = 0;
  async function clone(): Promise<GitRepository> {
    n += 1;
    const git = new GitRepository({ cloneDir: path.join(root, `clone-${n}.git`), home: path.join(root, `home-${n}`), identity: { name: "h", email: "h@x" } });
    await git.ensureClone();
    return git;
  }
  async function branchWithCommit(git: GitRepository, branch: string) {
    await git.run(["fetch", "--quiet", "--no-tags", url(), "+refs/heads/main:refs/remotes/origin/main"], { credentials: credentials() });
    const worktree = await git.addWorktree(path.join(root, `wt-${branch}`), branch, "refs/remotes/origin/main");
    await fs.writeFile(path.join(worktree.path, `${branch.replace(/\//g, "-")}.txt`), `${branch}\n`);
    const sha = await git.commitAll(worktree, `work on ${branch}`);
    if (!sha) throw new Error("nothing committed");
    return { worktree, sha };
  }

  it.each([null, "lost-response", "reset", "5xx"] as const)("the branch lands (fault: %s)", async (fault) => {
    fake.setFaults(null);
    const git = await clone();
    const branch = `harness/issue-${fault ?? "ok"}`;
    const { worktree, sha } = await branchWithCommit(git, branch);
    if (fault) faultPushes(fault);
    await git.push(url(), worktree, credentials());
    if (fault) expect(injected()?.[fault]).toBe(1);
    expect(await fake.readRef(OWNER, REPO, `refs/heads/${branch}`)).toBe(sha);
  });

  it("the branch push rejected (the remote branch moved under it): EHARNESS_PUSH_REJECTED, never forced", async () => {
    fake.setFaults(null);
    const other = await clone();
    const theirs = await branchWithCommit(other, "harness/issue-moved-theirs");
    await other.push(url(), theirs.worktree, credentials());
    const git = await clone();
    const branch = "harness/issue-moved";
    const { worktree } = await branchWithCommit(git, branch);
    moveRefUnderNextPush(`refs/heads/${branch}`, theirs.sha);
    await expect(git.push(url(), worktree, credentials())).rejects.toMatchObject({ code: "EHARNESS_PUSH_REJECTED" });
    expect(await fake.readRef(OWNER, REPO, `refs/heads/${branch}`)).toBe(theirs.sha);
  });

  const save = async (git: GitRepository, issueNumber: number) => {
    const home = path.join(root, `session-home-${issueNumber}`);
    const cwd = path.join(root, `session-cwd-${issueNumber}`);
    const sessionId = "0b4f3c1e-2a5d-4c8e-9f10-3a2b1c0d9e8f";
    const file = sessionFile(home, cwd, sessionId);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, `${JSON.stringify({ type: "note", text: `issue ${issueNumber}` })}\n`);
    return saveSession({ git, url: url(), credentials: credentials(), issue: issueNumber, home, cwd, sessionId, redact: (t) => t, now: new Date() });
  };

  it.each([null, "lost-response", "reset", "5xx"] as const)("the session save lands (fault: %s)", async (fault) => {
    fake.setFaults(null);
    const git = await clone();
    const number = 900 + issue();
    if (fault) faultPushes(fault);
    const saved = await save(git, number);
    if (fault) expect(injected()?.[fault]).toBe(1);
    expect(await fake.readRef(OWNER, REPO, sessionRef(number))).toBe(saved.commit);
  });

  it("the session save with its answer and its git read-back lost: saved only if the ref shows it, else EHARNESS_SESSION", async () => {
    fake.setFaults(null);
    const git = await clone();
    const number = 900 + issue();
    loseAnswerAndReadBack();
    const result = await save(git, number).catch((error: unknown) => error);
    expect(injected()?.["lost-response"]).toBe(2);
    const head = await fake.readRef(OWNER, REPO, sessionRef(number));
    if (result instanceof Error) expect(result).toMatchObject({ code: "EHARNESS_SESSION" });
    else expect(head).toBe((result as { commit: string }).commit);
  });

  it("the session save rejected (another save moved the ref under it): EHARNESS_SESSION, theirs kept", async () => {
    fake.setFaults(null);
    const number = 900 + issue();
    const theirs = await save(await clone(), number);
    unlinkSync(path.join(fake.repoPath(OWNER, REPO), ...sessionRef(number).split("/")));
    moveRefUnderNextPush(sessionRef(number), theirs.commit);
    await expect(save(await clone(), number)).rejects.toMatchObject({ code: "EHARNESS_SESSION" });
    expect(await fake.readRef(OWNER, REPO, sessionRef(number))).toBe(theirs.commit);
  });
});
