import { test, describe, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachedBackend, completionKey, isDeterministic, scoreKey, sha256, stableHash, stableStringify } from "../../src/backends/cache.js";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { Recorder, RecordingBackend } from "../../src/backends/recorder.js";
import { loadRecording, ReplayBackend } from "../../src/backends/replay.js";
import {
  collect,
  type Backend,
  type CompletionRequest,
  type CompletionResult,
  type ScoreRequest,
  type ScoreResult,
  type StreamChunk,
} from "../../src/backends/types.js";
import { DeterministicTextBackend } from "../doubles/deterministic-backend.js";
import { needsShared } from "../support/shared.js";

const prompt = { kind: "chat" as const, messages: [{ role: "user" as const, content: "Tell a story." }], assistantPrefix: "<think>" };
const greedy: CompletionRequest = { prompt, maxTokens: 6, temperature: 0 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "concord-cache-"));
  delete process.env.CONCORD_NO_CACHE;
});
afterEach(async () => {
  delete process.env.CONCORD_NO_CACHE;
  await rm(dir, { recursive: true, force: true });
});

/** The log lines on disk, once `flushed` has appended what it holds. */
async function entries(flushed?: CachedBackend): Promise<string[]> {
  await flushed?.flush();
  const out: string[] = [];
  for (const f of await readdir(join(dir, "log")).catch(() => [] as string[])) {
    if (f.endsWith(".jsonl")) out.push(...(await readFile(join(dir, "log", f), "utf8")).split("\n").filter((l) => l !== ""));
  }
  return out;
}

async function run(b: Backend, req: CompletionRequest) {
  const chunks: StreamChunk[] = [];
  const result = await collect(b.stream(req), (c) => chunks.push(c));
  return { chunks, result };
}

describe("CachedBackend", () => {
  test("a second identical greedy request is served from disk, chunk by chunk", async () => {
    const inner = new DeterministicTextBackend();
    const cached = new CachedBackend(inner, { dir, model: "stories260K.gguf" });
    const first = await run(cached, greedy);
    const second = await run(cached, greedy);
    assert.equal(inner.calls.stream, 1);
    assert.ok(second.chunks.length >= 3, "the replayed stream still delivers tokens");
    assert.deepEqual(second.chunks, first.chunks);
    assert.deepEqual(second.result, first.result);
    assert.deepEqual(cached.stats(), { hits: 1, misses: 1, bypassed: 0, writes: 1, corrupt: 0, unwritten: 0 });
    assert.equal((await entries(cached)).length, 1);
  });

  test("a fresh CachedBackend on the same folder makes zero model calls on a second run", async () => {
    const requests: CompletionRequest[] = [greedy, { ...greedy, maxTokens: 4 }, { ...greedy, temperature: 0.7, seed: 3 }];
    const scoreReq = { prefix: prompt, candidates: ["the cat sat.", "a mat."] };
    const firstInner = new DeterministicTextBackend();
    const firstRun = new CachedBackend(firstInner, { dir });
    const before = [];
    for (const r of requests) before.push((await run(firstRun, r)).result);
    const scoreBefore = await firstRun.score(scoreReq);

    const secondInner = new DeterministicTextBackend();
    const secondRun = new CachedBackend(secondInner, { dir });
    const after = [];
    for (const r of requests) after.push((await run(secondRun, r)).result);
    const scoreAfter = await secondRun.score(scoreReq);
    assert.deepEqual(secondInner.calls, { stream: 0, score: 0, probe: 0 });
    assert.equal(secondRun.innerCalls, 0);
    assert.equal(secondRun.stats().hits, 4);
    assert.deepEqual(after, before);
    assert.deepEqual(scoreAfter, scoreBefore);
  });

  test("sampled requests without a seed are never cached", async () => {
    const inner = new DeterministicTextBackend();
    const cached = new CachedBackend(inner, { dir });
    const req = { ...greedy, temperature: 0.8 };
    const a = await run(cached, req);
    const b = await run(cached, req);
    assert.equal(inner.calls.stream, 2);
    assert.notDeepEqual(a.result.text, b.result.text, "the test double samples anew");
    assert.equal(cached.stats().bypassed, 2);
    assert.equal((await entries(cached)).length, 0);
    assert.equal(isDeterministic({ ...greedy, temperature: undefined }), false, "model default temperature is not greedy");
    assert.equal(isDeterministic({ ...greedy, temperature: 1, seed: 0 }), true);
  });

  test("the key changes with everything that changes the answer", () => {
    const base = completionKey("local", "m", greedy);
    const variants: CompletionRequest[] = [
      { ...greedy, prompt: { ...prompt, assistantPrefix: "<think> " } },
      { ...greedy, prompt: { kind: "raw", text: "Tell a story." } },
      { ...greedy, maxTokens: 7 },
      { ...greedy, temperature: 0.5 },
      { ...greedy, topK: 5 },
      { ...greedy, topP: 0.9 },
      { ...greedy, seed: 1 },
      { ...greedy, stop: ["."] },
      { ...greedy, logprobs: true },
    ];
    const keys = new Set([base, ...variants.map((v) => completionKey("local", "m", v))]);
    assert.equal(keys.size, variants.length + 1);
    assert.notEqual(completionKey("other", "m", greedy), base, "backend name");
    assert.notEqual(completionKey("local", "m2", greedy), base, "model identity");
    const ac = new AbortController();
    assert.equal(completionKey("local", "m", { ...greedy, signal: ac.signal }), base, "the signal is not part of the key");
    assert.equal(completionKey("local", "m", { ...greedy, logprobs: false }), base, "logprobs:false is the default");
    const s = { prefix: prompt, candidates: ["a", "b"] };
    assert.notEqual(scoreKey("local", "m", s), scoreKey("local", "m", { ...s, candidates: ["b", "a"] }));
    assert.notEqual(scoreKey("local", "m", s), scoreKey("local", "m", { ...s, includePrefix: true }));
    assert.equal(stableStringify({ b: 1, a: { d: [1, undefined], c: undefined } }), '{"a":{"d":[1,null]},"b":1}');
  });

  test("errors are not cached", async () => {
    const failing = new CachedBackend(new DeterministicTextBackend("local", { failWith: "server said no" }), { dir });
    await assert.rejects(run(failing, greedy), /server said no/);
    await assert.rejects(failing.score({ prefix: prompt, candidates: ["x"] }), /server said no/);
    assert.equal((await entries()).length, 0);
    const inner = new DeterministicTextBackend("local");
    await run(new CachedBackend(inner, { dir }), greedy);
    assert.equal(inner.calls.stream, 1, "the later request reached the model");
  });

  test("an aborted stream is not cached", async () => {
    const inner = new DeterministicTextBackend("local", { chunkDelayMs: 5 });
    const cached = new CachedBackend(inner, { dir });
    const ac = new AbortController();
    const result = await collect(cached.stream({ ...greedy, signal: ac.signal }), () => ac.abort());
    assert.equal(result.finishReason, "abort");
    assert.equal((await entries()).length, 0);
    await run(cached, greedy);
    assert.equal(inner.calls.stream, 2);
  });

  test("a stream the consumer leaves early is not cached and the inner stream is closed", async () => {
    const inner = new DeterministicTextBackend();
    const cached = new CachedBackend(inner, { dir });
    for await (const _chunk of cached.stream(greedy)) break;
    assert.equal(inner.open, 0);
    assert.equal((await entries()).length, 0);
  });

  test("an entry of the earlier one-file layout is served and copied into the log; a damaged one is a miss, removed", async () => {
    const inner = new DeterministicTextBackend();
    const writer = new CachedBackend(inner, { dir, model: "m" });
    const first = await run(writer, greedy);
    const [line] = await entries(writer);
    await writer.close();
    const json = line!.slice(17);
    const key = JSON.parse(json).key as string;
    await rm(join(dir, "log"), { recursive: true });
    const legacy = join(dir, key.slice(0, 2), `${key}.json`);
    await mkdir(join(dir, key.slice(0, 2)));
    await writeFile(legacy, json);

    const reader = new DeterministicTextBackend();
    const cached = new CachedBackend(reader, { dir, model: "m" });
    assert.deepEqual((await run(cached, greedy)).result, first.result);
    assert.equal(reader.calls.stream, 0);
    assert.deepEqual(await entries(cached), [line], "copied into the log as it was");

    const damages = ['{"schema":1,"kind":"stream","key":', '{"schema":2}', "", "[1,2,3]"];
    for (const [i, damage] of damages.entries()) {
      const other = { ...greedy, maxTokens: 2 + i };
      const otherKey = completionKey(reader.name, "m", other);
      const damaged = join(dir, otherKey.slice(0, 2), `${otherKey}.json`);
      await mkdir(join(dir, otherKey.slice(0, 2)), { recursive: true });
      await writeFile(damaged, damage);
      const again = await run(cached, other);
      assert.equal(again.result.finishReason === "abort", false);
      assert.equal(existsSync(damaged), false, "the damaged file was removed");
    }
    assert.equal(reader.calls.stream, damages.length, "each damaged entry asked the model");
    assert.equal(cached.stats().corrupt, damages.length);
    assert.equal((await entries(cached)).length, 1 + damages.length, "the answers went into the log");
  });

  test("enabled:false or CONCORD_NO_CACHE=1 turns the cache off", async () => {
    const inner = new DeterministicTextBackend();
    const off = new CachedBackend(inner, { dir, enabled: false });
    await run(off, greedy);
    await run(off, greedy);
    await off.score({ prefix: prompt, candidates: ["a"] });
    assert.equal(inner.calls.stream, 2);
    process.env.CONCORD_NO_CACHE = "1";
    const envOff = new CachedBackend(inner, { dir });
    assert.equal(envOff.enabled, false);
    await run(envOff, greedy);
    assert.equal(inner.calls.stream, 3);
    assert.equal((await entries()).length, 0);
  });

  test("probe is passed through, close closes the inner backend", async () => {
    const inner = new DeterministicTextBackend();
    const cached = new CachedBackend(inner, { dir });
    await cached.probe();
    await cached.probe();
    assert.equal(inner.calls.probe, 2);
    await cached.close();
    assert.equal(inner.closed, true);
  });
});

/** Forwards to a real backend and counts the calls that reached it. */
class CallCountingBackend implements Backend {
  calls = { stream: 0, score: 0 };
  readonly name: string;
  constructor(private readonly inner: Backend) {
    this.name = inner.name;
  }
  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    this.calls.stream++;
    return yield* this.inner.stream(req);
  }
  score(req: ScoreRequest): Promise<ScoreResult> {
    this.calls.score++;
    return this.inner.score(req);
  }
  probe(signal?: AbortSignal) {
    return this.inner.probe(signal);
  }
  close() {
    return this.inner.close();
  }
}

describe("with the real stories260K model", { skip: needsShared("models/stories260K.gguf") }, () => {
  const MODEL = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
  const pool = new LocalModelPool({ threads: 1, gpu: false });
  const local = new LocalBackend({ name: "stories", modelPath: MODEL, pool, contextSize: 256, sequences: 1 });
  after(async () => {
    await local.close();
    await pool.dispose();
  });
  const story: CompletionRequest = { prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 24, temperature: 0 };
  const scoring: ScoreRequest = { prefix: { kind: "raw", text: "Once upon a time" }, candidates: [" there was a cat.", " the sky fell."] };

  test("a second run through the cache makes zero model calls", async () => {
    const first = new CallCountingBackend(local);
    const a = new CachedBackend(first, { dir, model: MODEL });
    const liveStory = await run(a, story);
    const liveScore = await a.score(scoring);
    assert.deepEqual(first.calls, { stream: 1, score: 1 });
    assert.ok(liveStory.chunks.length > 1 && liveStory.result.text.length > 0);

    const second = new CallCountingBackend(local);
    const b = new CachedBackend(second, { dir, model: MODEL });
    const cachedStory = await run(b, story);
    const cachedScore = await b.score(scoring);
    assert.deepEqual(second.calls, { stream: 0, score: 0 });
    assert.deepEqual(cachedStory, liveStory);
    assert.deepEqual(cachedScore, liveScore);
  });

  test("a recorded run replays the model's own stream", async () => {
    const file = join(dir, "stories.jsonl");
    const recorder = new Recorder(file);
    const rec = new RecordingBackend(local, recorder);
    const live = await run(rec, story);
    const liveScore = await rec.score(scoring);
    await recorder.flush();
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant" });
    const again = await run(replay, story);
    assert.deepEqual(again, live);
    assert.deepEqual(await replay.score(scoring), liveScore);
  });
});

test("a key hashed piece by piece is the hash of the stable text: keys made before still match (property)", async () => {
  const fc = (await import("fast-check")).default;
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: false, withMap: false, withSet: false, withDate: false }), (value) => {
      assert.equal(stableHash(value), sha256(stableStringify(value)));
    }),
    { numRuns: 500 },
  );
  // A key written to the cache by the earlier code, for a fixed request: still found.
  const req = { prompt: { kind: "chat" as const, messages: [{ role: "user" as const, content: "2 + 2?" }] }, maxTokens: 8, temperature: 0 };
  assert.equal(
    completionKey("openai", "m", req),
    sha256(stableStringify({ kind: "stream", backend: "openai", model: "m", request: { prompt: req.prompt, maxTokens: 8, temperature: 0, logprobs: false } })),
  );
});

test("token counts are asked of the server once and kept: a second run on the same folder asks nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "concord-cache-tokens-"));
  const counting = () => {
    const asked: string[] = [];
    const inner = new DeterministicTextBackend();
    return { asked, backend: Object.assign(inner, { countTokens: async (text: string) => (asked.push(text), text.split(" ").length) }) };
  };
  const first = counting();
  const a = new CachedBackend(first.backend, { dir, model: "m" });
  assert.deepEqual([await a.countTokens!("one two three"), await a.countTokens!("one two three"), await a.countTokens!("four")], [3, 3, 1]);
  assert.deepEqual(first.asked, ["one two three", "four"]);
  assert.deepEqual(a.stats(), { hits: 0, misses: 0, bypassed: 0, writes: 0, corrupt: 0, unwritten: 0 }, "token counts are not model calls");
  await a.close();
  const second = counting();
  const b = new CachedBackend(second.backend, { dir, model: "m" });
  assert.equal(await b.countTokens!("one two three"), 3);
  assert.deepEqual(second.asked, []);
  const otherModel = counting();
  assert.equal(await new CachedBackend(otherModel.backend, { dir, model: "other" }).countTokens!("four"), 1);
  assert.deepEqual(otherModel.asked, ["four"], "another model's tokenizer is asked");
  await b.close();
  await rm(dir, { recursive: true, force: true });
});
