// Concurrency limits (engine/limits.ts): where each model's limit starts, that explicit limits
// stay caps, in-flight and queued counts, adaptation to a server that slows down past its
// capacity, and a real 429 with Retry-After from the protocol double.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { collect, type Backend, type CompletionRequest, type ScoreRequest } from "../../src/backends/types.js";
import { Limiter } from "../../src/engine/limits.js";
import { handleFor, startConcurrency, type ModelHandle } from "../../src/engine/models.js";
import { parseExperimentSpec } from "../../src/engine/experiment.js";
import { startProtocolDouble } from "../doubles/protocol-double.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";
import { eventually } from "../wait.js";

const req = (text = "Say something."): CompletionRequest => ({
  prompt: { kind: "chat", messages: [{ role: "user", content: text }] },
  maxTokens: 8,
  temperature: 0,
});

test("a model's limit starts from what is known of its server", () => {
  assert.equal(startConcurrency({ name: "a", backend: "local", model: "m", path: "/x.gguf", sequences: 6 }), 6);
  assert.equal(startConcurrency({ name: "a", backend: "openai", model: "m", baseURL: "http://gpu:8000/v1", flavor: "vllm" }), 32);
  assert.equal(startConcurrency({ name: "a", backend: "openai", model: "m", baseURL: "http://gpu:8000/v1", flavor: "sglang" }), 32);
  assert.equal(startConcurrency({ name: "a", backend: "openai", model: "gpt-4o" }), 8, "a hosted API: modest");
  assert.equal(startConcurrency({ name: "a", backend: "openai", model: "m", baseURL: "http://localhost:8080/v1", flavor: "llama-server" }), 4);
  const replicas = {
    name: "a",
    backend: "openai" as const,
    model: "m",
    flavor: "vllm" as const,
    baseURL: "http://g1:8000/v1",
    baseUrls: ["http://g2:8000/v1", "http://g3:8000/v1"],
  };
  assert.equal(startConcurrency(replicas), 96, "replicas multiply it");
  assert.equal(handleFor(replicas, new ScriptedBackend({ name: "a", respond: () => "" })).concurrency, 96);
});

test("spec limits are caps: an explicit perModel bounds a server known to take more; none means adaptive", () => {
  const capped = new Limiter({ perModel: 2, global: 3 });
  capped.wrap({ name: "v", backend: new ScriptedBackend({ name: "v", respond: () => "" }), thinkingFormat: "none", concurrency: 32 });
  assert.equal(capped.load()[0]!.limit, 2);
  const open = new Limiter({});
  open.wrap({ name: "v", backend: new ScriptedBackend({ name: "v", respond: () => "" }), thinkingFormat: "none", concurrency: 32 });
  assert.equal(open.load()[0]!.limit, 32);
  const spec = parseExperimentSpec({ problems: { set: "builtin" }, conditions: ["empty"], targets: ["t"], out: "o" }, "spec");
  assert.deepEqual(spec.concurrency, { adaptive: true });
  const fixed = new Limiter({ adaptive: false });
  fixed.wrap({ name: "v", backend: new ScriptedBackend({ name: "v", respond: () => "" }), thinkingFormat: "none", concurrency: 32 });
  assert.equal(fixed.load()[0]!.limit, 2, "adaptive off and nothing written: the old fixed defaults");
});

test("requests in flight never exceed the limit; the rest are counted as queued", async () => {
  const backend = new ScriptedBackend({ name: "m", respond: () => " one two three four", tokenDelayMs: 5 });
  const limiter = new Limiter({});
  const h = limiter.wrap({ name: "m", backend, thinkingFormat: "none", concurrency: 3 });
  const all = Promise.all(Array.from({ length: 10 }, () => collect(h.backend.stream(req()))));
  const seen = await eventually(() => {
    const l = limiter.load()[0]!;
    return l.inFlight === 3 && l.queued === 7 ? l : false;
  });
  assert.equal(seen.limit, 3);
  const results = await all;
  assert.equal(results.length, 10);
  assert.equal(backend.maxOpenStreams, 3);
  assert.deepEqual(
    limiter.load().map((l) => [l.inFlight, l.queued]),
    [[0, 0]],
  );
});

/**
 * A server that takes `capacity` requests at full speed and queues the rest: an answer's time
 * to first token is `base` plus the wait for a free place. It reports latencies as a server
 * backend does, through the request's observer; the latency it reports is computed from the
 * queue it found (base x (1 + queued ahead / capacity)), not read from the clock, so a pause of
 * a loaded machine is not taken for queueing.
 */
class QueueingServer implements Backend {
  readonly name = "queueing";
  running = 0;
  maxRunning = 0;
  private waiting: Array<() => void> = [];
  constructor(
    private capacity: number,
    private baseMs: number,
  ) {}
  async *stream(r: CompletionRequest) {
    const ahead = this.running >= this.capacity ? this.waiting.length + 1 : 0;
    if (ahead) await new Promise<void>((res) => this.waiting.push(res));
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((res) => setTimeout(res, this.baseMs));
    r.observe?.latency("first-token", this.baseMs * (1 + ahead / this.capacity));
    this.running--;
    this.waiting.shift()?.();
    yield { channel: "content" as const, text: "ok" };
    return { text: "ok", reasoning: "", finishReason: "stop" as const };
  }
  async score(_r: ScoreRequest): Promise<never> {
    throw new Error("not used");
  }
  async probe() {
    return { streaming: true, tokenLogprobs: false, promptScoring: false, prefill: false, reasoningField: null, notes: [] };
  }
  async close() {}
}

test("the limit grows towards a server's capacity while latency holds, and backs off when requests queue there", async () => {
  const server = new QueueingServer(12, 50);
  const limiter = new Limiter({});
  const h = limiter.wrap({ name: "q", backend: server, thinkingFormat: "none", concurrency: 2 });
  const limits: number[] = [];
  await Promise.all(
    Array.from({ length: 700 }, async () => {
      await collect(h.backend.stream(req()));
      limits.push(limiter.load()[0]!.limit);
    }),
  );
  const peak = Math.max(...limits);
  assert.ok(peak > 12, `the limit grew from 2 past the capacity of 12 (peak ${peak})`);
  assert.ok(limiter.load()[0]!.latencyDecreases > 0, "requests queueing at the server made it back off");
  // Slow start doubles the limit per round trip and hears of the queue a round trip late: it may
  // overshoot a few times the capacity, then backs off to where queueing doubles latency (2 x 12).
  assert.ok(peak <= 5 * 12, `and it did not run away (peak ${peak})`);
  assert.ok(limits.at(-1)! <= 2 * 12 + 4, `and it settled near the capacity (last ${limits.at(-1)})`);
});

test("a 429 with Retry-After from the server: the limit halves and nothing new starts before the wait is over", async () => {
  // Streams last far longer than the refusal takes to come back: every request after the first
  // eight is sent once the refusal is known.
  const double = await startProtocolDouble({ flavor: "vllm", latencyMs: 40, tokensPerSecond: 25 });
  try {
    double.pushFault({ kind: "status", status: 429, retryAfter: "1" });
    const backend = new OpenAIBackend({ name: "v", backend: "openai", baseURL: double.baseURL, model: double.model, flavor: "vllm" }, { maxRetries: 2 });
    const limiter = new Limiter({});
    const h: ModelHandle = limiter.wrap({ name: "v", backend, thinkingFormat: "none", concurrency: 8 });
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => collect(h.backend.stream(req(`Question ${i}?`)))));
    assert.equal(results.filter((r) => r.text.length > 0).length, 24, "every request answered, the refused one after its wait");
    const load = limiter.load()[0]!;
    assert.equal(load.overloads, 1);
    const calls = double.requests.filter((r) => r.path === "/v1/chat/completions");
    const refused = calls.find((r) => r.status === 429)!;
    assert.ok(refused.endedAt !== undefined);
    const firstEight = new Set([...calls].sort((a, b) => a.startedAt - b.startedAt).slice(0, 8));
    const during = calls.filter((r) => !firstEight.has(r) && r.startedAt < refused.endedAt! + 950);
    assert.deepEqual(
      during.map((r) => r.startedAt - refused.endedAt!),
      [],
      "no request reached the server during its Retry-After",
    );
    const after = calls.filter((r) => r.startedAt >= refused.endedAt! + 950);
    assert.ok(after.length >= 24 - 8, `the queued requests went after the wait (${after.length})`);
    const running = (set: typeof calls, at: number) => set.filter((b) => b.startedAt <= at && (b.endedAt ?? Infinity) > at).length;
    // The limit when the refusal came: its start (8), or what ran at once before it if slow start
    // had grown it past 8. (On a loaded machine the first eight can reach the double after the
    // refusal has gone back, so what ran at once alone can undercount it.)
    const before = calls.filter((r) => r.startedAt < refused.endedAt!);
    const concurrentBefore = Math.max(8, ...before.map((a) => running(before, a.startedAt)));
    // The first wave after the wait, before any answer could grow the limit again.
    const resumed = Math.min(...after.map((r) => r.startedAt));
    const firstWave = after.filter((r) => r.startedAt < resumed + 100).length;
    assert.ok(
      firstWave <= Math.ceil(concurrentBefore / 2) + 1,
      `after the refusal at most half the old limit went at once (${firstWave} after, ${concurrentBefore} before; the refused request's retry holds its own slot)`,
    );
  } finally {
    await double.close();
  }
});

test("progress lines show each busy model's requests in flight and queued", async () => {
  const { progressPrinter } = await import("../../src/commands/run.js");
  let out = "";
  const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const p = progressPrinter(stream);
  p.onEvent({
    type: "progress",
    done: 3,
    total: 10,
    label: "p1 empty -> t1",
    load: [
      { model: "t1", inFlight: 8, queued: 40, limit: 8 },
      { model: "t2", inFlight: 0, queued: 0, limit: 32 },
      { model: "t\u001b[31m3", inFlight: 1, queued: 0, limit: 4 },
    ],
  });
  assert.equal(out, "3/10 p1 empty -> t1 | t1 8 in flight 40 queued | t [31m3 1 in flight 0 queued\n");
});

test("without a terminal, redraws between records are printed at most every quietMs, told apart from records; failed calls are counted", async () => {
  const { progressPrinter } = await import("../../src/commands/run.js");
  let out = "";
  let clock = 0;
  const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const p = progressPrinter(stream, { now: () => clock, quietMs: 30_000 });
  const at = (ms: number, done: number, tick: boolean, failed = 0) => {
    clock = ms;
    p.onEvent({
      type: "progress",
      done,
      total: 4,
      label: "p1 ensemble -> t",
      calls: { sent: 10 * done + ms / 1000 },
      tick,
      load: [{ model: "g", inFlight: 2, queued: 1, limit: 4, failed }],
    });
  };
  at(0, 0, false);
  at(1000, 0, true);
  at(29_000, 0, true, 3);
  at(30_000, 0, true, 5);
  at(31_000, 1, false, 5);
  at(32_000, 2, false, 5);
  assert.deepEqual(out.trimEnd().split("\n"), [
    "0/4 p1 ensemble -> t · 0 calls sent | g 2 in flight 1 queued",
    "  still working at 0/4 · 30 calls sent | g 2 in flight 1 queued 5 failed",
    "1/4 p1 ensemble -> t · 41 calls sent | g 2 in flight 1 queued 5 failed",
    "2/4 p1 ensemble -> t · 52 calls sent | g 2 in flight 1 queued 5 failed",
  ]);
});

test("on a terminal the line is rewritten in place, counts first, so a narrow terminal cuts the label and keeps the load", async () => {
  const { progressPrinter } = await import("../../src/commands/run.js");
  const draw = (columns: number) => {
    let out = "";
    const stream = { isTTY: true, columns, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    progressPrinter(stream).onEvent({
      type: "progress",
      done: 20,
      total: 30,
      label: "demo-5 default-greedy|full -> rep",
      calls: { sent: 254 },
      tick: true,
      load: [{ model: "rep", inFlight: 0, queued: 0, limit: 8, failed: 212 }],
    });
    return out;
  };
  assert.equal(draw(80), "\r\x1b[2K20/30 · 254 calls sent | rep 0 in flight 0 queued 212 failed · demo-5 default-g");
  assert.equal(draw(80).length - "\r\x1b[2K".length, 79);
  assert.equal(
    draw(140),
    "\r\x1b[2K[################........] 20/30 · 254 calls sent | rep 0 in flight 0 queued 212 failed · demo-5 default-greedy|full -> rep",
  );
});

test("failed requests are counted per model and each kind of failure is told once; cancellations are not failures", async () => {
  const told: Array<{ model: string; message: string; firstOfKind: boolean }> = [];
  const limiter = new Limiter({}, { onFailure: (f) => told.push(f) });
  let n = 0;
  const failing: Backend = {
    name: "f",
    probe: async () => ({}) as never,
    close: async () => {},
    score: async () => {
      throw new Error(`request (${100 + n++} tokens) exceeds the available context size (64 tokens)`);
    },
    // eslint-disable-next-line require-yield
    async *stream() {
      throw new Error(`request (${100 + n++} tokens) exceeds the available context size (64 tokens)`);
    },
  };
  const h = limiter.wrap({ name: "f", backend: failing, thinkingFormat: "none", concurrency: 2 });
  const scoreReq: ScoreRequest = { prefix: { kind: "raw", text: "p" }, candidates: ["a"] };
  for (let i = 0; i < 3; i++) await assert.rejects(collect(h.backend.stream(req())));
  await assert.rejects(h.backend.score(scoreReq));
  const slow = limiter.wrap({ name: "s", backend: new ScriptedBackend({ name: "s", respond: () => " a b c d", tokenDelayMs: 50 }), thinkingFormat: "none" });
  const ctrl = new AbortController();
  const cancelled = collect(slow.backend.stream({ ...req(), signal: ctrl.signal }));
  ctrl.abort();
  await assert.rejects(cancelled);
  assert.deepEqual(
    limiter.load().map((l) => [l.model, l.failed]),
    [
      ["f", 4],
      ["s", 0],
    ],
  );
  assert.deepEqual(
    told.map((f) => f.firstOfKind),
    [true, false, false, false],
  );
  assert.match(told[0]!.message, /^request \(100 tokens\)/);
});

test("a run's signal keeps no listener per request once the request has its slots", async () => {
  // In node:events since Node 15; not in the typings this project builds with.
  const { getEventListeners } = (await import("node:events")) as unknown as { getEventListeners: (t: EventTarget, type: string) => unknown[] };
  const limiter = new Limiter({ global: 2 });
  const h = limiter.wrap({ name: "m", backend: new ScriptedBackend({ name: "m", respond: () => " ok" }), thinkingFormat: "none", concurrency: 2 });
  const run = new AbortController();
  await Promise.all(Array.from({ length: 40 }, () => collect(h.backend.stream({ ...req(), signal: run.signal }))));
  assert.equal(getEventListeners(run.signal, "abort").length, 0);
});

test("answers from the response cache take no slot: they are served while a slow request holds the only one", async () => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { CachedBackend } = await import("../../src/backends/cache.js");
  const { DeterministicTextBackend } = await import("../doubles/deterministic-backend.js");
  const dir = await mkdtemp(join(tmpdir(), "concord-limits-cache-"));
  try {
    const inner = new DeterministicTextBackend("d", { chunkDelayMs: 20 });
    const cached = new CachedBackend(inner, { dir, model: "m" });
    const stored = await collect(cached.stream(req("stored")));
    const storedScore = await cached.score({ prefix: { kind: "raw", text: "p" }, candidates: ["a"] });
    const limiter = new Limiter({ perModel: 1, adaptive: false });
    const limited = limiter.wrap({ name: "d", backend: cached, thinkingFormat: "none" }).backend;
    // A sampled request (never cached) takes the one slot and holds it until released.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = (async () => {
      const gen = limited.stream({ ...req("slow"), temperature: 1 });
      await gen.next();
      await held;
      for await (const _ of { [Symbol.asyncIterator]: () => gen }) void _;
    })();
    await eventually(() => assert.equal(limiter.load()[0]!.inFlight, 1));
    assert.deepEqual(await collect(limited.stream(req("stored"))), stored, "served while the slot is held");
    assert.deepEqual(await limited.score({ prefix: { kind: "raw", text: "p" }, candidates: ["a"] }), storedScore);
    assert.equal(limiter.load()[0]!.queued, 0);
    const miss = collect(limited.stream(req("not stored")));
    await eventually(() => assert.equal(limiter.load()[0]!.queued, 1, "a miss waits for the slot"));
    release();
    await slow;
    await miss;
    assert.equal(inner.calls.stream, 3);
    await cached.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
