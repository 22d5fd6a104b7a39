import { HarnessError } from "./errors.js";

const PLACEHOLDER = /\{\{\s*([A-Za-z][\w.]*)\s*\}\}/g;

/**
 * Fills `{{name}}` placeholders from `values` in one pass: text that a value
 * brings in is never scanned again, so an issue body that contains `{{…}}` stays
 * as it was written. An unknown placeholder is EHARNESS_PROMPT, since a prompt
 * with a hole in it would mislead the model.
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, source = "prompt template"): string {
  const unknown = new Set<string>();
  const rendered = template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) {
      unknown.add(name);
      return "";
    }
    return value;
  });
  if (unknown.size > 0) {
    const names = [...unknown].map((n) => `{{${n}}}`).join(", ");
    throw new HarnessError("EHARNESS_PROMPT", {
      message: `${source} uses ${unknown.size === 1 ? "an unknown placeholder" : "unknown placeholders"}: ${names}.`,
      fix: `Use only these placeholders: ${Object.keys(values)
        .sort()
        .map((n) => `{{${n}}}`)
        .join(", ")}.`,
    });
  }
  return rendered;
}

/**
 * Wraps untrusted text in a fence that the text itself cannot close: one
 * backtick longer than the longest run of backticks inside it.
 */
export function fenceUntrusted(text: string, label: string): string {
  const longestRun = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longestRun + 1));
  return `${fence}text ${label}\n${text}\n${fence}`;
}
