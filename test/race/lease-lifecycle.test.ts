import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HarnessError } from "../../src/core/errors.js";
import { FaultInjector, type FaultKind, type FaultRequest } from "../../src/offline/fake-github/faults.js";
import type { FakeGitHub } from "../../src/offline/fake-github/index.js";
import { FAST_RETRIES, judge, makeClaimer, OWNER, PREFIX, REPO, startRaceFake, TERM_MS, trialTime } from "./race-kit.js";

let fake: FakeGitHub;
let nextIssue = 1;
const issue = (): number => nextIssue++;

beforeAll(async () => {
  fake = await startRaceFake();
});
afterAll(async () => {
  await fake?.close();
});

/** Faults only the first `n` requests of one operation. */
function firstOf(operationId: string, n = 1): (r: FaultRequest) => boolean {
  let left = n;
  return (r) => r.operationId === operationId && left-- > 0;
}

function faultOnce(kind: FaultKind, operationId: string, extra: { retryAfterSeconds?: number | null } = {}): FaultInjector | null {
  return fake.setFaults({ rate: 1, kinds: [kind], seed: 1, match: firstOf(operationId), ...extra });
}

async function chain(n: number): Promise<string[]> {
  const messages: string[] = [];
  let sha = await fake.readRef(OWNER, REPO, `refs/${PREFIX}${n}`);
  while (sha) {
    const c = await fake.readCommit(OWNER, REPO, sha);
    messages.unshift((JSON.parse(c.message) as { state: string }).state);
    expect(c.parents.length).toBeLessThanOrEqual(1);
    sha = c.parents[0] ?? null;
  }
  return messages;
}

describe("lease lifecycle against the fake GitHub", () => {
  it("release, then re-claim: the next claimer gets the next epoch, a third is told who holds it", async () => {
    fake.setFaults(null);
    const n = issue();
    const [a, b, c] = [makeClaimer(fake, "a", "host-a"), makeClaimer(fake, "b", "host-b"), makeClaimer(fake, "c", "host-c")];
    const t0 = trialTime(n);
    const first = await a.store.claim({ issue: n, owner: a.owner, now: t0, termMs: TERM_MS, sessionId: "s-a" });
    if (!first.ok) throw new Error(first.reason);
    const blocked = await b.store.claim({ issue: n, owner: b.owner, now: t0, termMs: TERM_MS, sessionId: "s-b" });
    expect(blocked).toMatchObject({ ok: false });
    if (!blocked.ok) expect(blocked.reason).toMatch(/^held by a@host-a \(run run-a-host-a\) until /);

    const released = await a.store.release(n, first.head, a.owner, t0, { outcome: "success", sessionId: "s-a" });
    expect(released.ok).toBe(true);
    const second = await b.store.claim({ issue: n, owner: b.owner, now: t0, termMs: TERM_MS, sessionId: "s-b" });
    expect(second).toMatchObject({ ok: true, head: { record: { epoch: 2, attempt: 2, owner: b.owner } } });
    const third = await c.store.claim({ issue: n, owner: c.owner, now: t0, termMs: TERM_MS, sessionId: "s-c" });
    if (third.ok) throw new Error("c must not win");
    expect(third.reason).toContain("held by b@host-b (run run-b-host-b)");
    expect(await chain(n)).toEqual(["claimed", "released", "claimed"]);
    // Releasing twice is fenced: the head is b's now.
    expect(await a.store.release(n, first.head, a.owner, t0, { outcome: "success", sessionId: "s-a" })).toMatchObject({ ok: false, fenced: true });
  });

  it("a paused holder whose lease was reclaimed and re-claimed is fenced on renew and release, and writes nothing", async () => {
    fake.setFaults(null);
    const n = issue();
    const holder = makeClaimer(fake, "sleepy", "host-a");
    const reclaimer = makeClaimer(fake, "reclaimer", "host-r");
    const next = makeClaimer(fake, "next", "host-b");
    const t0 = trialTime(n);
    const claimed = await holder.store.claim({ issue: n, owner: holder.owner, now: t0, termMs: TERM_MS, sessionId: "s-1" });
    if (!claimed.ok) throw new Error(claimed.reason);
    const renewed = await holder.store.renew(n, claimed.head, holder.owner, new Date(t0.getTime() + 60_000), TERM_MS);
    if (!renewed.ok) throw new Error("renewal while holding must work");

    // Not expired yet: the reclaimer refuses and writes nothing.
    const early = reclaimer.counts.write;
    expect(await reclaimer.store.reclaim(n, new Date(t0.getTime() + 10 * 60_000), { backoffMs: 60_000 })).toMatchObject({ ok: false });
    expect(reclaimer.counts.write).toBe(early);

    // The holder is paused; the fake clock moves past its lease.
    const late = new Date(t0.getTime() + 20 * 60_000);
    expect(await reclaimer.store.reclaim(n, late, { backoffMs: 60_000 })).toMatchObject({
      ok: true,
      head: { record: { state: "reclaimed", notBefore: new Date(late.getTime() + 60_000).toISOString() } },
    });
    const tooSoon = await next.store.claim({ issue: n, owner: next.owner, now: late, termMs: TERM_MS, sessionId: "s-2" });
    if (tooSoon.ok) throw new Error("the backoff must hold");
    expect(tooSoon.reason).toContain("backing off until");
    const taken = await next.store.claim({ issue: n, owner: next.owner, now: new Date(late.getTime() + 61_000), termMs: TERM_MS, sessionId: "s-2" });
    expect(taken).toMatchObject({ ok: true, head: { record: { epoch: 2, attempt: 2 } } });

    // The holder wakes up.
    const before = holder.counts.write;
    const headBefore = await fake.readRef(OWNER, REPO, `refs/${PREFIX}${n}`);
    expect(await holder.store.renew(n, renewed.head, holder.owner, late, TERM_MS)).toMatchObject({
      ok: false,
      fenced: true,
      head: { record: { owner: next.owner } },
    });
    expect(await holder.store.release(n, renewed.head, holder.owner, late, { outcome: "success", sessionId: "s-1" })).toMatchObject({
      ok: false,
      fenced: true,
    });
    await expect(holder.store.assertHeld(n, renewed.head)).rejects.toMatchObject({ code: "EHARNESS_LEASE_LOST" });
    expect(holder.counts.write).toBe(before);
    expect(await fake.readRef(OWNER, REPO, `refs/${PREFIX}${n}`)).toBe(headBefore);
    expect(await chain(n)).toEqual(["claimed", "claimed", "reclaimed", "claimed"]);
  });

  it("an interrupt on top of a claim fences the holder at its next renewal", async () => {
    fake.setFaults(null);
    const n = issue();
    const [w, admin] = [makeClaimer(fake, "w", "host-w"), makeClaimer(fake, "app", "host-app")];
    const t0 = trialTime(n);
    const claimed = await w.store.claim({ issue: n, owner: w.owner, now: t0, termMs: TERM_MS, sessionId: "s" });
    if (!claimed.ok) throw new Error(claimed.reason);
    expect(await admin.store.interrupt(n, t0)).toMatchObject({ ok: true, head: { record: { state: "interrupted", owner: w.owner } } });
    expect(await w.store.renew(n, claimed.head, w.owner, t0, TERM_MS)).toMatchObject({ ok: false, fenced: true, head: { record: { state: "interrupted" } } });
  });
});

describe("ambiguous and refused writes are settled, never assumed", () => {
  const cases: Array<{ kind: FaultKind; op: string; what: string }> = [
    { kind: "lost-response", op: "git/create-ref", what: "a create applied whose answer was lost" },
    { kind: "reset", op: "git/create-ref", what: "a create whose connection reset before it applied" },
    { kind: "5xx", op: "git/create-ref", what: "a 5xx on create" },
    { kind: "lost-response", op: "git/create-commit", what: "a lost createCommit answer (retried; the orphan is harmless)" },
    { kind: "5xx", op: "git/get-ref", what: "a 5xx on the first read" },
    { kind: "reset", op: "git/create-commit", what: "a reset on createCommit" },
    { kind: "429", op: "git/create-ref", what: "a 429 on create" },
    { kind: "403-secondary", op: "git/get-ref", what: "a 403 secondary rate limit on a read" },
  ];
  for (const { kind, op, what } of cases) {
    it(`claims through ${what}`, async () => {
      const n = issue();
      const a = makeClaimer(fake, "a", "host-a");
      const b = makeClaimer(fake, "b", "host-b");
      const injector = faultOnce(kind, op);
      const result = await a.store.claim({ issue: n, owner: a.owner, now: trialTime(n), termMs: TERM_MS, sessionId: "s" });
      expect(injector?.injected).toHaveLength(1);
      fake.setFaults(null);
      const lost = await b.store.claim({ issue: n, owner: b.owner, now: trialTime(n), termMs: TERM_MS, sessionId: "s" });
      expect(
        (
          await judge(fake, {
            issue: n,
            start: "absent",
            base: null,
            contenders: [
              { name: "a", owner: a.owner, result },
              { name: "b", owner: b.owner, result: lost },
            ],
          })
        ).problems,
      ).toEqual([]);
    });
  }

  it("settles a fast-forward whose answer was lost (renew and re-claim)", async () => {
    const n = issue();
    const a = makeClaimer(fake, "a", "host-a");
    fake.setFaults(null);
    const t0 = trialTime(n);
    const claimed = await a.store.claim({ issue: n, owner: a.owner, now: t0, termMs: TERM_MS, sessionId: "s" });
    if (!claimed.ok) throw new Error(claimed.reason);
    faultOnce("lost-response", "git/update-ref");
    const renewed = await a.store.renew(n, claimed.head, a.owner, new Date(t0.getTime() + 1000), TERM_MS);
    expect(renewed).toMatchObject({ ok: true, head: { sha: await fake.readRef(OWNER, REPO, `refs/${PREFIX}${n}`) } });
    faultOnce("5xx", "git/update-ref");
    if (!renewed.ok) throw new Error("renewed");
    expect(await a.store.release(n, renewed.head, a.owner, t0, { outcome: "success", sessionId: "s" })).toMatchObject({
      ok: true,
      head: { record: { state: "released" } },
    });
    fake.setFaults(null);
    expect(await chain(n)).toEqual(["claimed", "claimed", "released"]);
  });

  it("recognises its own claim from an earlier call whose answer never came", async () => {
    const n = issue();
    const a = makeClaimer(fake, "a", "host-a", { ...FAST_RETRIES, attempts: 1 });
    fake.setFaults({ rate: 1, kinds: ["lost-response"], seed: 1, match: firstOf("git/create-ref") });
    const input = { issue: n, owner: a.owner, now: trialTime(n), termMs: TERM_MS, sessionId: "s-1" };
    // With one attempt per request, the read-back happens and finds our commit at once.
    const first = await a.store.claim(input);
    expect(first.ok).toBe(true);
    fake.setFaults(null);
    expect(await a.store.claim(input)).toMatchObject({ ok: true });
    const other = await a.store.claim({ ...input, sessionId: "s-2" });
    expect(other.ok).toBe(false);
  });

  it("honours retry-after on 429 and 403 secondary limits, and falls back when there is none", async () => {
    const waits: number[] = [];
    const a = makeClaimer(fake, "a", "host-a", { ...FAST_RETRIES, maxWaitMs: 10_000, rateLimitFallbackMs: 1234, sleep: async (ms) => void waits.push(ms) });
    fake.setFaults({ rate: 1, kinds: ["429"], seed: 1, retryAfterSeconds: 7, match: firstOf("git/get-ref") });
    await a.store.read(issue());
    fake.setFaults({ rate: 1, kinds: ["403-secondary"], seed: 1, retryAfterSeconds: null, match: firstOf("git/create-commit") });
    const n = issue();
    expect((await a.store.claim({ issue: n, owner: a.owner, now: trialTime(n), termMs: TERM_MS, sessionId: "s" })).ok).toBe(true);
    expect(waits).toEqual([7000, 1234]);
    // A wait longer than the bound fails the call instead of hanging.
    const b = makeClaimer(fake, "b", "host-b", { ...FAST_RETRIES, maxWaitMs: 1000 });
    fake.setFaults({ rate: 1, kinds: ["429"], seed: 1, retryAfterSeconds: 60, match: firstOf("git/get-ref") });
    await expect(b.store.read(issue())).rejects.toBeInstanceOf(HarnessError);
    fake.setFaults(null);
  });

  it("gives up with an error, not an answer, when GitHub keeps failing", async () => {
    const a = makeClaimer(fake, "a", "host-a", { ...FAST_RETRIES, attempts: 3 });
    fake.setFaults({ rate: 1, kinds: ["5xx"], seed: 1, match: (r) => r.operationId === "git/get-ref" });
    const n = issue();
    await expect(a.store.claim({ issue: n, owner: a.owner, now: trialTime(n), termMs: TERM_MS, sessionId: "s" })).rejects.toMatchObject({
      status: expect.any(Number),
    });
    fake.setFaults(null);
  });
});

describe("fault injector", () => {
  it("decides the same way for the same seed and requests, in any interleaving", () => {
    const reqs = Array.from({ length: 200 }, (_, i): FaultRequest => ({
      kind: "rest",
      method: i % 2 ? "GET" : "POST",
      path: `/x/${i % 7}`,
      operationId: "op",
    }));
    const run = (order: FaultRequest[]): string[] => {
      const inj = new FaultInjector({ rate: 0.3, kinds: ["5xx", "429", "reset"], seed: 42 });
      return order
        .map((r) => inj.decide(r, "body"))
        .map((d, i) => `${order[i]?.path}:${JSON.stringify(d ?? null)}`)
        .sort();
    };
    const forward = run(reqs);
    expect(run([...reqs].reverse())).toEqual(forward);
    expect(forward.filter((d) => !d.endsWith(":null")).length).toBeGreaterThan(30);
    const git = new FaultInjector({ rate: 1, kinds: ["5xx"], seed: 1 });
    expect(git.decide({ kind: "git", method: "POST", path: "/o/r.git/git-receive-pack", operationId: null })).toBeUndefined();
  });
});
