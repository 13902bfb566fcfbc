// Python string-literal lists as the paper's logs print them (`CANDIDATES: ['...', "..."]`),
// read exactly as Python would read them.
import { UserError } from "../../errors.js";

// --- Python string-literal lists -------------------------------------------------------------

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\u0007",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/**
 * Parse a Python list of string literals as `repr(list_of_str)` prints it, e.g.
 * `['it\'s', "say \"hi\"\n", '\u200b']`. Handles both quote styles, the escapes \\ \' \" \a \b \f
 * \n \r \t \v, octal \ooo, \xhh, \uXXXX and \UXXXXXXXX (lone surrogates kept as they are), a
 * backslash-newline continuation, unknown escapes kept verbatim (as Python does), and a trailing
 * comma. Prefixed (b'', r'', f''), triple-quoted and non-string items are refused with the column.
 */
export function parsePythonStringList(src: string, where = "list"): string[] {
  let i = 0;
  const fail = (what: string): never => {
    throw new UserError(`${where}, column ${i + 1}: ${what}`);
  };
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  skipSpace();
  if (src[i] !== "[") fail("expected '[' starting a Python list");
  i++;
  const out: string[] = [];
  for (;;) {
    skipSpace();
    if (src[i] === "]") {
      i++;
      break;
    }
    if (i >= src.length) fail("the list is not closed with ']'");
    out.push(parseStringLiteral());
    skipSpace();
    if (src[i] === ",") {
      i++;
      continue;
    }
    if (src[i] === "]") {
      i++;
      break;
    }
    fail(i >= src.length ? "the list is not closed with ']'" : `expected ',' or ']', found ${JSON.stringify(src[i])}`);
  }
  skipSpace();
  if (i < src.length) fail("unexpected text after the list");
  return out;

  function parseStringLiteral(): string {
    const quote = src[i];
    if (quote !== "'" && quote !== '"') {
      return fail(/[bBrRuUfF]/.test(quote ?? "") ? "prefixed string literals are not supported" : "expected a quoted string");
    }
    if (src.startsWith(quote.repeat(3), i)) fail("triple-quoted strings are not supported");
    i++;
    let s = "";
    for (;;) {
      if (i >= src.length) fail("string not closed");
      const c = src[i];
      if (c === quote) {
        i++;
        return s;
      }
      if (c === "\n") fail("line break inside a string");
      if (c !== "\\") {
        s += c;
        i++;
        continue;
      }
      const e = src[i + 1];
      if (e === undefined) fail("string ends with a backslash");
      if (e in SIMPLE_ESCAPES) {
        s += SIMPLE_ESCAPES[e];
        i += 2;
      } else if (e === "\n") {
        i += 2;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4))!;
        s += String.fromCharCode(parseInt(m[0], 8));
        i += 1 + m[0].length;
      } else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = src.slice(i + 2, i + 2 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`bad \\${e} escape (expected ${n} hex digits)`);
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) fail(`\\${e}${hex} is beyond Unicode`);
        s += String.fromCodePoint(code);
        i += 2 + n;
      } else if (e === "N") {
        fail("named \\N{...} escapes are not supported");
      } else {
        s += `\\${e}`;
        i += 2;
      }
    }
  }
}
