/**
 * Parser throughput and memory on a large synthetic transcript.
 *
 *   npm run bench -- parser [--size-mb N]      (default 1024; --quick: 64)
 *   npx tsx bench/parser.ts [--size-mb N]
 *
 * Builds a transcript of at least N MB in a temp file from the lines the real CLI
 * printed (test/fixtures/cli/<installed CLI version>/*.jsonl, message and tool ids made unique per copy)
 * and multi-megabyte Bash tool results synthesized from a captured tool result's
 * shape, then streams it twice in 64 KiB chunks (a pipe's size) through our line
 * splitter:
 *   (a) ours: reducer.feedLine (JSON.parse + schema + reduce) and reducer.report()
 *       per event, as run-claude does for its observer and cost guard;
 *   (b) baseline: JSON.parse of the same lines.
 * Each pass runs in a fresh child process (same flags), so neither inherits the
 * other's heap or JIT state, nor the memory used to build the file.
 * ratio = throughput(a) / throughput(b); peak RSS is the maxRSS of (a)'s process.
 * The last line of output is one JSON object:
 * {"bench":"parser","ratio":…,"peakRssMb":…,"bytes":…,"linesPerSecond":…}
 * Targets: ratio ≥ 0.5, peak RSS < 200 MB (exit code 1 otherwise).
 */
import { spawnSync } from "node:child_process";
import { closeSync, createReadStream, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createSessionReducer, type SessionReport } from "../src/core/session-report.js";
import { createLineSplitter } from "../src/core/stream-lines.js";

export interface ParserBenchResult {
  bench: "parser";
  ratio: number;
  peakRssMb: number;
  bytes: number;
  linesPerSecond: number;
}

/** The captures of the CLI version installed (test/fixtures/cli/<version>/), which the harness runs. */
const cliVersion = (
  JSON.parse(readFileSync(fileURLToPath(new URL("../node_modules/@anthropic-ai/claude-code/package.json", import.meta.url)), "utf8")) as { version: string }
).version;
const fixturesDir = fileURLToPath(new URL(`../test/fixtures/cli/${cliVersion}/`, import.meta.url));
const MB = 1024 * 1024;
/** Share of the transcript's bytes in big tool-result lines. */
const BIG_SHARE = 0.5;
/** Text sizes of the synthesized tool outputs (each line holds its text twice, as the CLI prints it). */
const BIG_TEXT_MB = [1, 2, 3, 5];

function capturedLines(): string[] {
  return readdirSync(fixturesDir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(fixturesDir, f), "utf8").split("\n"))
    .filter((l) => l.length > 0);
}

/** Tool output that looks like a build log: paths, quotes, tabs, non-ASCII (so JSON has escapes to undo). */
function outputText(chars: number): string {
  const unit =
    'src/core/session-report.ts:123:45 - error TS2322: Type "string" is not assignable to type "number".\n' +
    "\tat Object.<anonymous> (/work/app/src/index.ts:17:9) — retry 3/5 ✓ café\n" +
    "PASS test/core/lease.test.ts (12 tests) 48 ms\n";
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

/** Multi-megabyte tool-result lines shaped like the captured Bash result of success.jsonl. */
function bigLines(lines: string[]): string[] {
  const template = lines.find((l) => l.includes('"tool_use_result":{"stdout"'));
  if (template === undefined) throw new Error(`No captured Bash tool result in ${fixturesDir}`);
  const event = JSON.parse(template) as {
    message: { content: Array<{ content?: unknown }> };
    tool_use_result: { stdout?: unknown };
  };
  return BIG_TEXT_MB.map((size) => {
    const text = outputText(size * MB);
    const block = event.message.content[0];
    if (block !== undefined) block.content = text;
    event.tool_use_result.stdout = text;
    return JSON.stringify(event);
  });
}

/** Writes a transcript of at least `targetBytes`; returns its size and line count. */
export function buildTranscript(path: string, targetBytes: number): { bytes: number; lines: number; bigLines: number } {
  const small = capturedLines();
  const block = `${small.join("\n")}\n`;
  const big = bigLines(small).map((l) => `${l}\n`);
  const idPattern = /\b(msg_|toolu_)([0-9a-f]{16})[0-9a-f]{8}/g;
  const fd = openSync(path, "w");
  let bytes = 0;
  let bigBytes = 0;
  let lineCount = 0;
  let bigCount = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    writeSync(fd, pending.join(""));
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (let copy = 0; bytes < targetBytes; copy++) {
      let chunk: string;
      if (bigBytes < bytes * BIG_SHARE) {
        chunk = big[bigCount % big.length] ?? "";
        bigBytes += chunk.length;
        bigCount += 1;
        lineCount += 1;
      } else {
        // A fresh copy of the captured sessions: unique message and tool ids, as in one long session.
        const suffix = copy.toString(16).padStart(8, "0").slice(-8);
        chunk = block.replace(idPattern, (_m, prefix: string, head: string) => `${prefix}${head}${suffix}`);
        lineCount += small.length;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      bytes += Buffer.byteLength(chunk);
      if (pendingBytes >= 8 * MB) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return { bytes, lines: lineCount, bigLines: bigCount };
}

/** Streams `path` in 64 KiB chunks through the line splitter into `onLine`; returns milliseconds. */
async function pass(path: string, onLine: (line: string) => void): Promise<number> {
  const splitter = createLineSplitter(onLine);
  const started = performance.now();
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  for await (const chunk of stream) splitter.push(chunk as Buffer);
  splitter.end();
  return performance.now() - started;
}

function mb(bytes: number): number {
  return Math.round((bytes / MB) * 10) / 10;
}

interface PassResult {
  ms: number;
  maxRssMb: number;
  lines: number;
  detail: string;
}

/** One pass over the file in this process; prints its result as JSON. */
async function runPass(file: string, kind: "ours" | "baseline"): Promise<PassResult> {
  if (kind === "baseline") {
    let lines = 0;
    const ms = await pass(file, (line) => {
      if (line.length === 0) return;
      JSON.parse(line);
      lines += 1;
    });
    return { ms, maxRssMb: process.resourceUsage().maxRSS / 1024, lines, detail: "" };
  }
  const reducer = createSessionReducer();
  let lines = 0;
  let last: SessionReport | null = null;
  const ms = await pass(file, (line) => {
    if (reducer.feedLine(line) === null) return;
    lines += 1;
    // run-claude builds the report for every event (observer, cost guard).
    last = reducer.report();
  });
  const report = reducer.finish({ exitCode: 0, signal: null });
  const size = JSON.stringify(last ?? report).length;
  return {
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    lines,
    detail: `${report.outcome}, ${report.toolCalls} tool calls, ${report.nonJsonLines} non-JSON lines, ${size} bytes of JSON`,
  };
}

function runPassInChild(file: string, kind: "ours" | "baseline"): PassResult {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, self, "--pass", kind, "--file", file], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1024 * 1024,
  });
  const last = child.stdout.trim().split("\n").at(-1) ?? "";
  if (child.status !== 0 || last === "") throw new Error(`The ${kind} pass failed (${child.signal ?? `exit ${child.status}`}).`);
  return JSON.parse(last) as PassResult;
}

export async function runParserBench(args: string[]): Promise<ParserBenchResult> {
  const { values } = parseArgs({
    args,
    options: { "size-mb": { type: "string" }, pass: { type: "string" }, file: { type: "string" }, quick: { type: "boolean" } },
    allowPositionals: true,
  });
  const sizeMb = values["size-mb"] === undefined ? (values.quick === true ? 64 : 1024) : Number(values["size-mb"]);
  if (!Number.isFinite(sizeMb) || sizeMb <= 0) throw new Error(`--size-mb must be a positive number, got ${values["size-mb"]}`);

  const dir = mkdtempSync(join(tmpdir(), "harness-bench-parser-"));
  const file = join(dir, "transcript.jsonl");
  try {
    const buildStart = performance.now();
    const built = buildTranscript(file, sizeMb * MB);
    const buildMs = performance.now() - buildStart;

    const ours = runPassInChild(file, "ours");
    const baseline = runPassInChild(file, "baseline");
    const oursMs = ours.ms;
    const baselineMs = baseline.ms;
    const maxRssMb = ours.maxRssMb;
    const seconds = oursMs / 1000;
    const ratio = baselineMs / oursMs;
    const result: ParserBenchResult = {
      bench: "parser",
      ratio: Math.round(ratio * 1000) / 1000,
      peakRssMb: Math.round(maxRssMb * 10) / 10,
      bytes: built.bytes,
      linesPerSecond: Math.round(built.lines / seconds),
    };
    const rows: Array<[string, string]> = [
      [
        "transcript",
        `${mb(built.bytes)} MB, ${built.lines} lines (${built.bigLines} tool results of ${BIG_TEXT_MB.join("/")} MB ×2), built in ${(buildMs / 1000).toFixed(1)} s`,
      ],
      ["ours (split+parse+reduce+report)", `${(oursMs / 1000).toFixed(2)} s, ${mb(built.bytes / seconds)} MB/s, ${result.linesPerSecond} lines/s`],
      ["baseline (split+JSON.parse)", `${(baselineMs / 1000).toFixed(2)} s, ${mb(built.bytes / (baselineMs / 1000))} MB/s`],
      ["ratio ours/baseline", `${result.ratio} (target ≥ 0.5)`],
      ["peak RSS of ours (maxRSS)", `${result.peakRssMb} MB (target < 200); baseline's ${baseline.maxRssMb.toFixed(1)} MB`],
      ["events / parsed lines", `${ours.lines} / ${baseline.lines}`],
      ["report", ours.detail],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log("stream-json parser on a synthetic transcript");
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
    console.log(JSON.stringify(result));
    // A quick run is too small for its figures to judge the targets.
    if (values.quick !== true && (result.ratio < 0.5 || result.peakRssMb >= 200)) process.exitCode = 1;
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { pass: { type: "string" }, file: { type: "string" } }, strict: false, allowPositionals: true });
  if ((values.pass === "ours" || values.pass === "baseline") && typeof values.file === "string") {
    console.log(JSON.stringify(await runPass(values.file, values.pass)));
    return;
  }
  await runParserBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
