/**
 * The minimal graph neighbour: issues an issue's own text points at. "Follow-up to
 * #1", "see octo/widgets#7", "https://github.com/octo/widgets/issues/7" name issue 7
 * of the same repository; references to other repositories, to the issue itself,
 * inside code spans or fenced code, and past `max` are left out. Pure and
 * deterministic: the numbers in the order they first appear. (The full link graph
 * with blockers and convoy siblings is built elsewhere; this is what the prompt's
 * "Related work" uses until then, and alongside it.)
 */
export function crossReferencedIssues(text: string, self: { repository: string; issue: number }, max = 10): number[] {
  const [owner, repo] = self.repository.split("/") as [string, string];
  const prose = text.replace(/```[\s\S]*?```/g, " ").replace(/`[^`\n]*`/g, " ");
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(
    `(?:https://github\\.com/(${escape(owner)})/(${escape(repo)})/(?:issues|pull)/(\\d+)\\b)|(?:(?:^|[^\\w/.-])(?:([\\w.-]+)/([\\w.-]+))?#(\\d+)\\b)`,
    "gi",
  );
  const out: number[] = [];
  for (const m of prose.matchAll(pattern)) {
    const sameRepo =
      m[3] !== undefined || m[4] === undefined || (m[4].toLowerCase() === owner.toLowerCase() && (m[5] ?? "").toLowerCase() === repo.toLowerCase());
    const n = Number(m[3] ?? m[6]);
    if (!sameRepo || !Number.isSafeInteger(n) || n <= 0 || n === self.issue || out.includes(n)) continue;
    out.push(n);
    if (out.length >= max) break;
  }
  return out;
}
