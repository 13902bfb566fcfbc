import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import fc from "fast-check";
import {
  loadGenexTrace,
  paperChainText,
  parseEnsembleLog,
  parsePythonStringList,
  traceToChain,
  traceToRecording,
  wordPieces,
  type GenexTrace,
} from "../../src/backends/genex-trace.js";
import { loadRecording, parseRecording, ReplayBackend } from "../../src/backends/replay.js";
import { collect } from "../../src/backends/types.js";
import { chainText } from "../../src/core/chain.js";
import { UserError } from "../../src/errors.js";
import { importTrace, registerImportTrace } from "../../src/commands/import-trace.js";
import { needsShared } from "../support/shared.js";

const GENEX = "../shared/data/genex";
const ROWS = `${GENEX}/medcalc/ensemble_qwq_dapo_eval_oss`;
const LOG = `${GENEX}/logs/ensemble_trace_gen_qwq_oss_eval_openthinker.txt`;
const QWQ = "Qwen/QwQ-32B";
const DAPO = "BytedTsinghua-SIA/DAPO-Qwen-32B";
const OSS = "openai/gpt-oss-20b";

// The real files are read once per test file and shared by the tests below.
let logTrace: Promise<GenexTrace> | undefined;
const loadLog = () => (logTrace ??= loadGenexTrace(LOG));
let rowsTrace: Promise<GenexTrace> | undefined;
const loadRows = () => (rowsTrace ??= loadGenexTrace(ROWS));

/** Python's repr() of a str, written from the language's rules, as the reference for round trips. */
function pythonRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0)) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x2028 || cp === 0x200b) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else if (cp === 0xe0001) out += `\\U${cp.toString(16).padStart(8, "0")}`;
    else out += ch;
  }
  return out + quote;
}

describe("parsePythonStringList", () => {
  test("real escapes", () => {
    assert.deepEqual(parsePythonStringList(String.raw`['it\'s', "say \"hi\"\n", 'a\\nb', '\t\x07\u200b\U0001F600', "\101\0", 'x\qy']`), [
      "it's",
      'say "hi"\n',
      "a\\nb",
      "\t\u0007\u200b😀",
      "A\u0000",
      "x\\qy",
    ]);
    assert.deepEqual(parsePythonStringList("[]"), []);
    assert.deepEqual(parsePythonStringList(" [ 'a' , ] "), ["a"]);
    assert.deepEqual(parsePythonStringList(String.raw`['\ud83d']`), ["\ud83d"], "lone surrogates as Python keeps them");
  });

  test("bad input names the column", () => {
    const bad: Array<[string, RegExp]> = [
      ["'a'", /column 1: expected '\['/],
      ["['a'", /column 5: the list is not closed/],
      ["['a' 'b']", /column 6: expected ',' or '\]'/],
      ["[b'a']", /column 2: prefixed string literals/],
      ["['''a''']", /triple-quoted/],
      ["['a]", /string not closed/],
      [String.raw`['\x4']`, /bad \\x escape/],
      ["[1]", /expected a quoted string/],
      ["['a'] x", /unexpected text after the list/],
    ];
    for (const [src, pattern] of bad) {
      assert.throws(
        () => parsePythonStringList(src, "log.txt:7"),
        (err: unknown) => err instanceof UserError && /^log\.txt:7, column \d+: /.test(err.message) && pattern.test(err.message),
        src,
      );
    }
  });

  test("round trip through Python's repr rules", () => {
    const special = fc.constantFrom("'", '"', "\\", "\n", "\t", "\r", "\u0007", "\u00a0", "\u200b", "\u2028", "\u{e0001}", "\ud800", "é", "😀", "–");
    const text = fc.array(fc.oneof(special, fc.string({ unit: "binary", maxLength: 3 }))).map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), (list) => {
        assert.deepEqual(parsePythonStringList(`[${list.map(pythonRepr).join(", ")}]`), list);
      }),
      { numRuns: 100 },
    );
  });
});

describe("the paper's row files", { skip: needsShared("data/genex") }, () => {
  let trace: GenexTrace;
  before(async () => {
    trace = await loadRows();
  });

  test("every row file parses, with both generators' three candidates per step", () => {
    assert.equal(trace.problems.length, 100);
    assert.deepEqual(
      trace.problems.map((p) => p.index),
      [...Array(100).keys()],
    );
    assert.deepEqual(trace.generators, [QWQ, DAPO]);
    assert.equal(trace.evaluator, OSS);
    for (const p of trace.problems) {
      assert.ok(p.finished, `row ${p.index} reached </think>`);
      for (const s of p.steps) {
        assert.deepEqual(
          s.candidates.map((c) => c.generator),
          [QWQ, QWQ, QWQ, DAPO, DAPO, DAPO],
        );
        assert.ok(s.candidates.some((c) => c.generator === s.selectedGenerator && c.text === s.selectedText));
        assert.ok(s.score !== undefined && s.score > 1);
      }
    }
    assert.equal(trace.problems[1].rowNumber, "561", "Row Numbers from the sibling outputs file");
  });

  test("spot checks against the files", () => {
    const row1 = trace.problems[1];
    assert.equal(row1.steps.length, 41);
    assert.deepEqual(
      row1.steps[0].candidates.slice(0, 3).map((c) => c.text),
      ["Okay, let's tackle this question.", "Okay, let's tackle this question.", "Okay, so I need to figure out the patient's Framingham Risk"],
    );
    assert.equal(row1.steps[0].candidates[5].text, "Step by step thinking:</think>\n\n1. The Framingham Risk Score calculates");
    assert.equal(row1.steps[0].selectedGenerator, DAPO);
    assert.equal(row1.steps[0].score, 154.7288360595703);
    assert.equal(row1.steps[40].selectedText, '</think>\n\n{"step_by_step_thinking": "The patient has');
  });

  test("the chain built from the picks is the thought the paper's targets were given", async () => {
    // The outputs file holds, per item, the ensembled thought as the targets received it
    // (whitespace collapsed, cut at </think>); it was written independently of the row files.
    const lines = (await readFile(`${GENEX}/medcalc/outputs/Qwen_QwQ-32B_zero_shot_ensembled_thought_gen_qwq_dapo_eval_oss.jsonl`, "utf8"))
      .trimEnd()
      .split("\n");
    const norm = (s: string) => s.replace(/\s+/g, " ").trim();
    for (const p of trace.problems) {
      const chain = traceToChain(p, { evaluator: trace.evaluator });
      const ours = chain.sentences.map((s) => s.text).join(" ");
      assert.equal(ours, paperChainText(p));
      assert.equal(norm(chainText(chain, "paper")), norm(ours));
      const given = JSON.parse(lines[p.index])["LLM Thinking"] as string;
      assert.equal(norm(ours.split("</think>")[0]), norm(given.replaceAll("<think>", "")), `row ${p.index}`);
    }
  });

  test("the accepted chain keeps provenance", () => {
    const chain = traceToChain(trace.problems[1], { evaluator: OSS, at: "2026-01-01T00:00:00.000Z" });
    assert.equal(chain.finished, true);
    const first = chain.sentences[0];
    assert.equal(first.decision, "imported");
    assert.equal(first.author, DAPO);
    assert.equal(first.acceptedId, `${DAPO}#0`);
    assert.equal(first.evaluatorPick, first.acceptedId);
    assert.equal(first.candidates.length, 6);
    const won = first.candidates.find((c) => c.id === first.acceptedId)!;
    assert.equal(won.text, first.text);
    assert.equal(won.scores[0].perplexity, 154.7288360595703);
    assert.ok(Math.abs(Math.exp(won.scores[0].meanNll) - 154.7288360595703) < 1e-9);
    assert.equal(first.candidates.filter((c) => c.scores.length > 0).length, 1, "only the winner's score was kept");
    assert.equal(first.candidates[5].endOfThought, true);
  });

  test("a broken row file is a one-line error naming the file and field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "concord-genex-"));
    try {
      const f = join(dir, "selected_distributions_row_3.json");
      await writeFile(f, JSON.stringify([{ iteration: 0, all_candidates: { a: ["x"] }, selected_candidate: "x", selected_model_index: "a", score: "high" }]));
      await assert.rejects(loadGenexTrace(f), (e: unknown) => e instanceof UserError && e.message.startsWith(`${f}: 0.score: `));
      await writeFile(f, JSON.stringify([{ iteration: 0, all_candidates: { a: ["x"] }, selected_candidate: "y", selected_model_index: "a", score: 2 }]));
      await assert.rejects(loadGenexTrace(f), /iteration 0: the selected candidate is not among a's candidates/);
      await writeFile(f, "[{");
      await assert.rejects(loadGenexTrace(f), /selected_distributions_row_3\.json: not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the paper's ensemble console log", { skip: needsShared("data/genex") }, () => {
  let trace: GenexTrace;
  before(async () => {
    trace = await loadLog();
  });

  test("78 problems, the last one cut off", () => {
    assert.equal(trace.format, "console-log");
    assert.equal(trace.problems.length, 78);
    assert.deepEqual(
      trace.problems.map((p) => p.finished),
      [...Array(77).fill(true), false],
    );
    assert.deepEqual(trace.generators, [QWQ, OSS]);
    assert.equal(trace.evaluator, "open-thoughts/OpenThinker-7B");
    assert.equal(trace.problems[0].steps.length, 38);
    assert.equal(trace.problems[77].steps.length, 455, "the cut-off iteration 456 is dropped");
    for (const p of trace.problems) for (const s of p.steps) assert.ok(s.seconds !== undefined && s.seconds > 0);
  });

  test("every candidate equals what Python's own parser reads from the log", () => {
    // Oracle computed once with Python's ast.literal_eval over the same CANDIDATES lines
    // (all but the cut-off last one): count, UTF-16 length and sha256 of the \0-joined texts.
    const all = trace.problems.flatMap((p) => p.steps.flatMap((s) => s.candidates.map((c) => c.text)));
    assert.equal(all.length, 17346);
    assert.equal(
      all.reduce((n, t) => n + t.length, 0),
      1515811,
    );
    assert.equal(createHash("sha256").update(all.join("\u0000"), "utf8").digest("hex"), "45afd5e370d54e9dea622517836d271e5edb743b07e705900d3f5c44ad7b4b3f");
  });

  test("spot checks of real candidates, escapes included", () => {
    const p0 = trace.problems[0];
    assert.equal(
      p0.steps[0].candidates[0].text,
      "Okay, let's tackle this HAS-BLED score calculation step by step. First, I need to recall what the HAS-BLED score stands for. HAS-BLED is a tool used to predict",
    );
    assert.equal(p0.steps[0].candidates[5].text, "analysisWe need HAS-BLED score.");
    assert.equal(p0.steps[0].seconds, 4.06);
    assert.equal(
      p0.steps[2].selectedText,
      "The components are:\n\nH – Hypertension (uncontrolled)\nA – Abnormal renal/liver function\nS – Stroke (prior stroke)\nB – Bleeding history\nL – Labile IN",
    );
    assert.equal(p0.steps[2].selectedGenerator, QWQ);
    assert.ok(
      p0.steps[10].candidates[1].text.startsWith(
        "Looking at the patient's note: \n\nFirst, let's go through each component:\n\nH (Hypertension uncontrolled): The note says \"",
      ),
    );
    assert.ok(p0.steps[35].candidates[3].text.includes("age\u202f>\u202f65"));
    assert.ok(p0.steps[35].candidates[5].text.includes("age\u00a0>65\u00a0years"));
    assert.ok(trace.problems[2].steps[43].candidates[5].text.includes("system, for the oxygenation component, the following points are used:\\n\\nPaO2/FiO2"));
    assert.ok(p0.steps[37].selectedText.includes("</think>"));
  });

  test("log format errors name the line", () => {
    const block = (sel: string) => `MODEL: A\nCANDIDATES: ['x', 'y']\n\n🔹 Selected: ${sel}\n⏱️ Iteration 1 completed in 1.5 seconds.\n`;
    const ok = parseEnsembleLog(block("y"), "t.txt");
    assert.equal(ok.problems[0].steps[0].selectedText, "y");
    assert.equal(ok.problems[0].finished, false);
    assert.throws(() => parseEnsembleLog(block("z"), "t.txt"), /t\.txt:5: the selected text of iteration 1 is not one of its candidates$/);
    assert.throws(() => parseEnsembleLog("MODEL: A\nCANDIDATES: ['x', \n", "t.txt"), /t\.txt:2, column \d+: /);
    assert.throws(() => parseEnsembleLog(block("x").replace("Iteration 1", "Iteration 4"), "t.txt"), /t\.txt:5: iteration 4 completed, expected iteration 1/);
    assert.throws(() => parseEnsembleLog("hello\n", "t.txt"), /t\.txt: no ensemble iterations found/);
  });

  test("the selection summary says who wrote a text both generators wrote", () => {
    const log =
      "MODEL: A\nCANDIDATES: ['same', 'a']\n\nMODEL: B\nCANDIDATES: ['same', 'b']\n\n🔹 Selected: same\n⏱️ Iteration 1 completed in 1.0 seconds.\n\n" +
      "✅ Reached end of thought.\n🔍 Iteration-wise Selection Summary:\nIteration 0: Model B -> same\n✅ Done. Row-wise output saved to: x.csv\n";
    assert.equal(parseEnsembleLog(log, "t.txt").problems[0].steps[0].selectedGenerator, "B");
    assert.throws(
      () => parseEnsembleLog(log.replace("Model B -> same", "Model B -> other"), "t.txt"),
      /t\.txt:11: selection summary for iteration 0 does not match/,
    );
  });
});

describe("as a recording", () => {
  test("word pieces put the text back together", () => {
    fc.assert(fc.property(fc.string(), (s) => assert.equal(wordPieces(s).join(""), s)));
    assert.deepEqual(wordPieces("  a b\n\nc "), ["  ", "a ", "b\n\n", "c "]);
  });

  test("following the recorded picks through the replay reproduces the recorded chain exactly", { skip: needsShared("data/genex") }, async () => {
    const trace = await loadRows();
    const some = { ...trace, problems: [trace.problems[1], trace.problems[7]] };
    const conversion = traceToRecording(some);
    const text = `${[conversion.header, ...conversion.exchanges].map((e) => JSON.stringify(e)).join("\n")}\n`;
    const recording = parseRecording(text, "rows.jsonl");
    for (const p of some.problems) {
      const gens = trace.generators.map((g) => new ReplayBackend(recording, { backend: g, problem: p.index, speed: "instant" }));
      const evaluator = new ReplayBackend(recording, { backend: OSS, problem: p.index, speed: "instant" });
      const messages = [{ role: "user" as const, content: "(the patient note and question)" }];
      let chain = "";
      for (let step = 0; ; step++) {
        // The chain so far goes in as an open thinking block, as an ensemble step would send it.
        const prompt = { kind: "chat" as const, messages, assistantPrefix: `<think>\n${chain}` };
        const candidates: string[] = [];
        for (const g of gens) {
          while (g.canServe({ prompt, maxTokens: 15 })) {
            const r = await collect(g.stream({ prompt, maxTokens: 15, temperature: 0.6 }));
            candidates.push(r.text);
          }
        }
        if (candidates.length === 0) break;
        assert.deepEqual(
          candidates,
          p.steps[step].candidates.map((c) => c.text),
          `problem ${p.index} step ${step}`,
        );
        const scored = candidates.filter((c) => evaluator.canScore({ prefix: prompt, candidates: [c] }));
        assert.ok(scored.length >= 1);
        const pick = scored[0];
        const {
          candidates: [s],
        } = await evaluator.score({ prefix: prompt, candidates: [pick] });
        const ppl = Math.exp(-s.tokens.reduce((n, t) => n + t.logprob, 0) / s.tokens.length);
        assert.ok(Math.abs(ppl - p.steps[step].score!) / p.steps[step].score! < 1e-9);
        chain = step === 0 ? pick : `${chain} ${pick}`;
      }
      assert.equal(chain, paperChainText(p));
      assert.equal(chain, p.steps.map((s) => s.selectedText).join(" "));
    }
  });

  test("stream timing follows the log's seconds per iteration", { skip: needsShared("data/genex") }, async () => {
    const trace = await loadLog();
    const one = { ...trace, problems: [trace.problems[3]] };
    const { exchanges } = traceToRecording(one);
    const streams = exchanges.filter((e) => e.type === "stream");
    assert.equal(streams.length, one.problems[0].steps.length * 6);
    assert.equal(exchanges.filter((e) => e.type === "score").length, 0, "the log kept no scores");
    const first = streams[0];
    assert.ok(first.type === "stream");
    assert.equal(first.chunks.at(-1)!.t, Math.round(one.problems[0].steps[0].seconds! * 1000));
    assert.equal(first.chunks.map((c) => c.text).join(""), one.problems[0].steps[0].candidates[0].text);
    const chain = traceToChain(one.problems[0], { evaluator: trace.evaluator });
    assert.equal(chain.sentences.map((s) => s.author).join(","), one.problems[0].steps.map((s) => s.selectedGenerator).join(","));
  });
});

describe("concord import trace", { skip: needsShared("data/genex") }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "concord-import-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("importTrace writes a recording the replay loads", async () => {
    const out = join(dir, "row1.jsonl");
    const summary = await importTrace(`${ROWS}/selected_distributions_row_1.json`, { out });
    assert.deepEqual(
      { problems: summary.problems, finished: summary.finished, steps: summary.steps, exchanges: summary.exchanges, evaluator: summary.evaluator },
      { problems: 1, finished: 1, steps: 41, exchanges: 41 * 7, evaluator: OSS },
    );
    const recording = await loadRecording(out);
    assert.equal(recording.header.schema, 1);
    assert.equal(recording.exchanges.length, 41 * 7);
    const replay = new ReplayBackend(recording, { backend: DAPO, speed: "instant" });
    const first = await collect(replay.stream({ prompt: { kind: "chat", messages: [], assistantPrefix: "<think>" }, maxTokens: 15 }));
    assert.equal(first.text, "To calculate the Framingham Risk Score, we typically use several factors, which");
  });

  test("the command registers under `import` and reports bad input in one line", async () => {
    const program = new Command("concord").exitOverride();
    const importCommand = program.command("import").exitOverride();
    const written: string[] = [];
    const progress: string[] = [];
    registerImportTrace(importCommand, { stdout: (s) => written.push(s), stderr: (s) => progress.push(s) });
    const out = join(dir, "row7.jsonl");
    const input = `${ROWS}/selected_distributions_row_7.json`;
    await program.parseAsync(["import", "trace", input, "--out", out, "--json"], { from: "user" });
    const summary = JSON.parse(written.join(""));
    assert.equal(summary.problems, 1);
    assert.equal(summary.generators.join(","), `${QWQ},${DAPO}`);
    assert.deepEqual(progress, [`reading ${input}\n`]);
    const recording = await loadRecording(out);
    assert.equal(recording.exchanges.filter((e) => e.type === "score").length, summary.steps);
    written.length = 0;
    await program.parseAsync(["import", "trace", input, "--out", out], { from: "user" });
    assert.match(
      written.join(""),
      /row7\.jsonl: 1 problems \(1 finished\), \d+ steps, \d+ exchanges; generators Qwen\/QwQ-32B, BytedTsinghua-SIA\/DAPO-Qwen-32B; evaluator openai\/gpt-oss-20b\n$/,
    );
    await assert.rejects(
      importTrace(join(dir, "nope"), { out }),
      (e: unknown) => e instanceof UserError && e.message === `${join(dir, "nope")}: no such file or folder`,
    );
  });
});
