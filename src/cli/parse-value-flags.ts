/**
 * Parses `--name VALUE` flags of a command into an object keyed by `names`
 * (`{ "--repo-dir": "repoDir" }`). A flag it does not know, or one without a
 * value, is refused through `usage` (a coded EHARNESS_USAGE error); a flag
 * given twice keeps its last value.
 */
export function parseValueFlags<K extends string>(
  args: readonly string[],
  command: string,
  names: Readonly<Record<string, K>>,
  usage: (message: string) => Error,
): Partial<Record<K, string>> {
  const parsed: Partial<Record<K, string>> = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? "";
    const key = Object.hasOwn(names, arg) ? names[arg] : undefined;
    if (key === undefined) throw usage(`${command} does not take "${arg}".`);
    const value = args[++i];
    if (value === undefined || value === "" || value.startsWith("--")) throw usage(`${arg} needs a value.`);
    parsed[key] = value;
  }
  return parsed;
}
