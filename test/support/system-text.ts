import type { RecordedRequest } from "../../src/offline/model-server.js";

/** What the system prompt of a Messages request the model server recorded says (the CLI sends it as text blocks). */
export function systemText(request: RecordedRequest | undefined): string {
  const system = (request?.body as { system?: unknown } | undefined)?.system;
  if (typeof system === "string") return system;
  if (Array.isArray(system))
    return system.map((b) => (typeof b === "object" && b !== null && "text" in b ? String((b as { text: unknown }).text) : "")).join("\n");
  return "";
}
