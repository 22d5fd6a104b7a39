import { pino, type Logger } from "pino";
import pinoPretty from "pino-pretty";
import { HarnessError } from "../core/errors.js";
import { redactDeep } from "../core/redact.js";
import { processSecrets } from "./secrets.js";

export type { Logger } from "pino";

export type LogFormat = "pretty" | "json";

/**
 * How the log is written: HARNESS_LOG_FORMAT (`pretty` or `json`) when set,
 * otherwise pretty on a terminal (one line per event, for people) and JSON
 * lines everywhere else (for log collectors).
 */
export function logFormatFrom(env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  const value = env.HARNESS_LOG_FORMAT;
  if (value === undefined || value === "") return isTTY ? "pretty" : "json";
  if (value === "pretty" || value === "json") return value;
  throw new HarnessError("EHARNESS_USAGE", {
    message: `HARNESS_LOG_FORMAT is "${value}".`,
    fix: "Set HARNESS_LOG_FORMAT to pretty or json, or unset it (pretty on a terminal, JSON otherwise).",
  });
}

/**
 * The harness's structured log. Secrets never reach it: every argument of every
 * line (message and objects) passes through the process's secret registry, and
 * the paths below are censored wherever they appear in a logged object.
 */
export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream; format?: LogFormat } = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? (options.destination ? "json" : logFormatFrom(process.env, process.stderr.isTTY === true));
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
    format === "pretty"
      ? pinoPretty({
          destination,
          sync: true,
          colorize: options.destination === undefined && process.stderr.isTTY === true,
          translateTime: "SYS:HH:MM:ss",
          ignore: "pid,hostname,name",
          singleLine: true,
        })
      : // pino's DestinationStream only needs write(); a Writable has it.
        destination,
  );
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
