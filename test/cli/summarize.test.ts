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

  it("says which CLI version wrote the transcript (1.x prints none)", async () => {
    expect((await run(`${fixtures}success.jsonl`, false)).output).toMatch(/^CLI version\s+2\.1\.197$/m);
    expect((await run(`${fixtures}../2.1.332/success.jsonl`, false)).output).toMatch(/^CLI version\s+2\.1\.332$/m);
    expect((await run(`${fixtures}../1.0.128/success.jsonl`, false)).output).toMatch(/^CLI version\s+- \(not in the transcript\)$/m);
  });

  it("says interrupted, not api_error, for a transcript the CLI ended on SIGINT", async () => {
    for (const version of ["2.1.197", "2.1.332"]) {
      const { output } = await run(`${fixtures}../${version}/sigint.jsonl`, false);
      expect(output).toMatch(/^outcome\s+interrupted$/m);
    }
  });

  it("lists permission denials with tool and input", async () => {
    const { output } = await run(`${fixtures}permission-denial.jsonl`, false);
    expect(output).toMatch(/^permission denials\s+1$/m);
    expect(output).toMatch(/^ {2}denied\s+WebFetch \{"url":"http:\/\/127\.0\.0\.1:9\/nothing","prompt":"Summarise the page"\}$/m);
  });

  it("reads a 1.0.0 result (cost_usd, total_cost) as a success and warns which field was missing", async () => {
    const { output } = await run(`${fixtures}../1.0.0/success.jsonl`, false);
    expect(output).toMatch(/^outcome\s+success$/m);
    expect(output).toMatch(/^cost \(USD\)\s+0\.0012$/m);
    expect(output).toMatch(/^warning\s+result event .*missing or invalid total_cost_usd \(cost read from total_cost\)$/m);
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
