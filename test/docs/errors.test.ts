import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "../../src/core/error-catalogue.js";
import { withErrorTable } from "../../scripts/docs-errors.js";

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name)).map((e) => path.join(e.parentPath, e.name));
}

describe("the error catalogue", () => {
  it("README's Troubleshooting table is the catalogue's (npm run docs:errors)", async () => {
    const readme = await readFile("README.md", "utf8");
    expect(withErrorTable(readme), "run npm run docs:errors").toBe(readme);
  });

  it("describes every code the shipped code emits, and no code it never emits", async () => {
    const emitted = new Set<string>();
    for (const file of [...(await sourceFiles("src")), ...(await sourceFiles("sandbox"))]) {
      if (file.endsWith(path.join("core", "error-catalogue.ts")) || file.endsWith(path.join("core", "errors.ts"))) continue;
      for (const match of (await readFile(file, "utf8")).matchAll(/EHARNESS_[A-Z]{2,}(?:_[A-Z]+)*/g)) emitted.add(match[0]);
    }
    expect([...emitted].sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });
});
