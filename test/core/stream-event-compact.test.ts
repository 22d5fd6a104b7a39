import { describe, expect, it } from "vitest";
import { compactJsonText, parseStreamLine } from "../../src/core/stream-event.js";

describe("compactJsonText", () => {
  it("leaves text without long strings as it is", () => {
    const text = JSON.stringify({ type: "user", a: "short", b: ["x", { c: 'q"uote\\' }], n: 1 });
    expect(compactJsonText(text, 10)).toBe(text);
    expect(compactJsonText(text, 1_000)).toBe(text);
  });

  it("cuts long string values and keeps the JSON valid", () => {
    const value = { type: "user", big: "a".repeat(100), after: "kept", nested: [{ k: "b".repeat(50) }] };
    const out = JSON.parse(compactJsonText(JSON.stringify(value), 20)) as typeof value;
    expect(out.big).toBe(`${"a".repeat(20)}…`);
    expect(out.after).toBe("kept");
    expect(out.nested[0]?.k).toBe(`${"b".repeat(20)}…`);
  });

  it("never cuts an escape sequence in two, wherever the cut falls", () => {
    const samples = ['ab\\"cd"ef\\\\gh', "é→ü\u0001\u2028 tab\there", 'x\\y\\\\"z'.repeat(4), "😀".repeat(10)];
    for (const sample of samples) {
      const text = JSON.stringify({ s: sample.repeat(3), t: "e" });
      for (let max = 1; max < 40; max++) {
        const parsed = JSON.parse(compactJsonText(text, max)) as { s: string; t: string };
        expect(parsed.t).toBe("e");
        expect(parsed.s.length).toBeLessThanOrEqual(max + 1);
      }
    }
  });

  it("returns malformed text unchanged", () => {
    const text = `{"type":"user","x":"${"a".repeat(50)}`;
    expect(compactJsonText(text, 10)).toBe(text);
  });

  it("parseStreamLine cuts only when asked", () => {
    const line = JSON.stringify({ type: "brand_new", text: "z".repeat(1_000) });
    const full = parseStreamLine(line);
    const cut = parseStreamLine(line, { maxStringChars: 100 });
    expect(full?.type === "unknown" && (full.raw.text as string).length).toBe(1_000);
    expect(cut?.type === "unknown" && (cut.raw.text as string).length).toBe(101);
  });
});
