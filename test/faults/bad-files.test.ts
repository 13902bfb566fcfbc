// Bad files: datasets with missing columns, wrong types, bad encodings, quoting traps, a 100 MB
// row and empty files; saved files (sessions, results, recordings, experiment specs, models
// files, settings) truncated, of another schema version, or fuzzed. Each must give a clear
// one-line error naming the file (and the place where there is one), never a crash, and never
// a partial overwrite of a good file.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { UserError } from "../../src/errors.js";
import { loadAllProblems, RowError } from "../../src/problems/index.js";
import { appendResults, parseResultsText, readResults } from "../../src/results/store.js";
import { resultKey, type ResultRecord } from "../../src/results/schema.js";
import { loadRecording, parseRecording } from "../../src/backends/replay.js";
import { Recorder } from "../../src/backends/recorder.js";
import { createAutosaver, loadSession, writeSession, type SessionFile } from "../../src/state/sessions.js";
import type { SessionSnapshot } from "../../src/state/store.js";
import { loadExperimentSpec } from "../../src/engine/experiment.js";
import { loadModelsConfig, loadModelsFile } from "../../src/config/models.js";
import { openSettings } from "../../src/config/settings.js";
import { mutate, type MutationKind } from "../fixtures/faults/mutate.js";
import { oneLineProblem, seeded, trackRejections } from "../fixtures/faults/harness.js";

const rejections = trackRejections();
const root = mkdtempSync(join(tmpdir(), "concord-badfiles-"));
after(async () => {
  rmSync(root, { recursive: true, force: true });
  await new Promise((r) => setTimeout(r, 20));
  rejections.dispose();
  assert.deepEqual(rejections.list.map(String), [], "no unhandled rejection");
});

/** Counts for docs/FAULTS.md, per loader. */
const counts: Record<string, { tried: number; loaded: number; clearError: number; crashed: number; noPlace: number; lost: number; rawControls: number }> = {};
const crashes: string[] = [];
const noPlaceSamples: Record<string, string[]> = {};
const count = (loader: string) => (counts[loader] ??= { tried: 0, loaded: 0, clearError: 0, crashed: 0, noPlace: 0, lost: 0, rawControls: 0 });

/** A clear error: a UserError (ConfigError is one), one line, naming the file. */
function judgeError(loader: string, err: unknown, file: string, what: string): "clear" | "crash" {
  const c = count(loader);
  const raw = err instanceof Error ? err.message : String(err);
  // Messages may quote the file's own bytes; printers pass them through oneLine(), which turns
  // controls into spaces. Counted, and judged as the user sees them.
  if (/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(raw)) c.rawControls++;
  const msg = raw.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, " ");
  const problem = !(err instanceof UserError)
    ? `${(err as Error)?.name ?? typeof err} instead of a UserError`
    : (oneLineProblem(msg) ?? (msg.includes(basename(file)) ? null : "does not name the file"));
  if (problem) {
    c.crashed++;
    if (crashes.length < 40) crashes.push(`${loader} [${what}]: ${problem}: ${msg.slice(0, 160)}`);
    return "crash";
  }
  c.clearError++;
  // The place: a line, row, column or field path after the file name.
  const after = msg.slice(msg.indexOf(basename(file)) + basename(file).length);
  // Files with nothing in them, or a problem at their very end or header, have no finer place.
  const place = /^:\d|line \d|row \d|column \d|position \d|end of JSON|file is empty|missing column|^: [\w.[\]]+:|field |^: \(top level\)|^: [a-z]+(\.|\[|:)/;
  if (!place.test(after)) {
    c.noPlace++;
    if ((noPlaceSamples[loader] ??= []).length < 4) noPlaceSamples[loader].push(msg.replace(root, "<tmp>").slice(0, 200));
  }
  return "clear";
}

function write(name: string, content: string | Buffer): string {
  const file = join(root, name);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, content);
  return file;
}

// ------------------------------------------------------------------ datasets

interface DatasetCase {
  name: string;
  content: string | Buffer;
  /** "throws": the file is unusable; a number: that many problems load (bad rows reported). */
  expect: "throws" | number;
  format?: "medcalc";
  /** A known defect, reported in docs/FAULTS.md; the case still runs. */
  todo?: string;
  /** Also acceptable: a clear error for the whole file (small files are decoded in one piece). */
  orThrows?: boolean;
  /** What the error (or the first row error) must mention. */
  mentions?: RegExp;
}

const MEDCALC_HEADER =
  "Row Number,Calculator ID,Calculator Name,Category,Output Type,Note ID,Note Type,Patient Note,Question,Ground Truth Answer,Lower Limit,Upper Limit";
const medRow = (n: number, note: string, answer = "12", lower = "11", upper = "13") =>
  `${n},2,BMI,physical,decimal,${n},extracted,"${note}",What is the BMI?,${answer},${lower},${upper}`;

const DATASETS: DatasetCase[] = [
  { name: "empty.csv", content: "", expect: "throws", mentions: /empty/ },
  { name: "empty.jsonl", content: "", expect: "throws", mentions: /empty/ },
  { name: "blank-lines.jsonl", content: "\n\n  \n", expect: "throws", mentions: /empty|no records/ },
  { name: "header-only.csv", content: "question,answer\n", expect: 0 },
  {
    name: "medcalc-missing-note.csv",
    format: "medcalc",
    content: MEDCALC_HEADER.replace("Patient Note,", "") + "\n1,2,BMI,physical,decimal,1,extracted,What?,12,11,13\n",
    expect: "throws",
    mentions: /Patient Note/,
  },
  { name: "generic-no-answer-column.csv", content: "id,question,notes\n1,What?,none\n", expect: "throws", mentions: /no answer field/ },
  {
    name: "gsm8k-missing-answer.jsonl",
    content: '{"question": "Q1?", "answer": "so #### 4"}\n{"question": "Q2?"}\n{"question": "Q3?", "answer": "#### 7"}\n',
    expect: 2,
    mentions: /line 2.*answer/,
  },
  {
    name: "gsm8k-wrong-types.jsonl",
    content:
      '{"question": "Q1?", "answer": "#### 4"}\n{"question": 12, "answer": "#### 5"}\n{"question": "Q3?", "answer": ["#### 7"]}\n{"question": null, "answer": "#### 1"}\n{"question": "Q5?", "answer": "#### x"}\n',
    expect: 1,
    mentions: /line 2.*question/,
  },
  {
    name: "generic-wrong-types.jsonl",
    content:
      '{"id": "a", "question": "Q?", "answer": "1"}\n{"id": {"x": 1}, "question": "Q?", "answer": "2"}\n{"id": "c", "question": {"text": "Q?"}, "answer": "3"}\n{"id": "d", "question": "Q?", "answer": null}\n[1, 2, 3]\n"just a string"\n',
    expect: 1,
    mentions: /line 2/,
  },
  {
    name: "generic-dup-ids.jsonl",
    content: '{"id": "a", "question": "Q?", "answer": "1"}\n{"id": "a", "question": "Q2?", "answer": "2"}\n',
    expect: 1,
    mentions: /repeats id/,
  },
  {
    name: "medcalc-bad-limits.csv",
    content: `${MEDCALC_HEADER}\n${medRow(1, "ok note")}\n${medRow(2, "note two", "12", "abc", "13")}\n${medRow(3, "note three", "")}\n`,
    expect: 1,
    mentions: /row 2/,
  },
  {
    name: "invalid-utf8-header.csv",
    content: Buffer.concat([Buffer.from("quest"), Buffer.from([0xff, 0xfe]), Buffer.from("ion,answer\nQ?,1\n")]),
    expect: "throws",
    mentions: /UTF-8/,
  },
  {
    name: "invalid-utf8-row.jsonl",
    content: Buffer.concat([
      Buffer.from('{"question": "Q1?", "answer": "1"}\n{"question": "Q'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('?", "answer": "2"}\n'),
    ]),
    expect: 1,
    orThrows: true,
    mentions: /line 2.*UTF-8/,
  },
  {
    name: "invalid-utf8-row.csv",
    content: Buffer.concat([Buffer.from("question,answer\nQ1?,1\nQ"), Buffer.from([0xe2, 0x82]), Buffer.from("?,2\n")]),
    expect: 1,
    orThrows: true,
    mentions: /line 3.*UTF-8/,
  },
  {
    name: "utf16le-bom.csv",
    content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("question,answer\nQ?,1\n", "utf16le")]),
    expect: "throws",
    mentions: /UTF-8|UTF-16/,
  },
  {
    name: "utf16be-bom.jsonl",
    content: Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('{"question":"Q?","answer":"1"}\n', "utf16le").swap16()]),
    expect: "throws",
    mentions: /UTF-8|UTF-16/,
  },
  { name: "utf8-bom-crlf.csv", content: "\ufeffquestion,answer\r\nQ1?,1\r\nQ2?,2\r\n", expect: 2 },
  // An unclosed quote swallows the rest of the file (that is what it means); the rows before load.
  { name: "unclosed-quote.csv", content: 'question,answer\nQ1?,1\n"Q2 never closed,2\nQ3?,3\n', expect: 1, mentions: /never closed/ },
  { name: "quote-mid-field.csv", content: 'question,answer\nQ1?,1\nQ"2"?,2\nQ3?,3\n', expect: 2, mentions: /quote/ },
  // Only row 2 is bad: rows 1, 3 and 4 must load.
  { name: "text-after-quote.csv", content: 'question,answer\nQ1?,1\n"Q2"x,2\nQ3?,3\nQ4?,4\n', expect: 3, mentions: /row 2 .*closing quote/ },
  { name: "embedded-newlines.csv", content: 'question,answer\n"line one\nline two, with comma and ""quotes""",1\nQ2?,2\n', expect: 2 },
  { name: "nul-bytes.csv", content: "question,answer\nQ1\u0000?,1\nQ2?,2\n", expect: 2 },
  { name: "ragged-columns.csv", content: "question,answer\nQ1?,1,extra,more\nQ2?\nQ3?,3\n", expect: 1, mentions: /row 1 .*4 fields/ },
  { name: "binary.jsonl", content: Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % 256)), expect: "throws" },
  { name: "not-json.json", content: "{not json", expect: "throws", mentions: /JSON/ },
  { name: "folder-not-dataset", content: "", expect: "throws" },
];

describe("datasets: bad rows are named, bad files are one line, nothing crashes", () => {
  for (const c of DATASETS) {
    test(c.name, { todo: c.todo }, async () => {
      let file: string;
      if (c.name === "folder-not-dataset") {
        file = join(root, "folder-not-dataset");
        mkdirSync(file, { recursive: true });
      } else file = write(join("datasets", c.name), c.content);
      const loader = "dataset (loadProblems)";
      count(loader).tried++;
      let result: Awaited<ReturnType<typeof loadAllProblems>> | undefined;
      let error: unknown;
      try {
        result = await loadAllProblems(file, c.format ? { format: c.format } : {});
      } catch (err) {
        error = err;
      }
      if (c.expect === "throws") {
        assert.ok(error, `${c.name}: expected an error, loaded ${result?.problems.length} problems`);
        assert.equal(judgeError(loader, error, file, c.name), "clear", crashes[crashes.length - 1]);
        if (c.mentions) assert.match((error as Error).message, c.mentions);
        return;
      }
      if (error && c.orThrows) {
        assert.equal(judgeError(loader, error, file, c.name), "clear", crashes[crashes.length - 1]);
        if (c.mentions) assert.match((error as Error).message, c.mentions);
        return;
      }
      assert.equal(error, undefined, `${c.name}: ${String(error)}`);
      count(loader).loaded++;
      assert.equal(result!.problems.length, c.expect, `${c.name}: problems loaded; errors: ${result!.errors.map((e) => e.message).join(" / ")}`);
      for (const e of result!.errors) {
        assert.ok(e instanceof RowError);
        assert.equal(oneLineProblem(e.message), null, e.message);
        assert.ok(e.message.startsWith(basename(file)), `names the file: ${e.message}`);
      }
      if (c.mentions)
        assert.ok(
          result!.errors.some((e) => c.mentions!.test(e.message)),
          `${c.name}: ${result!.errors.map((e) => e.message).join(" / ")}`,
        );
      for (const p of result!.problems) assert.ok(!p.messages.some((m) => m.content.includes("\ufffd")), "no silently replaced characters");
    });
  }

  test("a 100 MB row loads (or is refused in one line) within 60 s, in JSON Lines and CSV", async () => {
    const big = "x".repeat(100 * 1024 * 1024);
    const jsonl = write(
      "big/big.jsonl",
      `{"question": "small?", "answer": "1"}\n{"question": "${big}", "answer": "2"}\n{"question": "after?", "answer": "3"}\n`,
    );
    const csv = write("big/big.csv", `question,answer\nsmall?,1\n"${big}",2\nafter?,3\n`);
    const outcomes: string[] = [];
    for (const file of [csv, jsonl]) {
      const r = await loadInChild(file, 60_000);
      rmSync(file);
      count("dataset (loadProblems)").tried++;
      outcomes.push(
        `${basename(file)}: ${r.timedOut ? "still loading after 15 s (killed)" : r.ok ? `${r.count} problems in ${r.ms} ms, rss ${r.rssMB} MB` : `error in ${r.ms} ms: ${r.error}`}`,
      );
    }
    figures.push(`100 MB row: ${outcomes.join("; ")}`);
    for (const o of outcomes) assert.ok(!/killed|error/.test(o) || /error in \d+ ms: [^\n]+$/.test(o), o);
    assert.ok(
      outcomes.every((o) => !/killed/.test(o)),
      outcomes.join("; "),
    );
  });
});

const figures: string[] = [];

function loadInChild(file: string, ms: number): Promise<{ timedOut: boolean; ok?: boolean; ms?: number; count?: number; rssMB?: number; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/faults/load-child.ts", file], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, ms);
    child.on("close", () => {
      clearTimeout(timer);
      if (timedOut) return resolve({ timedOut });
      try {
        resolve({ timedOut, ...JSON.parse(out) });
      } catch {
        resolve({ timedOut, ok: false, error: `child crashed: ${out.slice(0, 200)}` });
      }
    });
  });
}

// ------------------------------------------------------------------ saved files: seeds

const problem = {
  id: "demo-1",
  source: "demo",
  messages: [{ role: "user" as const, content: "Tom has 3 apples and buys 4 more. How many?" }],
  reference: { kind: "number" as const, value: "7" },
  meta: { question: "Tom has 3 apples" },
};

function sessionSeed(): SessionFile {
  const cand = (id: string, text: string) => ({
    id,
    generator: id.split("#")[0],
    sampleIndex: 0,
    text,
    raw: text,
    tokens: [{ token: text.slice(0, 3), logprob: -0.5 }],
    scores: [{ evaluator: "judge", meanNll: 1.2, perplexity: 3.3, tokens: [{ token: "x", logprob: -1.2 }] }],
    meanPerplexity: 3.3,
    endOfThought: false,
  });
  return {
    schema: 1,
    id: "demo-1-20260101",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:01:00.000Z",
    problem,
    roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2"], models: { alpha: "a.gguf" } },
    chain: {
      sentences: [
        {
          text: "Three plus four.",
          author: "alpha",
          decision: "evaluator",
          candidates: [cand("alpha#0", "Three plus four."), cand("beta#0", "Add them.")],
          evaluatorPick: "alpha#0",
          acceptedId: "alpha#0",
          at: "2026-01-01T00:00:30.000Z",
        },
        { text: "That is seven.", author: "human", decision: "human-written", candidates: [], at: "2026-01-01T00:00:40.000Z" },
      ],
      finished: false,
    },
    targets: {
      answers: [{ target: "t1", chainLength: 2, raw: "7", grade: { answer: "7", correct: true } }],
      consistency: [
        { chainLength: 2, pairs: { "t1|t2": true }, consistency: 1, accuracy: 1, split: { consistentCorrect: 1, consistentWrong: 0, inconsistent: 0 } },
      ],
    },
  };
}

function resultSeed(i: number): ResultRecord {
  return {
    schema: 1,
    experiment: "fuzz",
    condition: i % 2 ? { kind: "transfer", source: "src", variant: "full" } : { kind: "empty", variant: "full" },
    target: `t${i % 3}`,
    problemId: `demo-${i}`,
    dataset: "demo",
    reference: { kind: "number", value: String(i) },
    answerRaw: `The answer is ${i}.`,
    answer: String(i),
    correct: true,
    cot: "Think. Then answer.",
    meta: { answerMs: 12, closed: true, note: null },
  };
}

const RECORDING =
  [
    { schema: 1, kind: "concord-recording", created: "2026-01-01T00:00:00.000Z", source: "fuzz" },
    {
      type: "stream",
      backend: "m",
      at: "2026-01-01T00:00:01.000Z",
      request: { prompt: { kind: "chat", messages: [{ role: "user", content: "Hi" }], assistantPrefix: "<think>" }, maxTokens: 8, temperature: 0 },
      chunks: [
        { t: 0, text: "Hel", tokens: [{ token: "Hel", logprob: -0.5 }] },
        { t: 3, channel: "reasoning", text: "lo." },
      ],
      result: { text: "Hel", reasoning: "lo.", finishReason: "stop" },
    },
    {
      type: "score",
      backend: "m",
      request: { prefix: { kind: "raw", text: "Once" }, candidates: [" upon", " a"] },
      result: { candidates: [{ tokens: [{ token: " upon", logprob: -1.2 }] }, { tokens: [{ token: " a", logprob: -2 }] }], evaluatedTokens: 3 },
    },
    { type: "probe", backend: "m", result: { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["ok"] } },
    {
      type: "stream",
      backend: "m",
      problem: "demo-1",
      request: { prompt: { kind: "raw", text: "Once upon" }, maxTokens: 4 },
      chunks: [],
      error: 'model "m": HTTP 500',
    },
  ]
    .map((l) => JSON.stringify(l))
    .join("\n") + "\n";

const SPEC_JSON = JSON.stringify(
  {
    name: "fuzz",
    problems: { set: "builtin", sample: 2, seed: 1 },
    conditions: [
      "empty",
      { kind: "transfer", source: "a", variants: ["full", "without-answer"] },
      { kind: "ensemble", generators: ["a", "b"], evaluators: ["c"], k: 2 },
    ],
    targets: ["a", "b"],
    sanitizer: "rules",
    cot: { maxTokens: 64 },
    out: "results",
  },
  null,
  2,
);
const SPEC_YAML = `name: fuzz
problems: {set: builtin, sample: 2, seed: 1}
conditions:
  - empty
  - {kind: transfer, source: a, variants: [full, without-answer]}
  - kind: ensemble
    generators: [a, b]
    evaluators: [c]
    k: 2
targets: [a, b]
sanitizer: rules
cot: {maxTokens: 64}
out: results
`;
const MODELS_YAML = `models:
  - name: a
    backend: openai
    baseURL: http://127.0.0.1:9/v1
    model: qwen
    apiKeyEnv: FUZZ_KEY
    flavor: vllm
    sampling: {temperature: 0.6, topK: 20}
  - {name: b, backend: local, model: stories, path: /tmp/x.gguf, thinkingFormat: think-tags}
roles:
  generators: [a, b]
  evaluators: [b]
  targets: [a]
`;
const MODELS_JSON = JSON.stringify({
  models: {
    a: { backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: "qwen", apiKeyEnv: "FUZZ_KEY" },
    b: { backend: "local", model: "stories", path: "/tmp/x.gguf" },
  },
  roles: { generators: ["a"], evaluators: ["b"], targets: ["a", "b"] },
});
const SETTINGS_JSON = JSON.stringify({
  version: 1,
  profiles: [{ name: "a", backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: "qwen", apiKeyEnv: "FUZZ_KEY" }],
  roles: { generators: ["a"], evaluators: ["a"], targets: ["a"], continuers: [] },
  theme: "dark",
  keys: { undo: "u" },
  probes: {},
});

interface SavedKind {
  loader: string;
  name: string;
  seed: Buffer;
  json?: boolean;
  jsonl?: boolean;
  /** Load the file; return normally when it loaded (the value is checked by `check`). */
  load(file: string): Promise<unknown>;
  /** Extra checks on a successful load of a mutated file (nothing outside the damage lost). */
  check?(value: unknown, m: ReturnType<typeof mutate>, file: string): string | null;
}

const RESULTS_TEXT = Array.from({ length: 8 }, (_, i) => JSON.stringify(resultSeed(i))).join("\n") + "\n";
const resultLines = RESULTS_TEXT.split("\n").filter(Boolean);

const KINDS: SavedKind[] = [
  { loader: "session (loadSession)", name: "s.json", seed: Buffer.from(JSON.stringify(sessionSeed(), null, 2)), json: true, load: (f) => loadSession(f) },
  {
    loader: "results (readResults)",
    name: "results.jsonl",
    seed: Buffer.from(RESULTS_TEXT),
    jsonl: true,
    load: async (f) => readResults(join(f, "..")),
    check: (value, m) => {
      const r = value as Awaited<ReturnType<typeof readResults>>;
      for (const i of r.issues) {
        const p = oneLineProblem(`${i.file}:${i.line}: ${i.message}`);
        if (p || !/results\.jsonl$/.test(i.file) || !(i.line >= 1)) return `issue not one clear line: ${JSON.stringify(i)}`;
      }
      // Lines the damage did not touch must all still be read.
      let offset = 0;
      const untouched = resultLines.filter((l) => {
        const start = offset;
        offset += Buffer.byteLength(l) + 1;
        return m.kind !== "swap-lines" && (offset - 1 < m.from || start > m.to);
      });
      const keys = new Set(r.records.map(resultKey));
      const lost = untouched.filter((l) => !keys.has(resultKey(JSON.parse(l)))).length;
      return lost ? `${lost} untouched record(s) lost` : null;
    },
  },
  { loader: "recording (loadRecording)", name: "rec.jsonl", seed: Buffer.from(RECORDING), jsonl: true, load: (f) => loadRecording(f) },
  { loader: "experiment spec (loadExperimentSpec)", name: "spec.json", seed: Buffer.from(SPEC_JSON), json: true, load: (f) => loadExperimentSpec(f) },
  { loader: "experiment spec (loadExperimentSpec)", name: "spec.yaml", seed: Buffer.from(SPEC_YAML), load: (f) => loadExperimentSpec(f) },
  { loader: "models file (loadModelsFile)", name: "models.yaml", seed: Buffer.from(MODELS_YAML), load: async (f) => loadModelsFile(f) },
  { loader: "models file (loadModelsFile)", name: "models.json", seed: Buffer.from(MODELS_JSON), json: true, load: async (f) => loadModelsFile(f) },
  {
    loader: "settings (conf + loadModelsConfig)",
    name: "config.json",
    seed: Buffer.from(SETTINGS_JSON),
    json: true,
    load: async (f) => loadModelsConfig({ settings: openSettings({ cwd: join(f, ".."), env: {} }), env: {} }),
  },
];

const MUTATIONS_PER_KIND = 160;

describe("saved files: truncated, other schema versions, fuzzed", () => {
  test("every seed file loads as it is (the fuzz starts from good files)", async () => {
    for (const k of KINDS) {
      const dir = mkdtempSync(join(root, "seed-"));
      await k.load(write(join(basename(dir), k.name), k.seed));
    }
    assert.equal(parseRecording(RECORDING, "r").exchanges.length, 4);
  });

  test("another schema version is refused in one line naming the file and the version", async () => {
    const cases: Array<[string, string, (f: string) => Promise<unknown>, RegExp]> = [
      ["session v4", JSON.stringify({ ...sessionSeed(), schema: 4 }), loadSession, /schema 4 .*expected schema 1, 2 or 3/],
      ["recording v2", RECORDING.replace('"schema":1', '"schema":2'), loadRecording, /:1: .*schema/],
      ["spec with a version field", SPEC_JSON.replace('"name"', '"version": 2, "name"'), loadExperimentSpec, /version|unrecognized|Unrecognized/],
      ["models file v2", MODELS_YAML.replace("models:", "version: 2\nmodels:"), async (f) => loadModelsFile(f), /version: unknown field/],
    ];
    for (const [what, text, load, re] of cases) {
      const file = write(`versions/${what.replace(/ /g, "-")}${what.startsWith("spec") ? ".json" : what.startsWith("models") ? ".yaml" : ".json"}`, text);
      count("schema versions").tried++;
      const err = await load(file).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err, `${what}: refused`);
      assert.equal(judgeError("schema versions", err, file, what), "clear", crashes[crashes.length - 1]);
      assert.match((err as Error).message, re);
    }
    const r = parseResultsText(JSON.stringify({ ...resultSeed(1), schema: 2 }) + "\n" + resultLines[0] + "\n", "results.jsonl");
    assert.equal(r.records.length, 1, "the other line still loads");
    assert.match(`${r.issues[0].file}:${r.issues[0].line}: ${r.issues[0].message}`, /^results\.jsonl:1: field schema/);
  });

  test("truncated at 40 points each: one clear line (or a valid prefix), never a crash", async () => {
    for (const k of KINDS) {
      for (let i = 1; i <= 40; i++) {
        const cut = Math.floor((k.seed.length * i) / 41);
        const dir = mkdtempSync(join(root, "cut-"));
        const file = write(join(basename(dir), k.name), k.seed.subarray(0, cut));
        const c = count(k.loader);
        c.tried++;
        try {
          const v = await k.load(file);
          c.loaded++;
          const why = k.check?.(v, { kind: "truncate", bytes: k.seed.subarray(0, cut), from: cut, to: k.seed.length }, file);
          if (why) {
            c.lost++;
            crashes.push(`${k.loader} [truncate@${cut}]: ${why}`);
          }
        } catch (err) {
          judgeError(k.loader, err, file, `truncate@${cut}`);
        }
      }
    }
    assert.deepEqual(
      crashes.filter((c) => c.includes("truncate")),
      [],
    );
  });

  test(`fuzzed: ${MUTATIONS_PER_KIND} seeded mutations per file kind (${MUTATIONS_PER_KIND * KINDS.length} in all)`, async () => {
    const before = crashes.length;
    const byKind: Partial<Record<MutationKind, number>> = {};
    for (const [ki, k] of KINDS.entries()) {
      const rnd = seeded(1000 + ki);
      for (let i = 0; i < MUTATIONS_PER_KIND; i++) {
        const m = mutate(k.seed, rnd, { json: k.json, jsonl: k.jsonl });
        byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
        const dir = mkdtempSync(join(root, "fz-"));
        const file = write(join(basename(dir), k.name), m.bytes);
        const c = count(k.loader);
        c.tried++;
        try {
          const v = await k.load(file);
          c.loaded++;
          const why = k.check?.(v, m, file);
          if (why) {
            c.lost++;
            crashes.push(`${k.loader} [seed ${1000 + ki} #${i} ${m.kind}]: ${why}`);
          }
        } catch (err) {
          judgeError(k.loader, err, file, `seed ${1000 + ki} #${i} ${m.kind}`);
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }
    figures.push(
      `mutations by kind: ${Object.entries(byKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
    );
    assert.deepEqual(crashes.slice(before), [], "every damaged file gives a clear one-line error naming it, or loads without losing untouched data");
  });
});

// ------------------------------------------------------------------ never a partial overwrite

describe("a bad write never replaces or half-changes a good file", () => {
  test("writeSession with an invalid session leaves the good file byte for byte", async () => {
    const file = join(root, "keep", "s.json");
    await writeSession(file, sessionSeed());
    const good = readFileSync(file);
    const bad = { ...sessionSeed(), chain: { sentences: [{ text: 1 }], finished: false } } as unknown as SessionFile;
    await assert.rejects(writeSession(file, bad), (e: unknown) => e instanceof UserError && oneLineProblem((e as Error).message) === null);
    assert.deepEqual(readFileSync(file), good);
    // The autosaver reports the failure and keeps the last good file too.
    const saver = createAutosaver(join(root, "keep"));
    const s = sessionSeed();
    const snap = {
      info: { id: s.id, file, createdAt: s.createdAt },
      problem: { ...s.problem, id: "" },
      roles: s.roles,
      chain: s.chain,
      targets: s.targets,
    } as SessionSnapshot;
    await assert.rejects(saver.save(snap));
    assert.deepEqual(readFileSync(file), good);
    assert.ok(loadSession(file));
  });

  test("appendResults with one invalid record in a batch writes none of the batch", async (t) => {
    const dir = join(root, "append");
    await appendResults(dir, [resultSeed(1)]);
    const good = readFileSync(join(dir, "results.jsonl"));
    const bad = { ...resultSeed(3), target: "" } as ResultRecord;
    await assert.rejects(appendResults(dir, [resultSeed(2), bad]));
    const now = readFileSync(join(dir, "results.jsonl"));
    if (!now.equals(good)) t.diagnostic(`the batch was half written: ${now.length - good.length} bytes appended before the bad record was refused`);
    assert.deepEqual(now.toString(), good.toString(), "all or nothing: a batch with a bad record must not be half appended");
  });

  test("a recorder pointed at a file that is not a recording refuses and leaves it alone", async () => {
    const file = write("rec/notes.jsonl", "my own notes\nline two\n");
    const rec = new Recorder(file);
    await rec.append({
      type: "probe",
      backend: "m",
      result: { streaming: true, tokenLogprobs: false, promptScoring: false, prefill: false, reasoningField: null, notes: [] },
    });
    await assert.rejects(rec.flush(), (e: unknown) => oneLineProblem((e as Error).message) === null && (e as Error).message.includes("notes.jsonl:1"));
    assert.equal(readFileSync(file, "utf8"), "my own notes\nline two\n");
  });

  test("a damaged settings file is reported in one line; opening it never drops what the user had", async () => {
    const rnd = seeded(77);
    const inputs: Buffer[] = [Buffer.from("null"), Buffer.from("[]"), Buffer.from('"x"'), Buffer.from("42"), Buffer.from("{"), Buffer.from("")];
    for (let i = 0; i < 60; i++) inputs.push(mutate(Buffer.from(SETTINGS_JSON), rnd, { json: true }).bytes);
    let changed = 0;
    let droppedKeys = 0;
    let replacedNonObject = 0;
    const unclear: string[] = [];
    for (const bytes of inputs) {
      const dir = mkdtempSync(join(root, "cfg-"));
      const file = write(join(basename(dir), "config.json"), bytes);
      try {
        loadModelsConfig({ settings: openSettings({ cwd: dir, env: {} }), env: {} });
      } catch (err) {
        const p = err instanceof UserError ? oneLineProblem((err as Error).message.replace(/[\u0000-\u001f]/g, " ")) : `${(err as Error).name}`;
        if (p) unclear.push(`${p}: ${(err as Error).message.slice(0, 120)}`);
      }
      const now = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
      if (now.equals(bytes)) continue;
      changed++;
      // conf adds missing default keys when it opens a file; every key the user had must stay.
      let old: unknown;
      try {
        old = JSON.parse(bytes.toString());
      } catch {
        old = undefined;
      }
      const fresh = JSON.parse(now.toString()) as Record<string, unknown>;
      if (old && typeof old === "object" && !Array.isArray(old)) {
        for (const [k, v] of Object.entries(old)) if (JSON.stringify(fresh[k]) !== JSON.stringify(v)) droppedKeys++;
      } else replacedNonObject++; // null, [], "x", 42: nothing a user wrote there is lost
    }
    figures.push(
      `settings: ${inputs.length} damaged config.json files, rewritten on open (default keys added): ${changed}, of which non-object files replaced by defaults: ${replacedNonObject}, user keys dropped: ${droppedKeys}, unclear errors: ${unclear.length}`,
    );
    assert.deepEqual(unclear, []);
    assert.equal(droppedKeys, 0, "opening settings rewrote the file and dropped what the user had");
  });
});

after(() => {
  if (!process.env.FAULTS_TABLE) return;
  console.log("| loader | inputs tried | loaded | clear one-line error | no place named | raw control chars in message | crashed / unclear | lost data |");
  for (const [k, c] of Object.entries(counts))
    console.log(`| ${k} | ${c.tried} | ${c.loaded} | ${c.clearError} | ${c.noPlace} | ${c.rawControls} | ${c.crashed} | ${c.lost} |`);
  for (const f of figures) console.log(f);
  for (const c of crashes) console.log("CRASH", c);
  for (const [k, v] of Object.entries(noPlaceSamples)) for (const m of v) console.log("NOPLACE", k, m);
});
