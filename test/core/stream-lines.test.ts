import { describe, expect, it } from "vitest";
import { createLineSplitter, type LineInfo } from "../../src/core/stream-lines.js";

function collect(maxLineChars?: number): { lines: string[]; infos: LineInfo[]; splitter: ReturnType<typeof createLineSplitter> } {
  const lines: string[] = [];
  const infos: LineInfo[] = [];
  const splitter = createLineSplitter(
    (line, info) => {
      lines.push(line);
      infos.push(info);
    },
    maxLineChars === undefined ? {} : { maxLineChars },
  );
  return { lines, infos, splitter };
}

describe("createLineSplitter", () => {
  it("joins lines split across chunks", () => {
    const { lines, splitter } = collect();
    for (const chunk of ['{"a":', "1}\n{", '"b":2}\n', "tail"]) splitter.push(Buffer.from(chunk));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    splitter.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', "tail"]);
  });

  it("handles several lines in one chunk, empty lines and CRLF", () => {
    const { lines, splitter } = collect();
    splitter.push("one\r\ntwo\n\nthree\r\n");
    splitter.end();
    expect(lines).toEqual(["one", "two", "", "three"]);
  });

  it("keeps a multi-byte character split between chunks", () => {
    const { lines, splitter } = collect();
    const bytes = Buffer.from("héllo → wörld\n", "utf8");
    for (let i = 0; i < bytes.length; i++) splitter.push(bytes.subarray(i, i + 1));
    splitter.end();
    expect(lines).toEqual(["héllo → wörld"]);
  });

  it("handles a line of several megabytes arriving in small chunks", () => {
    const { lines, splitter } = collect();
    const big = JSON.stringify({ type: "user", text: "x".repeat(3 * 1024 * 1024) });
    const buf = Buffer.from(`${big}\nnext\n`);
    for (let i = 0; i < buf.length; i += 64 * 1024) splitter.push(buf.subarray(i, i + 64 * 1024));
    splitter.end();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(big);
    expect(lines[1]).toBe("next");
  });

  it("cuts lines longer than the limit and flags them", () => {
    const { lines, infos, splitter } = collect(10);
    splitter.push("0123456789abcdef\nshort\n");
    splitter.end();
    expect(lines).toEqual(["0123456789", "short"]);
    expect(infos.map((i) => i.truncated)).toEqual([true, false]);
  });

  it("emits nothing for an empty stream", () => {
    const { lines, splitter } = collect();
    splitter.end();
    expect(lines).toEqual([]);
  });
});
