// runExperiment against ScriptedBackend test doubles: records, shared chains, sanitizing,
// cancellation and resume, concurrency limits, spec validation.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExperimentSpec, parseExperimentSpec, runExperiment, type ExperimentSpec } from "../../src/engine/experiment.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { passThrough } from "../../src/backends/types.js";
import { builtinProblems } from "../../src/problems/index.js";
import { readResults } from "../../src/results/store.js";
import { resultKey } from "../../src/results/schema.js";
import { ScriptedBackend, type ScriptedBackendOptions } from "../doubles/scripted-backend.js";

const MEDCALC = join(import.meta.dirname ?? ".", "..", "..", "..", "shared", "data", "medcalc-bench", "test_data.csv");

function handle(opts: ScriptedBackendOptions): ModelHandle & { backend: ScriptedBackend } {
  return { name: opts.name, backend: new ScriptedBackend(opts), thinkingFormat: "think-tags" };
}

const isAnswerRequest = (req: { prompt: { kind: string; assistantPrefix?: string } }) =>
  req.prompt.kind === "chat" && (req.prompt.assistantPrefix ?? "").includes("</think>");

/** Writes a chain (two steps and a stated answer) or, when asked for an answer, answers 7. */
function modelDouble(name: string, delay = 0) {
  return handle({
    name,
    tokenDelayMs: delay,
    respond: (req) => (isAnswerRequest(req) ? " The answer is 7." : " First add the numbers. Then check it. So the answer is 7.</think>"),
  });
}

function spec(out: string, extra: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return parseExperimentSpec(
    {
      name: "t",
      mode: "concord",
      problems: { set: "builtin" },
      conditions: [
        "empty",
        { kind: "transfer", source: "src", variants: ["full", "without-answer"] },
        { kind: "ensemble", generators: ["src", "a"], evaluators: ["b"], k: 2, maxSentences: 4 },
      ],
      targets: ["a", "b"],
      sanitizer: "rules",
      concurrency: { global: 3, perModel: 1 },
      out,
      ...extra,
    },
    "spec",
  );
}

describe("runExperiment", () => {
  test("one record per target answer; a chain is made once and shared; without-answer drops the answer sentence", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
    const models = new Map(["src", "a", "b"].map((n) => [n, modelDouble(n)]));
    const problems = builtinProblems().slice(0, 2);
    const summary = await runExperiment(spec(out), { problems, models });
    // 2 problems x (empty 1 + transfer 2 + ensemble 1 variants) x 2 targets
    assert.equal(summary.total, 16);
    assert.equal(summary.written, 16);
    const { records, issues } = await readResults(out);
    assert.equal(issues.length, 0);
    assert.equal(records.length, 16);
    assert.equal(new Set(records.map(resultKey)).size, 16);
    const transfer = records.filter((r) => r.condition.kind === "transfer");
    const full = transfer.find((r) => r.condition.variant === "full" && r.problemId === "demo-1")!;
    const bare = transfer.find((r) => r.condition.variant === "without-answer" && r.problemId === "demo-1")!;
    assert.equal(full.cot, " First add the numbers. Then check it. So the answer is 7.");
    assert.equal(bare.cot, "First add the numbers. Then check it.");
    assert.equal(bare.meta.sanitizer, "rules");
    assert.equal(bare.meta.sanitizeMethod, "rules");
    assert.equal(full.answer, "7");
    // The source wrote one transfer chain per problem, whatever the number of targets and variants.
    const srcChains = models.get("src")!.backend.streamCalls.filter((r) => r.prompt.kind === "chat" && r.prompt.assistantPrefix === "<think>");
    assert.equal(srcChains.length, 2 + 2 * 2 /* ensemble step 1: k=2 per problem */);
    const ens = records.filter((r) => r.condition.kind === "ensemble");
    assert.deepEqual(ens[0].condition.generators, ["src", "a"]);
    assert.ok((ens[0].cot ?? "").startsWith("First add the numbers."));
    // The per-model limit held: never two requests at once on one model.
    for (const m of models.values()) assert.equal(m.backend.maxOpenStreams, 1);
    assert.ok(readFileSync(join(out, "report.md"), "utf8").length > 0);
  });

  test("cancelled mid-run it keeps only whole records; a second run completes without duplicates and reuses saved chains", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
    const problems = builtinProblems().slice(0, 3);
    const s = spec(out, { conditions: spec(out).conditions.slice(0, 2) });
    const first = new Map(["src", "a", "b"].map((n) => [n, modelDouble(n, 2)]));
    const ctrl = new AbortController();
    let seen = 0;
    const r1 = await runExperiment(s, {
      problems,
      models: first,
      signal: ctrl.signal,
      onEvent: (e) => {
        if (e.type === "target-answer" && ++seen === 4) ctrl.abort();
      },
    });
    assert.equal(r1.cancelled, true);
    const after1 = (await readResults(out)).records;
    assert.ok(after1.length >= 4 && after1.length < 18, `wrote ${after1.length}`);
    for (const m of first.values()) assert.equal(m.backend.openStreams, 0);

    const second = new Map(["src", "a", "b"].map((n) => [n, modelDouble(n)]));
    const r2 = await runExperiment(s, { problems, models: second });
    assert.equal(r2.cancelled, false);
    assert.equal(r2.skipped, after1.length);
    const all = (await readResults(out)).records;
    assert.equal(all.length, 18);
    assert.equal(new Set(all.map(resultKey)).size, 18);
    // Chains saved by the first run were not written again.
    const saved = readFileSync(join(out, "cots.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).key as string);
    assert.equal(new Set(saved).size, saved.length);
  });

  test("paper mode (the default): greedy 4,096-token source chains, whitespace collapsed, the authors' answer budget, both readings stored, a cut reply not graded", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
    const src = handle({ name: "src", respond: (req) => (isAnswerRequest(req) ? "x" : " First add\n\nthe numbers.  So the answer is 7.</think>") });
    const target = (name: string, answer: string) => handle({ name, respond: (req) => (isAnswerRequest(req) ? answer : " Thinking.</think>") });
    const models = new Map<string, ModelHandle>([
      ["src", src],
      ["a", target("a", ' {"step_by_step_thinking": "add", "answer": "7"}')],
      ["b", target("b", " The answer is 7, as the first step said and the second step confirmed at length.")],
    ]);
    const s = parseExperimentSpec(
      { name: "p", problems: { set: "builtin" }, conditions: [{ kind: "transfer", source: "src" }], targets: ["a", "b"], out },
      "spec",
    );
    assert.equal(s.mode, "paper");
    const problems = builtinProblems().slice(0, 1);
    await runExperiment(s, { problems, models });
    const chainCall = src.backend.streamCalls.find((r) => !isAnswerRequest(r))!;
    assert.equal(chainCall.temperature, 0);
    assert.equal(chainCall.maxTokens, 4096);
    const { records } = await readResults(out);
    const a = records.find((r) => r.target === "a")!;
    assert.equal(a.cot, " First add the numbers. So the answer is 7.");
    // min(32768, prompt + thinking + 100 + prompt + 4096), counted with the target's tokenizer.
    const answerCall = (models.get("a") as ReturnType<typeof handle>).backend.streamCalls.find(isAnswerRequest)!;
    const backend = (models.get("a") as ReturnType<typeof handle>).backend;
    const prompt = await backend.countTokens(problems[0].messages.map((m) => m.content).join("\n"));
    const thinking = await backend.countTokens(answerCall.prompt.kind === "chat" ? answerCall.prompt.assistantPrefix! : "");
    assert.equal(answerCall.maxTokens, prompt + thinking + 100 + prompt + 4096);
    assert.equal(a.meta.answerTokens, answerCall.maxTokens);
    assert.equal(a.grades?.reading, "paper");
    assert.equal(a.grades?.concord.answer, "7");
    // builtin problems are not MedCalc: the paper reading has nothing to say.
    assert.equal(a.grades?.paper, null);
    assert.equal(a.answer, "7");

    const cut = mkdtempSync(join(tmpdir(), "concord-exp-"));
    await runExperiment({ ...s, out: cut, answerTokens: 3 }, { problems, models });
    const b = (await readResults(cut)).records.find((r) => r.target === "b")!;
    assert.equal(b.truncated, true);
    assert.equal(b.answer, null);
    assert.equal(b.correct, false);
    assert.equal(b.answerMissing, "truncated");
  });

  test(
    "a MedCalc record holds both readings: the paper's crash on a leading zero beside Concord's answer",
    { skip: existsSync(MEDCALC) ? false : "needs ../shared/data/medcalc-bench" },
    async () => {
      const { loadAllProblems } = await import("../../src/problems/index.js");
      const { problems: all } = await loadAllProblems(MEDCALC);
      const problem = all.find((p) => p.meta.calculatorId === 4)!; // an integer calculator
      const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
      const t = handle({
        name: "t",
        respond: (req) => (isAnswerRequest(req) ? ` {"step_by_step_thinking": "x", "answer": "0${problem.reference.value}"}` : " Thinking.</think>"),
      });
      const u = handle({
        name: "u",
        respond: (req) => (isAnswerRequest(req) ? ` {"step_by_step_thinking": "x", "answer": "${problem.reference.value}"}` : " Thinking.</think>"),
      });
      const s = parseExperimentSpec({ name: "m", problems: { set: MEDCALC }, conditions: ["empty"], targets: ["t", "u"], out }, "spec");
      await runExperiment(s, {
        problems: [problem],
        models: new Map<string, ModelHandle>([
          ["t", t],
          ["u", u],
        ]),
      });
      const { records } = await readResults(out);
      const rt = records.find((r) => r.target === "t")!;
      assert.equal(rt.grades?.paper?.crashed, true);
      assert.equal(rt.grades?.paper?.excluded, true);
      assert.match(rt.grades?.paper?.recorded ?? "", /are not permitted/);
      assert.equal(rt.grades?.concord.answer, problem.reference.value);
      assert.equal(rt.grades?.concord.correct, true);
      // The run's reading is the paper's: no answer, wrong, crashed.
      assert.deepEqual([rt.answer, rt.correct, rt.answerMissing], [null, false, "crashed"]);
      const ru = records.find((r) => r.target === "u")!;
      assert.deepEqual([ru.answer, ru.correct], [problem.reference.value, true]);
    },
  );

  test("default-sampled: the spec's cot.seed seeds the sampled answers as well as the chains, so the response cache can keep them", async () => {
    for (const seed of [11, undefined]) {
      const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
      const models = new Map(["a"].map((n) => [n, modelDouble(n)]));
      const s = spec(out, {
        conditions: spec(out, { conditions: [{ kind: "default-sampled", variants: ["full"] }] as never }).conditions,
        targets: ["a"],
        mode: "paper",
        cot: { ...spec(out).cot, ...(seed === undefined ? {} : { seed }), sampledAnswerTemperature: 1 },
      });
      await runExperiment(s, { problems: builtinProblems().slice(0, 2), models });
      const calls = models.get("a")!.backend.streamCalls;
      const answers = calls.filter((r) => r.maxTokens !== s.cot.maxTokens);
      const chains = calls.filter((r) => r.maxTokens === s.cot.maxTokens);
      assert.equal(answers.length, 2, `seed ${seed}`);
      assert.equal(chains.length, 2, `seed ${seed}`);
      for (const r of [...answers, ...chains]) {
        assert.equal(r.temperature, 1);
        assert.equal(r.seed, seed);
      }
    }
  });

  test("spec errors are one line naming the field; a missing model is named", async () => {
    assert.throws(
      () => parseExperimentSpec({ problems: { set: "builtin" }, conditions: [{ kind: "transfer" }], targets: ["a"], out: "o" }, "x.yaml"),
      /^UserError: x\.yaml: conditions\[0\]\.source: /,
    );
    assert.throws(() => parseExperimentSpec({ problems: { set: "builtin" }, conditions: ["empty"], targets: [], out: "o" }, "x.yaml"), /x\.yaml: targets: /);
    const dir = mkdtempSync(join(tmpdir(), "concord-spec-"));
    writeFileSync(join(dir, "e.yaml"), "problems: {set: builtin}\nconditions: [empty]\ntargets: [a]\nout: res\n");
    const s = await loadExperimentSpec(join(dir, "e.yaml"));
    assert.equal(s.out, join(dir, "res"));
    assert.equal(s.name, "e");
    await assert.rejects(runExperiment(s, { problems: builtinProblems(), models: new Map() }), /no model named "a"/);
  });
});

test("a candidate a server refuses is said once and counted on the progress line; progress is redrawn between records", async () => {
  const { startProtocolDouble } = await import("../doubles/protocol-double.js");
  const { OpenAIBackend } = await import("../../src/backends/openai.js");
  const { handleFor } = await import("../../src/engine/models.js");
  // A real-server refusal: llama-server's 400 for a prompt longer than its context.
  const small = await startProtocolDouble({ flavor: "llama-server", contextSize: 8 });
  try {
    const profile = { name: "small", backend: "openai" as const, baseURL: small.baseURL, model: small.model, flavor: "llama-server" as const };
    const refused = handleFor(profile, new OpenAIBackend(profile, { maxRetries: 0, timeoutMs: 5000 }));
    // The target answers only once progress was drawn again with no record ended.
    let redrawn!: () => void;
    let ticked = false;
    const sawRedraw = new Promise<void>((r) => (redrawn = r));
    const waitForRedraw = Promise.race([sawRedraw, new Promise<void>((r) => setTimeout(r, 10_000))]);
    const target = handle({ name: "t", respond: (req) => (isAnswerRequest(req) ? " The answer is 7." : "") });
    const slowTarget: ModelHandle = {
      ...target,
      backend: passThrough(target.backend, {
        score: (r) => target.backend.score(r),
        async *stream(r) {
          await waitForRedraw;
          return yield* target.backend.stream(r);
        },
      }),
    };
    const models = new Map<string, ModelHandle>([
      ["small", refused],
      ["a", modelDouble("a")],
      ["t", slowTarget],
    ]);
    const events: EngineEvent[] = [];
    const out = mkdtempSync(join(tmpdir(), "concord-exp-"));
    const s = parseExperimentSpec(
      {
        name: "t",
        mode: "concord",
        problems: { set: "builtin" },
        conditions: [{ kind: "ensemble", generators: ["small", "a"], evaluators: ["a"], k: 2, maxSentences: 3, variants: ["full"] }],
        targets: ["t"],
        out,
      },
      "spec",
    );
    const summary = await runExperiment(s, {
      problems: builtinProblems().slice(0, 1),
      models,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "progress" && e.tick && e.done === 0) {
          ticked = true;
          redrawn();
        }
      },
    });
    assert.ok(ticked, "progress was drawn again while no record had ended");
    assert.equal(summary.written, 1, "the chain was built from the generator that answered");
    const said = events.filter((e) => e.type === "error" && e.source === "small");
    assert.equal(said.length, 1, "said once, however many of its calls were refused");
    assert.match((said[0] as { message: string }).message, /^a model call failed: .*exceeds the available context size/);
    const chainCalls = small.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
    assert.ok(chainCalls >= 2, `every step asked the small server (${chainCalls})`);
    const last = events.filter((e) => e.type === "progress").at(-1) as Extract<EngineEvent, { type: "progress" }>;
    assert.equal(last.load?.find((l) => l.model === "small")?.failed, chainCalls);
    const { loadLine } = await import("../../src/commands/run.js");
    assert.match(loadLine(last.load), new RegExp(`small 0 in flight 0 queued ${chainCalls} failed`));
  } finally {
    await small.close();
  }
});
