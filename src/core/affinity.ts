/**
 * Warm-repository affinity, soft and bounded: which ready issue an agent takes
 * next. Among the issues of the first one's priority class (the queue's own
 * order, never changed), the first whose repository is warm on the agent's
 * host (a parked worktree, a clone fetched recently) is preferred over colder
 * ones ahead of it, for at most one reconcile tick: an issue first passed over
 * in tick T may be passed over again during T, never after. From the next tick
 * on it is taken in the queue's order, warm or not, and nothing behind it in
 * that order goes first; a lower class never goes before a higher one.
 */

export interface AffinityEntry {
  /** Identifies the issue across picks (`owner/repo#N`). */
  key: string;
  /** `owner/repo`, as the warm set names repositories. */
  repository: string;
  /** The priority class; a lower number comes first (PRIORITY_RANK). */
  rank: number;
}

export interface AffinityPick {
  /** Index of the chosen entry in the ordered list. */
  index: number;
  /** Keys of the entries passed over for it (of the chosen entry's class, ahead of it). */
  passedOver: string[];
  warm: boolean;
}

/** Key → the tick in which the issue was first passed over. */
export type PassedOver = ReadonlyMap<string, number>;

/**
 * The entry to take from `ordered` (queue order: priority class first), given
 * the repositories warm on this host, the issues passed over before and the
 * current reconcile tick. Null when `ordered` is empty.
 */
export function pickWithAffinity(ordered: readonly AffinityEntry[], warm: ReadonlySet<string>, passedOver: PassedOver, tick: number): AffinityPick | null {
  const head = ordered[0];
  if (head === undefined) return null;
  for (let i = 0; i < ordered.length; i += 1) {
    const entry = ordered[i]!;
    // Past the first class: nothing of it is warm, so the queue's order stands.
    if (entry.rank !== head.rank) break;
    if (warm.has(entry.repository)) return { index: i, passedOver: ordered.slice(0, i).map((e) => e.key), warm: true };
    // Passed over in an earlier tick: its wait is over, the queue's order stands.
    const since = passedOver.get(entry.key);
    if (since !== undefined && since < tick) break;
  }
  return { index: 0, passedOver: [], warm: warm.has(head.repository) };
}

/**
 * The passed-over record after a pick in `tick`: the pick's passed-over keys
 * added (keeping the tick each was first passed over), the chosen key and keys
 * no longer ready dropped, so it stays as small as the queue.
 */
export function nextPassedOver(
  previous: PassedOver,
  pick: AffinityPick,
  chosenKey: string,
  stillReady: ReadonlySet<string>,
  tick: number,
): Map<string, number> {
  const next = new Map<string, number>();
  for (const [key, since] of previous) if (key !== chosenKey && stillReady.has(key)) next.set(key, since);
  for (const key of pick.passedOver) if (!next.has(key)) next.set(key, tick);
  return next;
}
