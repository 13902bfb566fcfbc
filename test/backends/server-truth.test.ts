// What a server says, taken at its word, and what it does not say, not taken at all: faults
// the real llama-server cannot be made to show, on the protocol double (today's wire formats).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { CachedBackend } from "../../src/backends/cache.js";
import { BackendError, collect, type Prompt } from "../../src/backends/types.js";
import { parseProfile } from "../../src/config/profile.js";
import { startProtocolDouble, type ProtocolDouble, type ProtocolDoubleOptions } from "../doubles/protocol-double.js";

const doubles: ProtocolDouble[] = [];
const raw: Server[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
  for (const s of raw) s.close();
});

async function double(opts: ProtocolDoubleOptions) {
  const d = await startProtocolDouble(opts);
  doubles.push(d);
  return d;
}

const ask: Prompt = { kind: "chat", messages: [{ role: "user", content: "What is 2 + 2?" }] };
const backendOn = (d: ProtocolDouble, extra: Record<string, unknown> = {}, opts: ConstructorParameters<typeof OpenAIBackend>[1] = {}) =>
  new OpenAIBackend({ name: "m1", backend: "openai", baseURL: d.baseURL, model: d.model, ...extra }, { maxRetries: 2, timeoutMs: 5000, ...opts });

describe("failures are failures", () => {
  test("an HTML page answered with 200 is one line, not retried, not an empty answer, never cached", async () => {
    const d = await double({ flavor: "llama-server", faults: [{ kind: "html" }] });
    const dir = mkdtempSync(join(tmpdir(), "concord-cache-"));
    const cached = new CachedBackend(backendOn(d), { dir, served: () => Promise.resolve("x") });
    const req = { prompt: ask, maxTokens: 16, temperature: 0 };
    await assert.rejects(collect(cached.stream(req)), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.kind, "not-api");
      assert.match(err.message, /^model "m1": the server answered with an HTML page, not the API \(is baseURL/);
      assert.doesNotMatch(err.message, /[\n<]/);
      return true;
    });
    assert.equal(d.requests.filter((r) => r.path === "/v1/chat/completions").length, 1, "not retried");
    // The server is fixed: the answer is asked for (nothing was cached), and it is a real one.
    const r = await collect(cached.stream(req));
    assert.ok(r.text.length > 0 && !r.text.includes("<"), r.text);
    assert.equal(cached.stats().writes, 1);
  });

  test("a context overflow is not 'prefill refused': the next prefill uses the same method", async () => {
    const d = await double({ flavor: "llama-server", contextSize: 40 });
    const b = backendOn(d);
    const long: Prompt = { kind: "chat", messages: [{ role: "user", content: "word ".repeat(60) }], assistantPrefix: "<think>\nSo" };
    await assert.rejects(collect(b.stream({ prompt: long, maxTokens: 8 })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.kind, "context-overflow");
      assert.equal(err.retryable, false);
      assert.match(
        err.message,
        /HTTP 400 from server: request \(\d+ tokens\) exceeds the available context size \(40 tokens\).*; the prompt is longer than the model's context$/,
      );
      return true;
    });
    const r = await collect(b.stream({ prompt: { ...ask, assistantPrefix: "The answer" }, maxTokens: 8, temperature: 0 }));
    assert.ok(r.text.length > 0);
    assert.ok(!d.requests.some((q) => q.path === "/apply-template"), "no switch to another prefill method");
    const bodies = d.requests.filter((q) => q.path === "/v1/chat/completions").map((q) => q.body!);
    assert.ok(bodies.every((x) => x.continue_final_message === true && x.add_generation_prompt === false));
  });

  test("a server that ignores max_tokens and streams forever: the stream ends at the asked length, and the connection is closed", async () => {
    const d = await double({ flavor: "vllm", faults: [{ kind: "endless" }] });
    const chunks: string[] = [];
    const r = await collect(backendOn(d).stream({ prompt: ask, maxTokens: 20 }), (c) => chunks.push(c.text));
    assert.equal(r.finishReason, "length");
    // A chunk holds at least one token: 4 pieces of slack, and the one that showed the overrun.
    assert.ok(chunks.length <= 25, `${chunks.length} pieces for 20 tokens`);
    const rec = d.requests.find((q) => q.path === "/v1/chat/completions")!;
    while (rec.endedAt === undefined) await new Promise((res) => setImmediate(res));
    assert.equal(rec.aborted, true);
  });

  test("one 50 MB SSE event fails fast: one line, the connection closed long before 50 MB", async () => {
    const d = await double({ flavor: "vllm", faults: [{ kind: "huge-event", bytes: 50 << 20 }] });
    await assert.rejects(collect(backendOn(d).stream({ prompt: ask, maxTokens: 20 })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.kind, "too-large");
      assert.match(
        err.message,
        /^model "m1": a streamed (line|event) is (longer|larger) than \d+(\.\d)? MB \(streaming a chat completion\); not read further$/,
      );
      return true;
    });
    const rec = d.requests.find((q) => q.path === "/v1/chat/completions")!;
    while (rec.endedAt === undefined) await new Promise((res) => setImmediate(res));
    assert.equal(rec.aborted, true, "the client closed the connection mid-event");
    assert.equal(d.requests.filter((q) => q.path === "/v1/chat/completions").length, 1, "not retried");
  });

  test("a hung server process (connections accepted, nothing answered) costs one timeout, then each request fails at once", async () => {
    const sockets: Socket[] = [];
    const asked: string[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on("data", (d) => asked.push(String(d).split(" HTTP/")[0]));
    });
    raw.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const b = new OpenAIBackend(
      { name: "hung", backend: "openai", flavor: "llama-server", baseURL: `http://127.0.0.1:${port}/v1`, model: "m" },
      { timeoutMs: 1500, maxRetries: 2 },
    );
    await assert.rejects(collect(b.stream({ prompt: ask, maxTokens: 4 })), /no answer from .* within 1\.5 s/);
    assert.deepEqual(asked, ["POST /v1/chat/completions"]);
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        collect(b.stream({ prompt: ask, maxTokens: 4 })),
        /is not answering \(it did not answer within 1\.5 s before, nor \/health within 0\.4 s now\)/,
      );
    // Each later request sent only the short /health question, never a model request that waits in full.
    assert.deepEqual(asked.slice(1), ["GET /health", "GET /health", "GET /health"]);
    for (const s of sockets) s.destroy();
  });
});

describe("today's llama-server wire formats", () => {
  test("/v1/completions logprobs arrive as logprobs.content[] and are read", async () => {
    const d = await double({ flavor: "llama-server" });
    const r = await collect(backendOn(d).stream({ prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 12, temperature: 0, logprobs: true }));
    assert.ok(r.text.length > 0);
    assert.equal(r.tokens?.map((t) => t.token).join(""), r.text);
    assert.ok(r.tokens!.every((t) => t.logprob < 0));
  });

  test("a trailing assistant message streamed back before its continuation: the echo is removed", async () => {
    const d = await double({ flavor: "llama-server" });
    const prefix = "The answer, after some thought, is";
    const caps = {
      streaming: true,
      tokenLogprobs: true,
      promptScoring: false,
      prefill: true,
      reasoningField: null,
      notes: [],
      prefillMethod: "trailing_assistant" as const,
    };
    const r = await collect(
      backendOn(d, {}, { capabilities: caps }).stream({ prompt: { ...ask, assistantPrefix: prefix }, maxTokens: 12, temperature: 0, logprobs: true }),
    );
    const sent = d.requests.find((q) => q.path === "/v1/chat/completions")!.body!;
    assert.equal(sent.continue_final_message, undefined, "sent as a plain trailing assistant message");
    assert.ok(r.text.length > 0 && !r.text.includes(prefix), r.text);
    assert.equal(r.tokens?.map((t) => t.token).join(""), r.text, "the logprobs belong to the continuation");
  });
});

describe("the cache is keyed on what the server says it serves", () => {
  for (const model of ["local", "auto"]) {
    test(`another model behind the same URL and profile (model: ${model}) is asked, not served from the cache`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "concord-cache-"));
      const first = await double({ flavor: "llama-server", model: "stories-a.gguf" });
      const port = Number(new URL(first.url).port);
      const profile = { name: "ls", backend: "openai" as const, baseURL: first.baseURL, model };
      const cachedFor = () => {
        const inner = new OpenAIBackend(profile, { timeoutMs: 5000 });
        return new CachedBackend(inner, { dir, model: profile.baseURL, served: (s) => inner.servedModel(s) });
      };
      const req = { prompt: ask, maxTokens: 16, temperature: 0 };
      const a = cachedFor();
      await collect(a.stream(req));
      const again = cachedFor();
      await collect(again.stream(req));
      assert.deepEqual([again.stats().hits, again.stats().misses], [1, 0], "the same model: served from the cache");
      await first.close();
      await double({ flavor: "llama-server", model: "stories-b.gguf", port });
      const other = cachedFor();
      await collect(other.stream(req));
      assert.deepEqual([other.stats().hits, other.stats().misses], [0, 1], "another model: asked");
    });
  }
});

describe("a key or password inside baseURL", () => {
  const secret = "sk-proj-Abc123Def456Ghi789Jkl012";
  for (const url of [
    `https://user:${secret}@api.example.com/v1`,
    `https://api.example.com/v1?api_key=${secret}`,
    `https://${secret}@api.example.com/v1`,
    `https://api.example.com/${secret}/v1`,
  ]) {
    test(`is refused in one line that does not repeat it: ${url.replace(secret, "<key>")}`, () => {
      assert.throws(
        () => parseProfile({ name: "x", backend: "openai", baseURL: url, model: "m" }, "models.yaml", ["models", "x"]),
        (err: unknown) => {
          const msg = (err as Error).message;
          assert.match(
            msg,
            /^models\.yaml: models\.x\.baseURL: holds (a password|a user name or key before @|a key in its query|a key in its path) \(not repeated here\); put the key in an environment variable and set apiKeyEnv to its name$/,
          );
          assert.ok(!msg.includes(secret) && !msg.includes("Abc123"));
          return true;
        },
      );
      assert.throws(
        () => new OpenAIBackend({ name: "x", backend: "openai", baseURL: url, model: "m" }),
        (err: unknown) => err instanceof BackendError && !err.message.includes(secret),
      );
    });
  }
  test("an ordinary address with a port and path is accepted", () => {
    assert.equal(parseProfile({ name: "x", backend: "openai", baseURL: "http://127.0.0.1:8080/v1", model: "m" }, "f").baseURL, "http://127.0.0.1:8080/v1");
  });
});
