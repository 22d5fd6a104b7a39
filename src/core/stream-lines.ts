/**
 * Splits a byte stream into lines as chunks arrive: a chunk may end mid-line or
 * mid-character, a line may be megabytes long, lines may end in CRLF. Pure: the
 * caller pushes chunks and receives lines.
 */
export interface LineSplitterOptions {
  /** Longer lines are cut to this many bytes and flagged `truncated` (default 64 MiB). */
  maxLineChars?: number;
}

export interface LineInfo {
  truncated: boolean;
}

export interface LineSplitter {
  push(chunk: Buffer | string): void;
  /** Flushes a last line without a trailing newline. */
  end(): void;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Works on bytes: a newline byte never occurs inside a multi-byte UTF-8 character,
 * so each line is decoded once, whole (no decoder state, no per-chunk strings).
 * A line spanning chunks is kept as views of those chunks until its newline arrives.
 */
export function createLineSplitter(onLine: (line: string, info: LineInfo) => void, options: LineSplitterOptions = {}): LineSplitter {
  const max = options.maxLineChars ?? 64 * 1024 * 1024;
  let pieces: Buffer[] = [];
  let length = 0;
  let truncated = false;

  const append = (piece: Buffer): void => {
    if (piece.length === 0 || truncated) return;
    if (length + piece.length > max) {
      pieces.push(piece.subarray(0, max - length));
      length = max;
      truncated = true;
      return;
    }
    pieces.push(piece);
    length += piece.length;
  };

  const emit = (): void => {
    let bytes = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, length);
    if (!truncated && bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
    const info = { truncated };
    pieces = [];
    length = 0;
    truncated = false;
    onLine(bytes.toString("utf8"), info);
  };

  return {
    push(input) {
      const chunk = typeof input === "string" ? Buffer.from(input, "utf8") : input;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl === -1) break;
        if (pieces.length === 0 && nl - start <= max) {
          // The common case: a whole line inside this chunk.
          const end = nl > start && chunk[nl - 1] === CR ? nl - 1 : nl;
          onLine(chunk.toString("utf8", start, end), { truncated: false });
        } else {
          append(chunk.subarray(start, nl));
          emit();
        }
        start = nl + 1;
      }
      if (start < chunk.length) append(chunk.subarray(start));
    },
    end() {
      if (length > 0 || truncated) emit();
    },
  };
}
