// The paper reading's requests reach the server as the authors' code built them, byte for byte:
// the model's real chat template rendered by Concord (from the profile's file, or llama-server's
// /props), then their insertion text, as a raw completion. Asserted on what the protocol double
// received, and on what a recording proxy passed to the real llama-server.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { chatFormatFor, exactPromptTokens } from "../../src/backends/local/prompt.js";
import { paperTargetPrompt } from "../../src/engine/paper-requests.js";
import { withStringMetadata } from "../backends/gguf-template.js";
import type { ModelProfile } from "../../src/config/profile.js";
import type { Problem } from "../../src/core/types.js";
import { generateCot } from "../../src/engine/cot.js";
import { evaluatorScore, generatorRequest } from "../../src/engine/ensemble-text.js";
import { handleFor, type ModelHandle } from "../../src/engine/models.js";
import { askTarget, TargetPanel } from "../../src/engine/targets.js";
import { collect } from "../../src/backends/types.js";
import { medcalcMessages } from "../../src/problems/index.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { llamaServerMissing, startLlamaServer, STORIES } from "../e2e/llama-server.js";
import { PAPER_MODELS, TEMPLATES, TEMPLATES_SKIP } from "../support/paper-models.js";

const skip = TEMPLATES_SKIP;

const MODELS = { qwq: PAPER_MODELS.QwQ, nrr: PAPER_MODELS.NRR, oss: PAPER_MODELS.OSS, dapo: PAPER_MODELS.DAPO, opent: PAPER_MODELS.OpenT } as const;

const MESSAGES = medcalcMessages("A 60-year-old man.\n\nBP 120/80.", "What is his score?");
const [SYSTEM, USER] = MESSAGES.map((m) => m.content);
const PROBLEM: Problem = { id: "1", source: "medcalc-bench", messages: MESSAGES, reference: { kind: "number", value: "3" }, meta: {} };
const COT = " First, the score. Then the answer: 3.";
const qwenChat = `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n`;
const r1Chat = `${SYSTEM}<｜User｜>${USER}<｜Assistant｜><think>\n`;

const closing: Array<() => Promise<unknown>> = [];
after(async () => {
  await Promise.all(closing.map((c) => c()));
});

async function onDouble(key: keyof typeof MODELS, profile: Partial<ModelProfile> = {}) {
  const double = await startProtocolDouble({ flavor: "vllm", model: profile.model ?? MODELS[key].id });
  closing.push(() => double.close());
  const p: ModelProfile = {
    name: key,
    backend: "openai",
    baseURL: double.baseURL,
    model: double.model,
    flavor: "vllm",
    chatTemplate: join(TEMPLATES, MODELS[key].template),
    ...profile,
  };
  return { double, handle: handleFor(p, new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 5000 })) };
}

const sent = (d: ProtocolDouble) => d.requests.filter((q) => q.path === "/v1/completions").map((q) => q.body!.prompt);

function assertOss(prompt: unknown, effort: string, tail: string) {
  assert.equal(typeof prompt, "string");
  const p = prompt as string;
  assert.ok(p.startsWith(`<|start|>system<|message|>${SYSTEM}\nKnowledge cutoff: 2024-06\n`), p.slice(0, 300));
  assert.ok(p.includes(`\nReasoning: ${effort}\n\n`), p.slice(0, 400));
  assert.ok(!p.includes("<|start|>developer"), "the system text is model_identity, not a developer message");
  assert.ok(p.endsWith(`<|start|>user<|message|>${USER}<|end|><|start|>assistant${tail}`), p.slice(-300));
}

describe("paper-reading requests on a server (protocol double)", { skip }, () => {
  test("targets: QwQ's doubled <think>, R1-distill's, OpenThinker's tags, gpt-oss's literal words at medium effort", async () => {
    const cases: Array<[keyof typeof MODELS, string]> = [
      ["qwq", `${qwenChat}<think>\n<think>${COT}</think>`],
      ["nrr", `${r1Chat}<think>${COT}</think>`],
      ["dapo", `${qwenChat}<think>${COT}</think>`],
      ["opent", `${qwenChat}<|begin_of_thought|>${COT}<|end_of_thought|><|begin_of_solution|>`],
    ];
    for (const [key, want] of cases) {
      const { double, handle } = await onDouble(key);
      const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 8, paper: "transferTarget" });
      assert.equal(reply.error, undefined, reply.error);
      assert.deepEqual(sent(double), [want], key);
      assert.equal(double.requests.filter((q) => q.path === "/v1/chat/completions").length, 0, "never the server's own rendering");
    }
    const { double, handle } = await onDouble("oss");
    await askTarget(handle, PROBLEM, COT, { maxTokens: 8, paper: "transferTarget" });
    assertOss(sent(double)[0], "medium", `assistantanalysis${COT}assistantfinal`);
    // Empty, in run.py's effort.
    await askTarget(handle, PROBLEM, "", { maxTokens: 8, paper: "run" });
    assertOss(sent(double)[1], "low", "assistantanalysisassistantfinal");
  });

  test("the concord reading is unchanged: one opening tag and the server's chat rendering", async () => {
    const { double, handle } = await onDouble("qwq");
    await askTarget(handle, PROBLEM, COT, { maxTokens: 8 });
    assert.deepEqual(sent(double), []);
    const chat = double.requests.filter((q) => q.path === "/v1/chat/completions");
    assert.equal(chat.length, 1);
    const msgs = chat[0]!.body!.messages as Array<{ role: string; content: string }>;
    assert.equal(msgs.at(-1)!.content, `<think>${COT}</think>`);
  });

  test("Default's own chain: the opener generate() added (none for QwQ, <think> for DAPO) at low effort for gpt-oss", async () => {
    const expect: Array<[keyof typeof MODELS, string]> = [
      ["qwq", `${qwenChat}<think>\n`],
      ["dapo", `${qwenChat}<think>`],
      ["nrr", r1Chat],
    ];
    for (const [key, want] of expect) {
      const { double, handle } = await onDouble(key);
      await generateCot(handle, PROBLEM, { maxTokens: 4, temperature: 0, paper: true });
      assert.deepEqual(sent(double), [want], key);
    }
    const { double, handle } = await onDouble("oss");
    await generateCot(handle, PROBLEM, { maxTokens: 4, temperature: 0, paper: true });
    assertOss(sent(double)[0], "low", "");
  });

  test("ensemble: a generator's context and the evaluator's scored string context + candidate", async () => {
    const { double, handle } = await onDouble("qwq");
    const ctrl = new AbortController();
    const req = generatorRequest(handle, {
      problem: PROBLEM,
      context: " First sentence.",
      sampling: {},
      step: 1,
      seedOffset: 0,
      signal: ctrl.signal,
      mode: "paper",
    });
    await collect(handle.backend.stream({ ...req, maxTokens: 4 }));
    assert.deepEqual(sent(double), [`${qwenChat}<think>\n<think> First sentence.`]);
    const scoreBefore = double.requests.length;
    await evaluatorScore(handle, {
      problem: PROBLEM,
      mode: "paper",
      context: " First sentence.",
      candidate: { id: "c", generator: "qwq", text: "Second.", raw: "Second.", endOfThought: false } as never,
      signal: ctrl.signal,
      closing: [],
    });
    const scored = double.requests.slice(scoreBefore).filter((q) => q.path === "/v1/completions");
    assert.equal(scored.length, 1);
    assert.deepEqual(scored[0]!.body!.prompt, [`${qwenChat}<think>\n<think> First sentence.Second.`]);
  });

  test("the target panel in a paper ensemble asks with the authors' text at run_custom_thoughts.py's low effort", async () => {
    const { double, handle } = await onDouble("oss");
    const chain = {
      sentences: ["First.", " Then 3."].map((text) => ({ text, author: "g", decision: "imported" as const, candidates: [], at: "" })),
      finished: true,
    };
    const panel = new TargetPanel({ problem: PROBLEM, targets: [handle], mode: "paper", maxTokens: 4 });
    const snap = await panel.update(chain);
    assert.ok(snap, "the round finished");
    assertOss(sent(double)[0], "low", "assistantanalysisFirst. Then 3.assistantfinal");
  });

  test("no template to render: one line naming what to configure, nothing sent", async () => {
    const { double, handle } = await onDouble("qwq", { chatTemplate: undefined });
    const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 8, paper: "transferTarget" });
    assert.match(reply.error ?? "", /the paper reading sends the authors' exact prompt text.*set chatTemplate in the profile/);
    assert.ok(!/\n/.test(reply.error!));
    assert.equal(double.requests.filter((q) => q.path.startsWith("/v1/c")).length, 0);
  });

  test("a model outside the authors' branches keeps Concord's request (their code would have dropped its chain)", async () => {
    const { double, handle } = await onDouble("qwq", { name: "smol", model: "HuggingFaceTB/SmolLM3-3B", chatTemplate: undefined });
    const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 8, paper: "run" });
    assert.equal(reply.error, undefined);
    assert.deepEqual(sent(double), []);
    const chat = double.requests.filter((q) => q.path === "/v1/chat/completions");
    assert.equal((chat[0]!.body!.messages as Array<{ content: string }>).at(-1)!.content, `<think>${COT}</think>`);
  });
});

/** Forwards every request to `target` unchanged, keeping the bodies of completion requests. */
async function recordingProxy(target: string): Promise<{ url: string; bodies: Array<Record<string, unknown>>; replies: string[]; server: Server }> {
  const bodies: Array<Record<string, unknown>> = [];
  const replies: string[] = [];
  const t = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.url?.startsWith("/v1/completions")) bodies.push(JSON.parse(body.toString("utf8")) as Record<string, unknown>);
      const out = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        let reply = "";
        up.on("data", (c: Buffer) => (reply += c.toString("utf8")));
        up.on("end", () => {
          if (req.url?.startsWith("/v1/completions")) replies.push(reply);
        });
        up.pipe(res);
      });
      out.on("error", () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, replies, server };
}

describe("paper-reading requests on the real llama-server (template from /props)", { skip: llamaServerMissing() || skip }, () => {
  for (const key of ["qwq", "nrr", "oss"] as const) {
    test(`${key}: the exact text reaches the server, which reads it as that many tokens`, async () => {
      const server = await startLlamaServer({ template: MODELS[key].template, contextSize: 4096, slots: 1 });
      const proxy = await recordingProxy(server.url);
      try {
        const p: ModelProfile = { name: key, backend: "openai", baseURL: `${proxy.url}/v1`, model: MODELS[key].id, flavor: "llama-server" };
        const handle: ModelHandle = handleFor(p, new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 30_000 }));
        const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 4, paper: "transferTarget" });
        assert.equal(reply.error, undefined, `${reply.error}\n${server.log().slice(-1500)}`);
        assert.equal(proxy.bodies.length, 1);
        const prompt = proxy.bodies[0]!.prompt as string;
        if (key === "qwq") assert.equal(prompt, `${qwenChat}<think>\n<think>${COT}</think>`);
        if (key === "nrr") assert.equal(prompt, `${r1Chat}<think>${COT}</think>`);
        if (key === "oss") assertOss(prompt, "medium", `assistantanalysis${COT}assistantfinal`);
        // The server evaluated that text as it was sent: the prompt tokens it reports are its own tokenization of it.
        const tok = (await (
          await fetch(`${server.url}/tokenize`, { method: "POST", body: JSON.stringify({ content: prompt, add_special: true, parse_special: true }) })
        ).json()) as { tokens: unknown[] };
        const evaluated = [...proxy.replies.join("").matchAll(/"prompt_n":(\d+)/g)].map((m) => Number(m[1]));
        assert.ok(evaluated.length > 0, proxy.replies.join("").slice(-500));
        assert.equal(evaluated.at(-1), tok.tokens.length);
      } finally {
        await new Promise<void>((r) => proxy.server.close(() => r()));
        await server.stop();
      }
    });
  }
});

describe("paper-reading requests on the embedded engine (the GGUF's own template)", { skip: existsSync(STORIES) ? skip : "needs ../shared/models" }, () => {
  const pool = new LocalModelPool({ threads: 1, gpu: false });
  const dir = mkdtempSync(join(tmpdir(), "concord-paper-"));
  after(async () => {
    await pool.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const local = (key: keyof typeof MODELS, withTemplate = true) => {
    const file = join(dir, `${key}-${withTemplate}.gguf`);
    if (withTemplate) withStringMetadata(STORIES, file, "tokenizer.chat_template", readFileSync(join(TEMPLATES, MODELS[key].template), "utf8"));
    const p: ModelProfile = { name: key, backend: "local", model: withTemplate ? file : STORIES };
    const b = new LocalBackend({ name: key, modelPath: withTemplate ? file : STORIES, pool, contextSize: 2048 });
    closing.push(() => b.close());
    return { backend: b, handle: { ...handleFor(p, b), paperName: MODELS[key].id } as ModelHandle };
  };

  for (const key of ["qwq", "nrr", "oss"] as const) {
    test(`${key}: the text the model is given is the authors' prompt`, async () => {
      const { backend, handle } = local(key);
      const { model } = await backend.load();
      const prompt = paperTargetPrompt(handle, PROBLEM, COT, "transferTarget")!;
      assert.equal(prompt.kind, "chat");
      const { tokens, text } = exactPromptTokens(model, prompt as Extract<typeof prompt, { kind: "chat" }>, chatFormatFor(model));
      const bos = model.tokens.bosString ?? "";
      if (key === "qwq") assert.equal(text, `${qwenChat}<think>\n<think>${COT}</think>`);
      // R1-distill's template writes the BOS itself; the embedded engine fills in the file's.
      if (key === "nrr") assert.equal(text, `${bos}${r1Chat}<think>${COT}</think>`);
      if (key === "oss") assertOss(text, "medium", `assistantanalysis${COT}assistantfinal`);
      assert.ok(tokens.length > 0);
      const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 4, paper: "transferTarget" });
      assert.equal(reply.error, undefined, reply.error);
    });
  }

  test("a GGUF without a template: the target fails with one line saying what to use", async () => {
    const { handle } = local("qwq", false);
    const reply = await askTarget(handle, PROBLEM, COT, { maxTokens: 4, paper: "transferTarget" });
    assert.match(reply.error ?? "", /model "qwq": the paper reading sends the authors' exact prompt text, and this GGUF has no chat template/);
    assert.ok(!/\n/.test(reply.error!));
  });
});
