// Python's values as the published MedCalc grading's `eval()` produces them: exact integers,
// floats with Python's repr, round-half-even, floor division and modulo, comparisons, and the
// error messages the grading records. Pure.

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

export const SYNTAX_SUFFIX = " (<string>, line 1)";
export const INT_DIGIT_LIMIT = 4300;

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
  const digits = mant!.replace(".", "");
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
      return x.items.length === 1 ? `(${pyStr(x.items[0]!)},)` : `(${x.items.map(pyStr).join(", ")})`;
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

export function isNumber(x: PyValue): x is { t: "int"; v: bigint } | { t: "float"; v: number; np?: boolean } | { t: "bool"; v: boolean } {
  return x.t === "int" || x.t === "float" || x.t === "bool";
}

export function asInt(x: PyValue): bigint | null {
  if (x.t === "int") return x.v;
  if (x.t === "bool") return x.v ? 1n : 0n;
  return null;
}

export function toFloat(x: PyValue): number {
  if (x.t === "float") return x.v;
  const i = asInt(x);
  if (i === null) throw new PyUnsupported(`float of ${x.t}`);
  const f = Number(i);
  if (!Number.isFinite(f)) throw new PyError("OverflowError", "int too large to convert to float");
  return f;
}

export function isNp(...xs: PyValue[]): boolean {
  return xs.some((x) => x.t === "float" && x.np === true);
}

/** Exact comparison of two real numbers (int, float or bool): -1, 0, 1, or NaN when unordered. */
export function compareReal(a: PyValue, b: PyValue): number {
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
export function floatDivmod(vx: number, wx: number): [number, number] {
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

export function floorDivInt(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new PyError("ZeroDivisionError", "integer division or modulo by zero");
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export function trueDivInt(a: bigint, b: bigint): number {
  if (b === 0n) throw new PyError("ZeroDivisionError", "division by zero");
  const limit = 2n ** 53n;
  if ((a < 0n ? -a : a) <= limit && (b < 0n ? -b : b) <= limit) return Number(a) / Number(b);
  throw new PyUnsupported("true division of integers beyond 2**53");
}

export function floatPow(x: number, y: number, np: boolean): PyValue {
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

export function arith(op: string, a: PyValue, b: PyValue): PyValue {
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
export function roundFloat(x: number, n: number): number {
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

export function roundHalfEvenToInt(x: number): bigint {
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

export function truthy(x: PyValue): boolean {
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

export function equal(a: PyValue, b: PyValue): boolean {
  if (isNumber(a) && isNumber(b)) return compareReal(a, b) === 0;
  if ((a.t === "tuple" || a.t === "list") && a.t === b.t) {
    const bi = (b as typeof a).items;
    return a.items.length === bi.length && a.items.every((x, i) => equal(x, bi[i]!));
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

export function compare(op: string, a: PyValue, b: PyValue): boolean {
  if (op === "==") return equal(a, b);
  if (op === "!=") return !equal(a, b);
  return compareOrder(op as "<", a, b);
}
