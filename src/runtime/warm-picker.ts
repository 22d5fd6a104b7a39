import { nextPassedOver, pickWithAffinity, type AffinityEntry } from "../core/affinity.js";
import { PRIORITY_RANK, type Priority } from "../core/queue.js";
import type { StateDir } from "./state-dir.js";
import { warmRepositories } from "./warm-worktrees.js";

/** A shared clone fetched this recently counts as warm (its objects are in the page cache, its refs current). */
export const WARM_FETCH_MS = 10 * 60_000;

/** What the picker needs to know of a candidate issue. */
export interface PickerCandidate {
  github: { owner: string; repo: string };
  issue: number;
  priority: Priority;
}

/**
 * An agent host's choice of its next issue with warm-repository affinity
 * (src/core/affinity.ts): among the candidates of the first one's priority
 * class, one of a repository warm on this host (a parked worktree, a clone
 * fetched in the last WARM_FETCH_MS) goes first, for at most one tick. A tick
 * is one queue pass: a new candidate list (a new array) starts the next.
 */
export class WarmPicker {
  private passedOver = new Map<string, number>();
  private tick = 0;
  private list: unknown = null;

  constructor(
    private readonly state: StateDir,
    private readonly nowMs: () => number,
  ) {}

  /** Removes the chosen candidate from `candidates` (queue order) and returns it; undefined when there is none. */
  async take<T extends PickerCandidate>(candidates: T[]): Promise<T | undefined> {
    if (candidates !== this.list) {
      this.list = candidates;
      this.tick += 1;
    }
    if (candidates.length === 0) return undefined;
    const warm = await warmRepositories(this.state, this.nowMs(), WARM_FETCH_MS).catch(() => new Set<string>());
    const entries: AffinityEntry[] = candidates.map((c) => ({
      key: `${c.github.owner}/${c.github.repo}#${c.issue}`,
      repository: `${c.github.owner}/${c.github.repo}`,
      rank: PRIORITY_RANK[c.priority],
    }));
    const pick = pickWithAffinity(entries, warm, this.passedOver, this.tick) ?? { index: 0, passedOver: [], warm: false };
    const [chosen] = candidates.splice(pick.index, 1);
    const chosenKey = entries[pick.index]?.key ?? "";
    this.passedOver = nextPassedOver(this.passedOver, pick, chosenKey, new Set(entries.filter((e) => e.key !== chosenKey).map((e) => e.key)), this.tick);
    return chosen;
  }
}
