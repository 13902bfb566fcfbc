// The small part of Python that the published MedCalc grading runs through `eval()`: numeric
// literals, arithmetic, comparisons and a few functions, with Python's number semantics (exact
// integers, float repr, round-half-even, floor division) and its error messages where the
// grading records them. Pure. Anything outside this subset raises PyUnsupported.

export type PyValue =
  | { t: "int"; v: bigint }
  | { t: "float"; v: number; np?: boolean }
  | { t: "bool"; v: boolean }
  | { t: "none" }
  | { t: "tuple"; items: PyValue[] }
  | { t: "list"; items: PyValue[] }
  | { t: "complex"; re: number; im: number }
  | { t: "callable"; name: string }
  | { t: "module"; name: string };

/** A Python exception: `message` is what `str(e)` gives. */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

/** A construct outside the supported subset (Python may or may not accept it). */
export class PyUnsupported extends Error {}

const SYNTAX_SUFFIX = " (<string>, line 1)";
const INT_DIGIT_LIMIT = 4300;

export const int = (v: bigint): PyValue => ({ t: "int", v });
export const float = (v: number, np = false): PyValue => (np ? { t: "float", v, np } : { t: "float", v });

/** Python's name for a value's type, as in TypeError messages. */
export function typeName(x: PyValue): string {
  switch (x.t) {
    case "int":
      return "int";
    case "float":
      return x.np ? "numpy.float64" : "float";
    case "bool":
      return "bool";
    case "none":
      return "NoneType";
    case "tuple":
      return "tuple";
    case "list":
      return "list";
    case "complex":
      return "complex";
    case "callable":
      return "builtin_function_or_method";
    case "module":
      return "module";
  }
}

// ---------------------------------------------------------------------------------------------
// repr / str

/** Python's repr of a float (shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16). */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant, expText] = Math.abs(x).toExponential().split("e");
  const exp = Number(expText);
  const digits = mant.replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1);
    return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
}

/** str(value) as Python prints it. */
export function pyStr(x: PyValue): string {
  switch (x.t) {
    case "int":
      return x.v.toString();
    case "float":
      return floatRepr(x.v);
    case "bool":
      return x.v ? "True" : "False";
    case "none":
      return "None";
    case "tuple":
      return x.items.length === 1 ? `(${pyStr(x.items[0])},)` : `(${x.items.map(pyStr).join(", ")})`;
    case "list":
      return `[${x.items.map(pyStr).join(", ")}]`;
    case "complex":
    case "callable":
    case "module":
      throw new PyUnsupported(`str() of a ${x.t}`);
  }
}

/**
 * eval(str(value)): what reading a printed value back gives. Non-finite floats print as `inf`
 * and `nan`, names Python does not know.
 */
export function evalRepr(x: PyValue): PyValue {
  switch (x.t) {
    case "float":
      if (!Number.isFinite(x.v)) throw new PyError("NameError", `name '${Number.isNaN(x.v) ? "nan" : "inf"}' is not defined`);
      return { t: "float", v: x.v };
    case "tuple":
    case "list":
      return { t: x.t, items: x.items.map(evalRepr) };
    case "complex":
      if (!Number.isFinite(x.re) || !Number.isFinite(x.im)) throw new PyUnsupported("non-finite complex");
      return x;
    case "callable":
    case "module":
      throw new PyUnsupported(`eval of a printed ${x.t}`);
    default:
      return x;
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

function isNumber(x: PyValue): x is { t: "int"; v: bigint } | { t: "float"; v: number; np?: boolean } | { t: "bool"; v: boolean } {
  return x.t === "int" || x.t === "float" || x.t === "bool";
}

function asInt(x: PyValue): bigint | null {
  if (x.t === "int") return x.v;
  if (x.t === "bool") return x.v ? 1n : 0n;
  return null;
}

function toFloat(x: PyValue): number {
  if (x.t === "float") return x.v;
  const i = asInt(x);
  if (i === null) throw new PyUnsupported(`float of ${x.t}`);
  const f = Number(i);
  if (!Number.isFinite(f)) throw new PyError("OverflowError", "int too large to convert to float");
  return f;
}

function isNp(...xs: PyValue[]): boolean {
  return xs.some((x) => x.t === "float" && x.np === true);
}

/** Exact comparison of two real numbers (int, float or bool): -1, 0, 1, or NaN when unordered. */
function compareReal(a: PyValue, b: PyValue): number {
  const ai = asInt(a);
  const bi = asInt(b);
  if (ai !== null && bi !== null) return ai < bi ? -1 : ai > bi ? 1 : 0;
  if (ai === null && bi === null) {
    const x = toFloat(a);
    const y = toFloat(b);
    return Number.isNaN(x) || Number.isNaN(y) ? NaN : x < y ? -1 : x > y ? 1 : 0;
  }
  const i = (ai ?? bi)!;
  const f = ai === null ? toFloat(a) : toFloat(b);
  let c: number; // compare i with f
  if (Number.isNaN(f)) return NaN;
  if (!Number.isFinite(f)) c = f > 0 ? -1 : 1;
  else {
    const t = BigInt(Math.trunc(f));
    if (i !== t) c = i < t ? -1 : 1;
    else {
      const frac = f - Math.trunc(f);
      c = frac > 0 ? -1 : frac < 0 ? 1 : 0;
    }
  }
  return ai === null ? -c : c;
}

/** Python's float divmod (floor division with the sign of the divisor). */
function floatDivmod(vx: number, wx: number): [number, number] {
  if (wx === 0) throw new PyError("ZeroDivisionError", "float divmod()");
  let mod = vx % wx;
  let div = (vx - mod) / wx;
  if (mod) {
    if (wx < 0 !== mod < 0) {
      mod += wx;
      div -= 1;
    }
  } else mod = wx < 0 ? -0 : 0;
  let floordiv: number;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
  } else floordiv = vx / wx < 0 ? -0 : 0;
  return [floordiv, mod];
}

function floorDivInt(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new PyError("ZeroDivisionError", "integer division or modulo by zero");
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function trueDivInt(a: bigint, b: bigint): number {
  if (b === 0n) throw new PyError("ZeroDivisionError", "division by zero");
  const limit = 2n ** 53n;
  if ((a < 0n ? -a : a) <= limit && (b < 0n ? -b : b) <= limit) return Number(a) / Number(b);
  throw new PyUnsupported("true division of integers beyond 2**53");
}

function floatPow(x: number, y: number, np: boolean): PyValue {
  if (x === 0 && y < 0) {
    if (np) return float(Infinity, true);
    throw new PyError("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  }
  if (x < 0 && Number.isFinite(y) && !Number.isInteger(y)) {
    if (np) return float(NaN, true);
    throw new PyUnsupported("negative number to a fractional power (complex result)");
  }
  const r = y === 2 ? x * x : y === 1 ? x : y === 0.5 ? Math.sqrt(x) : Math.pow(x, y);
  if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) {
    if (np) return float(r, true);
    throw new PyError("OverflowError", "(34, 'Numerical result out of range')");
  }
  if (!Number.isInteger(y) && y !== 0.5 && x !== 1 && !Number.isInteger(r)) {
    // libm's pow and V8's may differ in the last bit for fractional exponents.
    throw new PyUnsupported("float power with a general exponent");
  }
  return float(r, np);
}

function arith(op: string, a: PyValue, b: PyValue): PyValue {
  if (!isNumber(a) || !isNumber(b)) {
    if ((a.t === "tuple" && b.t === "tuple") || (a.t === "list" && b.t === "list")) {
      if (op === "+") return { t: a.t, items: [...a.items, ...(b as typeof a).items] };
    }
    throw new PyError("TypeError", `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
  }
  const ai = asInt(a);
  const bi = asInt(b);
  const np = isNp(a, b);
  if (ai !== null && bi !== null) {
    switch (op) {
      case "+":
        return int(ai + bi);
      case "-":
        return int(ai - bi);
      case "*":
        return int(ai * bi);
      case "/":
        return float(trueDivInt(ai, bi));
      case "//":
        return int(floorDivInt(ai, bi));
      case "%": {
        if (bi === 0n) throw new PyError("ZeroDivisionError", "integer modulo by zero");
        return int(ai - floorDivInt(ai, bi) * bi);
      }
      case "**": {
        if (bi < 0n) {
          if (ai === 0n) throw new PyError("ZeroDivisionError", "0.0 cannot be raised to a negative power");
          return floatPow(toFloat(a), toFloat(b), false);
        }
        if (bi > 4096n && ai !== 0n && ai !== 1n && ai !== -1n) throw new PyUnsupported("very large integer power");
        return int(ai ** bi);
      }
    }
  }
  const x = toFloat(a);
  const y = toFloat(b);
  switch (op) {
    case "+":
      return float(x + y, np);
    case "-":
      return float(x - y, np);
    case "*":
      return float(x * y, np);
    case "/":
      if (y === 0) {
        if (np) return float(x / y, true);
        throw new PyError("ZeroDivisionError", "float division by zero");
      }
      return float(x / y, np);
    case "//":
      if (y === 0 && np) throw new PyUnsupported("numpy floor division by zero");
      return float(floatDivmod(x, y)[0], np);
    case "%":
      if (y === 0) {
        if (np) throw new PyUnsupported("numpy modulo by zero");
        throw new PyError("ZeroDivisionError", "float modulo");
      }
      return float(floatDivmod(x, y)[1], np);
    case "**":
      return floatPow(x, y, np);
  }
  throw new PyUnsupported(`operator ${op}`);
}

/** Python's round(x, n) for a float: the exact value rounded half-to-even at 10**-n. */
function roundFloat(x: number, n: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  if (n > 320) return x;
  // x = m * 2**e exactly
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  const neg = x < 0;
  // value * 10**n = mant * 2**e * 10**n = num / den
  let num = mant;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (n >= 0) num *= 10n ** BigInt(n);
  else den *= 10n ** BigInt(-n);
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  const text = `${neg ? "-" : ""}${q}e${-n}`;
  const out = Number(text);
  if (!Number.isFinite(out)) throw new PyError("OverflowError", "rounded value too large to represent");
  return out === 0 && neg ? -0 : out;
}

function roundHalfEvenToInt(x: number): bigint {
  if (Number.isNaN(x)) throw new PyError("ValueError", "cannot convert float NaN to integer");
  if (!Number.isFinite(x)) throw new PyError("OverflowError", "cannot convert float infinity to integer");
  const f = Math.floor(x);
  const diff = x - f;
  let r = f;
  if (diff > 0.5 || (diff === 0.5 && f % 2 !== 0)) r = f + 1;
  return BigInt(r);
}

/** round(x) / round(x, n) as Python's builtin does it. */
export function pyRound(x: PyValue, n?: PyValue): PyValue {
  if (x.t === "float" && x.np) throw new PyUnsupported("round of a numpy float");
  if (n === undefined || n.t === "none") {
    if (x.t === "float") return int(roundHalfEvenToInt(x.v));
    const i = asInt(x);
    if (i === null) throw new PyError("TypeError", `type ${typeName(x)} doesn't define __round__ method`);
    return int(i);
  }
  const nd = asInt(n);
  if (nd === null) throw new PyError("TypeError", `'${typeName(n)}' object cannot be interpreted as an integer`);
  if (x.t === "float") return float(roundFloat(x.v, Number(nd)));
  const i = asInt(x);
  if (i === null) throw new PyError("TypeError", `type ${typeName(x)} doesn't define __round__ method`);
  if (nd >= 0n) return int(i);
  const p = 10n ** -nd;
  let q = floorDivInt(i, p);
  const r = i - q * p;
  if (r * 2n > p || (r * 2n === p && q % 2n !== 0n)) q += 1n;
  return int(q * p);
}

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
    const c = src[i];
    if (c === " " || c === "\t" || c === "\f") {
      i++;
      continue;
    }
    if (!ASCII_ONLY.test(c)) {
      const ch = String.fromCodePoint(src.codePointAt(i)!);
      if (/[\p{L}\p{Nl}_]/u.test(ch)) throw new PyUnsupported("non-ASCII identifier");
      throw invalidCharacter(ch);
    }
    const num = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*\.(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?)/.exec(src.slice(i));
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

function truthy(x: PyValue): boolean {
  switch (x.t) {
    case "int":
      return x.v !== 0n;
    case "float":
      return x.v !== 0 && !Number.isNaN(x.v) ? true : Number.isNaN(x.v);
    case "bool":
      return x.v;
    case "none":
      return false;
    case "tuple":
    case "list":
      return x.items.length > 0;
    case "complex":
      return x.re !== 0 || x.im !== 0;
    default:
      return true;
  }
}

function equal(a: PyValue, b: PyValue): boolean {
  if (isNumber(a) && isNumber(b)) return compareReal(a, b) === 0;
  if ((a.t === "tuple" || a.t === "list") && a.t === b.t) {
    const bi = (b as typeof a).items;
    return a.items.length === bi.length && a.items.every((x, i) => equal(x, bi[i]));
  }
  if (a.t === "none" && b.t === "none") return true;
  if (a.t === "callable" && b.t === "callable") return a.name === b.name;
  if (a.t === "complex" || b.t === "complex") throw new PyUnsupported("complex equality");
  return false;
}

/** a OP b for an ordering operator, with Python's TypeError for unorderable types. */
export function compareOrder(op: "<" | ">" | "<=" | ">=", a: PyValue, b: PyValue): boolean {
  if (isNumber(a) && isNumber(b)) {
    const c = compareReal(a, b);
    if (Number.isNaN(c)) return false;
    return op === "<" ? c < 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c >= 0;
  }
  if ((a.t === "tuple" || a.t === "list") && a.t === b.t) throw new PyUnsupported("sequence ordering");
  throw new PyError("TypeError", `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function compare(op: string, a: PyValue, b: PyValue): boolean {
  if (op === "==") return equal(a, b);
  if (op === "!=") return !equal(a, b);
  return compareOrder(op as "<", a, b);
}

const MATH: Record<string, PyValue> = {
  pi: float(Math.PI),
  e: float(Math.E),
  inf: float(Infinity),
  nan: float(NaN),
  tau: float(2 * Math.PI),
};
const MATH_FUNCTIONS = new Set(["sqrt", "floor", "ceil", "fabs", "trunc", "pow", "isqrt"]);
const NP_FUNCTIONS = new Set(["sqrt", "abs", "absolute"]);
const NP_CONSTANTS: Record<string, PyValue> = { pi: float(Math.PI), e: float(Math.E) };
const GLOBALS = new Set(["min", "pow", "round", "abs", "int", "float", "math", "np", "numpy"]);

function attribute(obj: PyValue, name: string): PyValue {
  if (obj.t === "module" && obj.name === "math") {
    if (name in MATH) return MATH[name];
    if (MATH_FUNCTIONS.has(name)) return { t: "callable", name: `math.${name}` };
    if (/^(log|exp|sin|cos|tan|asin|acos|atan|sinh|cosh|tanh|hypot|degrees|radians|factorial|gcd|comb|perm|prod|fsum|isclose|erf|erfc|gamma|lgamma|copysign|fmod|frexp|ldexp|modf|remainder|cbrt|exp2|expm1|log1p|log2|log10|isfinite|isinf|isnan|dist|atan2|nextafter|ulp|lcm)$/.test(name)) {
      throw new PyUnsupported(`math.${name}`);
    }
    throw new PyError("AttributeError", `module 'math' has no attribute '${name}'`);
  }
  if (obj.t === "module" && (obj.name === "np" || obj.name === "numpy")) {
    if (name in NP_CONSTANTS) return float((NP_CONSTANTS[name] as { v: number }).v, true);
    if (NP_FUNCTIONS.has(name)) return { t: "callable", name: `np.${name}` };
    throw new PyUnsupported(`numpy.${name}`);
  }
  throw new PyUnsupported(`attribute ${name} of ${obj.t}`);
}

function callFunction(fn: PyValue, args: PyValue[]): PyValue {
  if (fn.t !== "callable") throw new PyError("TypeError", `'${typeName(fn)}' object is not callable`);
  const one = (): PyValue => {
    if (args.length !== 1) throw new PyUnsupported(`${fn.name} with ${args.length} arguments`);
    return args[0];
  };
  const real = (x: PyValue): number => {
    if (!isNumber(x)) throw new PyUnsupported(`${fn.name} of ${x.t}`);
    return toFloat(x);
  };
  switch (fn.name) {
    case "min": {
      let items = args;
      if (args.length === 1) {
        const a = args[0];
        if (a.t !== "tuple" && a.t !== "list") throw new PyError("TypeError", `'${typeName(a)}' object is not iterable`);
        items = a.items;
        if (!items.length) throw new PyError("ValueError", "min() arg is an empty sequence");
      }
      if (!items.length) throw new PyError("TypeError", "min expected at least 1 argument, got 0");
      let best = items[0];
      for (const x of items.slice(1)) if (compareOrder("<", x, best)) best = x;
      return best;
    }
    case "pow":
    case "math.pow": {
      if (args.length !== 2) throw new PyUnsupported(`${fn.name} with ${args.length} arguments`);
      if (fn.name === "math.pow") return floatPow(real(args[0]), real(args[1]), false);
      return arith("**", args[0], args[1]);
    }
    case "round":
      if (args.length < 1 || args.length > 2) throw new PyUnsupported("round arity");
      return pyRound(args[0], args[1]);
    case "abs": {
      const x = one();
      if (x.t === "float") return float(Math.abs(x.v), x.np);
      const i = asInt(x);
      if (i === null) throw new PyUnsupported(`abs of ${x.t}`);
      return int(i < 0n ? -i : i);
    }
    case "int": {
      if (!args.length) return int(0n);
      const x = one();
      if (x.t === "float") {
        if (Number.isNaN(x.v)) throw new PyError("ValueError", "cannot convert float NaN to integer");
        if (!Number.isFinite(x.v)) throw new PyError("OverflowError", "cannot convert float infinity to integer");
        return int(BigInt(Math.trunc(x.v)));
      }
      const i = asInt(x);
      if (i === null) throw new PyUnsupported(`int of ${x.t}`);
      return int(i);
    }
    case "float":
      if (!args.length) return float(0);
      return float(real(one()));
    case "math.sqrt": {
      const x = real(one());
      if (x < 0) throw new PyError("ValueError", "math domain error");
      return float(Math.sqrt(x));
    }
    case "math.isqrt":
      throw new PyUnsupported("math.isqrt");
    case "math.floor":
    case "math.ceil":
    case "math.trunc": {
      const x = one();
      const i = asInt(x);
      if (i !== null) return int(i);
      const f = real(x);
      if (Number.isNaN(f)) throw new PyError("ValueError", "cannot convert float NaN to integer");
      if (!Number.isFinite(f)) throw new PyError("OverflowError", "cannot convert float infinity to integer");
      return int(BigInt(fn.name === "math.floor" ? Math.floor(f) : fn.name === "math.ceil" ? Math.ceil(f) : Math.trunc(f)));
    }
    case "math.fabs":
      return float(Math.abs(real(one())));
    case "np.sqrt":
      return float(Math.sqrt(real(one())), true);
    case "np.abs":
    case "np.absolute": {
      const x = one();
      if (x.t === "float") return float(Math.abs(x.v), true);
      throw new PyUnsupported("numpy abs of an integer");
    }
  }
  throw new PyUnsupported(`function ${fn.name}`);
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i];
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
          if (t.k === "name" && this.toks[this.i + 1]?.k === "op" && (this.toks[this.i + 1] as { text: string }).text === "=") throw new PyUnsupported("keyword argument");
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

const KEYWORDS = new Set(["and", "or", "not", "if", "else", "for", "in", "is", "lambda", "def", "class", "return", "yield", "import", "from", "as", "with", "while", "try", "except", "finally", "raise", "del", "pass", "break", "continue", "global", "nonlocal", "assert", "async", "await"]);

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
  const peek = (): Token => toks[i];
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
