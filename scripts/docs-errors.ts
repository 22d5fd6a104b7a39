/**
 * Writes the error catalogue (src/core/error-catalogue.ts) into README.md
 * between `<!-- errors:start -->` and `<!-- errors:end -->`.
 *
 *   npm run docs:errors
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { renderErrorTable } from "../src/core/error-catalogue.js";

export const START = "<!-- errors:start -->";
export const END = "<!-- errors:end -->";

/** README text with the table between the markers replaced by the catalogue's. */
export function withErrorTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`);
  return `${readme.slice(0, start + START.length)}\n${renderErrorTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = fileURLToPath(new URL("../README.md", import.meta.url));
  const before = await readFile(file, "utf8");
  const after = withErrorTable(before);
  if (after !== before) await writeFile(file, after);
  process.stdout.write(after === before ? "README.md: error table already current\n" : "README.md: error table written\n");
}
