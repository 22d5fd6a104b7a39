/**
 * Which Claude Code CLI versions the harness was verified against, and the check
 * of the installed one. `VERIFIED_CLI_VERSIONS` is the range whose captured
 * transcripts (test/fixtures/cli/<version>/) the harness reads right and whose CLI
 * the CLI-dependent tests passed with; outside it the harness still runs, with a warning.
 */
import { execa } from "execa";

export const VERIFIED_CLI_VERSIONS: { readonly min: string; readonly max: string } = { min: "2.1.197", max: "2.1.332" };

/** "2.1.197 (Claude Code)" → "2.1.197"; undefined when the text holds no version. */
export function parseCliVersion(text: string): string | undefined {
  return /(?:^|\s)v?(\d+\.\d+\.\d+)(?=[\s(]|$)/.exec(text.trim())?.[1];
}

/**
 * Runs `claude --version` with a minimal environment and a generous timeout (a
 * native CLI starting on a loaded host); undefined when it fails or prints no version.
 */
export async function readCliVersion(claudePath: string): Promise<string | undefined> {
  const result = await execa(claudePath, ["--version"], {
    reject: false,
    timeout: 30_000,
    stdin: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
    extendEnv: false,
  });
  return result.exitCode === 0 ? parseCliVersion(String(result.stdout)) : undefined;
}

/** -1, 0, 1 for dotted numeric versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export interface CliVersionVerdict {
  verified: boolean;
  message: string;
}

/** Whether `version` (undefined: could not be read) is in VERIFIED_CLI_VERSIONS, said in a sentence. */
export function cliVersionVerdict(version: string | undefined): CliVersionVerdict {
  const range = `${VERIFIED_CLI_VERSIONS.min} to ${VERIFIED_CLI_VERSIONS.max}`;
  if (version === undefined || parseCliVersion(version) === undefined) {
    return { verified: false, message: `The Claude Code CLI's version could not be read (claude --version); the harness is verified with ${range}.` };
  }
  const v = parseCliVersion(version) ?? version;
  if (compareVersions(v, VERIFIED_CLI_VERSIONS.min) >= 0 && compareVersions(v, VERIFIED_CLI_VERSIONS.max) <= 0) {
    return { verified: true, message: `Claude Code ${v} is in the verified range (${range}).` };
  }
  const side = compareVersions(v, VERIFIED_CLI_VERSIONS.min) < 0 ? "older than" : "newer than";
  return {
    verified: false,
    message: `Claude Code ${v} is ${side} the verified range (${range}): its stream may differ; sessions are read leniently and may be misread. Install a verified version (npm install @anthropic-ai/claude-code@${VERIFIED_CLI_VERSIONS.max}) or set CLAUDE_PATH to one.`,
  };
}
