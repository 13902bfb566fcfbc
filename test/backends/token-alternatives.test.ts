// The k most likely tokens at each generated position: from the embedded engine's distribution,
// and from an OpenAI-compatible server's top_logprobs (the real llama-server).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LocalBackend, LocalModelPool, mostLikely } from "../../src/backends/local.js";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { readLogprobs } from "../../src/backends/openai/stream.js";
import { collect, type CompletionRequest, type TokenLogprob } from "../../src/backends/types.js";
import { llamaServerMissing, startLlamaServer, STORIES, type LlamaServer } from "../e2e/llama-server.js";

const prompt: CompletionRequest["prompt"] = { kind: "chat", messages: [{ role: "user", content: "Tell a story." }], assistantPrefix: "Once upon a time" };

/** Every position has k alternatives, most likely first, each a probability. */
function checkAlternatives(tokens: TokenLogprob[], k: number) {
  assert.ok(tokens.length > 3, `${tokens.length} tokens`);
  for (const t of tokens) {
    assert.ok(t.top, `alternatives at ${JSON.stringify(t.token)}`);
    assert.ok(t.top.length >= 1 && t.top.length <= k, `${t.top.length} alternatives`);
    for (let i = 1; i < t.top.length; i++) assert.ok(t.top[i - 1]!.logprob >= t.top[i]!.logprob, "most likely first");
    for (const a of t.top) assert.ok(a.logprob <= 1e-6 && Number.isFinite(a.logprob));
    assert.ok(t.logprob <= t.top[0]!.logprob + 1e-4, "nothing is likelier than the first alternative");
  }
}

describe("picking the k most likely", () => {
  test("mostLikely keeps the k largest, largest first, in one pass", () => {
    const probs = new Map(Array.from({ length: 500 }, (_, i) => [i, ((i * 7919) % 500) / 1000] as [number, number]));
    const want = [...probs].sort((a, b) => b[1] - a[1]).slice(0, 5);
    assert.deepEqual(mostLikely(probs, 5), want);
    assert.deepEqual(mostLikely(new Map([[1, 0.2]]), 3), [[1, 0.2]]);
  });

  test("a server's top_logprobs are read in chat's list form and the legacy map form", () => {
    const chatReply = {
      content: [
        {
          token: " a",
          logprob: -1,
          top_logprobs: [
            { token: " b", logprob: -2 },
            { token: " a", logprob: -1 },
            { token: 7, logprob: 0 },
          ],
        },
      ],
    };
    const chat = readLogprobs(chatReply, true);
    // Not asked for: not kept (a server sends the chosen token's own entry even with logprobs 1).
    assert.deepEqual(readLogprobs(chatReply), [{ token: " a", logprob: -1 }]);
    assert.deepEqual(chat, [
      {
        token: " a",
        logprob: -1,
        top: [
          { token: " a", logprob: -1 },
          { token: " b", logprob: -2 },
        ],
      },
    ]);
    const legacy = readLogprobs({ tokens: [" x"], token_logprobs: [-0.5], top_logprobs: [{ " y": -3, " x": -0.5 }] }, true);
    assert.deepEqual(legacy, [
      {
        token: " x",
        logprob: -0.5,
        top: [
          { token: " x", logprob: -0.5 },
          { token: " y", logprob: -3 },
        ],
      },
    ]);
    assert.deepEqual(readLogprobs({ content: [{ token: " a", logprob: -1 }] }), [{ token: " a", logprob: -1 }]);
  });
});

describe("the embedded engine (stories260K)", () => {
  const pool = new LocalModelPool({ threads: 1, gpu: false });
  const b = new LocalBackend({ name: "stories", modelPath: STORIES, pool, contextSize: 512 });
  after(async () => {
    await b.close();
    await pool.dispose();
  });

  test("greedy: the chosen token is the first alternative, with its log-probability", async () => {
    const r = await collect(b.stream({ prompt, maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 4 }));
    checkAlternatives(r.tokens!, 4);
    for (const t of r.tokens!) {
      assert.equal(t.top!.length, 4);
      assert.equal(t.top![0]!.token, t.token);
      assert.ok(Math.abs(t.top![0]!.logprob - t.logprob) < 1e-5);
    }
    // Without alternatives asked for, none are kept (and the greedy text is the same).
    const plain = await collect(b.stream({ prompt, maxTokens: 12, temperature: 0, logprobs: true }));
    assert.equal(plain.text, r.text);
    assert.ok(plain.tokens!.every((t) => t.top === undefined));
  });

  test("sampled: a drawn token that is among the alternatives has the same log-probability there", async () => {
    const r = await collect(b.stream({ prompt, maxTokens: 16, temperature: 1, seed: 3, logprobs: true, topLogprobs: 5 }));
    checkAlternatives(r.tokens!, 5);
    const among = r.tokens!.filter((t) => t.top!.some((a) => a.token === t.token));
    assert.ok(among.length > 0);
    for (const t of among) assert.ok(Math.abs(t.top!.find((a) => a.token === t.token)!.logprob - t.logprob) < 1e-5);
  });
});

const missing = llamaServerMissing();
describe("the real llama-server", { skip: missing }, () => {
  let server: LlamaServer | undefined;
  after(async () => {
    await server?.stop();
  });

  test("chat completions with top_logprobs: k alternatives per token, the greedy token first", async () => {
    server = await startLlamaServer({ slots: 1, contextSize: 512 });
    const b = new OpenAIBackend({ name: "ls", backend: "openai", baseURL: server.baseURL, model: "auto" });
    const r = await collect(b.stream({ prompt, maxTokens: 10, temperature: 0, logprobs: true, topLogprobs: 3 }));
    checkAlternatives(r.tokens!, 3);
    for (const t of r.tokens!) assert.equal(t.top![0]!.token, t.token);
    const raw = await collect(b.stream({ prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 8, temperature: 0, logprobs: true, topLogprobs: 3 }));
    checkAlternatives(raw.tokens!, 3);
  });
});
