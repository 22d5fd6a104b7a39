import { fileURLToPath } from "node:url";
import * as core from "@actions/core";
import { runner } from "./runner.js";

/**
 * The Action's entry: the real `@actions/core` and the job's environment.
 * The prompts are read at run time from the claude-harness checkout the
 * runner downloaded: `prompts/` is two levels above both this file
 * (src/action/run.ts) and the bundle (action/dist/index.js).
 * A cancelled job (SIGINT, then SIGTERM from the runner) stops the session
 * instead of leaving the CLI behind: its minimal environment hides it from the
 * runner's orphan-process cleanup.
 * Exported, not called: the bundle's entry calls it (scripts/bundle.mjs), and
 * `local-action` imports it and calls it.
 */
export async function run(): Promise<void> {
  const cancel = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!cancel.signal.aborted) core.warning(`Received ${signal}: the job was cancelled; stopping the session.`);
    cancel.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await runner({ core, env: process.env, promptsDir: fileURLToPath(new URL("../../prompts/", import.meta.url)), cancel: cancel.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
