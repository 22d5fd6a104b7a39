import { readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "./paths.js";

/** The version in the package's package.json (`harness_build_info`), read at run time. */
export function harnessVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}
