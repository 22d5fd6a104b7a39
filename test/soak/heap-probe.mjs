// Loaded with `node --expose-gc --import` into a soaked harness process: every
// HARNESS_HEAP_PROBE_MS (default 5000) it runs a full collection and appends the
// live heap and the RSS to HARNESS_HEAP_PROBE_DIR/<pid>.jsonl. RSS saws with the
// collector's schedule; the heap right after a full collection is what a leak grows.
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";

const dir = process.env.HARNESS_HEAP_PROBE_DIR;
if (dir && typeof globalThis.gc === "function") {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${process.pid}.jsonl`);
  const every = Number(process.env.HARNESS_HEAP_PROBE_MS ?? 5000);
  const sample = () => {
    globalThis.gc();
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), heapMB: m.heapUsed / 1048576, rssMB: m.rss / 1048576 })}\n`);
  };
  setInterval(sample, every).unref();
}
