import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// HARNESS_EVENTS_FILE is a stable interface documented in docs/ARCHITECTURE.md
// ("Events"): its table must list every lifecycle event type of
// src/core/lifecycle-events.ts with exactly its own fields (besides issue, agent, at).

const root = path.resolve(".");

/** Event type → its own field names, read from the union in the source. */
function eventsInSource(source: string): Map<string, string[]> {
  const events = new Map<string, string[]>();
  for (const match of source.matchAll(/\{\s*type:\s*"([a-z_]+)";?([^}]*)\}/g)) {
    const fields = [...(match[2] as string).matchAll(/(\w+)\??:/g)].map((m) => m[1] as string).filter((name) => name !== "at");
    events.set(match[1] as string, fields.sort());
  }
  return events;
}

/** Event type → the field names its row documents, from the table of the "## Events" section. */
function eventsInDoc(doc: string): Map<string, string[]> {
  const section = doc.split(/^## /m).find((part) => part.startsWith("Events\n")) ?? "";
  const events = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const type = /^`([a-z_]+)`$/.exec(cells[1] ?? "")?.[1];
    if (type === undefined || cells.length < 5) continue;
    const fields = [...(cells[3] as string).matchAll(/`(\w+)`/g)].map((m) => m[1] as string).filter((name) => name !== "at");
    events.set(type, fields.sort());
  }
  return events;
}

describe("the events table of docs/ARCHITECTURE.md", () => {
  const source = eventsInSource(readFileSync(path.join(root, "src/core/lifecycle-events.ts"), "utf8"));
  const doc = eventsInDoc(readFileSync(path.join(root, "docs/ARCHITECTURE.md"), "utf8"));

  it("reads the event types of the source (so the comparison below is not vacuous)", () => {
    expect(source.size).toBeGreaterThanOrEqual(10);
    expect(source.get("claimed")).toEqual(["attempt", "epoch", "mode", "queuedAt", "sessionId"]);
    expect(source.get("fenced")).toEqual([]);
  });

  it("documents every lifecycle event type, and no other", () => {
    expect([...doc.keys()].sort()).toEqual([...source.keys()].sort());
  });

  it("documents each event's fields as the type declares them", () => {
    for (const [type, fields] of source) expect({ type, fields: doc.get(type) }).toEqual({ type, fields });
  });

  it("notices a missing or wrong row", () => {
    const planted = "## Events\n\n| type | when | fields |\n|---|---|---|\n| `claimed` | then | `epoch`, `attempt` |\n\n## Next\n";
    const parsed = eventsInDoc(planted);
    expect(parsed.get("claimed")).toEqual(["attempt", "epoch"]);
    expect(parsed.get("claimed")).not.toEqual(source.get("claimed"));
    expect(parsed.has("fenced")).toBe(false);
  });
});
