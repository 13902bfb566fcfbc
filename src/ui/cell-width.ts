// Terminal cell width of text made only of characters that need no grapheme segmentation: the
// answer string-width gives, without the work string-width does before its first answer (an
// Intl.Segmenter and Unicode-property expressions, about 100 ms on Node 20). Ink measures every
// line it draws, and the interface's own glyphs (─ ★ · ✎) are not ASCII, so without this path
// the first frame waits for that work. The built program routes string-width through here
// (scripts/bundle.mjs) and loads the full string-width only for text this path cannot answer.
import stripAnsi from "strip-ansi";

/**
 * Code point ranges (inclusive pairs) of characters that string-width counts as one cell and that
 * are graphemes on their own: no combining mark, joiner, variation selector, prepended or spacing
 * mark, Hangul jamo or regional indicator, and none of the emoji drawn two cells wide. Latin,
 * Greek, Cyrillic, punctuation, arrows, mathematical and technical symbols, box drawing and
 * shapes. test/ui/cell-width.test.ts checks every one against string-width and Intl.Segmenter
 * on the Node that runs it.
 */
// prettier-ignore
const ONE_CELL_RANGES = [
  0xa0, 0xac, 0xae, 0x2ff, 0x370, 0x482, 0x48a, 0x52f, 0x1e00, 0x200a, 0x2010, 0x2029, 0x202f, 0x205f,
  0x2070, 0x20cf, 0x20f1, 0x2319, 0x231c, 0x2328, 0x232b, 0x23e8, 0x23ed, 0x23ef, 0x23f1, 0x23f2,
  0x23f4, 0x25fc, 0x25ff, 0x2613, 0x2616, 0x262f, 0x2638, 0x2647, 0x2654, 0x267e, 0x2680, 0x2689,
  0x2690, 0x2692, 0x2694, 0x26a0, 0x26a2, 0x26a9, 0x26ac, 0x26bc, 0x26bf, 0x26c3, 0x26c6, 0x26cd,
  0x26cf, 0x26d3, 0x26d5, 0x26e9, 0x26eb, 0x26f1, 0x26f4, 0x26f4, 0x26f6, 0x26f9, 0x26fb, 0x26fc,
  0x26fe, 0x2704, 0x2706, 0x2709, 0x270c, 0x2727, 0x2729, 0x274b, 0x274d, 0x274d, 0x274f, 0x2752,
  0x2756, 0x2756, 0x2758, 0x2794, 0x2798, 0x27af, 0x27b1, 0x27be, 0x27c0, 0x2b1a, 0x2b1d, 0x2b4f,
  0x2b51, 0x2b54, 0x2b56, 0x2bff,
];

/** The ranges as [first, last] pairs, for the test that checks them. */
export function oneCellRanges(): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < ONE_CELL_RANGES.length; i += 2) pairs.push([ONE_CELL_RANGES[i]!, ONE_CELL_RANGES[i + 1]!]);
  return pairs;
}

function isOneCell(code: number): boolean {
  let low = 0;
  let high = ONE_CELL_RANGES.length / 2 - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (code < ONE_CELL_RANGES[mid * 2]!) high = mid - 1;
    else if (code > ONE_CELL_RANGES[mid * 2 + 1]!) low = mid + 1;
    else return true;
  }
  return false;
}

/**
 * string-width's answer for `text` when every character (after its escape sequences are removed,
 * as string-width removes them) is printable ASCII or in the one-cell ranges; undefined otherwise,
 * and for options other than string-width's defaults.
 */
export function simpleCellWidth(text: unknown, options?: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean }): number | undefined {
  if (typeof text !== "string") return undefined;
  if (options && (options.ambiguousIsNarrow === false || options.countAnsiEscapeCodes === true)) return undefined;
  const plain = text.includes("\u001B") || text.includes("\u009B") ? stripAnsi(text) : text;
  for (let i = 0; i < plain.length; i++) {
    const code = plain.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e) continue;
    // Surrogates (astral characters) and everything else outside the ranges go to string-width.
    if (code < 0xa0 || !isOneCell(code)) return undefined;
  }
  return plain.length;
}
