import path from "node:path";
import type { Logger } from "../adapters/logger.js";
import { CONVOY_STATUS_MARKER } from "../core/render-convoy.js";
import { loadOfflineInputs, type OfflineInputs } from "../offline/offline-inputs.js";
import { convoyCommand } from "./convoy-command.js";
import { startStack, type Stack } from "./stack.js";

/**
 * `harness demo --convoy`: a two-issue convoy from creation to landing, offline. The demo's
 * issue and a second one (examples/demo/convoy/: greetFr, its own scenario) are staged as a
 * convoy by `harness convoy create` (with the fake's token, as a person would), worked by the
 * app's agent with the real Claude Code CLI, and merged by ada one after the other; the
 * convoy's status comment is printed after each step, and the convoy closes as completed.
 */
export async function runConvoyDemo(input: { out: (line: string) => void; log: Logger; first: OfflineInputs; demoDir: string }): Promise<number> {
  const { first } = input;
  const second = await loadOfflineInputs(
    { scenario: path.join(input.demoDir, "convoy", "scenario.yaml"), issueFile: path.join(input.demoDir, "convoy", "issue.md") },
    input.demoDir,
  );
  const { owner, name } = first;
  const repository = `${owner}/${name}`;
  const stack = await startStack({
    // The second item's scenario matches its issue's text; the demo's answers every other session.
    scenarios: [second.scenario, first.scenario],
    agents: 1,
    log: input.log,
    progressIntervalMs: 2_000,
    statusPage: true,
    // Every REST change delivers its webhook, as on GitHub: the app hears the CLI's labels and its own.
    ownWebhooks: true,
    reconcile: { repositories: [repository] },
  });
  try {
    return await work(stack, input, first, second);
  } finally {
    await stack.close();
  }
}

async function work(stack: Stack, input: { out: (line: string) => void }, first: OfflineInputs, second: OfflineInputs): Promise<number> {
  const { out } = input;
  const { owner, name } = first;
  const repository = `${owner}/${name}`;
  const { github } = stack;
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i += 1) {
      await stack.idle();
      await github.settled();
    }
  };
  const showStatus = (convoy: number): void => {
    const comment = github.listComments(owner, name, convoy).find((c) => c.body.startsWith(CONVOY_STATUS_MARKER));
    out("");
    out(`== the convoy's status comment on #${convoy}`);
    out((comment?.body ?? "(none)").split("\n").slice(1).join("\n"));
  };
  await github.createRepo({ owner, name, defaultBranch: "main", files: first.files, executable: first.executable, collaborators: { ada: "maintain" } });
  out(`fake GitHub at ${github.apiUrl} with ${repository}; scripted model at ${stack.model.url}`);
  out(`status page at ${stack.statusUrl ?? ""}`);
  const a = await github.createIssue(owner, name, { title: first.issue.title, body: first.issue.body, user: "ada" });
  const b = await github.createIssue(owner, name, { title: second.issue.title, body: second.issue.body, user: "ada" });
  out(`issues #${a.number} "${first.issue.title}" and #${b.number} "${second.issue.title}" opened by ada`);
  const args = ["create", "--title", "Greetings convoy", "--repo", repository, `#${a.number}`, `#${b.number}`];
  out(`$ harness convoy create --title "Greetings convoy" --repo ${repository} '#${a.number}' '#${b.number}'`);
  const lines: string[] = [];
  const code = await convoyCommand(args, { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl }, (l) => lines.push(l));
  for (const l of lines) out(l);
  const convoy = Number(/#(\d+)\t/.exec(lines[0] ?? "")?.[1]);
  if (code !== 0 || !Number.isSafeInteger(convoy)) return 1;
  await settle();
  showStatus(convoy);
  for (const item of [a.number, b.number]) {
    const pull = (await github.listPulls(owner, name)).find((p) => p.head.ref === `harness/issue-${item}` && p.state === "open");
    if (!pull) {
      out(`no pull request for #${item}: see the log above`);
      return 1;
    }
    out("");
    out(`== ada merges pull request #${pull.number} (${pull.title})`);
    await github.mergePull(owner, name, pull.number, { sender: "ada" });
    await settle();
    showStatus(convoy);
  }
  const final = github.getIssue(owner, name, convoy);
  out("");
  out(`== convoy #${convoy} is ${final.state}${final.state === "closed" ? ": it landed" : ""}`);
  return final.state === "closed" ? 0 : 1;
}
