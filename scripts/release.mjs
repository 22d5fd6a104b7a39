#!/usr/bin/env node
// Cuts a release: `npm run release -- 0.2.0` (a semver version, without "v").
//   1. refuses unless the work tree is clean, HEAD is on main, the version is
//      semver and greater than package.json's, the tag does not exist, and
//      CHANGELOG.md's "## Unreleased" section lists something;
//   2. sets the version in package.json and package-lock.json (npm version,
//      no git tag of npm's own);
//   3. moves the Unreleased entries under "## <version> - <YYYY-MM-DD>";
//   4. rebuilds the Action bundle (action/dist), so `uses: …/action@v<version>`
//      runs exactly the code of the tag;
//   5. commits "Release v<version>" and creates the annotated tag v<version>.
// It pushes nothing: `git push origin main v<version>` publishes it, then
// `npm publish` (prepack builds dist/). RELEASING.md says the whole process.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

function fail(message, fix) {
  process.stderr.write(`EHARNESS_USAGE: ${message} Fix: ${fix}\n`);
  process.exit(2);
}
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();

/** -1, 0 or 1: a and b as semver (a prerelease sorts before its release). */
export function compareSemver(a, b) {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  for (let i = 1; i <= 3; i += 1) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  if (pa[4] === pb[4]) return 0;
  if (pa[4] === undefined) return 1;
  if (pb[4] === undefined) return -1;
  return pa[4] < pb[4] ? -1 : 1;
}

/** CHANGELOG text with the Unreleased entries moved under the version; throws when there are none. */
export function cutChangelog(text, version, date) {
  const heading = "## Unreleased";
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) throw new Error('CHANGELOG.md has no "## Unreleased" section.');
  const bodyStart = start + heading.length + 1;
  const next = text.indexOf("\n## ", bodyStart);
  const body = text.slice(bodyStart, next < 0 ? text.length : next + 1);
  if (body.trim() === "") throw new Error('CHANGELOG.md\'s "## Unreleased" section is empty.');
  return `${text.slice(0, bodyStart)}\n## ${version} - ${date}\n${body.startsWith("\n") ? "" : "\n"}${body}${next < 0 ? "" : text.slice(next + 1)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const version = process.argv[2] ?? "";
  if (!SEMVER.test(version)) fail(`"${version}" is not a semver version.`, "npm run release -- 1.2.3 (no leading v).");
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  if (compareSemver(version, pkg.version) <= 0)
    fail(`${version} is not greater than the current ${pkg.version}.`, "Pick the next version by the changes (semver).");
  if (run("git", ["status", "--porcelain"]) !== "") fail("the work tree has uncommitted changes.", "Commit or discard them first.");
  const branch = run("git", ["rev-parse", "--abbrev-ref", "HEAD"]);
  if (branch !== "main") fail(`HEAD is on "${branch}", not main.`, "git switch main, then release.");
  if (run("git", ["tag", "--list", `v${version}`]) !== "") fail(`the tag v${version} exists.`, "Pick another version.");
  const changelogFile = path.join(root, "CHANGELOG.md");
  let changelog;
  try {
    changelog = cutChangelog(readFileSync(changelogFile, "utf8"), version, new Date().toISOString().slice(0, 10));
  } catch (error) {
    fail(error.message, 'List the changes under "## Unreleased" in CHANGELOG.md first.');
  }
  run("npm", ["version", version, "--no-git-tag-version", "--allow-same-version=false"]);
  writeFileSync(changelogFile, changelog);
  run("node", ["scripts/bundle.mjs"]);
  run("git", ["add", "package.json", "package-lock.json", "CHANGELOG.md", "action/dist"]);
  run("git", ["commit", "-q", "-m", `Release v${version}`]);
  run("git", ["tag", "-a", `v${version}`, "-m", `claude-harness v${version}`]);
  process.stdout.write(`v${version} committed and tagged. Publish: git push origin main v${version} && npm publish\n`);
}
