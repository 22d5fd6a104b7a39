/**
 * Splits a byte stream into lines as chunks arrive: a chunk may end mid-line or
 * mid-character, a line may be megabytes long, lines may end in CRLF. Pure: the
 * caller pushes chunks and receives lines.
 */
import { StringDecoder } from "node:string_decoder";

export interface LineSplitterOptions {
  /** Longer lines are cut to this many characters and flagged `truncated` (default 64 MiB). */
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

export function createLineSplitter(
  onLine: (line: string, info: LineInfo) => void,
  options: LineSplitterOptions = {},
): LineSplitter {
  const max = options.maxLineChars ?? 64 * 1024 * 1024;
  const decoder = new StringDecoder("utf8");
  // Pieces of the current line; joined once when its newline arrives (no quadratic concatenation).
  let pieces: string[] = [];
  let length = 0;
  let truncated = false;

  const append = (piece: string): void => {
    if (piece.length === 0 || truncated) return;
    if (length + piece.length > max) {
      pieces.push(piece.slice(0, max - length));
      length = max;
      truncated = true;
      return;
    }
    pieces.push(piece);
    length += piece.length;
  };

  const emit = (): void => {
    let line = pieces.length === 1 ? (pieces[0] ?? "") : pieces.join("");
    if (!truncated && line.endsWith("\r")) line = line.slice(0, -1);
    const info = { truncated };
    pieces = [];
    length = 0;
    truncated = false;
    onLine(line, info);
  };

  const take = (text: string): void => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl === -1) break;
      append(text.slice(start, nl));
      emit();
      start = nl + 1;
    }
    append(text.slice(start));
  };

  return {
    push(chunk) {
      take(typeof chunk === "string" ? chunk : decoder.write(chunk));
    },
    end() {
      take(decoder.end());
      if (length > 0 || truncated) emit();
    },
  };
}
