#!/usr/bin/env node
// Bundles the GitHub Action (src/action/run.ts) into one ESM file, action/dist/index.js,
// the file action.yml runs. Deterministic: paths in the output are relative to the
// repository, and nothing depends on the time or the machine, so CI can rebuild into
// a temporary directory and compare (scripts/check-bundle.mjs).
//   node scripts/bundle.mjs [OUTDIR]   (default action/dist)
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdir = path.resolve(process.argv[2] ?? path.join(root, "action", "dist"));

await fs.mkdir(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  // The entry calls run(); run.ts itself only exports it (local-action imports it).
  stdin: {
    contents: 'import { run } from "./src/action/run.js";\nawait run();\n',
    resolveDir: root,
    sourcefile: "action-entry.ts",
    loader: "ts",
  },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outfile: path.join(outdir, "index.js"),
  // CommonJS dependencies call require() for Node built-ins; an ESM bundle has none of its own.
  banner: { js: 'import { createRequire as __harnessCreateRequire } from "node:module";\nconst require = __harnessCreateRequire(import.meta.url);' },
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  metafile: true,
});
// Node reads the bundle as ESM wherever the action directory is copied to.
await fs.writeFile(path.join(outdir, "package.json"), '{ "type": "module" }\n');
const bytes = (await fs.stat(path.join(outdir, "index.js"))).size;
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`bundled ${inputs} modules into ${path.relative(process.cwd(), path.join(outdir, "index.js")) || "index.js"} (${(bytes / 1024).toFixed(0)} KiB)`);
