import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { LocalBackend, LocalModelPool, plainChatText, defaultThreads } from "../../src/backends/local.js";
import { BackendError, collect, type StreamChunk } from "../../src/backends/types.js";
import { StopMatcher, sampleToken, seededRandom } from "../../src/backends/local/sampling.js";
import { ThinkSplitter } from "../../src/core/thinking.js";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withStringMetadata } from "./gguf-template.js";
import { chatFormatFor, promptTokens } from "../../src/backends/local/prompt.js";
import { needsShared } from "../support/shared.js";

const MODEL = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const pool = new LocalModelPool({ threads: 1, gpu: false });
const backends: LocalBackend[] = [];
function make(opts: { contextSize?: number; sequences?: number; name?: string } = {}): LocalBackend {
  const b = new LocalBackend({ name: opts.name ?? "stories", modelPath: MODEL, pool, contextSize: opts.contextSize ?? 2048, sequences: opts.sequences });
  backends.push(b);
  return b;
}
after(async () => {
  for (const b of backends) await b.close();
  await pool.dispose();
});

const PREFIX = "Once upon a time";
const close = (a: number, b: number, tol = 1e-4) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe("sampling helpers", () => {
  test("greedy and top-k 1 take the most likely token; draws follow the distribution", () => {
    const probs = new Map([
      [1, 0.1],
      [2, 0.6],
      [3, 0.3],
    ]);
    const rnd = seededRandom(7);
    assert.equal(sampleToken(probs, { temperature: 0, topK: 0, topP: 1 }, rnd), 2);
    assert.equal(sampleToken(probs, { temperature: 1, topK: 1, topP: 1 }, rnd), 2);
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const t = sampleToken(probs, { temperature: 1, topK: 0, topP: 1 }, rnd);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    close(counts.get(2)! / 4000, 0.6, 0.04);
    close(counts.get(1)! / 4000, 0.1, 0.03);
    // top-k 2 never draws the least likely token; ties and order do not matter to the cut.
    const big = new Map(Array.from({ length: 1000 }, (_, i) => [i, (i + 1) / 500500] as [number, number]));
    for (let i = 0; i < 200; i++) assert.ok(sampleToken(big, { temperature: 1, topK: 2, topP: 1 }, rnd) >= 998);
    assert.equal(sampleToken(big, { temperature: 0, topK: 40, topP: 0.9 }, rnd), 999);
    // top-p 0.5 keeps only the 0.6 token.
    for (let i = 0; i < 50; i++) assert.equal(sampleToken(probs, { temperature: 1, topK: 0, topP: 0.5 }, rnd), 2);
  });

  test("think tags split across pieces route text to the reasoning channel", () => {
    const s = new ThinkSplitter(false);
    const out = [...s.push("Hi <thi"), ...s.push("nk>step one</th"), ...s.push("ink> done"), ...s.flush()];
    const reasoning = out
      .filter((c) => c.channel === "reasoning")
      .map((c) => c.text)
      .join("");
    const content = out
      .filter((c) => c.channel === "content")
      .map((c) => c.text)
      .join("");
    assert.equal(reasoning, "step one");
    assert.equal(content, "Hi  done");
  });

  test("stop strings are found across pieces and never shown", () => {
    const m = new StopMatcher(["END"]);
    assert.deepEqual(m.push("abc E"), { text: "abc ", stopped: false });
    assert.deepEqual(m.push("N"), { text: "", stopped: false });
    assert.deepEqual(m.push("Dxyz"), { text: "", stopped: true });
  });

  test("default threads leave a core free and stay at least 1", () => {
    assert.equal(defaultThreads(2), 1);
    assert.equal(defaultThreads(1), 1);
    assert.equal(defaultThreads(64), 8);
  });
});

describe("LocalBackend on stories260K", { skip: needsShared("models/stories260K.gguf") }, () => {
  test("a sampled BOS between stories is no text: no <s> in the text or the token list", async () => {
    const b = make({ contextSize: 512 });
    // Seeds 1 and 3 run past the end of the first story; the model then samples BOS (<s>).
    for (const seed of [1, 3]) {
      const r = await collect(b.stream({ prompt: { kind: "raw", text: PREFIX }, maxTokens: 400, temperature: 1, seed, logprobs: true }));
      assert.ok(r.text.indexOf(PREFIX) > 0 || r.text.includes(" Once upon a time"), `seed ${seed} wrote a second story: ${r.text.slice(0, 200)}`);
      assert.ok(!/<\/?s>|<unk>/.test(r.text), `seed ${seed}: ${r.text}`);
      const tokens = r.tokens!;
      assert.equal(tokens.map((t) => t.token).join(""), r.text, "the token list still spells the text");
      assert.ok(
        tokens.some((t) => t.token === "" && Number.isFinite(t.logprob)),
        "the BOS is kept as a token, with its logprob",
      );
    }
  });

  test("scoring keeps the prefix in the KV cache and equals a fresh evaluation", async () => {
    const b = make();
    const n = await b.countTokens(PREFIX);
    const cands = [", there was a girl", " a cat", ". The sun"];
    const first = await b.score({ prefix: { kind: "raw", text: PREFIX }, candidates: cands });
    const candLens = first.candidates.map((c) => c.tokens.length);
    assert.ok(candLens.every((l) => l > 0));
    // Prefix (BOS + text) evaluated once, then each candidate's own tokens.
    assert.equal(first.evaluatedTokens, n + 1 + candLens.reduce((a, x) => a + x, 0));

    const longer = `${PREFIX}, there was`;
    const m = await b.countTokens(longer);
    const cands2 = [" a boy", " a dog who liked to run"];
    const second = await b.score({ prefix: { kind: "raw", text: longer }, candidates: cands2 });
    const lens2 = second.candidates.map((c) => c.tokens.length);
    assert.equal(second.evaluatedTokens, m - n + lens2.reduce((a, x) => a + x, 0), "only the new prefix tokens are evaluated");

    // A backend with another context size has its own, empty cache.
    const fresh = make({ contextSize: 1024 });
    const again = await fresh.score({ prefix: { kind: "raw", text: longer }, candidates: cands2 });
    assert.equal(again.evaluatedTokens, m + 1 + lens2.reduce((a, x) => a + x, 0));
    second.candidates.forEach((c, i) => {
      assert.deepEqual(
        c.tokens.map((t) => t.token),
        again.candidates[i]!.tokens.map((t) => t.token),
      );
      c.tokens.forEach((t, j) => close(t.logprob, again.candidates[i]!.tokens[j]!.logprob));
    });
    // Scores are log-probabilities: finite and at most 0.
    for (const c of [...first.candidates, ...second.candidates]) for (const t of c.tokens) assert.ok(t.logprob <= 0 && Number.isFinite(t.logprob));
  });

  test("includePrefix gives prefix token logprobs, reused from the cache on the next call", async () => {
    const b = make({ contextSize: 1536 });
    const p = { kind: "raw", text: `${PREFIX}, there was a little girl` } as const;
    const a = await b.score({ prefix: p, candidates: [" named Lily"], includePrefix: true });
    const n = await b.countTokens(p.text);
    assert.equal(a.candidates[0]!.prefixTokens!.length, n, "every prefix token but BOS");
    const again = await b.score({ prefix: p, candidates: [" named Lily"], includePrefix: true });
    // Only the last prefix token (for the candidate's first distribution) and the candidate run again.
    assert.equal(again.evaluatedTokens, 1 + again.candidates[0]!.tokens.length);
    a.candidates[0]!.prefixTokens!.forEach((t, i) => close(t.logprob, again.candidates[0]!.prefixTokens![i]!.logprob));
    a.candidates[0]!.tokens.forEach((t, i) => close(t.logprob, again.candidates[0]!.tokens[i]!.logprob));
  });

  test("the logprob of a generated token equals its score after the same prefix (greedy and sampled)", async () => {
    const b = make();
    for (const sampling of [{ temperature: 0 }, { temperature: 1, seed: 11 }]) {
      const r = await collect(b.stream({ prompt: { kind: "raw", text: PREFIX }, maxTokens: 24, logprobs: true, ...sampling }));
      assert.equal(r.tokens!.length, 24);
      assert.equal(r.finishReason, "length");
      const s = await b.score({ prefix: { kind: "raw", text: PREFIX }, candidates: [r.text] });
      const scored = s.candidates[0]!.tokens;
      assert.deepEqual(
        scored.map((t) => t.token),
        r.tokens!.map((t) => t.token),
        "the text tokenizes back to the generated tokens",
      );
      r.tokens!.forEach((t, i) => close(t.logprob, scored[i]!.logprob));
    }
  });

  test("chat prompts without a template use the plain template; prefill and <think> go to reasoning", async () => {
    assert.equal(
      plainChatText(
        [
          { role: "system", content: "Be kind." },
          { role: "user", content: "Tell a story." },
        ],
        "Once",
      ),
      "System: Be kind.\nUser: Tell a story.\nAssistant: Once",
    );
    const b = make();
    const chunks: StreamChunk[] = [];
    const r = await collect(
      b.stream({
        prompt: { kind: "chat", messages: [{ role: "user", content: "Tell a story." }], assistantPrefix: "<think>Lily" },
        maxTokens: 12,
        temperature: 0,
      }),
      (c) => chunks.push(c),
    );
    assert.equal(r.text, "");
    assert.ok(r.reasoning.length > 0);
    assert.ok(chunks.length > 0 && chunks.every((c) => c.channel === "reasoning"));
    const plain = await collect(b.stream({ prompt: { kind: "chat", messages: [{ role: "user", content: "Tell a story." }] }, maxTokens: 12, temperature: 0 }));
    assert.ok(plain.text.length > 0);
    assert.equal(plain.reasoning, "");
  });

  test("seeds reproduce samples, stop strings end generation, streamed chunks add up to the result", async () => {
    const b = make();
    const req = { prompt: { kind: "raw", text: PREFIX } as const, maxTokens: 40, temperature: 1, seed: 5 };
    const a = await collect(b.stream(req));
    const a2 = await collect(b.stream(req));
    const c = await collect(b.stream({ ...req, seed: 6 }));
    assert.equal(a.text, a2.text);
    assert.notEqual(a.text, c.text);
    let streamed = "";
    const s = await collect(b.stream({ ...req, temperature: 0, stop: ["."], logprobs: true }), (ch) => (streamed += ch.text));
    assert.equal(s.finishReason, "stop");
    assert.ok(!s.text.includes("."));
    assert.equal(streamed, s.text);
    assert.ok(s.text.length > 0);
  });

  test("abort stops the stream and frees its sequence; concurrent requests do not disturb each other", async () => {
    const b = make({ contextSize: 1280, sequences: 2 });
    const ac = new AbortController();
    let seen = 0;
    const r = await collect(b.stream({ prompt: { kind: "raw", text: PREFIX }, maxTokens: 500, temperature: 0, signal: ac.signal }), () => {
      if (++seen === 3) ac.abort();
    });
    assert.equal(r.finishReason, "abort");
    assert.ok(seen <= 4);

    const prompts = [PREFIX, "The little dog", PREFIX, "Tom and Sam", "The little dog"];
    const solo: string[] = [];
    for (const p of prompts) solo.push((await collect(b.stream({ prompt: { kind: "raw", text: p }, maxTokens: 20, temperature: 0 }))).text);
    const soloScore = await b.score({ prefix: { kind: "raw", text: PREFIX }, candidates: [" there was", " a cat"] });
    // Five streams and two scorings at once on two sequences: they queue and share the model.
    const [streams, scores] = await Promise.all([
      Promise.all(prompts.map((p) => collect(b.stream({ prompt: { kind: "raw", text: p }, maxTokens: 20, temperature: 0 })))),
      Promise.all([0, 1].map(() => b.score({ prefix: { kind: "raw", text: PREFIX }, candidates: [" there was", " a cat"] }))),
    ]);
    assert.deepEqual(
      streams.map((s) => s.text),
      solo,
    );
    for (const sc of scores) sc.candidates.forEach((c, i) => c.tokens.forEach((t, j) => close(t.logprob, soloScore.candidates[i]!.tokens[j]!.logprob)));
  });

  test("a prompt longer than the context is a clear error", async () => {
    const b = make({ contextSize: 1024 });
    const long = "Once upon a time there was a girl. ".repeat(200);
    await assert.rejects(collect(b.stream({ prompt: { kind: "raw", text: long }, maxTokens: 5 })), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.match(e.message, /the prompt is \d+ tokens, more than the 1024-token context of model stories/);
      return true;
    });
    await assert.rejects(b.score({ prefix: { kind: "raw", text: long }, candidates: ["x"] }), BackendError);
  });

  test("profiles on the same file share the weights; a model over the budget is refused", async () => {
    // The pool keys weights by real path (../shared may be reached through a symlink).
    const real = realpathSync(MODEL);
    const users = () =>
      pool
        .loaded()
        .filter((e) => e.path === real)
        .reduce((n, e) => n + e.users, 0);
    const before = users();
    const one = new LocalBackend({ name: "a", modelPath: MODEL, pool, contextSize: 256 });
    const two = new LocalBackend({ name: "b", modelPath: MODEL, pool, contextSize: 256 });
    await one.load();
    await two.load();
    assert.equal(pool.loaded().filter((e) => e.path === real).length, 1, "one copy of the weights");
    assert.equal(users(), before + 2);
    assert.equal((await one.load()).context, (await two.load()).context, "same file and context size: one context");
    await one.close();
    await two.close();
    assert.equal(users(), before);

    const tiny = new LocalModelPool({ threads: 1, gpu: false, memoryBudgetBytes: 2 * 1024 ** 2 });
    const refused = new LocalBackend({ name: "c", modelPath: MODEL, pool: tiny, contextSize: 2048 });
    await assert.rejects(refused.load(), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.match(e.message, /stories260K\.gguf/);
      assert.match(e.message, /needs about [\d.]+ MB/);
      assert.match(e.message, /of the 2\.0 MB local model budget/);
      return true;
    });
    await tiny.dispose();
  });

  test("a missing model file is a clear error naming the path", async () => {
    const b = new LocalBackend({ name: "gone", modelPath: "/nonexistent/model.gguf", pool });
    await assert.rejects(b.load(), /model file not found: \/nonexistent\/model\.gguf .*CONCORD_MODEL=/);
  });

  test("a model with a chat template gets its own template rendered, with the generation prompt", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-tpl-"));
    const file = join(dir, "templated.gguf");
    // A QwQ-like template: the generation prompt already opens the thinking block.
    const tpl =
      "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}";
    withStringMetadata(MODEL, file, "tokenizer.chat_template", tpl);
    const b = new LocalBackend({ name: "templated", modelPath: file, pool, contextSize: 512 });
    try {
      const { model } = await b.load();
      const format = chatFormatFor(model);
      assert.equal(format.kind, "jinja");
      const tokens = promptTokens(
        model,
        { kind: "chat", messages: [{ role: "user", content: "Tell a story. <s>" }], assistantPrefix: "<think>\nLily" },
        format,
      );
      const text = model.detokenize(tokens, true);
      assert.equal(tokens.filter((t) => t === model.tokens.bos).length, 1, "one BOS; '<s>' in a message stays text");
      assert.match(text, /<\|im_start\|>user\nTell a story\./);
      assert.ok(text.endsWith("<|im_start|>assistant\n<think>\nLily"), JSON.stringify(text));
      assert.equal(text.split("<think>").length, 2, "the open tag is not doubled");
      const r = await collect(b.stream({ prompt: { kind: "chat", messages: [{ role: "user", content: "Hi" }] }, maxTokens: 8, temperature: 0 }));
      assert.ok(r.reasoning.length > 0, "text after an open <think> is reasoning");
      const caps = await b.probe();
      assert.equal(caps.reasoningField, "inline");
      assert.ok(caps.notes.some((n) => /model's own \(Jinja\)/.test(n)));
    } finally {
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("probe reports what works", async () => {
    const caps = await make().probe();
    assert.equal(caps.streaming, true);
    assert.equal(caps.tokenLogprobs, true);
    assert.equal(caps.promptScoring, true);
    assert.equal(caps.prefill, true);
    assert.equal(caps.reasoningField, null);
    assert.ok(caps.notes.some((n) => /plain System\/User\/Assistant template/.test(n)));
  });
});
