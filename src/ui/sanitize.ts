// Model text is untrusted: nothing it contains may reach the terminal as a control sequence.
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";

/** Longest line kept; longer lines are clipped so one runaway token stream cannot stall layout. */
export const MAX_LINE = 10_000;

// Bidi embeddings/overrides/isolates can reorder what the user sees (Trojan Source).
// Every Bidi_Control character: embeddings, overrides, isolates, and the implicit marks.
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
// C0 controls except \n and \t, DEL, and C1 controls (0x80-0x9f, including the 8-bit CSI 0x9b).
const CONTROLS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
// Lone surrogates are what invalid UTF-8 becomes after a lossy decode elsewhere.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export interface SanitizeOptions {
  /** Keep \n as a line break (default true); otherwise each line break becomes one space. */
  multiline?: boolean;
  /** Longest line kept (default MAX_LINE). */
  maxLine?: number;
}

/** Make untrusted text safe to render: escapes, controls and bidi overrides removed, invalid
 * UTF-8 replaced by U+FFFD, tabs expanded, over-long lines clipped with an ellipsis. */
export function sanitize(input: string | Uint8Array, opts: SanitizeOptions = {}): string {
  let s = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: false }).decode(input);
  s = s.replace(LONE_SURROGATE, "\uFFFD");
  s = stripAnsi(s);
  s = s.replace(/\r\n?/g, "\n");
  s = s.replace(CONTROLS, "");
  s = s.replace(BIDI, "");
  s = s.replace(/\t/g, "  ");
  if (opts.multiline === false) s = s.replace(/\n/g, " ");
  const max = opts.maxLine ?? MAX_LINE;
  if (s.length > max) {
    s = s
      .split("\n")
      .map((line) => (line.length > max ? line.slice(0, max) + "…" : line))
      .join("\n");
  }
  return s;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Characters one column wide each, as string-width counts them: printable ASCII and Latin, general
 * punctuation (…), arrows, box drawing and shapes, and the marks the screens use (★ ✓ ✗). */
const NARROW = /^[\x20-\x7e\u00a0-\u00ac\u00ae-\u02ff\u2010-\u2027\u2190-\u21ff\u2500-\u25fc\u2605\u2713\u2717]*$/;

/** Columns a (sanitized) string takes in the terminal. Narrow text, the common case, is counted
 * without string-width's grapheme segmentation (the list of a large set draws many rows a key). */
export function displayWidth(s: string): number {
  if (PRINTABLE_ASCII.test(s)) return s.length;
  if (NARROW.test(s)) {
    let n = 0;
    for (const _ of s) n++;
    return n;
  }
  return stringWidth(s);
}

/** Cut a sanitized single-line string to at most `width` columns, ending in "…" when cut. */
export function fitWidth(s: string, width: number): string {
  if (width <= 0) return "";
  if (displayWidth(s) <= width) return s;
  if (NARROW.test(s))
    return (
      Array.from(s)
        .slice(0, Math.max(0, width - 1))
        .join("") + "…"
    );
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = stringWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

/** Keep the last `width` columns of a single-line string (a streaming lane shows its newest text). */
export function tailWidth(s: string, width: number): string {
  if (width <= 0) return "";
  if (displayWidth(s) <= width) return s;
  const chars = Array.from(s);
  let out = "";
  let w = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const cw = stringWidth(chars[i]);
    if (w + cw > width - 1) break;
    out = chars[i] + out;
    w += cw;
  }
  return "…" + out;
}

/** Pad a single-line string with spaces to `width` columns. */
export function padTo(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - displayWidth(s)));
}
