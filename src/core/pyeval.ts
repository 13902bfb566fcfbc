// The small part of Python that the published MedCalc grading runs through `eval()`: numeric
// literals, arithmetic, comparisons and a few functions (pyeval-values.ts, pyeval-builtins.ts),
// parsed here. Pure. Anything outside this subset raises PyUnsupported.
import { attribute, callFunction, GLOBALS } from "./pyeval-builtins.js";
import { arith, asInt, compare, float, int, PyError, PyUnsupported, SYNTAX_SUFFIX, INT_DIGIT_LIMIT, truthy, typeName, type PyValue } from "./pyeval-values.js";

export * from "./pyeval-values.js";

// ---------------------------------------------------------------------------------------------
// Literals

const ASCII_ONLY = /^[\x00-\x7f]*$/;

function invalidCharacter(ch: string): PyError {
  const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return new PyError("SyntaxError", `invalid character '${ch}' (U+${code})${SYNTAX_SUFFIX}`);
}

function leadingZeros(): PyError {
  return new PyError("SyntaxError", `leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers${SYNTAX_SUFFIX}`);
}

/** A decimal integer literal's value (digits only, underscores allowed between digits). */
function intLiteral(digits: string): PyValue {
  const clean = digits.replace(/_/g, "");
  if (clean.length > 1 && clean[0] === "0" && /[1-9]/.test(clean)) throw leadingZeros();
  if (clean.length > INT_DIGIT_LIMIT) {
    throw new PyError(
      "SyntaxError",
      `Exceeds the limit (${INT_DIGIT_LIMIT} digits) for integer string conversion: value has ${clean.length} digits; use sys.set_int_max_str_digits() to increase the limit - Consider hexadecimal for huge integer literals to avoid decimal conversion limits.${SYNTAX_SUFFIX}`,
    );
  }
  return int(BigInt(clean));
}

/**
 * eval() of a string matched by `-?\d+(\.\d+)?` (or "N/A"): what the published code does with
 * every number it extracts.
 */
export function evalNumberText(text: string): PyValue {
  return evalExpression(text);
}

// ---------------------------------------------------------------------------------------------
// Expressions: tokenizer and a precedence-climbing parser that evaluates as it goes.

type Token = { k: "num"; text: string } | { k: "name"; text: string } | { k: "op"; text: string } | { k: "end" };

const OPERATORS = ["**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "(", ")", ",", ".", "<", ">", "[", "]", "~"];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\f") {
      i++;
      continue;
    }
    if (!ASCII_ONLY.test(c)) {
      const ch = String.fromCodePoint(src.codePointAt(i)!);
      if (/[\p{L}\p{Nl}_]/u.test(ch)) throw new PyUnsupported("non-ASCII identifier");
      throw invalidCharacter(ch);
    }
    const num =
      /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*\.(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?)/.exec(
        src.slice(i),
      );
    if (num && /[\d.]/.test(c) && !(c === "." && !/^\.\d/.test(src.slice(i)))) {
      const after = src.slice(i + num[0].length);
      const nextChar = after === "" ? "" : String.fromCodePoint(after.codePointAt(0)!);
      if (nextChar !== "" && !ASCII_ONLY.test(nextChar)) throw invalidCharacter(nextChar);
      if (/^[A-Za-z0-9_]/.test(after)) throw new PyUnsupported("number followed by a name");
      numberToken(num[0]); // literal errors (leading zeros, digit limit) are syntax errors: raised before anything runs
      out.push({ k: "num", text: num[0] });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      const next = src.slice(i + name[0].length);
      const nextChar = next === "" ? "" : String.fromCodePoint(next.codePointAt(0)!);
      if (nextChar !== "" && !ASCII_ONLY.test(nextChar)) throw new PyUnsupported("non-ASCII in a name");
      out.push({ k: "name", text: name[0] });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new PyUnsupported(`character ${JSON.stringify(c)}`);
    out.push({ k: "op", text: op });
    i += op.length;
  }
  out.push({ k: "end" });
  return out;
}

function numberToken(text: string): PyValue {
  if (/[jJ]$/.test(text)) throw new PyUnsupported("imaginary literal");
  const t = text.replace(/_/g, "");
  if (/^0[xX]/.test(t)) return int(BigInt(t));
  if (/^0[oO]/.test(t)) return int(BigInt("0o" + t.slice(2)));
  if (/^0[bB]/.test(t)) return int(BigInt("0b" + t.slice(2)));
  if (/[.eE]/.test(t)) return float(Number(t));
  return intLiteral(text);
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t.k === "op" && t.text === text;
  }
  private isName(text: string): boolean {
    const t = this.peek();
    return t.k === "name" && t.text === text;
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
    this.i++;
  }

  parseAll(): PyValue {
    const v = this.tuple();
    if (this.peek().k !== "end") throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
    return v;
  }

  // Python evaluates left to right and stops at the first error, as this does; a syntax error
  // later in the text would have been found before anything ran, so callers that need that
  // order parse first (see evalExpression).
  private tuple(): PyValue {
    const first = this.test();
    if (!this.isOp(",")) return first;
    const items = [first];
    while (this.isOp(",")) {
      this.i++;
      if (this.peek().k === "end" || this.isOp(")") || this.isOp("]")) break;
      items.push(this.test());
    }
    return { t: "tuple", items };
  }

  private test(): PyValue {
    if (this.isName("if") || this.isName("lambda")) throw new PyUnsupported("conditional or lambda");
    const v = this.orTest();
    if (this.isName("if")) throw new PyUnsupported("conditional expression");
    return v;
  }

  private orTest(): PyValue {
    let v = this.andTest();
    while (this.isName("or")) {
      this.i++;
      const rhs = this.andTest();
      v = truthy(v) ? v : rhs;
    }
    return v;
  }

  private andTest(): PyValue {
    let v = this.notTest();
    while (this.isName("and")) {
      this.i++;
      const rhs = this.notTest();
      v = truthy(v) ? rhs : v;
    }
    return v;
  }

  private notTest(): PyValue {
    if (this.isName("not")) {
      this.i++;
      return { t: "bool", v: !truthy(this.notTest()) };
    }
    return this.comparison();
  }

  private comparison(): PyValue {
    const first = this.arithExpr();
    const ops = ["==", "!=", "<", ">", "<=", ">="];
    let left = first;
    let result: boolean | null = null;
    for (;;) {
      const t = this.peek();
      if (t.k === "name" && (t.text === "in" || t.text === "is")) throw new PyUnsupported("in / is");
      if (t.k !== "op" || !ops.includes(t.text)) break;
      this.i++;
      const right = this.arithExpr();
      const ok: boolean = result === false ? false : compare(t.text, left, right);
      result = (result ?? true) && ok;
      left = right;
    }
    return result === null ? first : { t: "bool", v: result };
  }

  private arithExpr(): PyValue {
    if (this.isOp("<<") || this.isOp(">>")) throw new PyUnsupported("shift");
    let v = this.term();
    while (this.isOp("+") || this.isOp("-")) {
      const op = (this.peek() as { text: string }).text;
      this.i++;
      v = arith(op, v, this.term());
    }
    if (this.isOp("<<") || this.isOp(">>")) throw new PyUnsupported("shift");
    return v;
  }

  private term(): PyValue {
    let v = this.factor();
    while (this.isOp("*") || this.isOp("/") || this.isOp("//") || this.isOp("%")) {
      const op = (this.peek() as { text: string }).text;
      this.i++;
      v = arith(op, v, this.factor());
    }
    return v;
  }

  private factor(): PyValue {
    if (this.isOp("-") || this.isOp("+") || this.isOp("~")) {
      const op = (this.peek() as { text: string }).text;
      this.i++;
      const x = this.factor();
      if (op === "~") {
        const i = asInt(x);
        if (i === null) throw new PyError("TypeError", `bad operand type for unary ~: '${typeName(x)}'`);
        return int(-i - 1n);
      }
      if (x.t === "float") return float(op === "-" ? -x.v : x.v, x.np);
      const i = asInt(x);
      if (i === null) throw new PyError("TypeError", `bad operand type for unary ${op}: '${typeName(x)}'`);
      return int(op === "-" ? -i : i);
    }
    return this.power();
  }

  private power(): PyValue {
    const base = this.atomExpr();
    if (this.isOp("**")) {
      this.i++;
      const exp = this.factor();
      return arith("**", base, exp);
    }
    return base;
  }

  private atomExpr(): PyValue {
    let v = this.atom();
    for (;;) {
      if (this.isOp("(")) {
        this.i++;
        const args: PyValue[] = [];
        while (!this.isOp(")")) {
          if (this.peek().k === "end") throw new PyError("SyntaxError", `'(' was never closed${SYNTAX_SUFFIX}`);
          if (this.isOp("*") || this.isOp("**")) throw new PyUnsupported("star arguments");
          const t = this.peek();
          if (t.k === "name" && this.toks[this.i + 1]?.k === "op" && (this.toks[this.i + 1] as { text: string }).text === "=")
            throw new PyUnsupported("keyword argument");
          args.push(this.test());
          if (this.isOp(",")) this.i++;
          else if (!this.isOp(")")) throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
        }
        this.i++;
        v = callFunction(v, args);
      } else if (this.isOp(".")) {
        this.i++;
        const t = this.peek();
        if (t.k !== "name") throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
        this.i++;
        v = attribute(v, t.text);
      } else if (this.isOp("[")) {
        throw new PyUnsupported("subscript");
      } else return v;
    }
  }

  private atom(): PyValue {
    const t = this.peek();
    if (t.k === "num") {
      this.i++;
      return numberToken(t.text);
    }
    if (t.k === "name") {
      this.i++;
      if (t.text === "True") return { t: "bool", v: true };
      if (t.text === "False") return { t: "bool", v: false };
      if (t.text === "None") return { t: "none" };
      if (KEYWORDS.has(t.text)) throw new PyUnsupported(`keyword ${t.text}`);
      if (!GLOBALS.has(t.text)) throw new PyError("NameError", `name '${t.text}' is not defined`);
      if (t.text === "math" || t.text === "np" || t.text === "numpy") return { t: "module", name: t.text === "numpy" ? "np" : t.text };
      return { t: "callable", name: t.text };
    }
    if (t.k === "op" && (t.text === "(" || t.text === "[")) {
      const close = t.text === "(" ? ")" : "]";
      this.i++;
      if (this.isOp(close)) {
        this.i++;
        return { t: close === ")" ? "tuple" : "list", items: [] };
      }
      const v = this.tuple();
      this.expectOp(close);
      if (close === "]") return { t: "list", items: v.t === "tuple" && this.lastWasTuple(v) ? v.items : [v] };
      return v;
    }
    throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
  }

  private lastWasTuple(v: PyValue): boolean {
    return v.t === "tuple";
  }
}

const KEYWORDS = new Set([
  "and",
  "or",
  "not",
  "if",
  "else",
  "for",
  "in",
  "is",
  "lambda",
  "def",
  "class",
  "return",
  "yield",
  "import",
  "from",
  "as",
  "with",
  "while",
  "try",
  "except",
  "finally",
  "raise",
  "del",
  "pass",
  "break",
  "continue",
  "global",
  "nonlocal",
  "assert",
  "async",
  "await",
]);

/** Python's syntax checks that run before any evaluation: balanced brackets, a complete expression. */
function checkSyntax(toks: Token[]): void {
  let depth = 0;
  for (const t of toks) {
    if (t.k !== "op") continue;
    if (t.text === "(" || t.text === "[") depth++;
    else if (t.text === ")" || t.text === "]") {
      depth--;
      if (depth < 0) throw new PyError("SyntaxError", `unmatched '${t.text}'${SYNTAX_SUFFIX}`);
    }
  }
  if (depth > 0) throw new PyError("SyntaxError", `'(' was never closed${SYNTAX_SUFFIX}`);
  // A dry structural pass: the grammar must accept the whole text before anything is evaluated.
  structural(toks);
}

/** Validates the token stream against the expression grammar without evaluating. */
function structural(toks: Token[]): void {
  let i = 0;
  const peek = (): Token => toks[i]!;
  const isOp = (s: string): boolean => peek().k === "op" && (peek() as { text: string }).text === s;
  const isName = (s: string): boolean => peek().k === "name" && (peek() as { text: string }).text === s;
  const fail = (): never => {
    throw new PyError("SyntaxError", `invalid syntax${SYNTAX_SUFFIX}`);
  };
  const binary = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">", "<=", ">="];
  const expr = (): void => {
    unary();
    for (;;) {
      if (peek().k === "op" && binary.includes((peek() as { text: string }).text)) {
        i++;
        unary();
      } else if (isName("and") || isName("or")) {
        i++;
        unary();
      } else return;
    }
  };
  const unary = (): void => {
    while (isOp("-") || isOp("+") || isOp("~") || isName("not")) i++;
    primary();
  };
  const primary = (): void => {
    const t = peek();
    if (t.k === "num") i++;
    else if (t.k === "name") {
      if (KEYWORDS.has(t.text) && !["True", "False", "None"].includes(t.text)) fail();
      i++;
    } else if (isOp("(") || isOp("[")) {
      const close = isOp("(") ? ")" : "]";
      i++;
      list(close);
    } else fail();
    for (;;) {
      if (isOp("(")) {
        i++;
        list(")");
      } else if (isOp(".")) {
        i++;
        if (peek().k !== "name") fail();
        i++;
      } else if (isOp("[")) {
        i++;
        list("]");
      } else return;
    }
  };
  const list = (close: string): void => {
    while (!isOp(close)) {
      expr();
      if (isOp(",")) i++;
      else if (!isOp(close)) fail();
    }
    i++;
  };
  expr();
  while (isOp(",")) {
    i++;
    if (peek().k === "end") break;
    expr();
  }
  if (peek().k !== "end") fail();
}

/**
 * eval(text) for the supported subset, with the names the published code allows
 * (min, pow, round, abs, int, float, math, np). Throws PyError as Python would, or
 * PyUnsupported outside the subset.
 */
export function evalExpression(text: string): PyValue {
  const src = text.replace(/^[ \t]+/, "");
  const toks = tokenize(src);
  if (toks.length === 1) throw new PyError("SyntaxError", `invalid syntax (<string>, line 0)`);
  checkSyntax(toks);
  return new Parser(toks).parseAll();
}
