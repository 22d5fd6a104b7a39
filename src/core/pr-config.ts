import { z } from "zod";

/**
 * `pr` in .github/harness.yml: how far the harness follows its pull request after it opens
 * (docs/pull-request-follow-ups.md). Fix sessions the harness starts itself are bounded;
 * follow-ups a person asks for are not counted.
 */
export const prSchema = z
  .object({
    /** Sessions started to fix failing checks on the agent's pull request, per issue; then a comment says the harness gives up. 0: never. */
    ciFixAttempts: z.number().int().min(0).max(20).default(2),
    /**
     * Which failing checks lead to a fix session: `required`, the checks the base branch requires
     * (branch protection or a ruleset), and every check where it requires none; `all`, every check.
     */
    ciFixChecks: z.enum(["required", "all"]).default("required"),
    /** Sessions started to merge a base that moved and conflicts, per issue; then a comment says the harness gives up. 0: never. */
    conflictFixAttempts: z.number().int().min(0).max(20).default(2),
  })
  .strict();

export type PrConfig = z.infer<typeof prSchema>;
