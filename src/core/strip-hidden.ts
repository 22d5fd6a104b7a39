/**
 * What a person approving an issue on GitHub cannot see must not reach the
 * model either. `stripHidden` removes the places where text hides in a
 * rendered issue (HTML comments, invisible and bidi characters, Unicode tag
 * characters, variation selectors, hidden and collapsed HTML, image alt text,
 * link titles, hidden attributes, Markdown "comments") and keeps what GitHub
 * shows.
 *
 * It is not a Markdown parser, on purpose: where it cannot be sure that GitHub
 * shows something it strips it, because a mismatch in the other direction would
 * let hidden text through. The one structure it keeps intact is a fenced code
 * block (GitHub shows its content verbatim, so a `<!-- -->` in an HTML example
 * is visible), and only where GitHub surely renders one: a fence at the start of
 * a line, outside any raw HTML block. Invisible characters are removed
 * everywhere, code included. The passes repeat until nothing changes, so
 * removing one construct cannot assemble another (`<!<!-- -->-- x -->`).
 */

/** The kinds of hidden content, each counted in `StripHiddenResult.removed`. */
export type HiddenKind =
  | "htmlComment"
  | "invisibleChar"
  | "bidiControl"
  | "tagChar"
  | "variationSelector"
  | "hiddenElement"
  | "collapsedSection"
  | "altText"
  | "linkTitle"
  | "hiddenAttribute"
  | "markdownComment"
  | "fenceInfo";

export interface StripHiddenResult {
  /** The text as GitHub shows it, with every hidden part removed. */
  text: string;
  /** How many of each kind were removed: characters for the character kinds, occurrences for the rest. */
  removed: Record<HiddenKind, number>;
  /** The sum of `removed`: zero means the text had nothing hidden. */
  total: number;
}

const KINDS: readonly HiddenKind[] = [
  "htmlComment",
  "invisibleChar",
  "bidiControl",
  "tagChar",
  "variationSelector",
  "hiddenElement",
  "collapsedSection",
  "altText",
  "linkTitle",
  "hiddenAttribute",
  "markdownComment",
  "fenceInfo",
];

type Counts = Record<HiddenKind, number>;

/** Removes what a reader of the rendered issue cannot see; see the file's comment for the rules. */
export function stripHidden(text: string): StripHiddenResult {
  const removed = Object.fromEntries(KINDS.map((k) => [k, 0])) as Counts;
  let current = text;
  for (;;) {
    const next = onePass(current, removed);
    if (next === current) break;
    current = next;
  }
  const total = KINDS.reduce((sum, k) => sum + removed[k], 0);
  return { text: current, removed, total };
}

function onePass(text: string, counts: Counts): string {
  const segments = splitBlocks(stripCharacters(text, counts));
  let out = "";
  for (let i = 0; i < segments.length;) {
    const segment = segments[i] as Segment;
    if (segment.kind === "code") {
      out += stripFenceInfo(segment.text, counts);
      i += 1;
      continue;
    }
    // A run of prose and raw HTML between two code blocks is stripped as one
    // text, since a comment or an element may span both; code spans in the
    // prose stand in as placeholders meanwhile.
    const spans: string[] = [];
    let run = "";
    for (; i < segments.length && segments[i]?.kind !== "code"; i += 1) {
      const part = segments[i] as Segment;
      run += part.kind === "prose" ? protectCodeSpans(part.text, spans) : part.text;
    }
    out += stripStructures(run, counts).replace(/\0(\d+)\0/g, (_m, index: string) => spans[Number(index)] ?? "");
  }
  return out;
}

// ---------------------------------------------------------------- characters

/**
 * Emoji sequences that legitimately use a joiner, a variation selector or tag
 * characters (👨‍👩‍👧, ❤️, 1️⃣, the three RGI subdivision flags). They are matched
 * before the hidden characters so they survive whole; anything beyond one
 * selector per emoji is smuggling and is removed.
 */
const EMOJI_PART = String.raw`\p{Extended_Pictographic}(?:\u{FE0F}|\p{Emoji_Modifier})?`;
const EMOJI = String.raw`\u{1F3F4}\u{E0067}\u{E0062}(?:\u{E0065}\u{E006E}\u{E0067}|\u{E0073}\u{E0063}\u{E0074}|\u{E0077}\u{E006C}\u{E0073})\u{E007F}|[#*0-9]\u{FE0F}\u{20E3}|${EMOJI_PART}(?:\u{200D}${EMOJI_PART})*`;

const CHAR_CLASSES: ReadonlyArray<[HiddenKind, string]> = [
  ["tagChar", String.raw`\u{E0000}-\u{E007F}`],
  ["variationSelector", String.raw`\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}`],
  ["bidiControl", String.raw`\u{202A}-\u{202E}\u{2066}-\u{2069}\u{061C}`],
  [
    "invisibleChar",
    // Zero-width and joiners (incl. LRM/RLM), BOM, word joiner and invisible
    // operators, Mongolian vowel separator, soft hyphen, combining grapheme
    // joiner, Hangul fillers, Khmer invisible vowels, deprecated format
    // characters, interlinear annotation marks, musical format characters,
    // C0/C1 controls other than tab, line feed and carriage return.
    String.raw`\u{200B}-\u{200F}\u{FEFF}\u{2060}-\u{2064}\u{180E}\u{00AD}\u{034F}\u{115F}\u{1160}\u{3164}\u{FFA0}\u{17B4}\u{17B5}\u{206A}-\u{206F}\u{FFF9}-\u{FFFB}\u{1D173}-\u{1D17A}\u{0000}-\u{0008}\u{000B}\u{000C}\u{000E}-\u{001F}\u{007F}-\u{009F}`,
  ],
];

const HIDDEN_CHAR = new RegExp(`(${EMOJI})|[${CHAR_CLASSES.map(([, c]) => c).join("")}]`, "gu");
const CHAR_KIND = CHAR_CLASSES.map(([kind, c]) => [kind, new RegExp(`^[${c}]$`, "u")] as const);

/** The kind of a hidden code point, or null when it is visible. */
function hiddenCharKind(char: string): HiddenKind | null {
  for (const [kind, re] of CHAR_KIND) if (re.test(char)) return kind;
  return null;
}

function stripCharacters(text: string, counts: Counts): string {
  return text.replace(HIDDEN_CHAR, (match: string, emoji: string | undefined) => {
    if (emoji !== undefined) return emoji;
    const kind = hiddenCharKind(match);
    if (kind) counts[kind] += 1;
    return "";
  });
}

/** `&#8203;`, `&#xE0041;`, `&shy;`…: entities GitHub renders as a hidden character. */
const NAMED_HIDDEN: Readonly<Record<string, number>> = {
  shy: 0xad,
  zwsp: 0x200b,
  zwnj: 0x200c,
  zwj: 0x200d,
  lrm: 0x200e,
  rlm: 0x200f,
  zerowidthspace: 0x200b,
  nobreak: 0x2060,
  nonbreakingspace: 0x2060,
  invisibletimes: 0x2062,
  invisiblecomma: 0x2063,
  applyfunction: 0x2061,
  ic: 0x2063,
  it: 0x2062,
  af: 0x2061,
};

function stripHiddenEntities(text: string, counts: Counts): string {
  return text.replace(/&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([A-Za-z]{2,20}));/g, (match, dec?: string, hex?: string, name?: string) => {
    const codePoint = dec !== undefined ? Number(dec) : hex !== undefined ? parseInt(hex, 16) : NAMED_HIDDEN[(name ?? "").toLowerCase()];
    if (codePoint === undefined || codePoint > 0x10ffff) return match;
    const kind = codePoint === 0 ? "invisibleChar" : hiddenCharKind(String.fromCodePoint(codePoint));
    if (kind === null) return match;
    counts[kind] += 1;
    return "";
  });
}

// ---------------------------------------------------------------- code fences

interface Segment {
  text: string;
  /** `code`: a fenced code block, shown verbatim; `html`: a raw HTML block; `prose`: Markdown. */
  kind: "code" | "html" | "prose";
}

/**
 * Splits the text into fenced code blocks, raw HTML blocks and prose, line by
 * line. Only an unindented fence opens a code block here: an indented one may
 * belong to a list item that a later unindented line closes, and with it the
 * fence (so `- a\n  \`\`\`\n<!-- x -->` is a hidden comment, not code). A
 * line that starts with `<` opens a raw HTML block, in which GitHub sees no
 * fences and no code spans: it lasts until a blank line, or for comments,
 * processing instructions, CDATA, declarations and
 * `<pre>`/`<script>`/`<style>`/`<textarea>` until their end marker (and then a
 * blank line). Erring on the side of "not code" only ever strips more.
 */
function splitBlocks(text: string): Segment[] {
  const segments: Segment[] = [];
  // Each fenced block is a segment of its own, so its first line is its opening fence.
  const push = (line: string, kind: Segment["kind"], opensBlock = false): void => {
    const last = segments[segments.length - 1];
    if (last && last.kind === kind && !opensBlock) last.text += line;
    else segments.push({ text: line, kind });
  };
  let fence: { char: string; length: number } | null = null;
  let html: { end: RegExp | null } | null = null;
  for (const line of text.split(/(?<=\n)/)) {
    const content = line.replace(/\r?\n$/, "");
    if (fence) {
      push(line, "code");
      const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(content);
      if (close?.[1] && close[1][0] === fence.char && close[1].length >= fence.length) fence = null;
      continue;
    }
    if (html) {
      push(line, "html");
      if (html.end) {
        if (html.end.test(content)) html.end = null;
      } else if (content.trim() === "") html = null;
      continue;
    }
    const open = /^(`{3,}|~{3,})(.*)$/.exec(content);
    if (open?.[1] && !(open[1][0] === "`" && (open[2] ?? "").includes("`"))) {
      fence = { char: open[1][0] ?? "`", length: open[1].length };
      push(line, "code", true);
      continue;
    }
    const htmlStart = /^ {0,3}(<.*)$/.exec(content);
    if (htmlStart?.[1]) {
      const end = htmlBlockEnd(htmlStart[1]);
      html = { end: end && !end.test(htmlStart[1].slice(2)) ? end : null };
      push(line, "html");
      continue;
    }
    push(line, "prose");
  }
  return segments;
}

/**
 * Raw HTML as a permissive reader sees it: a construct that starts before a
 * backtick swallows it, so `<img alt="\`x\`">` is an attribute, not code.
 * Unclosed ones run to the end.
 */
const RAW_HTML = /<!--[\s\S]*?(?:--!?>|$)|<[?!][\s\S]*?(?:>|$)|<\/?[A-Za-z][A-Za-z0-9-]*(?:"[^"]*(?:"|$)|'[^']*(?:'|$)|[^'">])*(?:>|$)/y;

/**
 * Replaces each code span of `prose` (GitHub shows it verbatim) with a
 * placeholder `\0<index>\0` and pushes its text to `spans`. NUL cannot occur
 * otherwise, since the character pass removed it. Reads left to right as
 * CommonMark does: a backslash escapes, raw HTML takes precedence over a later
 * backtick, and a span closes only on the same line (a longer span stays
 * unprotected, which only strips more).
 */
function protectCodeSpans(prose: string, spans: string[]): string {
  let out = "";
  let i = 0;
  while (i < prose.length) {
    const ch = prose[i];
    if (ch === "\\" && /[!-/:-@[-`{-~]/.test(prose[i + 1] ?? "")) {
      out += prose.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (ch === "<") {
      RAW_HTML.lastIndex = i;
      const html = RAW_HTML.exec(prose);
      if (html) {
        out += html[0];
        i += html[0].length;
        continue;
      }
    }
    if (ch !== "`") {
      out += ch;
      i += 1;
      continue;
    }
    const opener = /`+/y;
    opener.lastIndex = i;
    const length = (opener.exec(prose)?.[0] ?? "`").length;
    const lineEnd = prose.indexOf("\n", i) === -1 ? prose.length : prose.indexOf("\n", i);
    const closer = new RegExp(`(?<!\`)\`{${length}}(?!\`)`, "g");
    closer.lastIndex = i + length;
    const close = closer.exec(prose);
    if (close && close.index < lineEnd) {
      spans.push(prose.slice(i, close.index + length));
      out += `\0${spans.length - 1}\0`;
      i = close.index + length;
    } else {
      out += prose.slice(i, i + length);
      i += length;
    }
  }
  return out;
}

/** The end marker of a raw HTML block that may contain blank lines, or null for one that ends at a blank line. */
function htmlBlockEnd(start: string): RegExp | null {
  if (start.startsWith("<!--")) return /-->/;
  if (start.startsWith("<?")) return /\?>/;
  if (start.startsWith("<![CDATA[")) return /\]\]>/;
  if (/^<![A-Za-z]/.test(start)) return />/;
  if (/^<(?:script|pre|style|textarea)(?:\s|>|$)/i.test(start)) return /<\/(?:script|pre|style|textarea)>/i;
  return null;
}

/** A fence's info string beyond its first word (the language) is not shown. */
function stripFenceInfo(code: string, counts: Counts): string {
  return code.replace(/^( {0,3}(?:`{3,}(?!`)|~{3,}(?!~))[ \t]*\S*)[ \t]+\S[^\n]*?(?=\r?\n|$)/, (_m, kept: string) => {
    counts.fenceInfo += 1;
    return kept;
  });
}

// ---------------------------------------------------------------- structures

function stripStructures(text: string, counts: Counts): string {
  let out = stripHiddenEntities(text, counts);
  out = stripComments(out, counts);
  out = stripHiddenElements(out, counts);
  out = stripDetails(out, counts);
  out = stripAttributes(out, counts);
  out = stripMarkdownDefinitions(out, counts);
  out = stripMarkdownAltAndTitles(out, counts);
  return out;
}

function countingReplace(text: string, re: RegExp, kind: HiddenKind, counts: Counts, replacement = ""): string {
  return text.replace(re, () => {
    counts[kind] += 1;
    return replacement;
  });
}

/**
 * HTML comments as a browser reads them: `<!-->` and `<!--->` are complete
 * (empty) comments, `--!>` also closes one, and an unclosed `<!--` hides
 * everything after it. Processing instructions, CDATA and declarations are
 * not shown by GitHub either.
 */
function stripComments(text: string, counts: Counts): string {
  let out = text;
  // Removing a comment can complete another around it (`<!<!-- -->-- x -->`): repeat here, where it is cheap.
  for (let before = ""; before !== out;) {
    before = out;
    out = countingReplace(out, /<!--(?:-?>|[\s\S]*?(?:--!?>|$))/g, "htmlComment", counts);
  }
  out = countingReplace(out, /<!\[CDATA\[[\s\S]*?(?:\]\]>|$)/g, "htmlComment", counts);
  out = removeDelimited(out, /<![A-Za-z]/g, ">", () => false, counts);
  // An unclosed processing instruction hides the rest only where it opens an HTML block: at the start of a line.
  out = removeDelimited(out, /<\?/g, "?>", (text, at) => /(?:^|\n) {0,3}$/.test(text.slice(Math.max(0, at - 4), at)), counts);
  return out;
}

/**
 * Removes each `opener` … `close` span as an HTML comment, in linear time
 * (`indexOf`, not a lazy regex retried at every opener). An opener without a
 * close hides the rest of the text when `toEnd` says so, else it stays.
 */
function removeDelimited(text: string, opener: RegExp, close: string, toEnd: (text: string, at: number) => boolean, counts: Counts): string {
  let out = "";
  let pos = 0;
  for (;;) {
    opener.lastIndex = pos;
    const m = opener.exec(text);
    if (!m) break;
    const end = text.indexOf(close, m.index + m[0].length);
    if (end === -1) {
      if (!toEnd(text, m.index)) break;
      out += text.slice(pos, m.index);
      pos = text.length;
      counts.htmlComment += 1;
      break;
    }
    out += text.slice(pos, m.index);
    pos = end + close.length;
    counts.htmlComment += 1;
  }
  return out + text.slice(pos);
}

/**
 * An opening tag, permissive about attributes (quoted values may hold `>`).
 * An unquoted `<` ends the attempt, so a text full of unclosed `<a` costs
 * linear time, not quadratic.
 */
const OPEN_TAG = /<([A-Za-z][A-Za-z0-9-]*)((?:"[^"]*"|'[^']*'|[^'"<>])*)>/g;
const VOID_ELEMENTS = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]);
const ALWAYS_HIDDEN = new Set(["script", "style", "template"]);

/** The attributes of a tag, quoted values removed, for name tests. */
function attributeNames(attrs: string): string {
  return attrs.replace(/"[^"]*"|'[^']*'/g, '""');
}

function isHiddenElement(name: string, attrs: string): boolean {
  if (ALWAYS_HIDDEN.has(name.toLowerCase())) return true;
  if (/(?:^|[\s/])hidden(?=[\s=/]|$)/i.test(attributeNames(attrs))) return true;
  const style = /(?:^|\s)style\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/i.exec(attrs)?.[1] ?? "";
  return /display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|(?<![\w-])(?:font-size|opacity|max-height|height|width)\s*:\s*0(?![.\d]*[1-9])/i.test(style);
}

/**
 * The end of the element whose opening tag ends at `from`: the index just
 * after its matching closing tag, or the end of the text when it is never
 * closed (a browser hides the rest then, too).
 */
function elementEnd(text: string, name: string, from: number): number {
  const tags = new RegExp(`<(/?)${name}(?=[\\s/>])(?:"[^"]*"|'[^']*'|[^'"<>])*>`, "gi");
  tags.lastIndex = from;
  let depth = 1;
  for (let m = tags.exec(text); m; m = tags.exec(text)) {
    depth += m[1] === "/" ? -1 : m[0].endsWith("/>") ? 0 : 1;
    if (depth === 0) return m.index + m[0].length;
  }
  return text.length;
}

/** Elements a reader never sees: `hidden`, `display:none` and the like, `<script>`, `<style>`, `<template>`. */
function stripHiddenElements(text: string, counts: Counts): string {
  let out = text;
  for (let searchFrom = 0; ;) {
    OPEN_TAG.lastIndex = searchFrom;
    const m = OPEN_TAG.exec(out);
    if (!m) return out;
    const name = m[1] ?? "";
    const attrs = m[2] ?? "";
    if (!isHiddenElement(name, attrs)) {
      searchFrom = m.index + 1;
      continue;
    }
    const openEnd = m.index + m[0].length;
    const end = VOID_ELEMENTS.has(name.toLowerCase()) || attrs.trimEnd().endsWith("/") ? openEnd : elementEnd(out, name, openEnd);
    counts.hiddenElement += 1;
    out = out.slice(0, m.index) + out.slice(end);
    searchFrom = m.index;
  }
}

/** A collapsed `<details>` keeps only its `<summary>` text; an `open` one is visible and stays. */
function stripDetails(text: string, counts: Counts): string {
  let out = text;
  const open = /<details(?=[\s/>])((?:"[^"]*"|'[^']*'|[^'"<>])*)>/gi;
  for (let searchFrom = 0; ;) {
    open.lastIndex = searchFrom;
    const m = open.exec(out);
    if (!m) return out;
    if (/(?:^|\s)open(?=[\s=/]|$)/i.test(attributeNames(m[1] ?? ""))) {
      searchFrom = m.index + 1;
      continue;
    }
    const end = elementEnd(out, "details", m.index + m[0].length);
    const inner = out.slice(m.index + m[0].length, end);
    const summary = /<summary(?:"[^"]*"|'[^']*'|[^'"<>])*>([\s\S]*?)(?:<\/summary\s*>|$)/i.exec(inner)?.[1]?.trim() ?? "";
    counts.collapsedSection += 1;
    out = out.slice(0, m.index) + summary + out.slice(end);
    searchFrom = m.index;
  }
}

/** Attributes whose values a reader does not see: alt and title text, labels, placeholders, `aria-*`, `data-*`. */
const HIDDEN_ATTRIBUTE = /^(?:alt|title|placeholder|label|summary|content|aria-[\w-]*|data-[\w-]*)$/i;
const ATTRIBUTE = /\s*([^\s"'=<>`/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?|\s*\/|\s*[\s\S]/g;

function stripAttributes(text: string, counts: Counts): string {
  return text.replace(OPEN_TAG, (tag: string, name: string, attrs: string) => {
    let changed = false;
    const kept = attrs.replace(ATTRIBUTE, (attr: string, attrName?: string) => {
      if (attrName === undefined || !HIDDEN_ATTRIBUTE.test(attrName)) return attr;
      changed = true;
      counts[attrName.toLowerCase() === "alt" ? "altText" : "hiddenAttribute"] += 1;
      return "";
    });
    return changed ? `<${name}${kept}>` : tag;
  });
}

// CommonMark caps a link label at 999 characters, which also keeps these scans linear.
const LABEL = String.raw`(?:[^\[\]\\]|\\[\s\S]){1,999}`;
const TITLE = String.raw`"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*'|\((?:[^()\\]|\\[\s\S])*\)`;
const DEFINITION = new RegExp(String.raw`^( {0,3}\[(${LABEL})\]:[ \t]*\n?[ \t]*(?:<[^>\n]*>|\S+))((?:[ \t]+|[ \t]*\n[ \t]*)(?:${TITLE}))?[ \t]*(?:\n|$)`, "gm");

function normalizeLabel(label: string): string {
  return label.trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * Link reference definitions are never shown. One no link uses is a Markdown
 * "comment" (`[//]: # (hidden)`) and goes whole; a used one loses its title.
 */
function stripMarkdownDefinitions(text: string, counts: Counts): string {
  const references = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(String.raw`\[(${LABEL})\]`, "g"))) {
    const key = normalizeLabel(m[1] ?? "");
    references.set(key, (references.get(key) ?? 0) + 1);
  }
  return text.replace(DEFINITION, (whole: string, kept: string, label: string, title?: string) => {
    const newline = whole.endsWith("\n") ? "\n" : "";
    if ((references.get(normalizeLabel(label)) ?? 0) <= 1) {
      counts.markdownComment += 1;
      return "";
    }
    if (title === undefined) return whole;
    counts.linkTitle += 1;
    return kept + newline;
  });
}

const ALT = String.raw`(?:[^\[\]\\]|\\[\s\S]|\[(?:[^\[\]\\]|\\[\s\S])*\])*`;
const DESTINATION = String.raw`<[^>\n]*>|(?:[^\s()\\]|\\[\s\S]|\((?:[^\s()\\]|\\[\s\S])*\))*`;

/** `![alt](url "title")` becomes `![](url)`, `[text](url "title")` becomes `[text](url)`. */
function stripMarkdownAltAndTitles(text: string, counts: Counts): string {
  const defined = new Set([...text.matchAll(new RegExp(String.raw`^ {0,3}\[(${LABEL})\]:`, "gm"))].map((m) => normalizeLabel(m[1] ?? "")));
  let out = text.replace(new RegExp(String.raw`!\[(${ALT})\](?=([(\[])?)`, "g"), (whole: string, alt: string, next?: string) => {
    if (alt.trim() === "") return whole;
    if (next !== undefined) {
      counts.altText += 1;
      return "![]";
    }
    // A shortcut reference `![label]`: its label is the alt text; keep the reference.
    if (!defined.has(normalizeLabel(alt))) return whole;
    counts.altText += 1;
    return `![][${alt}]`;
  });
  out = out.replace(new RegExp(String.raw`(\]\(\s*(?:${DESTINATION}))\s+(?:${TITLE})\s*\)`, "g"), (_m, kept: string) => {
    counts.linkTitle += 1;
    return `${kept})`;
  });
  return out;
}
