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
 * Wraps untrusted text between `<untrusted-N label="…">` and `</untrusted-N>`,
 * where N is 16 random hex digits drawn for each call: the text cannot close
 * the fence, because it cannot know N (a fake `</untrusted>` or a closing
 * backtick fence inside it is only more data). `nonce` fixes N, for tests;
 * text that contains it is refused, since it could close the fence.
 */
export function fenceUntrusted(text: string, label: string, nonce?: string): string {
  let tag = `untrusted-${nonce ?? randomNonce()}`;
  if (nonce !== undefined && text.includes(tag)) {
    throw new HarnessError("EHARNESS_PROMPT", {
      message: `The untrusted text for ${label} contains its own fence delimiter ${tag}.`,
      fix: "Let fenceUntrusted draw a random nonce; a fixed one is for tests only.",
    });
  }
  while (text.includes(tag)) tag = `untrusted-${randomNonce()}`;
  const safeLabel = label.replace(/["<>&\n]/g, "");
  return `<${tag} label="${safeLabel}">\n${text}\n</${tag}>`;
}

/** 16 hex digits from the platform's CSPRNG (Web Crypto, global in Node 20). */
function randomNonce(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
