import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import {
  afterThinking,
  extractGsm8kReference,
  extractMedcalcAnswer,
  extractNumericAnswer,
  gradeAnswer,
  gradeExact,
  gradeInduction,
  gradeMedcalc,
  gradeNumber,
  medcalcKind,
  normalizeDate,
  normalizeText,
  parseWeeksDays,
  roundHalfEven,
  tokenF1,
} from "../../src/core/answers.js";
import type { Reference } from "../../src/core/types.js";
import { needsShared } from "../support/shared.js";

const SHARED = join(import.meta.dirname, "..", "..", "..", "shared", "data");

type Row = Record<string, string>;
const noMedcalc = needsShared("data/medcalc-bench/test_data.csv");
const csvRows: Row[] = noMedcalc ? [] : parse(readFileSync(join(SHARED, "medcalc-bench", "test_data.csv")), { columns: true, bom: true });
const byRow = new Map(csvRows.map((r) => [r["Row Number"], r]));

function refOf(row: Row) {
  const num = (s: string) => (s.trim() !== "" && Number.isFinite(Number(s)) ? Number(s) : undefined);
  return {
    calculatorId: Number(row["Calculator ID"]),
    outputType: row["Output Type"],
    groundTruth: row["Ground Truth Answer"],
    lower: num(row["Lower Limit"]),
    upper: num(row["Upper Limit"]),
  };
}

describe("MedCalc ground truths grade as correct", { skip: noMedcalc }, () => {
  test("all 1,047 rows, raw and wrapped as a JSON answer", () => {
    assert.equal(csvRows.length, 1047);
    const failures: string[] = [];
    for (const row of csvRows) {
      const ref = refOf(row);
      const gt = row["Ground Truth Answer"];
      const raw = gradeMedcalc(gt, ref);
      if (!raw.correct) failures.push(`raw row ${row["Row Number"]}: ${gt} -> ${JSON.stringify(raw)}`);
      const wrapped = JSON.stringify({ step_by_step_thinking: "Compute it. The answer: 7.", answer: gt });
      const extracted = extractMedcalcAnswer(wrapped);
      const viaExtract = extracted === null ? null : gradeMedcalc(extracted, ref);
      if (!viaExtract?.correct) failures.push(`wrapped row ${row["Row Number"]}: ${gt} -> ${extracted}`);
      const reference: Reference = {
        kind: medcalcKind(ref.calculatorId, ref.outputType),
        value: gt,
        lower: ref.lower,
        upper: ref.upper,
      };
      const viaEntry = gradeAnswer(`<think>Some reasoning, answer: 0.</think>{"answer": ${JSON.stringify(gt)}}`, reference);
      if (!viaEntry.correct) failures.push(`gradeAnswer row ${row["Row Number"]}: ${gt} -> ${JSON.stringify(viaEntry)}`);
    }
    assert.deepEqual(failures.slice(0, 10), []);
  });

  test("a wrong answer is graded wrong for every row", () => {
    let wrong = 0;
    for (const row of csvRows) {
      const ref = refOf(row);
      const kind = medcalcKind(ref.calculatorId, ref.outputType);
      const bad = kind === "date" ? "01/01/1900" : kind === "weeks_days" ? "(99 weeks, 6 days)" : "123456789";
      if (!gradeMedcalc(bad, ref).correct) wrong++;
    }
    assert.equal(wrong, csvRows.length);
  });

  test("kinds come from the Output Type column and the calculator ID", () => {
    assert.equal(medcalcKind(13, "date"), "date");
    assert.equal(medcalcKind(68, "integer"), "date");
    assert.equal(medcalcKind(69, "integer"), "weeks_days");
    assert.equal(medcalcKind(4, "integer"), "integer");
    assert.equal(medcalcKind(2, "decimal"), "decimal");
    assert.equal(medcalcKind(4), "integer");
    assert.equal(medcalcKind(2), "decimal");
    const kinds = new Set(csvRows.map((r) => medcalcKind(Number(r["Calculator ID"]), r["Output Type"])));
    assert.deepEqual([...kinds].sort(), ["date", "decimal", "integer", "weeks_days"]);
  });
});

describe("MedCalc extraction", () => {
  test("JSON dict answer, thinking block ignored", () => {
    const text = '<think>I think the answer: 3</think>\n{"step_by_step_thinking": "The answer is: 2 points", "answer": "4"}';
    assert.equal(extractMedcalcAnswer(text), "4");
  });
  test("the published pattern: last match, quotes and closing brace dropped", () => {
    assert.equal(extractMedcalcAnswer('Thinking... Answer: 5\nFinal answer: "12.5 mL/min"}'), "12.5 mL/min");
    assert.equal(extractMedcalcAnswer('{"step_by_step_thinking": "bad "quote" here", "answer": "17"}'), "17");
    assert.equal(extractMedcalcAnswer("“answer”: “9”"), "9");
  });
  test("no answer gives null", () => {
    assert.equal(extractMedcalcAnswer("I cannot compute this."), null);
    assert.equal(extractMedcalcAnswer('{"answer": ""}'), null);
  });
  test("harmony and OpenThinker thinking markers", () => {
    assert.equal(afterThinking("a<|end_of_thought|><|begin_of_solution|>x<|end_of_solution|>"), "x");
    assert.equal(afterThinking("analysis<|end|><|start|>assistant<|channel|>final<|message|>done"), "done");
  });
});

describe("MedCalc grading by kind", () => {
  const dec = { calculatorId: 2, outputType: "decimal", groundTruth: "25.238", lower: 23.9761, upper: 26.4999 };
  test("decimal: last number inside the limits; units do not leak digits", () => {
    assert.ok(gradeMedcalc("25.0 mL/min", dec).correct);
    assert.ok(!gradeMedcalc("27 mL/min", dec).correct);
    const gfr = { calculatorId: 3, outputType: "decimal", groundTruth: "83.072", lower: 78.9184, upper: 87.2256 };
    assert.ok(gradeMedcalc("83.1 mL/min/1.73 m²", gfr).correct);
    assert.ok(gradeMedcalc("83.1 mL/min/1.73m^2", gfr).correct);
    const bmi = { calculatorId: 6, outputType: "decimal", groundTruth: "23.792", lower: 22.6024, upper: 24.9816 };
    assert.ok(gradeMedcalc("23.8 kg/m^2", bmi).correct);
    assert.ok(gradeMedcalc("23.8 kg/m2", bmi).correct);
  });
  test("decimal: percentages become fractions unless the calculator is in percent", () => {
    const frac = { calculatorId: 64, outputType: "decimal", groundTruth: "0.881", lower: 0.83695, upper: 0.92505 };
    assert.ok(gradeMedcalc("88.1%", frac).correct);
    const fena = { calculatorId: 40, outputType: "decimal", groundTruth: "0.247", lower: 0.23465, upper: 0.25935 };
    assert.ok(gradeMedcalc("0.247%", fena).correct);
    assert.ok(!gradeMedcalc("2.47%", fena).correct);
  });
  test("decimal without limits uses +-5%", () => {
    assert.ok(gradeMedcalc("104", { calculatorId: 5, groundTruth: "100" }).correct);
    assert.ok(!gradeMedcalc("106", { calculatorId: 5, groundTruth: "100" }).correct);
  });
  test("integer: N out of, last number, rounding", () => {
    const ref = { calculatorId: 4, outputType: "integer", groundTruth: "3" };
    assert.ok(gradeMedcalc("3 out of 9 points", ref).correct);
    assert.ok(gradeMedcalc("Score 1 + 2 = 3", ref).correct);
    assert.ok(gradeMedcalc("3.4", ref).correct);
    assert.ok(!gradeMedcalc("4", ref).correct);
    assert.equal(gradeMedcalc("none", ref).error, "no number in the answer");
    assert.ok(gradeMedcalc("-1", { calculatorId: 16, outputType: "integer", groundTruth: "-1" }).correct);
    assert.equal(roundHalfEven(2.5), 2);
    assert.equal(roundHalfEven(3.5), 4);
    assert.equal(roundHalfEven(-2.5), -2);
  });
  test("dates: many spellings normalise to MM/DD/YYYY", () => {
    for (const s of ["9/23/2014", "09/23/2014", "2014-09-23", "September 23, 2014", "23 Sep 2014", "Due: Sept. 23rd, 2014"]) {
      assert.equal(normalizeDate(s), "09/23/2014", s);
    }
    assert.equal(normalizeDate("02/30/2014"), null);
    const ref = { calculatorId: 13, outputType: "date", groundTruth: "09/23/2014" };
    assert.ok(gradeMedcalc("The due date is 9/23/2014.", ref).correct);
    assert.ok(!gradeMedcalc("09/24/2014", ref).correct);
  });
  test("weeks and days", () => {
    assert.deepEqual(parseWeeksDays("('14 weeks', '1 days')"), [14, 1]);
    assert.deepEqual(parseWeeksDays("(4 weeks, 3 days)"), [4, 3]);
    assert.deepEqual(parseWeeksDays("(4, 3)"), [4, 3]);
    assert.deepEqual(parseWeeksDays("4 weeks and 3 days"), [4, 3]);
    assert.deepEqual(parseWeeksDays("39+2 weeks"), [39, 2]);
    assert.deepEqual(parseWeeksDays("4 weeks"), [4, 0]);
    assert.equal(parseWeeksDays("soon"), null);
    const ref = { calculatorId: 69, outputType: "integer", groundTruth: "('0 weeks', '6 days')" };
    assert.ok(gradeMedcalc("(0, 6)", ref).correct);
    assert.ok(gradeMedcalc("6 days", ref).correct);
    assert.ok(!gradeMedcalc("(1, 6)", ref).correct);
    assert.equal(gradeMedcalc("(0, 6)", ref).answer, "(0, 6)");
  });
});

const noGenex = noMedcalc || needsShared("data/genex/medcalc/outputs");
describe("agreement with the paper's own grades (genex outputs)", { skip: noGenex }, () => {
  const dir = join(SHARED, "genex", "medcalc", "outputs");
  const files = (noGenex ? [] : readdirSync(dir)).filter((f) => f.endsWith(".jsonl") && !f.includes("_thoughts_to_"));
  test("non-transfer files: our grade of LLM Answer against Result", () => {
    let total = 0;
    let agree = 0;
    const disagreements: string[] = [];
    for (const file of files) {
      for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
        if (!line.trim()) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        const row = byRow.get(String(rec["Row Number"]));
        assert.ok(row, `row ${rec["Row Number"]} is in the dataset`);
        const grade = gradeMedcalc(String(rec["LLM Answer"] ?? ""), refOf(row));
        const paper = rec["Result"] === "Correct";
        total++;
        if (grade.correct === paper) agree++;
        else disagreements.push(`${file} row ${rec["Row Number"]}: "${rec["LLM Answer"]}" paper=${rec["Result"]} ours=${grade.correct}`);
      }
    }
    const rate = agree / total;
    console.log(`genex agreement: ${agree}/${total} = ${(100 * rate).toFixed(2)}% (${disagreements.length} disagreements)`);
    for (const d of disagreements.slice(0, 20)) console.log(`  ${d}`);
    assert.equal(total, 1500);
    assert.ok(rate >= 0.995, `agreement ${rate}`);
  });

  test("Empty condition accuracy matches the paper's table (45/38/36/18/10)", () => {
    const expected: Record<string, number> = {
      "openai_gpt-oss-20b": 45,
      "BytedTsinghua-SIA_DAPO-Qwen-32B": 38,
      "Qwen_QwQ-32B": 36,
      "open-thoughts_OpenThinker-7B": 18,
      "nvidia_Nemotron-Research-Reasoning-Qwen-1.5B": 10,
    };
    for (const [model, want] of Object.entries(expected)) {
      const lines = readFileSync(join(dir, `${model}_zero_shot_empty.jsonl`), "utf8")
        .split("\n")
        .filter((l) => l.trim());
      let correct = 0;
      for (const line of lines) {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (gradeMedcalc(String(rec["LLM Answer"]), refOf(byRow.get(String(rec["Row Number"]))!)).correct) correct++;
      }
      assert.equal(correct, want, model);
    }
  });

  test("transfer files: our grade of Target Answer against Target Result", () => {
    let total = 0;
    let agree = 0;
    for (const file of readdirSync(dir).filter((f) => f.includes("_thoughts_to_"))) {
      for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
        if (!line.trim()) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (!("Target Answer" in rec)) continue; // crashed extraction: no answer to grade
        const row = byRow.get(String(rec["Row Number"]))!;
        total++;
        if (gradeMedcalc(String(rec["Target Answer"]), refOf(row)).correct === (rec["Target Result"] === "Correct")) agree++;
      }
    }
    console.log(`genex transfer agreement: ${agree}/${total} = ${((100 * agree) / total).toFixed(2)}%`);
    assert.ok(agree / total >= 0.99);
  });
});

describe("GSM8K and numbers", () => {
  test("reference after ####", () => {
    assert.equal(extractGsm8kReference("She makes 9 * 2 = $18.\n#### 18"), "18");
    assert.equal(extractGsm8kReference("#### 1,250"), "1250");
    assert.equal(extractGsm8kReference("#### -3"), "-3");
    assert.equal(extractGsm8kReference("no marker"), null);
  });
  test("every GSM8K reference is a number and grades itself correct", { skip: needsShared("data/gsm8k/test.jsonl") }, () => {
    const lines = readFileSync(join(SHARED, "gsm8k", "test.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim());
    assert.ok(lines.length > 1000);
    for (const line of lines) {
      const { answer } = JSON.parse(line) as { answer: string };
      const ref = extractGsm8kReference(answer);
      assert.ok(ref !== null, answer);
      assert.ok(gradeNumber(answer, ref).correct, answer);
      assert.ok(gradeNumber(`So the answer is ${ref}.`, ref).correct);
    }
  });
  test("numeric answers: boxed, $, commas, units, answer phrases", () => {
    assert.equal(extractNumericAnswer("so \\boxed{1,234} is it"), "1234");
    assert.equal(extractNumericAnswer("\\boxed{\\frac{1}{2}}"), "0.5");
    assert.equal(extractNumericAnswer("She earns $18 per day, 2 days."), "2");
    assert.equal(extractNumericAnswer("The answer is $1,080.50 in total"), "1080.5");
    assert.equal(extractNumericAnswer("Answer: 42 apples\nChecked with 3 steps"), "42");
    assert.equal(extractNumericAnswer("<think>answer: 5</think>7 cm"), "7");
    assert.equal(extractNumericAnswer("no digits"), null);
    assert.ok(gradeNumber("18.0", "18").correct);
    assert.ok(!gradeNumber("19", "18").correct);
    assert.equal(gradeAnswer("Total is 7.", { kind: "number", value: "7" }).correct, true);
  });
});

describe("text and instruction induction", () => {
  test("normalisation and exact grading", () => {
    assert.equal(normalizeText("  The  Quick, brown fox! "), "quick brown fox");
    assert.ok(gradeExact("the Paris.", "paris").correct);
    assert.ok(!gradeExact("London", "Paris").correct);
    assert.equal(gradeExact("", "Paris").error, "empty answer");
  });
  test("token F1 (SQuAD definition)", () => {
    assert.equal(tokenF1("a b c", "a b c"), 1);
    assert.equal(tokenF1("x", "y"), 0);
    // pred: write opposite word (3), ref: write opposite of input word (5 tokens; "the" removed): common 3
    const f = tokenF1("write the opposite word", "write the opposite of the input word");
    assert.ok(Math.abs(f - (2 * 1 * 0.6) / 1.6) < 1e-12);
  });
  test("induction: match against any annotation, best F1", () => {
    const alts = ["Write an antonym of the following word:", "output the opposite of"];
    const exact = gradeInduction("Output the opposite of.", alts);
    assert.ok(exact.correct);
    assert.equal(exact.f1, 1);
    const partial = gradeInduction("Write an antonym", alts);
    assert.ok(!partial.correct);
    assert.ok(partial.f1 > 0.5 && partial.f1 < 1);
    const viaEntry = gradeAnswer("<think>hmm</think>output the opposite of", { kind: "free", value: alts[0], alternatives: alts });
    assert.ok(viaEntry.correct);
  });
  test("control characters never survive into an answer", () => {
    const g = gradeInduction("write\u001b[31m red", ["write red"]);
    assert.ok(!g.answer.includes("\u001b"));
  });
});
