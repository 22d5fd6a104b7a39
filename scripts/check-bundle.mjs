#!/usr/bin/env node
// Fails when the committed action/dist differs from a fresh bundle of the sources
// (someone changed src/ and did not run `npm run bundle`).
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const committed = path.join(root, "action", "dist");
const fresh = await fs.mkdtemp(path.join(os.tmpdir(), "harness-bundle-"));
try {
  execFileSync(process.execPath, [path.join(root, "scripts", "bundle.mjs"), fresh], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const stale = [];
  for (const name of (await fs.readdir(fresh)).sort()) {
    const want = await fs.readFile(path.join(fresh, name));
    const have = await fs.readFile(path.join(committed, name)).catch(() => null);
    if (have === null || !have.equals(want)) stale.push(`action/dist/${name}`);
  }
  for (const name of await fs.readdir(committed).catch(() => [])) {
    if (!(await fs.stat(path.join(fresh, name)).catch(() => null))) stale.push(`action/dist/${name} (not produced by the bundle)`);
  }
  if (stale.length > 0) {
    console.error(`The committed bundle is stale: ${stale.join(", ")}.\nRun \`npm run bundle\` and commit action/dist.`);
    process.exit(1);
  }
  // The session's knowledge server (sandbox/knowledge-mcp.mjs), committed the same way.
  const knowledge = path.join(fresh, "knowledge-mcp.mjs");
  execFileSync(process.execPath, [path.join(root, "scripts", "bundle-knowledge-mcp.mjs"), knowledge], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const committedKnowledge = await fs.readFile(path.join(root, "sandbox", "knowledge-mcp.mjs")).catch(() => null);
  if (committedKnowledge === null || !committedKnowledge.equals(await fs.readFile(knowledge))) {
    console.error("The committed sandbox/knowledge-mcp.mjs is stale.\nRun `npm run bundle` and commit sandbox/knowledge-mcp.mjs.");
    process.exit(1);
  }
  console.log("action/dist and sandbox/knowledge-mcp.mjs are up to date with the sources");
} finally {
  await fs.rm(fresh, { recursive: true, force: true });
}
