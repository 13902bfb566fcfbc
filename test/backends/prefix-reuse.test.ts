// Prefix reuse on servers: the scoring requests of one step share a long prefix, and are sent
// so that the server's prefix cache serves it (the first alone, the rest once it is computed).
// The protocol double keeps a prefix cache as vLLM does and counts the prompt tokens it computed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { collect, type Prompt } from "../../src/backends/types.js";
import { startProtocolDouble, tokenize } from "../doubles/protocol-double.js";

const problem = "A patient's weight is 72 kg and height 180 cm. " + "The notes list many findings in detail. ".repeat(60) + "What is the BMI?";
const prefix: Prompt = { kind: "chat", messages: [{ role: "user", content: problem }], assistantPrefix: "<think>\nFirst, recall the formula." };
const candidates = [" BMI is weight over height squared.", " So 72 / 1.8^2.", " That is 72 / 3.24.", " Which gives 22.2.", " Check the units.", " Done."];
const prefixTokens = tokenize(problem).length;

test("the double's prefix cache: requests sent together each compute the shared prefix", async () => {
  // "Together" means within latencyMs of the first's arrival; a loaded machine can spread six
  // fetches over tens of milliseconds, so the window is wide.
  const d = await startProtocolDouble({ flavor: "vllm", latencyMs: 1000, prefixCache: {} });
  try {
    const body = (c: string) => ({
      model: d.model,
      messages: [...prefix.messages, { role: "assistant", content: (prefix.kind === "chat" ? prefix.assistantPrefix : "") + c }],
      continue_final_message: true,
      add_generation_prompt: false,
      max_tokens: 1,
      prompt_logprobs: 1,
    });
    const post = (c: string) =>
      fetch(d.baseURL + "/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body(c)) }).then(
        (r) => r.json() as Promise<{ usage: { prompt_tokens_details: { cached_tokens: number } } }>,
      );
    const together = await Promise.all(candidates.map(post));
    assert.ok(d.promptTokens.computed >= 6 * prefixTokens, "each computed the prefix");
    assert.deepEqual(
      together.map((r) => r.usage.prompt_tokens_details.cached_tokens),
      [0, 0, 0, 0, 0, 0],
    );
    const later = await post(" Again.");
    assert.ok(later.usage.prompt_tokens_details.cached_tokens >= prefixTokens - 16, "a request after them finds the prefix cached");
  } finally {
    await d.close();
  }
});

test("an evaluator's scoring requests of one step: the prefix is computed once and the cached tokens are recorded", async () => {
  const d = await startProtocolDouble({ flavor: "vllm", latencyMs: 30, prefixCache: {} });
  try {
    const evaluator = new OpenAIBackend({ name: "e", backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" });
    // As the ensemble sends them: one request per candidate, all at once.
    const results = await Promise.all(candidates.map((c) => evaluator.score({ prefix, candidates: [c] })));
    const received = d.promptTokens.received;
    const computed = d.promptTokens.computed;
    assert.ok(received >= 6 * prefixTokens);
    assert.ok(computed < prefixTokens + 6 * 48, `computed ${computed} of ${received} prompt tokens (prefix ${prefixTokens})`);
    const cached = results.map((r) => r.cachedTokens ?? -1);
    assert.equal(cached.filter((n) => n === 0).length, 1, "the first computes it");
    assert.ok(cached.filter((n) => n >= prefixTokens - 16).length === 5, `the other five are served from the cache (${cached.join(", ")})`);
    assert.equal(
      results.reduce((n, r) => n + r.evaluatedTokens, 0),
      computed,
      "evaluated tokens are those the server computed",
    );
    // Same scores as asked one at a time on a fresh server.
    const fresh = await startProtocolDouble({ flavor: "vllm" });
    try {
      const alone = new OpenAIBackend({ name: "e", backend: "openai", baseURL: fresh.baseURL, model: fresh.model, flavor: "vllm" });
      for (const [i, c] of candidates.entries()) assert.deepEqual((await alone.score({ prefix, candidates: [c] })).candidates, results[i]!.candidates);
    } finally {
      await fresh.close();
    }
  } finally {
    await d.close();
  }
});

test("echo scoring of several candidates in one request: the first goes alone, the rest reuse its prefix", async () => {
  const d = await startProtocolDouble({ flavor: "vllm", latencyMs: 30, prefixCache: {} });
  try {
    const evaluator = new OpenAIBackend({ name: "e", backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" });
    const raw: Prompt = { kind: "raw", text: problem };
    const r = await evaluator.score({ prefix: raw, candidates });
    assert.equal(r.candidates.length, 6);
    assert.ok(d.promptTokens.computed < prefixTokens + 6 * 48, `computed ${d.promptTokens.computed} of ${d.promptTokens.received}`);
    assert.ok((r.cachedTokens ?? 0) >= 5 * (prefixTokens - 16));
    assert.equal(r.evaluatedTokens, d.promptTokens.computed, "evaluated tokens are those the server computed");
  } finally {
    await d.close();
  }
});

test("samples of one step share their prompt: the first stream computes it, the rest reuse it", async () => {
  const d = await startProtocolDouble({ flavor: "vllm", latencyMs: 30, tokensPerSecond: 400, prefixCache: {} });
  try {
    const generator = new OpenAIBackend({ name: "g", backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" });
    const samples = await Promise.all(
      [1, 2, 3].map((seed) => collect(generator.stream({ prompt: { kind: "chat", messages: prefix.messages }, maxTokens: 8, temperature: 0.8, seed }))),
    );
    assert.ok(samples.every((s) => s.text.length > 0));
    assert.ok(d.promptTokens.computed < prefixTokens + 3 * 32, `computed ${d.promptTokens.computed} of ${d.promptTokens.received}`);
  } finally {
    await d.close();
  }
});

test("a server that answers its first token before the rest (firstTokenMs): the samples that wait for it start while the first still decodes", async () => {
  const d = await startProtocolDouble({ flavor: "vllm", latencyMs: 1500, firstTokenMs: 20, prefixCache: {} });
  try {
    const generator = new OpenAIBackend({ name: "g", backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" });
    const samples = await Promise.all(
      [1, 2].map((seed) => collect(generator.stream({ prompt: { kind: "chat", messages: prefix.messages }, maxTokens: 8, temperature: 0.8, seed }))),
    );
    assert.ok(samples.every((s) => s.text.length > 0));
    const [first, second] = d.requests.filter((r) => r.path === "/v1/chat/completions");
    assert.ok(first && second && first.endedAt !== undefined, "two streams");
    // The second went out after the first's first token and before its end: it overlapped.
    assert.ok(
      second.startedAt < first.endedAt!,
      `second started ${second.startedAt - first.startedAt} ms after the first, which ended after ${first.endedAt! - first.startedAt} ms`,
    );
  } finally {
    await d.close();
  }
});
