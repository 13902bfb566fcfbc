// The paper reading of MedCalc grading: what the authors' run.py (`extract_answer`, after
// LLMInference.answer collapsed the whitespace) and evaluate.py (`check_correctness`) did, step
// for step, including their crashes. Python's regular expressions are mirrored with Unicode
// digits (`\d` is any decimal digit in Python 3) and Python's whitespace class. Pure.
import { hasSkipPhrase } from "./consistency.js";
import { PyError, PyUnsupported, compareOrder, evalExpression, pyRound, pyStr, type PyValue } from "./pyeval.js";

/** The characters Python's `\s` matches in a str pattern. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WS = `[${PY_SPACE}]`;
const D = "\\p{Nd}";
const re = (source: string, flags = ""): RegExp => new RegExp(source, `u${flags}`);

/** `re.sub("\s+", " ", text)`: what LLMInference.answer did to every generated text. */
export function collapseWhitespace(text: string): string {
  return text.replace(re(`${WS}+`, "g"), " ");
}

/** Python's str.strip() with no argument. */
export function pyStrip(text: string): string {
  return text.replace(re(`^${WS}+|${WS}+$`, "g"), "");
}

// Python's `$` without MULTILINE: the end, or just before a final newline.
const END = "(?=\\n?(?![\\s\\S]))";
const ANSWER = re(`[Aa]nswer[^\\n]*?:${WS}*["“”]?([^\\n]*?)(?:["“”]?${WS}*[}\\n]|${END})`, "g");
const PROMPT_PLACEHOLDERS = new Set(["str(short_and_direct_answer_of_the_question)", "str(value which is the answer to the question)", "X.XX"]);
const DATE_CALCULATORS = new Set([13, 68]);
const INTEGER_CALCULATORS = new Set([4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51, 69]);
const DECIMAL_CALCULATORS = new Set([
  2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67,
]);
const WEEKS_DAYS = re(`\\(?["']?(${D}+)${WS}*(weeks?)?["']?,?${WS}*["']?(${D}+)${WS}*(days?)?["']?${WS}*\\)?`);

/** A Unicode decimal digit's value, as Python's int() reads it. */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

function pyInt(digits: string): number {
  let n = 0;
  for (const ch of digits) n = n * 10 + digitValue(ch);
  return n;
}

/** The replacements run.py makes before evaluating a `str(...)` answer, in its order. */
const EXPRESSION_REPLACEMENTS: Array<[string, string]> = [
  ["^", "**"],
  ["is odd", "% 2 == 1"],
  ["is even", "% 2 == 0"],
  ["sqrt", "math.sqrt"],
  [".math", ""],
  ["weight", ""],
  ["height", ""],
  ["mg/dl", ""],
  ["g/dl", ""],
  ["mmol/L", ""],
  ["kg", ""],
  ["g", ""],
  ["mEq/L", ""],
];

function count(text: string, ch: string): number {
  return text.split(ch).length - 1;
}

/** The value of a `str(...)` answer, or "N/A" when Python's eval would raise (run.py catches it). */
function evaluateStrAnswer(inner: string): string {
  let expression = inner;
  for (const [from, to] of EXPRESSION_REPLACEMENTS) expression = expression.split(from).join(to);
  expression = expression.split("#")[0]!;
  const open = count(expression, "(");
  const close = count(expression, ")");
  if (open > close) expression += ")".repeat(open - close);
  else if (close > open) expression = "(".repeat(close - open) + expression;
  try {
    return pyStr(evalExpression(expression));
  } catch (err) {
    if (err instanceof PyError || err instanceof PyUnsupported) return "N/A";
    throw err;
  }
}

/**
 * run.py's extract_answer(answer, calid, model_name): the value it returns, as text. Throws
 * PyError where Python raised (the caller records the message, as run.py did).
 * `text` must already be whitespace-collapsed (see collapseWhitespace).
 */
export function paperExtractAnswer(text: string, calculatorId: number, modelName = "qwen"): string {
  let answer = text;
  if (modelName.toLowerCase().includes("gpt-oss")) {
    const at = answer.indexOf("assistantfinal");
    if (at >= 0) answer = answer.slice(at + "assistantfinal".length);
  }
  const found = [...answer.matchAll(ANSWER)].map((m) => m[1]!);
  let extracted: string;
  if (found.length === 0) extracted = "Not Found";
  else {
    extracted = pyStrip(found[found.length - 1]!).replace(/^"+|"+$/g, "");
    if (PROMPT_PLACEHOLDERS.has(extracted)) extracted = "Not Found";
  }
  const calid = calculatorId;
  if (DATE_CALCULATORS.has(calid)) {
    const m = re(`^(0?[1-9]|1[0-2])\\/(0?[1-9]|[12][0-9]|3[01])\\/(${D}{4})`).exec(extracted);
    if (!m) return "N/A";
    return `${String(Number(m[1])).padStart(2, "0")}/${String(Number(m[2])).padStart(2, "0")}/${m[3]}`;
  }
  if (calid === 69) {
    if (!WEEKS_DAYS.exec(extracted)) throw new PyError("AttributeError", "'NoneType' object has no attribute 'group'");
    const cleaned = extracted.replace(/\[/g, "(").replace(/\]/g, ")").replace(/'/g, "").replace(/"/g, "");
    const m = WEEKS_DAYS.exec(cleaned);
    return m ? `(${m[1]}, ${m[3]})` : "N/A";
  }
  if (INTEGER_CALCULATORS.has(calid)) {
    const outOf = re(`(${D}+) out of`).exec(extracted);
    if (outOf) return outOf[1]!;
    const list = re(`-?${D}+(, ?-?${D}+)+`).exec(extracted);
    if (list) return String(list[0].split(",").length);
    const nums = [...extracted.matchAll(re(`(-?${D}+(\\.${D}+)?)`, "g"))];
    return nums.length ? nums[nums.length - 1]![1]! : "N/A";
  }
  if (DECIMAL_CALCULATORS.has(calid)) {
    const strCall = /str\(([^\n]*)\)/u.exec(extracted);
    if (strCall) return evaluateStrAnswer(strCall[1]!);
    let value: PyValue;
    const egfr = re(`(-?${D}+(\\.${D}+)?)${WS}*mL/min/1[^\\n]73`).exec(extracted);
    if (egfr) value = evalExpression(egfr[1]!);
    else {
      const percents = [...extracted.matchAll(re(`(-?${D}+(\\.${D}+)?)%`, "g"))];
      if (percents.length) value = evalExpression(`(${percents[percents.length - 1]![1]}) / 100`);
      else {
        const nums = [...extracted.matchAll(re(`(-?${D}+(\\.${D}+)?)`, "g"))];
        if (!nums.length) return "N/A";
        value = evalExpression(nums[nums.length - 1]![1]!);
      }
    }
    return pyStr(value);
  }
  // Unknown calculator: run.py returns its input unchanged; check_correctness then raises.
  return answer;
}

function pyReprString(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

const STRPTIME = re(`^(1[0-2]|0[1-9]|[1-9])/(3[01]|[12]${D}|0[1-9]|[1-9]| [1-9])/(${D}${D}${D}${D})`, "i");

/** datetime.strptime(text, "%m/%d/%Y") as [year, month, day]. */
function strptime(text: string): [number, number, number] {
  const m = STRPTIME.exec(text);
  if (!m) throw new PyError("ValueError", `time data ${pyReprString(text)} does not match format '%m/%d/%Y'`);
  if (m[0].length !== text.length) throw new PyError("ValueError", `unconverted data remains: ${text.slice(m[0].length)}`);
  const year = pyInt(m[3]!);
  const month = pyInt(m[1]!);
  const day = pyInt(m[2]!.trim());
  if (year < 1) throw new PyError("ValueError", `year ${year} is out of range`);
  const days = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 ? (leap ? 29 : 28) : days)) throw new PyError("ValueError", "day is out of range for month");
  return [year, month, day];
}

/** evaluate.py's check_correctness(answer, ground_truth, calid, upper_limit, lower_limit). */
export function paperCheckCorrectness(answer: string, groundTruth: string, calculatorId: number, upperLimit: string, lowerLimit: string): boolean {
  const calid = calculatorId;
  if (DATE_CALCULATORS.has(calid)) {
    const a = strptime(answer);
    const g = strptime(groundTruth);
    return a[0] === g[0] && a[1] === g[1] && a[2] === g[2];
  }
  if (calid === 69) {
    const g = WEEKS_DAYS.exec(groundTruth);
    if (!g) throw new PyError("AttributeError", "'NoneType' object has no attribute 'group'");
    const gt = `(${g[1]}, ${g[3]})`;
    const m = WEEKS_DAYS.exec(answer);
    if (!m) return false;
    const left = evalExpression(`(${m[1]}, ${m[3]})`);
    const right = evalExpression(gt);
    return valuesEqual(left, right);
  }
  if (INTEGER_CALCULATORS.has(calid)) {
    const rounded = pyRound(evalExpression(answer));
    return valuesEqual(rounded, evalExpression(groundTruth));
  }
  if (DECIMAL_CALCULATORS.has(calid)) {
    const value = evalExpression(answer);
    if (!compareOrder(">=", value, evalExpression(lowerLimit))) return false;
    return compareOrder("<=", value, evalExpression(upperLimit));
  }
  throw new PyError("ValueError", `Unknown calculator ID: ${calid}`);
}

function valuesEqual(a: PyValue, b: PyValue): boolean {
  const v = evalExpression(`${pyStr(a)} == ${pyStr(b)}`);
  return v.t === "bool" && v.v;
}

export interface MedcalcRow {
  calculatorId: number;
  groundTruth: string;
  lowerLimit: string;
  upperLimit: string;
}

export interface PaperGrade {
  /** What run.py recorded as the answer: the extracted value, or the exception's text. */
  recorded: string;
  correct: boolean;
  /** Python raised while extracting or grading (the record was written as "Incorrect"). */
  crashed: boolean;
  /** The paper's consistency skips this answer (it contains one of its skip phrases). */
  excluded: boolean;
}

/**
 * Grade one generated text as the authors' MedCalc run did. `modelName` is the name run.py
 * checked for "gpt-oss" (in transfer runs, the source model's name).
 */
export function paperGradeMedcalc(reply: string, row: MedcalcRow, modelName = "qwen"): PaperGrade {
  let recorded: string;
  let correct = false;
  let crashed = false;
  try {
    recorded = paperExtractAnswer(collapseWhitespace(reply), row.calculatorId, modelName);
    correct = paperCheckCorrectness(recorded, row.groundTruth, row.calculatorId, row.upperLimit, row.lowerLimit);
  } catch (err) {
    if (!(err instanceof PyError)) throw err;
    recorded = err.message;
    crashed = true;
  }
  return { recorded, correct, crashed, excluded: hasSkipPhrase(recorded) };
}
