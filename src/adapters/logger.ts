import { pino, type Logger } from "pino";
import { redactDeep } from "../core/redact.js";
import { processSecrets } from "./secrets.js";

export type { Logger } from "pino";

/**
 * The harness's structured log. Secrets never reach it: every argument of every
 * line (message and objects) passes through the process's secret registry, and
 * the paths below are censored wherever they appear in a logged object.
 */
export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? "harness",
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      hooks: {
        logMethod(args, method) {
          method.apply(this, redactDeep(args, processSecrets.redact));
        },
      },
      redact: {
        paths: ["token", "*.token", "privateKey", "*.privateKey", "secret", "*.secret", "headers.authorization", "*.headers.authorization"],
        censor: "[redacted]",
      },
    },
    // pino's DestinationStream only needs write(); a Writable has it.
    options.destination ?? process.stderr,
  );
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
