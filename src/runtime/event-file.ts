import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { redactDeep } from "../core/redact.js";
import { processSecrets } from "../adapters/secrets.js";
import type { EventBus } from "./event-bus.js";

/**
 * `HARNESS_EVENTS_FILE`: every lifecycle event of this process appended to
 * `file` as one JSON object a line (the types of src/core/lifecycle-events.ts),
 * for benchmarks, judges and people's scripts; a stable interface, documented
 * in docs/ARCHITECTURE.md. Appends are synchronous and small, so the lines of
 * concurrent agents never interleave and a killed process loses none it wrote.
 * Redacted like the log: an event carries tool calls and error messages.
 */
export function appendEventsTo(bus: EventBus, file: string): () => void {
  mkdirSync(path.dirname(file), { recursive: true });
  return bus.subscribe((event) => appendFileSync(file, `${JSON.stringify(redactDeep(event, (text) => processSecrets.redact(text)))}\n`));
}
