/**
 * The one argument parser of every `harness` command, on node:util `parseArgs`
 * (its tokens; the checks and the messages are ours, so that every command
 * refuses the same way):
 *
 * - `--flag value` and `--flag=value`; a list flag (`--repo a --repo b`) keeps every value,
 *   another flag given twice keeps the last one;
 * - `--help`/`-h` and `--version`/`-V` on every command (answered by src/cli/main.ts
 *   before the command runs, so they have no side effects);
 * - a flag without its value, an unknown flag, a value for a switch, or a positional
 *   argument a command does not take: EHARNESS_USAGE with the command's synopsis as
 *   the fix (exit code 2 in main.ts);
 * - `--` ends the flags: what follows is positional (`harness summarize -- --odd-name.jsonl`).
 *
 * This module imports nothing heavy: main.ts parses with it before it loads a command.
 */
import { parseArgs } from "node:util";
import { HarnessError } from "../core/errors.js";

export type FlagSpec =
  /** A flag with a value; `value` is its placeholder in messages (`--repo owner/repo`). */
  | { type: "string"; value: string; multiple?: boolean }
  /** A switch: present or not, never a value. */
  | { type: "boolean" };

export interface CommandSpec {
  /** The command's name after `harness` ("worker"). */
  name: string;
  /** One line: `harness worker --agents N …`, the fix of every usage error. */
  synopsis: string;
  /** What `harness NAME --help` prints. */
  help: string;
  /** Long flag names without the dashes ("repo-dir"). `help` and `version` are every command's. */
  flags: Readonly<Record<string, FlagSpec>>;
  /** Positional arguments: none unless given. */
  positionals?: { name: string; min: number; max: number };
}

type ValueOf<F extends FlagSpec> = F extends { type: "boolean" } ? boolean : F extends { multiple: true } ? string[] : string;

export type FlagValues<S extends CommandSpec> = { -readonly [K in keyof S["flags"]]?: ValueOf<S["flags"][K]> };

export interface ParsedArgs<S extends CommandSpec> {
  /** `--help` or `-h` was given (anywhere before `--`). */
  help: boolean;
  /** `--version` or `-V` was given. */
  version: boolean;
  values: FlagValues<S>;
  positionals: string[];
}

/** An EHARNESS_USAGE error of `spec`'s command: the message, and its synopsis as the fix. */
export function usageError(spec: Pick<CommandSpec, "name" | "synopsis">, message: string): HarnessError {
  return new HarnessError("EHARNESS_USAGE", { message, fix: `Run ${spec.synopsis} (harness ${spec.name} --help).` });
}

/** A value given as the next argument that looks like a flag (`--x`, `-x`) is not a value: the flag before it has none. */
function looksLikeFlag(value: string): boolean {
  return value.startsWith("--") || /^-[A-Za-z]/.test(value);
}

/**
 * Parses `args` (what follows the command's name) by `spec`. With `--help`/`-h` or
 * `--version`/`-V` anywhere before `--` it returns only that (nothing else is checked);
 * otherwise it throws EHARNESS_USAGE for anything the command does not take.
 */
export function parseCommandArgs<S extends CommandSpec>(spec: S, args: readonly string[]): ParsedArgs<S> {
  // No options declared: parseArgs only splits the arguments into tokens (`--name`, `--name=value`, `-x`,
  // positionals, `--`); which flags take a value, and whether it is there, is decided here.
  const { tokens } = parseArgs({ args: [...args], options: {}, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | string[] | boolean> = {};
  const positionals: string[] = [];
  // --help and --version win over anything else on the line (a flag never takes them as its value).
  const options = tokens.filter((t) => t.kind === "option");
  const help = options.some((t) => t.name === "help" || t.name === "h");
  const version = !help && options.some((t) => t.name === "version" || t.name === "V");
  if (help || version) return { help, version, values: {} as FlagValues<S>, positionals };
  let taken = -1; // the index in `args` of the last value taken by a flag: its tokens are skipped
  for (const token of tokens) {
    if (token.index === taken) continue;
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    const { name, rawName } = token;
    const flag = rawName.startsWith("--") && Object.hasOwn(spec.flags, name) ? spec.flags[name] : undefined;
    if (flag === undefined) throw usageError(spec, `${spec.name} does not take "${rawName}".`);
    if (flag.type === "boolean") {
      if (token.value !== undefined) throw usageError(spec, `${rawName} is a switch and takes no value (not "${token.value}").`);
      values[name] = true;
      continue;
    }
    let value = token.inlineValue ? token.value : undefined;
    if (!token.inlineValue) {
      const next = args[token.index + 1];
      if (next !== undefined && !looksLikeFlag(next)) {
        value = next;
        taken = token.index + 1;
      }
    }
    if (value === undefined || value === "") throw usageError(spec, `${rawName} needs a value (${rawName} ${flag.value}).`);
    if (flag.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    else values[name] = value;
  }
  const allowed = spec.positionals ?? { name: "", min: 0, max: 0 };
  if (positionals.length > allowed.max) {
    const extra = positionals[allowed.max] ?? "";
    throw usageError(
      spec,
      allowed.max === 0 ? `${spec.name} takes no arguments (got "${extra}").` : `${spec.name} takes ${allowed.name} (got "${extra}" too).`,
    );
  }
  if (positionals.length < allowed.min) throw usageError(spec, `${spec.name} needs ${allowed.name}.`);
  return { help: false, version: false, values: values as FlagValues<S>, positionals };
}
