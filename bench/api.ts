/**
 * GitHub API calls per issue on the success path.
 *
 *   npm run bench -- api [--issues 4] [--quick]
 *
 * `harness worker --agents 1 --once` (child process, token mode) works `--issues`
 * queued issues of a short scenario (Write, then done) to their PRs against the
 * fake GitHub; every request it made is in the fake's requestLog. REST reads
 * (GET/HEAD) and writes are counted apart, and git smart-HTTP requests
 * (fetch/ls-remote reads, pushes) apart from those. Per issue = total / issues
 * (the shared queue passes included; "shared" = requests not about one issue).
 * Last line:
 * {"bench":"api","issues":N,"readsPerIssue":…,"writesPerIssue":…,"restWritesPerIssue":…,"gitReadsPerIssue":…,"gitWritesPerIssue":…}
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { benchScenario, createQueuedRepo, OWNER, positive, printTable, round, runWorker, startEnv } from "./_kit.js";

export interface ApiBenchResult {
  bench: "api";
  issues: number;
  readsPerIssue: number;
  writesPerIssue: number;
  restWritesPerIssue: number;
  gitReadsPerIssue: number;
  gitWritesPerIssue: number;
  /** REST reads not about one issue (queue passes, config, repository). */
  sharedReads: number;
}

export async function runApiBench(args: string[]): Promise<ApiBenchResult> {
  const { values } = parseArgs({ args, options: { issues: { type: "string" }, quick: { type: "boolean" } }, allowPositionals: true });
  const issues = Math.max(1, Math.floor(positive(values.issues, "issues", values.quick === true ? 2 : 4)));
  const env = await startEnv([benchScenario(2, 0)]);
  try {
    const repo = "api";
    await createQueuedRepo(env, repo, issues);
    const from = env.github.requestLog.length;
    const worker = await runWorker(env, { agents: 1, repo, tag: "api" });
    const done = worker.stdout.filter((l) => l.startsWith(`${OWNER}/${repo}#`) && l.includes("\tsuccess\t"));
    if (worker.exit.code !== 0 || done.length !== issues)
      throw new Error(`worker: exit ${JSON.stringify(worker.exit)}, ${done.length}/${issues} successes; log ${worker.logFile}`);
    const log = env.github.requestLog.slice(from);
    const rest = log.filter((r) => r.kind === "rest");
    const gitLog = log.filter((r) => r.kind === "git");
    const restReads = rest.filter((r) => !r.write);
    const restWrites = rest.filter((r) => r.write);
    const gitWrites = gitLog.filter((r) => r.write);
    const gitReads = gitLog.filter((r) => !r.write);

    const byOp = new Map<string, { reads: number; writes: number; shared: number }>();
    for (const r of log) {
      const key = r.kind === "git" ? `git ${r.method} ${r.path.replace(/^.*?\.git\//, "").replace(/\?.*$/, "")}` : (r.operationId ?? `${r.method} ${r.path}`);
      const e = byOp.get(key) ?? { reads: 0, writes: 0, shared: 0 };
      if (r.write) e.writes += 1;
      else e.reads += 1;
      if (r.issueNumber === null) e.shared += 1;
      byOp.set(key, e);
    }
    const per = (n: number): number => round(n / issues, 2);
    const result: ApiBenchResult = {
      bench: "api",
      issues,
      readsPerIssue: per(restReads.length),
      writesPerIssue: per(restWrites.length + gitWrites.length),
      restWritesPerIssue: per(restWrites.length),
      gitReadsPerIssue: per(gitReads.length),
      gitWritesPerIssue: per(gitWrites.length),
      sharedReads: restReads.filter((r) => r.issueNumber === null).length,
    };
    const rows = [...byOp.entries()]
      .sort((a, b) => b[1].writes - a[1].writes || b[1].reads - a[1].reads)
      .map(([op, e]) => [op, String(e.reads), String(e.writes), (e.reads / issues + e.writes / issues).toFixed(2), String(e.shared)]);
    printTable(
      `api: requests of harness worker --agents 1 --once for ${issues} issues (success path), from the fake's requestLog`,
      ["operation", "reads", "writes", "per issue", "not about one issue"],
      rows,
    );
    console.log(
      `  REST: ${restReads.length} reads, ${restWrites.length} writes; git HTTP: ${gitReads.length} reads, ${gitWrites.length} pushes; status ≥ 400: ${log.filter((r) => r.status >= 400).length}`,
    );
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await env.close();
  }
}

export default async function main(args: string[]): Promise<void> {
  await runApiBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
