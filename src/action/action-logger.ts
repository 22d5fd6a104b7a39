import { pino, type Logger } from "pino";
import { processSecrets } from "../adapters/secrets.js";
import type { ActionCore } from "./action-core.js";

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** One pino JSON line as a line a person reads in the Actions log: `warn: message (key=value, …)`. */
export function formatLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof record.level === "number" ? (LEVELS[record.level] ?? String(record.level)) : "info";
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const message = typeof record.msg === "string" ? record.msg : "";
  const text = `${message}${fields.length > 0 ? ` (${fields.join(", ")})` : ""}`;
  return level === "info" ? text : `${level}: ${text}`;
}

/**
 * The harness's structured log, written to the Actions log through `core.info`
 * (which masks registered secrets), one readable line per record, redacted
 * through the process's secret registry like the harness's own log (token
 * shapes, encoded forms, minted tokens); secrets are also censored by path.
 */
export function createActionLogger(core: Pick<ActionCore, "info">, level = "info"): Logger {
  return pino(
    {
      name: "harness",
      level,
      redact: {
        paths: ["token", "*.token", "privateKey", "*.privateKey", "secret", "*.secret", "headers.authorization", "*.headers.authorization"],
        censor: "[redacted]",
      },
    },
    {
      write(chunk: string): void {
        for (const line of chunk.split("\n")) if (line !== "") core.info(processSecrets.redact(formatLogLine(line)));
      },
    },
  );
}
