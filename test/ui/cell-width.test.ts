// The fast cell width the built program gives Ink (src/ui/cell-width.ts) must be string-width's
// answer wherever it answers at all, on the Node (and so the Unicode data) that runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import stringWidth from "string-width";
import { oneCellRanges, simpleCellWidth } from "../../src/ui/cell-width.js";

const segmenter = new Intl.Segmenter();
const graphemes = (text: string) => [...segmenter.segment(text)].length;

test("every character of the one-cell ranges is one cell wide and a grapheme on its own", () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const [first, last] of oneCellRanges()) {
    assert.ok(first <= last && last < 0xd800, `range ${first.toString(16)}-${last.toString(16)}`);
    for (let code = first; code <= last; code++) {
      const c = String.fromCharCode(code);
      checked++;
      // Alone, between letters (nothing joins it to either side) and doubled (it joins nothing).
      if (stringWidth(c) !== 1 || graphemes(`a${c}a`) !== 3 || graphemes(c + c) !== 2) wrong.push(code.toString(16));
    }
  }
  assert.ok(checked > 4000, `${checked} characters checked`);
  assert.deepEqual(wrong, []);
});

test("the ranges are sorted and apart, as the binary search needs", () => {
  const ranges = oneCellRanges();
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i]![0] > ranges[i - 1]![1] + 1, `ranges ${i - 1} and ${i}`);
});

test("the interface's glyphs, styled or not, take the fast path with string-width's answer", () => {
  for (const text of [
    "── step 1 ",
    "\u001b[90m── chain: 0 sentences \u001b[39m\u001b[90m✎ human choice\u001b[39m",
    "★ pick",
    "gen - · eval -",
    "plain ascii",
    "",
  ]) {
    assert.equal(simpleCellWidth(text), stringWidth(text), JSON.stringify(text));
  }
});

test("text the fast path cannot answer is left to string-width", () => {
  for (const text of ["e\u0301", "👍", "👨‍👩‍👧", "日本語", "한국어", "\t", "a\u200db", "🇫🇷", "☔", "क्षि"]) {
    assert.equal(simpleCellWidth(text), undefined, JSON.stringify(text));
  }
  assert.equal(simpleCellWidth("──", { ambiguousIsNarrow: false }), undefined);
  assert.equal(simpleCellWidth("ab", { countAnsiEscapeCodes: true }), undefined);
  assert.equal(simpleCellWidth(42), undefined);
});

test("on random text it agrees with string-width whenever it answers", () => {
  const ranges = oneCellRanges();
  const inRanges = fc.integer({ min: 0, max: ranges.length - 1 }).chain((i) => fc.integer({ min: ranges[i]![0], max: ranges[i]![1] }));
  const unit = fc.oneof(
    inRanges.map((code) => String.fromCharCode(code)),
    fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    fc.constantFrom("\u0301", "\u200d", "\ufe0f", "👍", "日", "\t", "\u001b[31m", "\u001b[0m", "\u0085", "\u1100", "\u1161"),
  );
  fc.assert(
    fc.property(fc.array(unit, { maxLength: 12 }), (units) => {
      const text = units.join("");
      const fast = simpleCellWidth(text);
      if (fast !== undefined) assert.equal(fast, stringWidth(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});
