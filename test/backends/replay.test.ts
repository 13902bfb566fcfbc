import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABANDONED, Recorder, RecordingBackend, redactSecrets } from "../../src/backends/recorder.js";
import { FallbackBackend, loadRecording, parseRecording, ReplayBackend } from "../../src/backends/replay.js";
import { BackendError, collect, type CompletionRequest, type StreamChunk } from "../../src/backends/types.js";
import { UserError } from "../../src/errors.js";
import { DeterministicTextBackend } from "../doubles/deterministic-backend.js";

const prompt = (q: string, prefix = "<think>") => ({ kind: "chat" as const, messages: [{ role: "user" as const, content: q }], assistantPrefix: prefix });
const greedy = (q: string, prefix?: string): CompletionRequest => ({ prompt: prompt(q, prefix), maxTokens: 8, temperature: 0 });

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "concord-rec-"));
  file = join(dir, "run.jsonl");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function drain(
  b: { stream(r: CompletionRequest): AsyncGenerator<StreamChunk, import("../../src/backends/types.js").CompletionResult> },
  req: CompletionRequest,
) {
  const chunks: StreamChunk[] = [];
  const result = await collect(b.stream(req), (c) => chunks.push(c));
  return { chunks, result };
}

/** Record a small session with the deterministic backend; returns what the live run saw. */
async function recordSession(inner = new DeterministicTextBackend("gen-a", { chunkDelayMs: 2 })) {
  const rec = new RecordingBackend(inner, new Recorder(file, { source: "test" }));
  const live = [];
  live.push(await drain(rec, greedy("What is 2+2?")));
  live.push(await drain(rec, { ...greedy("What is 2+2?", "<think>Four."), logprobs: true }));
  const score = await rec.score({ prefix: prompt("What is 2+2?"), candidates: ["It is four.", "Five."] });
  const caps = await rec.probe();
  await rec.close();
  return { inner, live, score, caps };
}

describe("RecordingBackend", () => {
  test("writes a versioned header and one exchange per line, without the signal", async () => {
    const ac = new AbortController();
    const rec = new RecordingBackend(new DeterministicTextBackend("gen-a"), new Recorder(file, { source: "unit" }), { problem: "p1" });
    await drain(rec, { ...greedy("Q"), signal: ac.signal });
    await rec.score({ prefix: prompt("Q"), candidates: ["a b"] });
    await rec.close();
    const lines = (await readFile(file, "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    assert.equal(lines[0].schema, 1);
    assert.equal(lines[0].kind, "concord-recording");
    assert.equal(lines[0].source, "unit");
    assert.equal(lines[1].type, "stream");
    assert.equal(lines[1].backend, "gen-a");
    assert.equal(lines[1].problem, "p1");
    assert.equal("signal" in lines[1].request, false);
    assert.equal(lines[1].chunks.map((c: { text: string }) => c.text).join(""), lines[1].result.text);
    const ts = lines[1].chunks.map((c: { t: number }) => c.t);
    assert.deepEqual(
      ts,
      [...ts].sort((a, b) => a - b),
      "chunk times only grow",
    );
    assert.equal(lines[2].type, "score");
    assert.equal(lines[2].result.candidates[0].tokens.length, 2);
  });

  test("never writes an API key value, even when a server echoes it back", async () => {
    const secret = "sk-test-9f8e7d6c5b4a39281706";
    process.env.CONCORD_TEST_API_KEY = secret;
    try {
      const inner = new DeterministicTextBackend("remote", { failWith: `401 invalid key ${secret}` });
      const rec = new RecordingBackend(inner, new Recorder(file));
      await assert.rejects(drain(rec, greedy("Q")));
      await assert.rejects(rec.score({ prefix: prompt("Q"), candidates: [`I saw ${secret}`] }));
      await rec.close();
      const text = await readFile(file, "utf8");
      assert.ok(text.includes("invalid key"), "the error itself was recorded");
      assert.equal(text.includes(secret), false);
      assert.ok(text.includes("[redacted CONCORD_TEST_API_KEY]"));
      assert.equal(redactSecrets(`x${secret}y`), "x[redacted CONCORD_TEST_API_KEY]y");
    } finally {
      delete process.env.CONCORD_TEST_API_KEY;
    }
  });

  test("appends to an existing recording, refuses a file that is not one", async () => {
    await recordSession();
    const before = (await readFile(file, "utf8")).split("\n").length;
    const rec = new RecordingBackend(new DeterministicTextBackend("gen-b"), new Recorder(file));
    await drain(rec, greedy("More"));
    await rec.close();
    const rec2 = await loadRecording(file);
    assert.equal((await readFile(file, "utf8")).split("\n").length, before + 1);
    assert.equal(rec2.exchanges.at(-1)!.backend, "gen-b");
    const other = join(dir, "notes.txt");
    await writeFile(other, "hello\n");
    const bad = new RecordingBackend(new DeterministicTextBackend(), new Recorder(other));
    await drain(bad, greedy("Q"));
    await assert.rejects(bad.close(), /notes\.txt:1: not a Concord recording/);
    assert.equal(await readFile(other, "utf8"), "hello\n", "nothing was mixed into the other file");
  });
});

describe("ReplayBackend", () => {
  test("serves the recorded session back without the model", async () => {
    const { live, score, caps } = await recordSession();
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant", backend: "gen-a" });
    assert.equal(replay.name, "gen-a");
    const a = await drain(replay, greedy("What is 2+2?"));
    const b = await drain(replay, { ...greedy("What is 2+2?", "<think>Four."), logprobs: true });
    assert.deepEqual(a, live[0]);
    assert.deepEqual(b, live[1]);
    assert.ok(b.result.tokens && b.result.tokens.length > 0, "logprobs come back too");
    assert.deepEqual(await replay.score({ prefix: prompt("What is 2+2?"), candidates: ["It is four.", "Five."] }), score);
    assert.deepEqual(await replay.probe(), caps);
  });

  test("repeated identical requests get the recorded answers in order; one more is a miss", async () => {
    const rec = new RecordingBackend(new DeterministicTextBackend("gen"), new Recorder(file));
    const sampled: CompletionRequest = { prompt: prompt("Story"), maxTokens: 8, temperature: 1 };
    const liveTexts = [];
    for (let i = 0; i < 3; i++) liveTexts.push((await drain(rec, sampled)).result.text);
    await rec.close();
    assert.equal(new Set(liveTexts).size, 3, "the sampled answers differ");
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant" });
    const replayed = [];
    for (let i = 0; i < 3; i++) replayed.push((await drain(replay, sampled)).result.text);
    assert.deepEqual(replayed, liveTexts);
    await assert.rejects(drain(replay, sampled), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.match(err.message, /^not in the recording: chat "Story", thinking ending "<think>"$/);
      return true;
    });
  });

  test("near match: same prompt with other sampling settings is served", async () => {
    await recordSession();
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant" });
    const r = await drain(replay, { ...greedy("What is 2+2?"), maxTokens: 100, seed: 5 });
    assert.ok(r.result.text.length > 0);
    await assert.rejects(drain(replay, greedy("What is 3+3?")), /not in the recording: chat "What is 3\+3\?"/);
  });

  test("original timing, scaled by speed", async () => {
    // Chunks far apart, so a pause of a loaded machine (tens of ms) cannot blur 1x, 4x and instant.
    await recordSession(new DeterministicTextBackend("gen-a", { chunkDelayMs: 200 }));
    const recording = await loadRecording(file);
    const first = recording.exchanges.find((e) => e.type === "stream");
    assert.ok(first && first.type === "stream");
    const recorded = first.chunks.at(-1)!.t;
    assert.ok(recorded >= 500, `recorded stream took ${recorded} ms`);
    const time = async (speed: "original" | "instant" | number) => {
      const replay = new ReplayBackend(recording, { speed });
      const t0 = performance.now();
      await drain(replay, greedy("What is 2+2?"));
      return performance.now() - t0;
    };
    const original = await time("original");
    const fast = await time(4);
    const instant = await time("instant");
    assert.ok(original >= recorded - 5 && original < recorded * 1.5, `original ${original} vs recorded ${recorded}`);
    assert.ok(fast >= recorded / 4 - 5 && fast < recorded / 2, `4x ${fast} vs recorded ${recorded}`);
    assert.ok(instant < fast / 2, `instant ${instant} vs 4x ${fast}`);
    assert.throws(() => new ReplayBackend(recording, { speed: 0 }), UserError);
  });

  test("abort stops the replayed stream with what arrived so far", async () => {
    await recordSession(new DeterministicTextBackend("gen-a", { chunkDelayMs: 30 }));
    const replay = new ReplayBackend(await loadRecording(file), { speed: "original" });
    const ac = new AbortController();
    const chunks: StreamChunk[] = [];
    const result = await collect(replay.stream({ ...greedy("What is 2+2?"), signal: ac.signal }), (c) => {
      chunks.push(c);
      ac.abort();
    });
    assert.equal(result.finishReason, "abort");
    assert.equal(chunks.length, 1);
    assert.equal(result.text, chunks[0].text);
  });

  test("recorded errors replay as errors; a stream cut short serves its recorded chunks to the same request only", async () => {
    const rec = new RecordingBackend(new DeterministicTextBackend("gen"), new Recorder(file));
    let firstChunk = "";
    for await (const c of rec.stream(greedy("Left early"))) {
      firstChunk = c.text;
      break;
    }
    await rec.close();
    const failing = new RecordingBackend(new DeterministicTextBackend("gen", { failWith: "model overloaded" }), new Recorder(file));
    await assert.rejects(drain(failing, greedy("Fails")));
    await failing.close();
    const recording = await loadRecording(file);
    assert.equal(recording.exchanges[0].error, ABANDONED);
    const replay = new ReplayBackend(recording, { speed: "instant" });
    assert.equal(replay.canServe({ ...greedy("Left early"), maxTokens: 7 }), false, "a near match is not served a cut-short stream");
    assert.equal(replay.canServe(greedy("Left early")), true);
    const served = replay.stream(greedy("Left early"));
    const first = await served.next();
    assert.equal(first.done, false);
    assert.equal((first.value as { text: string }).text, firstChunk);
    await assert.rejects(served.next(), (err: unknown) => err instanceof BackendError && /recorded stream ends here/.test(err.message));
    await assert.rejects(drain(replay, greedy("Fails")), (err: unknown) => err instanceof BackendError && err.message === "model overloaded");
  });

  test("scores are looked up per candidate and can be served again", async () => {
    await recordSession();
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant" });
    const one = await replay.score({ prefix: prompt("What is 2+2?"), candidates: ["Five."] });
    const again = await replay.score({ prefix: prompt("What is 2+2?"), candidates: ["Five."] });
    assert.deepEqual(one, again);
    assert.equal(one.candidates.length, 1);
    assert.equal(one.evaluatedTokens, one.candidates[0].tokens.length);
    assert.equal(replay.canScore({ prefix: prompt("What is 2+2?"), candidates: ["Five.", "Six."] }), false);
    await assert.rejects(replay.score({ prefix: prompt("What is 2+2?"), candidates: ["Six."] }), /not in the recording: score of "Six\."/);
    await assert.rejects(replay.score({ prefix: prompt("What is 2+2?"), candidates: ["Five."], includePrefix: true }), BackendError);
  });

  test("loader: one-line errors naming file and line", async () => {
    await recordSession();
    const good = await readFile(file, "utf8");
    const lines = good.trimEnd().split("\n");
    const check = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseRecording(text, "rec.jsonl"),
        (err: unknown) => {
          assert.ok(err instanceof UserError);
          assert.match(err.message, pattern);
          assert.equal(err.message.includes("\n"), false);
          return true;
        },
      );
    check("", /^rec\.jsonl:1: empty recording/);
    check('{"schema":2,"kind":"concord-recording"}\n', /^rec\.jsonl:1: not a Concord recording header/);
    check([lines[0], lines[1], "{oops", lines[2]].join("\n") + "\n", /^rec\.jsonl:3: not valid JSON$/);
    check([lines[0], lines[1], '{"type":"stream","backend":"x"}'].join("\n") + "\n", /^rec\.jsonl:3: not a recorded exchange: chunks: /);
    check(
      [lines[0], '{"type":"stream","backend":"x","chunks":[]}'].join("\n") + "\n",
      /^rec\.jsonl:2: not a recorded exchange: request: needs either request or thinking$/,
    );
    check([lines[0], '{"type":"guess","backend":"x"}'].join("\n") + "\n", /^rec\.jsonl:2: not a recorded exchange: type: /);
    check(good.slice(0, good.length - 20), new RegExp(`^rec\\.jsonl:${lines.length}: truncated line`));
    await assert.rejects(loadRecording(join(dir, "missing.jsonl")), /missing\.jsonl: cannot read the recording \(no such file\)/);
  });
});

describe("FallbackBackend", () => {
  test("serves from the recording until the first miss, then stays live", async () => {
    await recordSession();
    const replay = new ReplayBackend(await loadRecording(file), { speed: "instant" });
    const live = new DeterministicTextBackend("live");
    const reasons: string[] = [];
    const fb = new FallbackBackend(replay, live, { onLive: (r) => reasons.push(r) });
    await drain(fb, greedy("What is 2+2?"));
    await fb.score({ prefix: prompt("What is 2+2?"), candidates: ["Five."] });
    assert.equal(live.calls.stream + live.calls.score, 0);
    assert.equal(fb.isLive, false);
    await drain(fb, greedy("A new question"));
    assert.equal(fb.isLive, true);
    assert.equal(live.calls.stream, 1);
    assert.ok(replay.canServe({ ...greedy("What is 2+2?", "<think>Four."), logprobs: true }));
    await drain(fb, { ...greedy("What is 2+2?", "<think>Four."), logprobs: true });
    assert.equal(live.calls.stream, 2, "after leaving the recording even recorded requests go live");
    await fb.score({ prefix: prompt("What is 2+2?"), candidates: ["Five."] });
    assert.equal(live.calls.score, 1);
    assert.deepEqual(reasons, ['not in the recording: chat "A new question", thinking ending "<think>"']);
  });
});
