// Generated MedCalc replies for the differential test of the paper reading: every calculator of
// the dataset, every answer form the authors' extraction treats differently, wrapped the ways
// models write (JSON dict, plain "Answer:", thinking blocks, harmony text, odd whitespace).
import { seededRandom } from "../../src/core/random.js";

export interface DatasetRow {
  id: string;
  calculatorId: number;
  groundTruth: string;
}

export interface GeneratedReply {
  id: string;
  reply: string;
  model?: string;
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const DATE_IDS = new Set([13, 68]);
const INTEGER_IDS = new Set([4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51]);

function dateForms(r: Rand, gt: string): string[] {
  const [m, d, y] = gt.split("/").map(Number);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return [
    gt,
    `${m}/${d}/${y}`,
    `${pad(m)}/${pad(d)}/${y}`,
    `${pad(m)}/${pad(Math.min(28, d + 1))}/${y}`,
    `${y}-${pad(m)}-${pad(d)}`,
    `The date is ${gt}`,
    `${gt} (estimated)`,
    "02/30/2021",
    "02/29/2020",
    "02/29/2021",
    "13/01/2020",
    "01/02/0000",
    "01/02/٢٠٢٠",
    `${pad(int(r, 1, 12))}/${pad(int(r, 1, 31))}/${int(r, 1990, 2030)}`,
    "N/A",
    "September 23, 2014",
    `0${m}/${d}/${y}`,
    "",
  ];
}

function weeksDaysForms(r: Rand, gt: string): string[] {
  const w = int(r, 0, 42);
  const d = int(r, 0, 6);
  const nums = (gt.match(/\d+/g) ?? ["0", "0"]).map(Number);
  return [
    gt,
    `(${nums[0]} weeks, ${nums[1]} days)`,
    `('${nums[0]} weeks', '${nums[1]} days')`,
    `[${nums[0]}, ${nums[1]}]`,
    `(${w} weeks, ${d} days)`,
    `${w} weeks, ${d} days`,
    `${w} weeks and ${d} days`,
    `(0${w}, ${d})`,
    `(${w}, ٣)`,
    `${w}${d}`,
    `${w}`,
    "N/A",
    `"(${nums[0]}, ${nums[1]})"`,
    `(${nums[0]}weeks,${nums[1]}days)`,
    "",
  ];
}

function integerForms(r: Rand, gt: string): string[] {
  const g = Number(gt);
  const near = g + pick(r, [-1, 0, 0, 1, 2]);
  return [
    gt,
    `${near}`,
    `${g}.0`,
    `${g}.5`,
    `${g + 0.5}`,
    `${g - 0.5}`,
    `${near} points`,
    `${near} out of ${near + 5}`,
    `score ${near} out of 10, 3 criteria`,
    `0${near}`,
    "00",
    `-${near}`,
    `-0${near}`,
    `1, 2, ${near}`,
    `${near},${near + 1}`,
    `The score is ${near} (criteria: 2, 3)`,
    "N/A",
    "None of the criteria",
    "١٢",
    `${near}٣`,
    "123456789012345678901234567890",
    `${"9".repeat(400)}.5`,
    `${near} (moderate risk)`,
    "",
    `str(${near})`,
  ];
}

function decimalForms(r: Rand, gt: string): string[] {
  const g = Number(gt);
  const near = Number((g * (0.9 + r() * 0.2)).toFixed(pick(r, [0, 1, 2, 3])));
  const x = pick(r, [near, g, Math.round(g)]);
  return [
    gt,
    `${x}`,
    `${x} mL/min/1.73 m²`,
    `${x} mL/min/1.73m^2`,
    `${x} mL/min`,
    `${x}%`,
    `${Math.round(x * 100) / 100}%`,
    `${x} % (approx)`,
    `${x} kg/m^2`,
    `about ${x} (range 1 to 2)`,
    `0${x}`,
    `00${x}`,
    `${x}e-5`,
    "0.00001",
    `-${x}`,
    `12,345.6`,
    "N/A",
    "not calculable",
    `str(${x})`,
    `str(round(${x} * 1.0, 2))`,
    `str(round((140 - ${int(r, 20, 90)}) * ${int(r, 40, 120)} / (72 * ${(0.5 + r()).toFixed(2)}), 1))`,
    `str(round(${x}, ${int(r, 0, 3)}))`,
    `str(round(${x}))`,
    `str(math.sqrt(${x}))`,
    `str(sqrt(${x} * ${x}))`,
    `str(${x}^2)`,
    `str(${x} ** 0.5)`,
    `str(weight / height)`,
    `str(70 kg / 1.75^2)`,
    `str(${x} mg/dl * 2)`,
    `str(x)`,
    `str(${x} + )`,
    `str(round(${x} * 2, 1)`,
    `str(${x} * 2))`,
    `str(${x} is odd)`,
    `str(${int(r, 1, 9)} is even)`,
    `str(1/0)`,
    `str(${x} / 0)`,
    `str(10 // 3)`,
    `str(-7 % 3)`,
    `str(7.5 // 2)`,
    `str(-7.5 % 2)`,
    `str(2 ** -1)`,
    `str(2 ** 10)`,
    `str((3 + 4) * 2.5 # the formula)`,
    `str(1e308 * 10)`,
    `str(min(${x}, 4.5))`,
    `str(min(3, 4, 2.5))`,
    `str(pow(2, 3))`,
    `str(abs(-${x}))`,
    `str(int(${x}))`,
    `str(float(${int(r, 1, 99)}))`,
    `str(np.sqrt(${x}))`,
    `str(numpy.sqrt(4))`,
    `str(math.log(${x}))`,
    `str(math.floor(${x}))`,
    `str(math.ceil(${x}))`,
    `str(math.pi * 2)`,
    `str(1, 2)`,
    `str(None)`,
    `str(True)`,
    `str(round(2.675, 2))`,
    `str(round(0.125, 2))`,
    `str(round(2.5))`,
    `str(round(-0.5))`,
    `str(0.1 + 0.2)`,
    `str(1e16)`,
    `str(123456789.0 * 1e8)`,
    `str(1 / 3)`,
    `str(-0.0)`,
    `str(2 < 3 < 4)`,
    `str(3 > 2 and 5)`,
    `str(not 0)`,
    `str(0x1F)`,
    `str(1_000.5)`,
    `str(.5 + 5.)`,
    `str(${x}; 2)`,
    `str(${x} * (2 + 1)`,
    `str(round(${x} * 10) / 10)`,
    `str(-${x} % 3)`,
    `str(${x} // -0.7)`,
    "١٢.٥",
    `${x}٣`,
    `${"9".repeat(330)}.5`,
    `${"1".repeat(25)}`,
    `${x} (95% CI)`,
    "",
  ];
}

function formsFor(r: Rand, row: DatasetRow): string[] {
  if (DATE_IDS.has(row.calculatorId)) return dateForms(r, row.groundTruth);
  if (row.calculatorId === 69) return weeksDaysForms(r, row.groundTruth);
  if (INTEGER_IDS.has(row.calculatorId)) return integerForms(r, row.groundTruth);
  return decimalForms(r, row.groundTruth);
}

const SPACES = [" ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2003", "\r\n", "\x1c", "\u3000"];
const THOUGHTS = [
  "Let me compute this step by step.",
  "The patient's creatinine is 1.2 mg/dL and the answer: maybe 3?",
  "First, weight is 70 kg. Answer so far: 12",
  "I think the final answer is 5.",
  "We need the score.\nAnswer: 4}\nHmm, let me recheck.",
];

function wrap(r: Rand, answer: string): { reply: string; model?: string } {
  const sp = (): string => pick(r, SPACES);
  const thought = pick(r, THOUGHTS).replace(/ /g, () => (r() < 0.1 ? sp() : " "));
  const json = `{"step_by_step_thinking": "${thought.replace(/"/g, "'")}",${sp()}"answer": "${answer}"}`;
  switch (int(r, 0, 12)) {
    case 0:
      return { reply: json };
    case 1:
      return { reply: `<think>${thought}${sp()}</think>${sp()}${json}` };
    case 2:
      return { reply: `${thought}${sp()}Answer:${sp()}${answer}` };
    case 3:
      return { reply: `{"step_by_step_thinking": "${thought}", "answer": ${answer}}${sp()}` };
    case 4:
      return { reply: `analysis${thought}assistantfinal${json}`, model: "openai/gpt-oss-20b" };
    case 5:
      return { reply: `analysis${thought} answer: 1}assistantfinal${json}`, model: pick(r, ["openai/gpt-oss-20b", "Qwen/QwQ-32B"]) };
    case 6:
      return { reply: `${json}${sp()}Wait, the answer is:${sp()}“${answer}”${sp()}` };
    case 7:
      return { reply: `<think>${thought}</think>` };
    case 8:
      return {
        reply: `{"step_by_step_thinking": "str(your_step_by_step_thinking_procress_to_solve_the_question)", "answer": "str(short_and_direct_answer_of_the_question)"}`,
      };
    case 9:
      return { reply: `${json}${sp()}${json.replace(answer, pick(r, ["X.XX", answer]))}` };
    case 10:
      return { reply: `The Answer${sp()}is:${sp()}'${answer}'${sp()}}` };
    case 11:
      return { reply: `<|begin_of_thought|>${thought}<|end_of_thought|><|begin_of_solution|>${json}` };
    default:
      return { reply: `${thought}${sp()}"answer":${sp()}"${answer}"${sp()}\n` };
  }
}

/** `count` replies, spread over every calculator, deterministic for a seed. */
export function generateReplies(rows: DatasetRow[], count: number, seed: number): GeneratedReply[] {
  const r = seededRandom(seed);
  const byCalculator = new Map<number, DatasetRow[]>();
  for (const row of rows) byCalculator.set(row.calculatorId, [...(byCalculator.get(row.calculatorId) ?? []), row]);
  const calculators = [...byCalculator.keys()].sort((a, b) => a - b);
  const out: GeneratedReply[] = [];
  for (let i = 0; out.length < count; i++) {
    const calc = calculators[i % calculators.length];
    const row = pick(r, byCalculator.get(calc)!);
    const forms = formsFor(r, row);
    // Walk every form of the calculator in turn, so each one is covered at every seed.
    const form = forms[Math.floor(i / calculators.length) % forms.length];
    out.push({ id: row.id, ...wrap(r, form) });
  }
  return out;
}
