import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * The harness's structured log. Secrets never reach it: the paths below are
 * censored wherever they appear in a logged object.
 */
export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? "harness",
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
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
