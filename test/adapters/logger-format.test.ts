import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, logFormatFrom } from "../../src/adapters/logger.js";
import { processSecrets } from "../../src/adapters/secrets.js";

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("log format", () => {
  it("is pretty on a terminal, JSON elsewhere, and HARNESS_LOG_FORMAT decides when set", () => {
    expect(logFormatFrom({}, true)).toBe("pretty");
    expect(logFormatFrom({}, false)).toBe("json");
    expect(logFormatFrom({ HARNESS_LOG_FORMAT: "json" }, true)).toBe("json");
    expect(logFormatFrom({ HARNESS_LOG_FORMAT: "pretty" }, false)).toBe("pretty");
    expect(() => logFormatFrom({ HARNESS_LOG_FORMAT: "xml" }, false)).toThrow(/EHARNESS_USAGE|HARNESS_LOG_FORMAT is "xml"/);
  });

  it("pretty: one line per event with the time, the level and the fields; secrets redacted as in JSON", () => {
    const secret = "ghs_" + "A".repeat(36);
    processSecrets.add(secret);
    const out = capture();
    const log = createLogger({ destination: out.stream, format: "pretty" });
    log.info({ issue: 7, token: "t" }, `claimed with ${secret}`);
    log.warn("second");
    const lines = out.text().trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO: claimed with \[redacted\] \{"issue":7,"token":"\[redacted\]"\}$/);
    expect(lines[1]).toMatch(/WARN: second$/);
    expect(out.text()).not.toContain(secret);
  });

  it("json: one JSON object per line", () => {
    const out = capture();
    createLogger({ destination: out.stream, format: "json" }).info({ issue: 7 }, "claimed");
    expect(JSON.parse(out.text())).toMatchObject({ level: 30, issue: 7, msg: "claimed" });
  });
});
