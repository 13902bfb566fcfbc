import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { OpenAIBackend, type OpenAIBackendOptions } from "../../src/backends/openai.js";
import { ThinkSplitter } from "../../src/core/thinking.js";
import { requireCapability } from "../../src/config/roles.js";
import { BackendError, collect, type Prompt, type StreamChunk } from "../../src/backends/types.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { UserError } from "../../src/errors.js";
import { eventually } from "../wait.js";
import { logprobOf, renderChat, startProtocolDouble, tokenize, type ProtocolDouble, type ProtocolDoubleOptions } from "../doubles/protocol-double.js";

const doubles: ProtocolDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

async function setup(opts: ProtocolDoubleOptions, profile: Partial<ModelProfile> = {}, bopts: OpenAIBackendOptions = {}) {
  const double = await startProtocolDouble(opts);
  doubles.push(double);
  const backend = new OpenAIBackend(
    { name: "m1", backend: "openai", baseURL: double.baseURL, model: double.model, ...profile },
    { maxRetries: 2, timeoutMs: 5000, ...bopts },
  );
  return { double, backend };
}

const ask: Prompt = { kind: "chat", messages: [{ role: "user", content: "What is 2 + 2?" }] };

/** What the double's bigram model gives each token of `text` after the prompt `context`. */
function expectedLogprobs(context: string, text: string) {
  let prev = tokenize(context).at(-1)!;
  return tokenize(text).map((t) => {
    const lp = { token: t, logprob: logprobOf(prev, t) };
    prev = t;
    return lp;
  });
}

describe("protocol double wire format", () => {
  test("SSE framing, [DONE], latency and token rate as asked; bound to 127.0.0.1", async () => {
    const double = await startProtocolDouble({ flavor: "vllm", latencyMs: 100, tokensPerSecond: 100, script: () => "a b c d e f g h i j" });
    doubles.push(double);
    assert.match(double.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // fetch's own first-use cost is not the double's latency: an untimed request first.
    await (await fetch(`${double.baseURL}/models`)).text();
    const t0 = Date.now();
    const res = await fetch(`${double.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: double.model, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    const text = await res.text();
    const ms = Date.now() - t0;
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const events = text.split("\n\n").filter(Boolean);
    assert.ok(events.every((e) => e.startsWith("data: ")));
    assert.equal(events.at(-1), "data: [DONE]");
    const deltas = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice(6)).choices[0].delta.content ?? "")
      .join("");
    assert.equal(deltas, "a b c d e f g h i j");
    // The lower bound is the check (latency plus ten tokens at 100/s); the upper only rules out a hang.
    assert.ok(ms >= 100 + 10 * 10 - 15 && ms < 5000, `took ${ms} ms`);
  });
});

describe("streaming", () => {
  test("chat stream: content, reasoning field and token logprobs in the documented vLLM shapes", async () => {
    const { backend, double } = await setup({ flavor: "vllm", script: () => ({ reasoning: "Two plus two.", content: "The answer is 4." }) });
    const chunks: StreamChunk[] = [];
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 64, logprobs: true, temperature: 0 }), (c) => chunks.push(c));
    assert.equal(r.text, "The answer is 4.");
    assert.equal(r.reasoning, "Two plus two.");
    assert.equal(r.finishReason, "stop");
    const firstContent = chunks.findIndex((c) => c.channel === "content");
    assert.ok(
      chunks.slice(0, firstContent).every((c) => c.channel === "reasoning"),
      "thinking streams before the answer",
    );
    const prompt = renderChat(ask.messages, { addGenerationPrompt: true, continueFinal: false });
    assert.deepEqual(r.tokens, expectedLogprobs(prompt, "Two plus two.The answer is 4."));
    const body = double.requests.find((q) => q.path === "/v1/chat/completions")!.body!;
    assert.equal(body.stream, true);
    assert.equal(body.logprobs, true);
    assert.equal(body.temperature, 0);
  });

  for (const [flavor, field] of [
    ["llama-server", "reasoning_content"],
    ["ollama", "reasoning"],
    ["sglang", "reasoning_content"],
  ] as const) {
    test(`${flavor}: thinking arrives in ${field}`, async () => {
      const { backend } = await setup({ flavor, reasoning: true });
      const r = await collect(backend.stream({ prompt: ask, maxTokens: 64 }));
      assert.equal(r.reasoning, "Let me think step by step about it.");
      assert.match(r.text, /The answer is \d+\.$/);
    });
  }

  test("inline <think> tags are split out even when the tags arrive cut across chunks", async () => {
    const { backend } = await setup({ flavor: "vllm", inlineThink: true, script: () => ({ reasoning: "Add them.", content: "It is 4." }) });
    const chunks: StreamChunk[] = [];
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 64 }), (c) => chunks.push(c));
    assert.equal(r.reasoning, "Add them.");
    assert.equal(r.text.trim(), "It is 4.");
    assert.ok(
      chunks.every((c) => !c.text.includes("<") && !c.text.includes(">")),
      "no tag fragment leaks into either channel",
    );
  });

  test("splitter: any cutting of the stream gives the same thinking and answer", () => {
    const text = "pre <think>step one < two</think> answer <b>";
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const s = new ThinkSplitter(false, "<think>", "</think>");
        const out: Array<{ channel: string; text: string }> = [];
        let last = 0;
        for (const p of [...points, text.length]) {
          out.push(...s.push(text.slice(last, p)));
          last = p;
        }
        out.push(...s.flush());
        const join = (ch: string) =>
          out
            .filter((o) => o.channel === ch)
            .map((o) => o.text)
            .join("");
        assert.equal(join("reasoning"), "step one < two");
        assert.equal(join("content"), "pre  answer <b>");
      }),
    );
  });

  test("raw prompt goes to /v1/completions with legacy logprobs {tokens, token_logprobs}", async () => {
    const { backend, double } = await setup({ flavor: "vllm", script: () => " and then it rained." });
    const r = await collect(backend.stream({ prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 32, logprobs: true }));
    assert.equal(r.text, " and then it rained.");
    assert.deepEqual(r.tokens, expectedLogprobs("Once upon a time", " and then it rained."));
    const req = double.requests.find((q) => q.path === "/v1/completions")!;
    assert.equal(req.body!.prompt, "Once upon a time");
    assert.equal(req.body!.logprobs, 1);
  });

  test("max tokens reached gives finishReason length; extra profile fields go straight into the request", async () => {
    const { backend, double } = await setup({ flavor: "vllm" }, { extra: { chat_template_kwargs: { enable_thinking: false } } });
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 3 }));
    assert.equal(r.finishReason, "length");
    assert.equal(tokenize(r.text).length, 3);
    assert.deepEqual(double.requests.at(-1)!.body!.chat_template_kwargs, { enable_thinking: false });
  });

  test("OpenAI flavor: no top_k (it refuses unknown fields), max_completion_tokens", async () => {
    const { backend, double } = await setup({ flavor: "openai" }, { flavor: "openai" });
    await collect(backend.stream({ prompt: ask, maxTokens: 8, topK: 50, topP: 0.9 }));
    const body = double.requests.at(-1)!.body!;
    assert.equal(body.top_k, undefined);
    assert.equal(body.top_p, 0.9);
    assert.equal(body.max_completion_tokens, 8);
  });

  test('model "auto" takes the server\'s listed model', async () => {
    const { backend, double } = await setup({ flavor: "vllm", model: "served/one" }, { model: "auto" });
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 8 }));
    assert.ok(r.text.length > 0);
    assert.equal(double.requests.at(-1)!.body!.model, "served/one");
  });
});

describe("prefill", () => {
  const pre: Prompt = { ...ask, assistantPrefix: "The capital of France is" } as Prompt;

  test("vLLM: last message assistant + continue_final_message, add_generation_prompt false", async () => {
    const seen: boolean[] = [];
    const { backend, double } = await setup({
      flavor: "vllm",
      script: (q) => {
        seen.push(q.continuing);
        return " Paris.";
      },
    });
    const r = await collect(backend.stream({ prompt: pre, maxTokens: 8 }));
    assert.equal(r.text, " Paris.");
    assert.deepEqual(seen, [true], "the double continued the open assistant message");
    const body = double.requests.at(-1)!.body!;
    assert.equal(body.continue_final_message, true);
    assert.equal(body.add_generation_prompt, false);
    assert.deepEqual((body.messages as unknown[]).at(-1), { role: "assistant", content: "The capital of France is" });
  });

  test("an open <think> in the prefix: the continuation is thinking until </think>", async () => {
    const { backend } = await setup({ flavor: "vllm", script: () => " add two and two.</think>The answer is 4." });
    const r = await collect(backend.stream({ prompt: { ...ask, assistantPrefix: "<think>\nFirst," }, maxTokens: 32 }));
    assert.equal(r.reasoning, " add two and two.");
    assert.equal(r.text, "The answer is 4.");
  });

  test("Ollama: trailing assistant message; DeepSeek: prefix:true", async () => {
    const o = await setup({ flavor: "ollama" }, { flavor: "ollama" });
    await collect(o.backend.stream({ prompt: pre, maxTokens: 4 }));
    const ob = o.double.requests.at(-1)!.body!;
    assert.equal(ob.continue_final_message, undefined);
    assert.equal((ob.messages as Array<{ role: string }>).at(-1)!.role, "assistant");
    const d = await setup({ flavor: "vllm" }, { flavor: "deepseek" });
    await collect(d.backend.stream({ prompt: pre, maxTokens: 4 }));
    assert.deepEqual((d.double.requests.at(-1)!.body!.messages as unknown[]).at(-1), { role: "assistant", content: "The capital of France is", prefix: true });
  });

  test("llama-server with thinking on refuses prefill: falls back to /apply-template + /v1/completions", async () => {
    const { backend, double } = await setup({ flavor: "llama-server", thinkingEnabled: true, script: () => " Paris." });
    const r = await collect(backend.stream({ prompt: pre, maxTokens: 8 }));
    assert.equal(r.text, " Paris.");
    const paths = double.requests.map((q) => `${q.path} ${q.status}`);
    assert.ok(paths.includes("/v1/chat/completions 400"), paths.join(", "));
    assert.ok(paths.includes("/apply-template 200"));
    const comp = double.requests.find((q) => q.path === "/v1/completions")!;
    assert.match(String(comp.body!.prompt), /<\|assistant\|>\nThe capital of France is$/);
  });

  test("OpenAI API: prefill refused with a clear error, no request sent", async () => {
    const { backend, double } = await setup({ flavor: "openai" }, { flavor: "openai" });
    await assert.rejects(collect(backend.stream({ prompt: pre, maxTokens: 4 })), /cannot continue a partial assistant message/);
    assert.equal(double.requests.length, 0);
  });
});

describe("scoring", () => {
  test("vLLM chat: scoring the text it generated gives back the logprobs it reported (prompt_logprobs, split by token count)", async () => {
    const { backend, double } = await setup({ flavor: "vllm" });
    const gen = await collect(backend.stream({ prompt: ask, maxTokens: 64, logprobs: true }));
    const s = await backend.score({ prefix: ask, candidates: [gen.text, "Something else entirely."], includePrefix: true });
    assert.deepEqual(s.candidates[0].tokens, gen.tokens);
    assert.equal(s.candidates[1].tokens.map((t) => t.token).join(""), "Something else entirely.");
    const prefixText = renderChat(ask.messages, { addGenerationPrompt: true, continueFinal: false });
    assert.equal(s.candidates[0].prefixTokens!.length, tokenize(prefixText).length - 1, "first prefix token has no context and is omitted");
    assert.ok(s.evaluatedTokens > gen.tokens!.length);
    const chat = double.requests.filter((q) => q.path === "/v1/chat/completions" && q.body!.prompt_logprobs !== undefined);
    assert.equal(chat.length, 2);
    assert.equal(chat[0].body!.continue_final_message, true);
  });

  test("vLLM raw: /v1/completions echo with max_tokens 0; BOS does not shift the split", async () => {
    const { backend, double } = await setup({ flavor: "vllm", script: () => " a dog ran home." });
    const gen = await collect(backend.stream({ prompt: { kind: "raw", text: "Once there was" }, maxTokens: 16, logprobs: true }));
    const s = await backend.score({ prefix: { kind: "raw", text: "Once there was" }, candidates: [gen.text, " a cat."] });
    assert.deepEqual(s.candidates[0].tokens, gen.tokens);
    assert.deepEqual(s.candidates[1].tokens, expectedLogprobs("Once there was", " a cat."));
    // The first candidate alone, then the rest, so that a server's prefix cache serves the shared prefix.
    const reqs = double.requests.filter((q) => q.path === "/v1/completions" && q.body!.echo === true);
    assert.deepEqual(
      reqs.map((q) => q.body!.prompt),
      [["Once there was a dog ran home."], ["Once there was a cat."]],
    );
    assert.ok(reqs.every((q) => q.body!.max_tokens === 0));
    assert.ok(double.requests.some((q) => q.path === "/tokenize"));
  });

  test("SGLang raw: native /generate input_token_logprobs", async () => {
    const { backend } = await setup({ flavor: "sglang" });
    const s = await backend.score({ prefix: { kind: "raw", text: "Once there was" }, candidates: [" a cat."] });
    assert.deepEqual(s.candidates[0].tokens, expectedLogprobs("Once there was", " a cat."));
  });

  test("llama-server answers echo with 200 and ignores it: unsupported, naming the alternatives", async () => {
    const { backend } = await setup({ flavor: "llama-server" }, { flavor: "unknown" });
    await assert.rejects(backend.score({ prefix: { kind: "raw", text: "Hi" }, candidates: [" there"] }), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.match(
        err.message,
        /^model "m1" \(unknown\): scoring is unsupported on this server \(the server ignored echo: no prompt log-probabilities in its answer\); use an embedded model as evaluator, or a vLLM server$/,
      );
      return true;
    });
  });

  test("Ollama (detected from /api/version): unsupported without asking", async () => {
    const { backend, double } = await setup({ flavor: "ollama" });
    await assert.rejects(backend.score({ prefix: ask, candidates: ["x"] }), /model "m1" \(ollama\): scoring is unsupported/);
    assert.ok(!double.requests.some((q) => q.path === "/v1/completions"));
  });

  test("countTokens uses the server's tokenizer", async () => {
    const { backend } = await setup({ flavor: "vllm" });
    assert.equal(await backend.countTokens("Hello there, world."), tokenize("Hello there, world.").length);
  });
});

describe("faults", () => {
  test("429 with Retry-After: waits as told, then succeeds", async () => {
    const { backend, double } = await setup({ flavor: "vllm", faults: [{ kind: "status", status: 429, retryAfter: "1", path: "/v1/chat/completions" }] });
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 8 }));
    assert.ok(r.text.length > 0);
    const chat = double.requests.filter((q) => q.path === "/v1/chat/completions");
    assert.equal(chat.length, 2);
    assert.equal(chat[0].status, 429);
    const gap = chat[1].startedAt - chat[0].startedAt;
    assert.ok(gap >= 950 && gap < 3000, `waited ${gap} ms`);
  });

  test("429 without Retry-After and 503: backoff, then success", async () => {
    const { backend, double } = await setup({
      flavor: "vllm",
      faults: [
        { kind: "status", status: 429, path: "/v1/chat/completions" },
        { kind: "status", status: 503, path: "/v1/chat/completions" },
      ],
    });
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 8 }));
    assert.ok(r.text.length > 0);
    const chat = double.requests.filter((q) => q.path === "/v1/chat/completions");
    assert.deepEqual(
      chat.map((q) => q.status),
      [429, 503, 200],
    );
    assert.ok(chat[1].startedAt - chat[0].startedAt >= 300, "backed off before retrying");
  });

  test("retries exhausted, or a Retry-After too long: one line with status, message and model", async () => {
    const { backend } = await setup(
      {
        flavor: "vllm",
        faults: [
          { kind: "status", status: 500, message: "engine dead" },
          { kind: "status", status: 500, message: "engine dead" },
        ],
      },
      {},
      { maxRetries: 1 },
    );
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 8 })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.message, 'model "m1": HTTP 500 from server: engine dead (streaming a chat completion)');
      assert.equal(err.status, 500);
      assert.equal(err.retryable, true);
      return true;
    });
    const slow = await setup({ flavor: "vllm", faults: [{ kind: "status", status: 429, retryAfter: "3600" }] });
    const t0 = Date.now();
    await assert.rejects(collect(slow.backend.stream({ prompt: ask, maxTokens: 8 })), /HTTP 429 .*asks to wait 3600 s/);
    assert.ok(Date.now() - t0 < 2000);
  });

  test("a stream cut mid-token is a retryable BackendError, not a crash", async () => {
    const { backend } = await setup({ flavor: "vllm", faults: [{ kind: "cut", afterTokens: 3 }] });
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 64 })), (err: unknown) => {
      assert.ok(err instanceof BackendError, String(err));
      assert.match(err.message, /^model "m1": connection closed mid-stream/);
      assert.equal(err.retryable, true);
      return true;
    });
  });

  test("a malformed chunk is a one-line BackendError", async () => {
    const { backend } = await setup({ flavor: "vllm", faults: [{ kind: "malformed", afterTokens: 2 }] });
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 64 })), /^BackendError: model "m1": malformed data from server/);
  });

  test("a server that never answers times out; a stream that stalls times out", async () => {
    const { backend } = await setup({ flavor: "vllm", faults: [{ kind: "hang" }] }, {}, { timeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 8 })), /no answer from http:\/\/127\.0\.0\.1:\d+\/v1 within 0\.3 s/);
    assert.ok(Date.now() - t0 < 2000);
    const slow = await setup({ flavor: "vllm", tokensPerSecond: 1 }, {}, { timeoutMs: 300 });
    await assert.rejects(collect(slow.backend.stream({ prompt: ask, maxTokens: 8 })), /stream stalled/);
  });

  test("401 from a server that echoes the Authorization header: the key never appears", async () => {
    const secret = "sk-test-secret-value-98765";
    const { backend, double } = await setup(
      { flavor: "openai", apiKey: "sk-the-right-one", echoAuthorization: true },
      { apiKeyEnv: "CONCORD_TEST_KEY", flavor: "openai" },
      { env: { CONCORD_TEST_KEY: secret } },
    );
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 8 })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.ok(!err.message.includes(secret), err.message);
      assert.ok(!String(err.stack).includes(secret));
      assert.match(err.message, /^model "m1": HTTP 401 from server: Incorrect API key provided .*\[redacted\].*check the key in \$CONCORD_TEST_KEY$/);
      return true;
    });
    assert.equal(double.requests[0].authorization, `Bearer ${secret}`, "the key is sent, only never shown");
  });

  test("a missing key variable is named, and a right key works", async () => {
    const { backend } = await setup({ flavor: "openai", apiKey: "sk-ok-123" }, { apiKeyEnv: "NOPE_KEY", flavor: "openai" }, { env: {} });
    await assert.rejects(collect(backend.stream({ prompt: ask, maxTokens: 8 })), /environment variable NOPE_KEY \(its API key\) is not set/);
    const ok = await setup({ flavor: "openai", apiKey: "sk-ok-123" }, { apiKeyEnv: "K", flavor: "openai" }, { env: { K: "sk-ok-123" } });
    assert.ok((await collect(ok.backend.stream({ prompt: ask, maxTokens: 8 }))).text.length > 0);
  });

  test("404 model: the server's message and the model name", async () => {
    const { backend } = await setup({ flavor: "vllm" }, { model: "no/such-model" });
    await assert.rejects(
      collect(backend.stream({ prompt: ask, maxTokens: 8 })),
      /^BackendError: model "m1": HTTP 404 from server: The model `no\/such-model` does not exist\./,
    );
  });

  test("unreachable server: one line, retryable", async () => {
    const d = await startProtocolDouble({});
    const url = d.baseURL;
    await d.close();
    const backend = new OpenAIBackend({ name: "gone", backend: "openai", baseURL: url, model: "x", flavor: "vllm" }, { maxRetries: 0, timeoutMs: 2000 });
    await assert.rejects(
      collect(backend.stream({ prompt: ask, maxTokens: 8 })),
      /^BackendError: model "gone": cannot reach http:\/\/127\.0\.0\.1:\d+\/v1 \(ECONNREFUSED\)/,
    );
  });

  test("abort closes the HTTP stream on the server side", async () => {
    const { backend, double } = await setup({
      flavor: "vllm",
      tokensPerSecond: 40,
      script: () => "one two three four five six seven eight nine ten eleven twelve",
    });
    const ctl = new AbortController();
    let n = 0;
    const r = await collect(backend.stream({ prompt: ask, maxTokens: 64, signal: ctl.signal }), () => {
      if (++n === 2) ctl.abort();
    });
    assert.equal(r.finishReason, "abort");
    const rec = double.requests.find((q) => q.path === "/v1/chat/completions")!;
    await eventually(() => rec.aborted);
    const sent = rec.tokensSent;
    await new Promise((res) => setTimeout(res, 150));
    assert.equal(rec.tokensSent, sent, "the server stopped sending");
    assert.ok(sent < 12);
  });
});

describe("probe", () => {
  test("capabilities differ by server as documented", async () => {
    const v = await setup({ flavor: "vllm", reasoning: true });
    const vc = await v.backend.probe();
    assert.deepEqual(
      [vc.streaming, vc.tokenLogprobs, vc.promptScoring, vc.prefill, vc.reasoningField, vc.flavor],
      [true, true, true, true, "reasoning", "vllm"],
    );
    const l = await setup({ flavor: "llama-server", reasoning: true });
    const lc = await l.backend.probe();
    assert.deepEqual([lc.promptScoring, lc.prefill, lc.reasoningField, lc.flavor], [false, true, "reasoning_content", "llama-server"]);
    assert.ok(
      lc.notes.some((n) => /^scoring: .*ignored echo/.test(n)),
      lc.notes.join(" | "),
    );
    assert.equal(lc.prefillMethod, "continue_final_message");
    const o = await setup({ flavor: "ollama" });
    const oc = await o.backend.probe();
    assert.equal(oc.promptScoring, false);
    assert.ok(
      oc.notes.some((n) => /^scoring: .*ignored echo/.test(n)),
      oc.notes.join(" | "),
    );
    const a = await setup({ flavor: "openai" }, { flavor: "openai" });
    const ac = await a.backend.probe();
    assert.deepEqual([ac.promptScoring, ac.prefill, ac.reasoningField], [false, false, null]);
    // The probe record steers later calls: the llama-server backend now refuses scoring without asking.
    const before = l.double.requests.length;
    await assert.rejects(l.backend.score({ prefix: { kind: "raw", text: "a" }, candidates: ["b"] }), /ignored echo/);
    assert.equal(l.double.requests.length, before);
  });

  test("llama-server with thinking on: prefill recorded via apply_template", async () => {
    const { backend } = await setup({ flavor: "llama-server", thinkingEnabled: true });
    const c = await backend.probe();
    assert.equal(c.prefill, true);
    assert.equal(c.prefillMethod, "apply_template");
  });

  test("requireCapability refuses an evaluator that cannot score, in one line", () => {
    const caps = { streaming: true, tokenLogprobs: true, promptScoring: false, prefill: true, reasoningField: null, notes: [] };
    assert.throws(
      () => requireCapability({ name: "x", backend: "openai", flavor: "ollama" }, caps, "evaluator"),
      (err: unknown) =>
        err instanceof UserError &&
        err.message ===
          'model "x" (ollama) cannot be an evaluator: its probe record says it gave no prompt log-probabilities; re-probe it with `concord models probe x`, or use an embedded model, or a vLLM server as evaluator',
    );
    assert.doesNotThrow(() => requireCapability({ name: "x", backend: "openai", flavor: "ollama" }, caps, "generator"));
    assert.doesNotThrow(() => requireCapability({ name: "x", backend: "openai" }, { ...caps, promptScoring: true }, "evaluator"));
    assert.doesNotThrow(() => requireCapability({ name: "x", backend: "openai" }, undefined, "evaluator"));
    assert.throws(
      () => requireCapability({ name: "y", backend: "openai" }, { ...caps, prefill: false }, "continuer"),
      /model "y" \(unknown server\) cannot be a continuer/,
    );
  });
});
