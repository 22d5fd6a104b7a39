/**
 * What one try of a channel came to: accepted; worth another try (a 429 with its Retry-After,
 * a 5xx, a network error, an SMTP 4xx); or refused for good (another 4xx, an SMTP 5xx).
 */
export type DeliveryAnswer = { kind: "ok" } | { kind: "retry"; afterMs: number | null; detail: string } | { kind: "fatal"; detail: string };
