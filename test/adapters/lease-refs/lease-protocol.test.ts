import { describe, expect, it } from "vitest";
import { LeaseProtocol, type LeaseHead } from "../../../src/adapters/lease-refs/lease-protocol.js";
import type { SwapOutcome } from "../../../src/adapters/lease-refs/lease-refs.js";
import { MemoryLeaseRefs } from "../../../src/adapters/lease-refs/memory-lease-refs.js";
import { parseLease, type LeaseOwner, type LeaseRecord } from "../../../src/core/lease.js";

const PREFIX = "harness/leases/issue-";
const REF = `${PREFIX}7`;
const me: LeaseOwner = { agent: "agent-1", host: "host-a", runId: "run-1" };
const other: LeaseOwner = { agent: "agent-9", host: "host-z", runId: "run-9" };
const now = new Date("2026-11-26T10:00:00.000Z");
const later = new Date(now.getTime() + 60_000);
const TERM = 900_000;
const claimInput = { issue: 7, owner: me, now, termMs: TERM, sessionId: "s-1" };

/** Memory refs where somebody else's write can land between our read and our swap. */
class RacyRefs extends MemoryLeaseRefs {
  /** Written (by somebody else) right before the next swap, then forgotten. */
  intrude: LeaseRecord | null = null;
  /** Written right after the next swap applied, before anybody reads (our commit superseded at once). */
  after: LeaseRecord | null = null;
  override async compareAndSwap(ref: string, expectedOld: string | null, next: string): Promise<SwapOutcome> {
    if (this.intrude) {
      const record = this.intrude;
      this.intrude = null;
      await this.advance(ref, record);
    }
    const outcome = await super.compareAndSwap(ref, expectedOld, next);
    if (this.after) {
      const record = this.after;
      this.after = null;
      await this.advance(ref, record);
    }
    return outcome;
  }
}

const protocol = (refs: MemoryLeaseRefs, attempts = 4): LeaseProtocol =>
  new LeaseProtocol(refs, PREFIX, { attempts, sleep: async () => undefined, backoffMs: () => 0 });

function foreign(overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    issue: 7,
    state: "claimed",
    owner: other,
    epoch: 1,
    attempt: 1,
    leaseUntil: "2026-11-26T10:15:00.000Z",
    notBefore: null,
    sessionId: "s-9",
    outcome: null,
    retry: null,
    ...overrides,
  };
}

/** The states of the ref's first-parent chain, oldest first. */
function chain(refs: MemoryLeaseRefs, ref = REF): string[] {
  const states: string[] = [];
  let sha = refs.refs.get(ref);
  while (sha) {
    const commit = refs.commits.get(sha);
    if (!commit) throw new Error(`missing ${sha}`);
    states.unshift(parseLease(commit.message).state);
    sha = commit.parents[0];
  }
  return states;
}

const swaps = (refs: MemoryLeaseRefs): number => refs.calls.filter((c) => c.op === "swap").length;

async function claimed(refs: MemoryLeaseRefs, store = protocol(refs)): Promise<{ store: LeaseProtocol; head: LeaseHead }> {
  const result = await store.claim(claimInput);
  if (!result.ok) throw new Error(result.reason);
  return { store, head: result.head };
}

describe("LeaseProtocol.claim", () => {
  it("lands: creates the ref with our claim, the head its answer", async () => {
    const refs = new MemoryLeaseRefs();
    const result = await protocol(refs).claim(claimInput);
    expect(result).toMatchObject({ ok: true, head: { record: { state: "claimed", owner: me, epoch: 1, attempt: 1 } } });
    if (result.ok) expect(refs.refs.get(REF)).toBe(result.head.sha);
  });

  it("rejected: somebody created the ref between our read and our write, and is named as the holder", async () => {
    const refs = new RacyRefs();
    refs.intrude = foreign();
    const result = await protocol(refs).claim(claimInput);
    expect(result).toMatchObject({ ok: false, holder: { owner: other } });
    if (!result.ok) expect(result.reason).toContain("agent-9@host-z");
    expect(chain(refs)).toEqual(["claimed"]);
  });

  it("unknown, then landed: the read-back finds our commit, written once", async () => {
    const refs = new MemoryLeaseRefs();
    refs.faults.push("landed-unknown");
    const result = await protocol(refs).claim(claimInput);
    expect(result.ok).toBe(true);
    expect(swaps(refs)).toBe(1);
    expect(chain(refs)).toEqual(["claimed"]);
  });

  it("unknown, then lost: the ref reads unchanged, so it writes again (a new commit) and lands", async () => {
    const refs = new MemoryLeaseRefs();
    refs.faults.push("lost-unknown");
    const result = await protocol(refs).claim(claimInput);
    expect(result.ok).toBe(true);
    expect(swaps(refs)).toBe(2);
    expect(refs.calls.filter((c) => c.op === "commit")).toHaveLength(2);
    if (result.ok) expect(refs.refs.get(REF)).toBe(result.head.sha);
  });

  it("gives up with EHARNESS_GITHUB, not an answer, when no write ever gets a clear answer", async () => {
    const refs = new MemoryLeaseRefs();
    refs.faults.push("lost-unknown", "lost-unknown", "lost-unknown");
    await expect(protocol(refs, 3).claim(claimInput)).rejects.toMatchObject({ code: "EHARNESS_GITHUB" });
    expect(refs.refs.has(REF)).toBe(false);
  });

  it("unknown, then superseded: our claim landed and somebody moved past it at once: not ours", async () => {
    const refs = new RacyRefs();
    refs.faults.push("landed-unknown");
    refs.after = foreign({ owner: me, state: "interrupted" });
    const result = await protocol(refs).claim(claimInput);
    expect(result).toMatchObject({ ok: false, holder: { state: "interrupted" } });
    if (!result.ok) expect(result.reason).toMatch(/^claimed, then lost at once/);
  });

  it("claims a released lease by a commit on top of its head", async () => {
    const refs = new MemoryLeaseRefs();
    const base = await refs.advance(REF, foreign({ state: "released" }));
    const result = await protocol(refs).claim(claimInput);
    expect(result).toMatchObject({ ok: true, head: { record: { epoch: 2, attempt: 2, owner: me } } });
    if (result.ok) expect(refs.commits.get(result.head.sha)?.parents).toEqual([base]);
  });

  it("claims on the head the caller just read, without reading it again", async () => {
    const refs = new MemoryLeaseRefs();
    await refs.advance(REF, foreign({ state: "released" }));
    const store = protocol(refs);
    const before = await store.read(7);
    const reads = refs.calls.filter((c) => c.op === "read").length;
    const result = await store.claim(claimInput, before);
    expect(result).toMatchObject({ ok: true, head: { record: { epoch: 2, owner: me } } });
    expect(refs.calls.filter((c) => c.op === "read").length).toBe(reads);
    expect(chain(refs)).toEqual(["released", "claimed"]);
  });

  it("a head that moved since the caller read it loses the swap, and the claim settles on the real one", async () => {
    const refs = new MemoryLeaseRefs();
    const store = protocol(refs);
    const stale = await store.read(7); // no ref yet
    await refs.advance(REF, foreign({ state: "released" }));
    expect(await store.claim(claimInput, stale)).toMatchObject({ ok: true, head: { record: { epoch: 2, owner: me } } });
    expect(chain(refs)).toEqual(["released", "claimed"]);
    const held = new MemoryLeaseRefs();
    const seen = await protocol(held).read(7);
    await held.advance(REF, foreign());
    expect(await protocol(held).claim(claimInput, seen)).toMatchObject({ ok: false, holder: { owner: other } });
    expect(chain(held)).toEqual(["claimed"]);
  });

  it("recognises its own claim from an earlier call whose answer never came", async () => {
    const refs = new MemoryLeaseRefs();
    await claimed(refs);
    const before = refs.calls.length;
    expect(await protocol(refs).claim(claimInput)).toMatchObject({ ok: true });
    expect(refs.calls.slice(before).filter((c) => c.op === "swap")).toEqual([]);
    expect((await protocol(refs).claim({ ...claimInput, sessionId: "s-2" })).ok).toBe(false);
  });

  it("among concurrent claimers, exactly one wins and every other names it", async () => {
    for (const start of ["absent", "released"] as const) {
      const refs = new MemoryLeaseRefs();
      if (start === "released") await refs.advance(REF, foreign({ state: "released" }));
      const owners = Array.from({ length: 12 }, (_, i): LeaseOwner => ({ agent: `a${i}`, host: `h${i % 3}`, runId: `r${i}` }));
      const results = await Promise.all(owners.map((owner) => protocol(refs).claim({ ...claimInput, owner, sessionId: `s-${owner.agent}` })));
      const winners = results.flatMap((r, i) => (r.ok ? [owners[i]] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (!r.ok) expect(r.reason).toContain(`${winners[0]?.agent}@${winners[0]?.host}`);
      expect(chain(refs)).toEqual(start === "absent" ? ["claimed"] : ["released", "claimed"]);
    }
  });
});

describe("LeaseProtocol renew and release", () => {
  for (const transition of ["renew", "release"] as const) {
    const run = (store: LeaseProtocol, held: LeaseHead) =>
      transition === "renew" ? store.renew(7, held, me, later, TERM) : store.release(7, held, me, later, { outcome: "success", sessionId: "s-1" });
    const state = transition === "renew" ? "claimed" : "released";

    it(`${transition}: lands on top of the head we hold`, async () => {
      const refs = new MemoryLeaseRefs();
      const { store, head } = await claimed(refs);
      const result = await run(store, head);
      expect(result).toMatchObject({ ok: true, head: { record: { state } } });
      if (result.ok) expect(refs.commits.get(result.head.sha)?.parents).toEqual([head.sha]);
    });

    it(`${transition}: rejected when somebody's commit landed between read and write: fenced`, async () => {
      const refs = new RacyRefs();
      const { store, head } = await claimed(refs);
      refs.intrude = foreign({ owner: me, state: "interrupted" });
      expect(await run(store, head)).toMatchObject({ ok: false, fenced: true, head: { record: { state: "interrupted" } } });
      expect(chain(refs)).toEqual(["claimed", "interrupted"]);
    });

    it(`${transition}: unknown, then landed`, async () => {
      const refs = new MemoryLeaseRefs();
      const { store, head } = await claimed(refs);
      refs.faults.push("landed-unknown");
      const result = await run(store, head);
      expect(result).toMatchObject({ ok: true, head: { record: { state } } });
      if (result.ok) expect(refs.refs.get(REF)).toBe(result.head.sha);
      expect(chain(refs)).toEqual(["claimed", state]);
    });

    it(`${transition}: unknown, then lost: written again, lands once`, async () => {
      const refs = new MemoryLeaseRefs();
      const { store, head } = await claimed(refs);
      refs.faults.push("lost-unknown");
      const result = await run(store, head);
      expect(result).toMatchObject({ ok: true, head: { record: { state } } });
      expect(chain(refs)).toEqual(["claimed", state]);
    });

    it(`${transition}: fenced by a foreign commit, writing nothing`, async () => {
      const refs = new MemoryLeaseRefs();
      const { store, head } = await claimed(refs);
      await refs.advance(REF, foreign({ state: "reclaimed", owner: me, notBefore: later.toISOString() }));
      const before = refs.calls.length;
      expect(await run(store, head)).toMatchObject({ ok: false, fenced: true, head: { record: { state: "reclaimed" } } });
      expect(refs.calls.slice(before).filter((c) => c.op === "commit" || c.op === "swap")).toEqual([]);
      await expect(store.assertHeld(7, head)).rejects.toMatchObject({ code: "EHARNESS_LEASE_LOST" });
    });
  }

  it("a renewal the caller has not seen yet still counts as held, and release goes on top of it", async () => {
    const refs = new MemoryLeaseRefs();
    const { store, head } = await claimed(refs);
    const renewed = await store.renew(7, head, me, later, TERM);
    if (!renewed.ok) throw new Error("renewed");
    await expect(store.assertHeld(7, head)).resolves.toBeUndefined();
    const released = await store.release(7, head, me, later, { outcome: "success", sessionId: "s-1" });
    expect(released).toMatchObject({ ok: true, head: { record: { state: "released" } } });
    if (released.ok) expect(refs.commits.get(released.head.sha)?.parents).toEqual([renewed.head.sha]);
    // Another store (another agent) does not share that memory: the claim it holds is not the head.
    await expect(protocol(refs).assertHeld(7, head)).rejects.toMatchObject({ code: "EHARNESS_LEASE_LOST" });
  });

  it("a read that shows a head our own write moved past (a stale replica) answers the newer head", async () => {
    class Stale extends MemoryLeaseRefs {
      staleSha: string | null = null;
      override async read(ref: string, etag?: string) {
        if (this.staleSha !== null) return { sha: this.staleSha, etag: null };
        return super.read(ref, etag);
      }
    }
    const refs = new Stale();
    const { store, head } = await claimed(refs);
    const renewed = await store.renew(7, head, me, later, TERM);
    if (!renewed.ok) throw new Error("renewed");
    refs.staleSha = head.sha;
    expect((await store.read(7))?.sha).toBe(renewed.head.sha);
  });

  it("serializes one issue's operations: a check beside a renewal sees the renewal's head", async () => {
    const refs = new MemoryLeaseRefs();
    const { store, head } = await claimed(refs);
    const [renewed, read] = await Promise.all([store.renew(7, head, me, later, TERM), store.read(7)]);
    if (!renewed.ok) throw new Error("renewed");
    expect(read?.sha).toBe(renewed.head.sha);
  });
});

describe("LeaseProtocol interrupt, reclaim and reads", () => {
  it("an interrupt is a commit that descends from the holder's claim; the holder is fenced at its next renewal", async () => {
    const refs = new MemoryLeaseRefs();
    const { store, head } = await claimed(refs);
    const interrupted = await protocol(refs).interrupt(7, now);
    expect(interrupted).toMatchObject({ ok: true, head: { record: { state: "interrupted", owner: me, epoch: head.record.epoch } } });
    if (interrupted.ok) expect(refs.commits.get(interrupted.head.sha)?.parents).toEqual([head.sha]);
    expect(await store.renew(7, head, me, later, TERM)).toMatchObject({ ok: false, fenced: true, head: { record: { state: "interrupted" } } });
  });

  it("interrupt: unknown then landed, unknown then lost, and rejected by a racing write", async () => {
    const refs = new RacyRefs();
    await claimed(refs);
    refs.faults.push("landed-unknown");
    expect(await protocol(refs).interrupt(7, now)).toMatchObject({ ok: true });
    expect(chain(refs)).toEqual(["claimed", "interrupted"]);

    const lost = new MemoryLeaseRefs();
    await claimed(lost);
    lost.faults.push("lost-unknown");
    expect(await protocol(lost).interrupt(7, now)).toMatchObject({ ok: true });
    expect(chain(lost)).toEqual(["claimed", "interrupted"]);

    const racy = new RacyRefs();
    await claimed(racy);
    racy.intrude = foreign({ owner: me, state: "released" });
    expect(await protocol(racy).interrupt(7, now)).toMatchObject({ ok: false, fenced: true, head: { record: { state: "released" } } });
  });

  it("an interrupt on a lease nobody holds is refused, writing nothing; so is one on no ref", async () => {
    const refs = new MemoryLeaseRefs();
    await refs.advance(REF, foreign({ state: "released" }));
    const before = swaps(refs);
    expect(await protocol(refs).interrupt(7, now)).toMatchObject({ ok: false, fenced: true });
    expect(await protocol(refs).interrupt(8, now)).toMatchObject({ ok: false, fenced: true, head: null });
    expect(swaps(refs)).toBe(before);
  });

  it("reclaims an expired claim only", async () => {
    const refs = new MemoryLeaseRefs();
    await claimed(refs);
    expect(await protocol(refs).reclaim(7, later, { backoffMs: 1000 })).toMatchObject({ ok: false });
    const expired = new Date(now.getTime() + TERM + 1);
    expect(await protocol(refs).reclaim(7, expired, { backoffMs: 1000 })).toMatchObject({ ok: true, head: { record: { state: "reclaimed" } } });
  });

  it("reads conditionally: an unchanged head costs a not-modified answer and no commit read", async () => {
    const refs = new MemoryLeaseRefs();
    await refs.advance(REF, foreign());
    const store = protocol(refs);
    const first = await store.read(7);
    const before = refs.calls.length;
    expect(await store.read(7)).toEqual(first);
    expect(refs.calls.slice(before)).toEqual([{ op: "read", ref: REF, sha: first?.sha, outcome: "notModified" }]);
    expect(await store.read(8)).toBeNull();
  });

  it("reads each lease commit once, whoever asks", async () => {
    const refs = new MemoryLeaseRefs();
    const sha = await refs.advance(REF, foreign());
    const store = protocol(refs);
    await store.read(7);
    await store.claim(claimInput);
    await store.read(7);
    expect(refs.calls.filter((c) => c.op === "readCommit")).toEqual([{ op: "readCommit", sha }]);
  });
});
