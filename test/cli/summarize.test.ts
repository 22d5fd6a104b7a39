import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summarize } from "../../src/cli/summarize.js";

const fixtures = fileURLToPath(new URL("../fixtures/cli/2.1.197/", import.meta.url));

async function run(file: string, json: boolean): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await summarize(file, { json }, (s) => lines.push(s));
  return { code, output: lines.join("\n") };
}

describe("summarize", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "summarize-"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("prints a table for a successful session", async () => {
    const { code, output } = await run(`${fixtures}success.jsonl`, false);
    expect(code).toBe(0);
    expect(output).toMatch(/^outcome\s+success$/m);
    expect(output).toMatch(/^tool calls\s+2 \(Bash 1, Write 1\)$/m);
    expect(output).toMatch(/^files changed\s+hello\.txt$/m);
    expect(output).toMatch(/^final message\s+Wrote hello\.txt and checked its content\.$/m);
  });

  it("prints JSON", async () => {
    const { code, output } = await run(`${fixtures}max-turns.jsonl`, true);
    expect(code).toBe(0);
    const report = JSON.parse(output) as Record<string, unknown>;
    expect(report).toMatchObject({ outcome: "max_turns", turns: 3, toolCalls: 2, toolErrors: 0, permissionDenials: 0, finalMessage: null });
    expect(typeof report.sessionId).toBe("string");
    expect(report.costUsd).toBeGreaterThan(0);
  });

  it("reports a transcript without a result as incomplete and counts stray lines", async () => {
    const file = join(tmp, "partial.jsonl");
    const lines = (await readFile(`${fixtures}sigterm.jsonl`, "utf8")).trim().split("\n");
    await writeFile(file, `${lines.join("\r\n")}\r\nnot json\r\n`);
    const { code, output } = await run(file, true);
    expect(code).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ outcome: "incomplete", nonJsonLines: 1, resultSeen: false, toolCalls: 1 });
  });

  it.each([
    ["a missing file", (dir: string) => join(dir, "nope.jsonl"), /does not exist/],
    ["a directory", (dir: string) => dir, /directory/],
  ])("exits 2 with EHARNESS_TRANSCRIPT for %s", async (_name, path, reason) => {
    const { code, output } = await run(path(tmp), false);
    expect(code).toBe(2);
    expect(output).toMatch(/^EHARNESS_TRANSCRIPT: /);
    expect(output).toMatch(reason);
    expect(output).toMatch(/Fix: /);
  });

  it("exits 2 for a file with no stream-json event", async () => {
    const file = join(tmp, "empty.jsonl");
    await writeFile(file, "hello\n");
    const { code, output } = await run(file, true);
    expect(code).toBe(2);
    expect(output).toMatch(/EHARNESS_TRANSCRIPT: .*no stream-json event/);
  });
});
