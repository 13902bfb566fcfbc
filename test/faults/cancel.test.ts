// Cancellation: aborting while tokens stream stops every request at once (within 1 s on a busy
// machine, where the streams themselves would run ~5 s; on a quiet one it is tens of ms), leaves no
// open connection at the server (counted by a TCP proxy in front of the protocol double) and
// gives every model sequence of the embedded backend back.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { collect, type Backend } from "../../src/backends/types.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import { handleFor } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { startCountingProxy, trackRejections, waitFor, type CountingProxy } from "../fixtures/faults/harness.js";
import { anyModelFile } from "../support/models.js";

const MODEL_FILE = anyModelFile();
// A bound on a busy machine, not the speed target: the streams run ~5 s when nothing stops them.
const STOP_MS = 2500;

const rejections = trackRejections();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await new Promise((r) => setTimeout(r, 50));
  rejections.dispose();
  assert.deepEqual(rejections.list.map(String), [], "no unhandled rejection");
});

const prompt = { kind: "chat" as const, messages: [{ role: "user" as const, content: "Count slowly to one hundred." }] };

async function slowServer(): Promise<{ d: ProtocolDouble; proxy: CountingProxy }> {
  // 40 tokens/s and long replies: streams are still going when the abort comes.
  const d = await startProtocolDouble({ flavor: "vllm", tokensPerSecond: 40, script: () => "one two three four five six seven eight nine ten ".repeat(20) });
  const proxy = await startCountingProxy(Number(new URL(d.url).port));
  cleanups.push(
    () => d.close(),
    () => proxy.close(),
  );
  return { d, proxy };
}

function profile(baseURL: string, name = "remote"): ModelProfile {
  return { name, backend: "openai", baseURL, model: "double-model", flavor: "vllm", thinkingFormat: "think-tags" };
}

/** Figures for docs/FAULTS.md. */
const figures: string[] = [];

describe("cancellation", () => {
  test("OpenAI backend: 6 concurrent streams aborted mid-stream all end at once; no request socket stays open", async () => {
    const { d, proxy } = await slowServer();
    const b = new OpenAIBackend(profile(proxy.baseURL));
    const idleAfter: number[] = [];
    for (let round = 0; round < 3; round++) {
      const ctrl = new AbortController();
      const before = d.requests.length;
      const mine = () => d.requests.slice(before);
      const ends: number[] = [];
      const runs = Array.from({ length: 6 }, () =>
        collect(b.stream({ prompt, maxTokens: 400, signal: ctrl.signal })).then((r) => {
          ends.push(Date.now());
          return r;
        }),
      );
      assert.ok(await waitFor(() => mine().filter((r) => r.tokensSent > 0).length === 6, 3000), "six streams delivering");
      assert.equal(proxy.openWithTraffic(), 6, "six connections streaming");
      const t0 = Date.now();
      ctrl.abort();
      const results = await Promise.all(runs);
      const slowest = Math.max(...ends) - t0;
      for (const r of results) assert.equal(r.finishReason, "abort");
      assert.ok(slowest <= STOP_MS, `every stream returned within ${STOP_MS} ms (slowest ${slowest} ms)`);
      const closed = await waitFor(() => proxy.openWithTraffic() === 0 && mine().every((r) => r.endedAt !== undefined), STOP_MS);
      const serverEnd = Math.max(...mine().map((r) => r.endedAt ?? Infinity)) - t0;
      assert.ok(closed, `no connection that carried a request is left open (${proxy.openWithTraffic()} open)`);
      assert.ok(
        mine().every((r) => r.aborted),
        "the server saw each request cut off, not finished",
      );
      const sent = mine().map((r) => r.tokensSent);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        mine().map((r) => r.tokensSent),
        sent,
        "no token is sent after the abort",
      );
      idleAfter.push(proxy.open());
      figures.push(
        `openai round ${round}: 6 streams, slowest return ${slowest} ms, server saw the last close at ${serverEnd} ms, request sockets open after: ${proxy.openWithTraffic()}, idle pooled sockets: ${proxy.open()}`,
      );
    }
    // Node's fetch opens fresh keep-alive connections after an abort (no request on them); they
    // are reused, so the count must not grow from round to round.
    assert.ok(Math.max(...idleAfter) <= 6, `idle sockets stay bounded: ${idleAfter.join(", ")}`);
    await b.close();
  });

  test("ensemble step over remote generators: cancel() ends every candidate request at once", async () => {
    const { d, proxy } = await slowServer();
    const gens = ["g1", "g2"].map((n) => handleFor(profile(proxy.baseURL, n), new OpenAIBackend(profile(proxy.baseURL, n))));
    const builder = new ChainBuilder({ problem: builtinProblems()[0], generators: gens, evaluators: [gens[0]], k: 3, sampling: { maxTokens: 400 } });
    const step = builder.startStep();
    await waitFor(() => d.requests.filter((r) => r.tokensSent > 0).length === 6, 3000);
    assert.equal(d.requests.length, 6, "2 generators x k=3 streams");
    const t0 = Date.now();
    await builder.cancel();
    const cancelMs = Date.now() - t0;
    assert.equal(await step, "cancelled");
    const ok = await waitFor(() => proxy.openWithTraffic() === 0 && d.requests.every((r) => r.endedAt !== undefined), STOP_MS);
    const serverEnd = Math.max(...d.requests.map((r) => r.endedAt ?? Infinity)) - t0;
    assert.ok(ok, `all requests ended and their sockets closed (${proxy.openWithTraffic()} open, server end ${serverEnd} ms)`);
    assert.ok(cancelMs <= STOP_MS, `cancel() resolved in ${cancelMs} ms`);
    figures.push(
      `ensemble: 6 candidate streams, cancel() resolved in ${cancelMs} ms, last server close at ${serverEnd} ms, request sockets open after: ${proxy.openWithTraffic()}`,
    );
    for (const g of gens) await g.backend.close();
  });

  test("embedded model: 4 streams aborted mid-generation return at once and every sequence is free again", async () => {
    const pool = new LocalModelPool({ threads: 1, gpu: false });
    const b: Backend & LocalBackend = new LocalBackend({ name: "stories", modelPath: MODEL_FILE, pool, contextSize: 1024, sequences: 4 });
    cleanups.push(async () => {
      await b.close();
      await pool.dispose();
    });
    const lease = await b.load();
    const size = lease.sequences.size;
    assert.equal(size, 4);
    for (let round = 0; round < 3; round++) {
      const ctrl = new AbortController();
      let chunks = 0;
      const ends: number[] = [];
      const runs = Array.from({ length: 4 }, (_, i) =>
        collect(
          b.stream({ prompt: { kind: "raw", text: `Once upon a time ${i}` }, maxTokens: 1500, temperature: 0.8, seed: i, signal: ctrl.signal }),
          () => chunks++,
        ).then((r) => {
          ends.push(Date.now());
          return r;
        }),
      );
      await waitFor(() => chunks >= 8 * (round + 1), 5000);
      const t0 = Date.now();
      ctrl.abort();
      const results = await Promise.all(runs);
      const slowest = Math.max(...ends) - t0;
      for (const r of results) assert.equal(r.finishReason, "abort", "aborted, not finished");
      assert.ok(slowest <= STOP_MS, `round ${round}: slowest stream returned ${slowest} ms after the abort`);
      // Every sequence can be taken at once again: none was kept by an aborted stream.
      const grab = Promise.all(Array.from({ length: size }, () => lease.sequences.acquire()));
      const timer = new Promise<"held">((r) => setTimeout(() => r("held"), STOP_MS));
      const got = await Promise.race([grab, timer]);
      assert.notEqual(got, "held", `round ${round}: a sequence is still held after the abort`);
      for (const slot of got as Awaited<typeof grab>) lease.sequences.release(slot);
      figures.push(`local round ${round}: 4 streams, slowest return ${slowest} ms, ${size}/${size} sequences free`);
    }
  });

  after(() => {
    if (process.env.FAULTS_TABLE) for (const f of figures) console.log(f);
  });
});
