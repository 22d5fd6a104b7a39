import { describe, expect, it } from "vitest";
import { editsSinceApproval, unapprovedEditReason, type TextEdit } from "../../src/core/approved-text.js";

const olga = { login: "olga", type: "User" };
const wanda = { login: "wanda", type: "User" };
const body = (at: string, editor: TextEdit["editor"] = olga): TextEdit => ({ field: "body", at, editor });
const title = (at: string, editor: TextEdit["editor"] = olga): TextEdit => ({ field: "title", at, editor });
const since = (edits: TextEdit[], approvedAt = "2026-12-02T10:00:05Z") =>
  editsSinceApproval({ approvedAt, issueCreatedAt: "2026-12-02T10:00:00Z", issueAuthor: "olga", edits });

describe("editsSinceApproval", () => {
  it("keeps edits after the approving label, drops those before", () => {
    const before = body("2026-12-02T10:00:03Z");
    const after = body("2026-12-02T10:00:09Z", wanda);
    expect(since([body("2026-12-02T10:00:00Z"), before, after])).toEqual([after]);
  });

  it("an edit in the label's own second counts as after it (GitHub's resolution is a second; fail closed)", () => {
    const same = body("2026-12-02T10:00:05Z");
    expect(since([same], "2026-12-02T10:00:05.900Z")).toEqual([same]);
  });

  it("drops the original revision (the author's, at creation) once; a second one in that second is an edit", () => {
    const original = body("2026-12-02T10:00:00Z");
    const quick = body("2026-12-02T10:00:00Z");
    expect(since([original], "2026-12-02T10:00:00Z")).toEqual([]);
    expect(since([original, quick], "2026-12-02T10:00:00Z")).toEqual([quick]);
  });

  it("a revision at creation by someone else is not the original", () => {
    const other = body("2026-12-02T10:00:00Z", wanda);
    expect(since([other], "2026-12-02T10:00:00Z")).toEqual([other]);
  });

  it("title edits are never the original; unparsable times count as after", () => {
    const t = title("2026-12-02T10:00:00Z");
    expect(since([t], "2026-12-02T10:00:00Z")).toEqual([t]);
    const broken = body("yesterday");
    expect(since([broken])).toEqual([broken]);
    expect(since([body("2026-12-02T10:00:01Z")], "")).toHaveLength(1);
  });

  it("the reason names who and what, never the text", () => {
    expect(unapprovedEditReason(title("2026-12-02T10:00:09Z"), "harness:queued")).toMatch(/title was edited by @olga .* after harness:queued/);
    expect(unapprovedEditReason(body("2026-12-02T10:00:09Z", null), "q")).toContain("description was edited by a deleted account");
  });
});
