// The names the published grading's `eval()` allowed (min, pow, round, abs, int, float, math,
// np), with Python's behaviour for the arguments a MedCalc answer can hold. Pure.
import {
  arith,
  asInt,
  float,
  floatPow,
  int,
  isNumber,
  pyRound,
  PyError,
  PyUnsupported,
  toFloat,
  typeName,
  compareOrder,
  type PyValue,
} from "./pyeval-values.js";

export const MATH: Record<string, PyValue> = {
  pi: float(Math.PI),
  e: float(Math.E),
  inf: float(Infinity),
  nan: float(NaN),
  tau: float(2 * Math.PI),
};
export const MATH_FUNCTIONS = new Set(["sqrt", "floor", "ceil", "fabs", "trunc", "pow", "isqrt"]);
export const NP_FUNCTIONS = new Set(["sqrt", "abs", "absolute"]);
export const NP_CONSTANTS: Record<string, PyValue> = { pi: float(Math.PI), e: float(Math.E) };
export const GLOBALS = new Set(["min", "pow", "round", "abs", "int", "float", "math", "np", "numpy"]);

export function attribute(obj: PyValue, name: string): PyValue {
  if (obj.t === "module" && obj.name === "math") {
    if (name in MATH) return MATH[name]!;
    if (MATH_FUNCTIONS.has(name)) return { t: "callable", name: `math.${name}` };
    if (
      /^(log|exp|sin|cos|tan|asin|acos|atan|sinh|cosh|tanh|hypot|degrees|radians|factorial|gcd|comb|perm|prod|fsum|isclose|erf|erfc|gamma|lgamma|copysign|fmod|frexp|ldexp|modf|remainder|cbrt|exp2|expm1|log1p|log2|log10|isfinite|isinf|isnan|dist|atan2|nextafter|ulp|lcm)$/.test(
        name,
      )
    ) {
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

export function callFunction(fn: PyValue, args: PyValue[]): PyValue {
  if (fn.t !== "callable") throw new PyError("TypeError", `'${typeName(fn)}' object is not callable`);
  const one = (): PyValue => {
    if (args.length !== 1) throw new PyUnsupported(`${fn.name} with ${args.length} arguments`);
    return args[0]!;
  };
  const real = (x: PyValue): number => {
    if (!isNumber(x)) throw new PyUnsupported(`${fn.name} of ${x.t}`);
    return toFloat(x);
  };
  switch (fn.name) {
    case "min": {
      let items = args;
      if (args.length === 1) {
        const a = args[0]!;
        if (a.t !== "tuple" && a.t !== "list") throw new PyError("TypeError", `'${typeName(a)}' object is not iterable`);
        items = a.items;
        if (!items.length) throw new PyError("ValueError", "min() arg is an empty sequence");
      }
      if (!items.length) throw new PyError("TypeError", "min expected at least 1 argument, got 0");
      let best = items[0]!;
      for (const x of items.slice(1)) if (compareOrder("<", x, best)) best = x;
      return best;
    }
    case "pow":
    case "math.pow": {
      if (args.length !== 2) throw new PyUnsupported(`${fn.name} with ${args.length} arguments`);
      if (fn.name === "math.pow") return floatPow(real(args[0]!), real(args[1]!), false);
      return arith("**", args[0]!, args[1]!);
    }
    case "round":
      if (args.length < 1 || args.length > 2) throw new PyUnsupported("round arity");
      return pyRound(args[0]!, args[1]);
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
