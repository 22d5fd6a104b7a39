import type { LifecycleEvent } from "../core/lifecycle-events.js";
import { minuteOf, trendRecordOf } from "../core/trend-rollup.js";
import type { EventBus } from "./event-bus.js";
import type { TrendStore } from "./trend-store.js";

export interface TrendRecorder {
  /** Resolves when every event seen so far is written. */
  flushed(): Promise<void>;
  /** Unsubscribes, then resolves when the writes are done. */
  stop(): Promise<void>;
}

/**
 * Subscribes the trends (src/runtime/trend-store.ts) to a host's lifecycle
 * events: each claim, session end and finished issue is recorded in its minute,
 * and the store rolls up old days when it starts and when the day of the events
 * changes. Writing never blocks or fails the emitter: a write that fails is
 * reported to `onError`.
 */
export function recordTrends(bus: EventBus, store: TrendStore, onError: (error: unknown) => void = () => {}): TrendRecorder {
  let pending: Promise<unknown> = store.rollup().catch(onError);
  let lastDay = "";
  const unsubscribe = bus.subscribe((event: LifecycleEvent) => {
    const record = trendRecordOf(event);
    if (record === null) return;
    const { day } = minuteOf(record.at);
    const write = store.record(record).catch(onError);
    const roll = day !== lastDay && lastDay !== "" ? store.rollup().catch(onError) : Promise.resolve();
    lastDay = day;
    pending = Promise.all([pending, write, roll]).then(() => undefined);
  });
  const flushed = async (): Promise<void> => {
    let seen: Promise<unknown>;
    do {
      seen = pending;
      await seen;
    } while (seen !== pending);
  };
  return {
    flushed,
    stop: async () => {
      unsubscribe();
      await flushed();
    },
  };
}
