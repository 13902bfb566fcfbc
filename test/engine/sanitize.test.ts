// The sanitizer as run: requests on the wire to an OpenAI-shaped server (an o-series model, which
// takes no prefill, no temperature and no max_tokens) and to a vLLM-shaped one, the paper's
// request and its reply used as is, Concord's verification, and a failing sanitizer stopping a run.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { reasoningEffortFields } from "../../src/backends/openai/flavors.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { paperSanitizerPrompt } from "../../src/core/paper-prompt.js";
import { SANITIZER_INSTRUCTION } from "../../src/core/sanitize.js";
import { parseExperimentSpec, runExperiment } from "../../src/engine/experiment.js";
import { handleFor, type ModelHandle } from "../../src/engine/models.js";
import { sanitizeCot, SanitizerError } from "../../src/engine/sanitize.js";
import { UserError } from "../../src/errors.js";
import { builtinProblems } from "../../src/problems/index.js";
import { buildReport, renderText } from "../../src/results/report.js";
import { readResults } from "../../src/results/store.js";
import { startProtocolDouble, type ProtocolDouble, type ProtocolDoubleOptions } from "../doubles/protocol-double.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";
import { llamaServerMissing, startLlamaServer } from "../e2e/llama-server.js";

const doubles: ProtocolDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

const COT = "Tom had 3 apples. He bought 4 more. So the answer is 7.";
/** The sanitizer keeps two sentences and invents one. */
const REPLY = "Tom had 3 apples. He bought 4 more. Count them together.";

async function served(opts: ProtocolDoubleOptions, profile: Partial<ModelProfile> = {}): Promise<{ double: ProtocolDouble; model: ModelHandle }> {
  const double = await startProtocolDouble({ script: () => REPLY, ...opts });
  doubles.push(double);
  const p: ModelProfile = { name: "sani", backend: "openai", baseURL: double.baseURL, model: double.model, ...profile };
  return { double, model: handleFor(p, new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 5000 })) };
}

const chatBodies = (d: ProtocolDouble) => d.requests.filter((r) => r.path.endsWith("/chat/completions")).map((r) => r.body!);

describe("sanitizer requests", () => {
  test("OpenAI o-series (no prefill): a plain chat request with the profile's reasoning_effort; Concord verifies the reply", async () => {
    const { double, model } = await served({ flavor: "openai", model: "o4-mini" }, { flavor: "openai", reasoningEffort: "high" });
    assert.equal(model.canPrefill, false);
    const r = await sanitizeCot(COT, { sanitizer: model, mode: "concord" });
    assert.equal(r.method, "chat");
    assert.equal(r.text, "Tom had 3 apples. He bought 4 more.");
    assert.deepEqual(r.dropped, ["Count them together."]);
    const [body] = chatBodies(double);
    assert.deepEqual(body!.messages, [{ role: "user", content: SANITIZER_INSTRUCTION + COT }]);
    assert.equal(body!.reasoning_effort, "high");
    assert.ok(!("temperature" in body!) && !("max_tokens" in body!) && typeof body!.max_completion_tokens === "number");
  });

  test("paper reading: the authors' prompt byte for byte, reasoning_effort medium, the reply used as is", async () => {
    const { double, model } = await served({ flavor: "openai", model: "o4-mini" }, { flavor: "openai" });
    const r = await sanitizeCot(`<think>${COT}</think>`, { sanitizer: model, mode: "paper" });
    assert.equal(r.method, "paper");
    assert.equal(r.text, REPLY, "nothing is verified away in the paper reading");
    const [body] = chatBodies(double);
    assert.deepEqual(body!.messages, [{ role: "user", content: paperSanitizerPrompt(COT) }]);
    assert.equal(body!.reasoning_effort, "medium");
    assert.ok(!("temperature" in body!));
  });

  test("the double is OpenAI: a greedy or max_tokens request to o4-mini is refused, and reasoning_effort to a chat model", async () => {
    const o = await startProtocolDouble({ flavor: "openai", model: "o4-mini" });
    const g = await startProtocolDouble({ flavor: "openai", model: "gpt-4o" });
    doubles.push(o, g);
    const post = (d: ProtocolDouble, body: object) =>
      fetch(`${d.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(
        async (r) => ({
          status: r.status,
          text: await r.text(),
        }),
      );
    const messages = [{ role: "user", content: "hi" }];
    const t = await post(o, { model: "o4-mini", messages, temperature: 0 });
    assert.equal(t.status, 400);
    assert.match(t.text, /'temperature' does not support 0/);
    assert.equal((await post(o, { model: "o4-mini", messages, max_tokens: 5 })).status, 400);
    assert.equal((await post(o, { model: "o4-mini", messages, reasoning_effort: "medium" })).status, 200);
    assert.equal((await post(g, { model: "gpt-4o", messages, reasoning_effort: "medium" })).status, 400);
  });

  test("a server that continues a prefill (vLLM): the thinking block is prefilled empty, greedy", async () => {
    const { double, model } = await served({ flavor: "vllm" }, { flavor: "vllm", reasoningEffort: "low" });
    assert.equal(model.canPrefill, true);
    const r = await sanitizeCot(COT, { sanitizer: model, mode: "concord" });
    assert.equal(r.method, "prefill");
    const [body] = chatBodies(double);
    assert.equal(body!.continue_final_message, true);
    assert.deepEqual((body!.messages as unknown[]).at(-1), { role: "assistant", content: "<think></think>" });
    assert.equal(body!.temperature, 0);
    assert.equal(body!.reasoning_effort, "low");
  });

  test("a failing sanitizer is one line naming it, never the rules in its place", async () => {
    const { model } = await served(
      { flavor: "openai", model: "o4-mini", faults: [{ kind: "status", status: 400, message: "quota exceeded" }] },
      { flavor: "openai" },
    );
    await assert.rejects(sanitizeCot(COT, { sanitizer: model, mode: "paper" }), (err: unknown) => {
      assert.ok(err instanceof SanitizerError);
      assert.match(err.message, /^sanitizer "sani" failed: .*quota exceeded/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });
});

describe("sanitizer in a run", () => {
  const chainOrAnswer = (name: string): ModelHandle => ({
    name,
    thinkingFormat: "think-tags",
    backend: new ScriptedBackend({
      name,
      respond: (req) =>
        req.prompt.kind === "chat" && (req.prompt.assistantPrefix ?? "").includes("</think>")
          ? " The answer is 7."
          : " Add 3 and 4. So the answer is 7.</think>",
    }),
  });
  const spec = (out: string, sanitizer?: string) =>
    parseExperimentSpec(
      {
        name: "s",
        mode: "paper",
        problems: { set: "builtin" },
        conditions: [{ kind: "transfer", source: "src", variants: ["full", "without-answer"] }],
        targets: ["a"],
        ...(sanitizer ? { sanitizer } : {}),
        answerTokens: 16,
        out,
      },
      "spec",
    );

  test("without-answer variants with no sanitizer named: refused before anything runs", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "concord-sani-")), "r");
    const models = new Map(["src", "a"].map((n) => [n, chainOrAnswer(n)]));
    await assert.rejects(runExperiment(spec(out), { problems: builtinProblems().slice(0, 1), models }), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /need a sanitizer: .*"rules"/);
      return true;
    });
  });

  test("the method is recorded per chain and the report says it", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-sani-"));
    const { model } = await served({ flavor: "openai", model: "o4-mini", script: () => "Add 3 and 4." }, { flavor: "openai", name: "o4" });
    const models = new Map<string, ModelHandle>([...["src", "a"].map((n) => [n, chainOrAnswer(n)] as const), ["o4", model]]);
    await runExperiment(spec(out, "o4"), { problems: builtinProblems().slice(0, 2), models });
    const { records } = await readResults(out);
    const bare = records.filter((r) => r.condition.variant === "without-answer");
    assert.equal(bare.length, 2);
    for (const r of bare) {
      assert.equal(r.meta.sanitizer, "o4");
      assert.equal(r.meta.sanitizeMethod, "paper");
      assert.equal(r.cot, "Add 3 and 4.");
    }
    assert.match(renderText(buildReport(records)), /sanitized by \(chains\):\n.*: o4, authors' request, used as is \(2\)$/m);
  });

  test("a sanitizer that fails stops the run with its one line; no without-answer record is written", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-sani-"));
    const { model } = await served(
      { flavor: "openai", model: "o4-mini", faults: [{ kind: "status", status: 401, message: "bad key" }] },
      { flavor: "openai", name: "o4" },
    );
    const models = new Map<string, ModelHandle>([...["src", "a"].map((n) => [n, chainOrAnswer(n)] as const), ["o4", model]]);
    await assert.rejects(runExperiment(spec(out, "o4"), { problems: builtinProblems().slice(0, 3), models }), (err: unknown) => {
      assert.ok(err instanceof SanitizerError);
      assert.match(err.message, /^sanitizer "o4" failed: HTTP 401/);
      return true;
    });
    const { records } = await readResults(out, { missingOk: true });
    assert.equal(records.filter((r) => r.condition.variant === "without-answer").length, 0);
  });
});

describe("sanitizer on the real llama-server", { skip: llamaServerMissing() }, () => {
  test("reasoning_effort, as Concord sends it, reaches gpt-oss's template", async () => {
    const server = await startLlamaServer({ template: "openai-gpt-oss-120b.jinja" });
    try {
      const messages = [{ role: "user", content: "hi" }];
      const body = JSON.stringify({ messages, ...reasoningEffortFields("llama-server", "high") });
      const rendered = (await (await fetch(`${server.url}/apply-template`, { method: "POST", body })).json()) as { prompt: string };
      assert.match(rendered.prompt, /\nReasoning: high\n/);
    } finally {
      await server.stop();
    }
  });

  test("a sanitizer on it runs in both readings; a reply cut by the context stops it with one line", async () => {
    const server = await startLlamaServer({ contextSize: 8192, slots: 1 });
    try {
      const p: ModelProfile = { name: "ls", backend: "openai", baseURL: server.baseURL, model: "auto", flavor: "llama-server", reasoningEffort: "low" };
      const model = handleFor(p, new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 60_000 }));
      const concord = await sanitizeCot(COT, { sanitizer: model, mode: "concord" });
      assert.equal(concord.method, "prefill");
      // The tiny story model rewrites nothing faithfully: whatever survives is an original sentence.
      for (const s of concord.text.split(/(?<=\.)\s+/).filter(Boolean)) assert.ok(COT.includes(s), s);
      // Unbounded as the authors' request was, the story model (sampled: the paper sent no
      // temperature) may write until the context is full: then the run stops, saying so.
      const paper = await sanitizeCot(COT, { sanitizer: model, mode: "paper" }).catch((err: unknown) => err);
      if (paper instanceof Error) {
        assert.ok(paper instanceof SanitizerError, String(paper));
        assert.match(paper.message, /^sanitizer "ls" failed: its reply was cut off \(.*the server's context ran out\)$/);
      } else assert.equal((paper as { method: string }).method, "paper");
    } finally {
      await server.stop();
    }
  });
});
