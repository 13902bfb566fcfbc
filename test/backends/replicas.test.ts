// Replicas: one profile, several servers of the same model (baseUrls). Requests spread by
// fewest in flight; a failing replica is set aside and the request moves on at once; it is
// tried again later.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { collect, type CompletionRequest } from "../../src/backends/types.js";
import { parseProfile } from "../../src/config/profile.js";
import { replicaURLs } from "../../src/backends/openai/transport.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { eventually } from "../wait.js";

const req = (i: number): CompletionRequest => ({
  prompt: { kind: "chat", messages: [{ role: "user", content: `Question ${i}?` }] },
  maxTokens: 6,
  temperature: 0,
});
const calls = (d: ProtocolDouble) => d.requests.filter((r) => r.path === "/v1/chat/completions");

test("a profile lists replicas in baseUrls; each address is checked for credentials; only servers have them", () => {
  const p = parseProfile({ name: "v", backend: "openai", model: "m", baseUrls: ["http://g1:8000/v1", "http://g2:8000/v1/"] }, "models.yaml");
  assert.equal(p.baseURL, "http://g1:8000/v1");
  assert.deepEqual(replicaURLs(p), ["http://g1:8000/v1", "http://g2:8000/v1"]);
  assert.throws(
    () => parseProfile({ name: "v", backend: "openai", model: "m", baseURL: "http://g1/v1", baseUrls: ["http://user:sk-secret@g2/v1"] }, "models.yaml"),
    (e: Error) => /put the key in an environment variable/.test(e.message) && !e.message.includes("sk-secret"),
  );
  assert.throws(() => parseProfile({ name: "l", backend: "local", model: "m", path: "/x.gguf", baseUrls: ["http://g1/v1"] }, "models.yaml"), /only servers/);
});

test("requests spread over the replicas by fewest in flight", async () => {
  const a = await startProtocolDouble({ flavor: "vllm", tokensPerSecond: 60 });
  const b = await startProtocolDouble({ flavor: "vllm", tokensPerSecond: 60 });
  try {
    const backend = new OpenAIBackend({ name: "v", backend: "openai", model: a.model, flavor: "vllm", baseURL: a.baseURL, baseUrls: [b.baseURL] });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => collect(backend.stream(req(i)))));
    assert.ok(results.every((r) => r.text.length > 0));
    assert.equal(calls(a).length, 4);
    assert.equal(calls(b).length, 4);
    assert.deepEqual(
      backend.transport.replicas.map((r) => r.inFlight),
      [0, 0],
      "every stream's hold is released",
    );
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a failing replica is set aside: the request moves to another at once, later ones avoid it, and it is tried again after a while", async () => {
  const a = await startProtocolDouble({ flavor: "vllm" });
  const b = await startProtocolDouble({ flavor: "vllm" });
  try {
    a.pushFault({ kind: "status", status: 500, message: "CUDA error: an illegal memory access" });
    const backend = new OpenAIBackend(
      { name: "v", backend: "openai", model: a.model, flavor: "vllm", baseURL: a.baseURL, baseUrls: [b.baseURL] },
      { maxRetries: 0 },
    );
    const first = await collect(backend.stream(req(0)));
    assert.ok(first.text.length > 0, "answered by the other replica, with no retry allowed");
    assert.deepEqual(
      calls(a).map((r) => r.status),
      [500],
    );
    // Set aside for a second: what is sent within it goes to b. (A loaded machine may take longer
    // than the second to send the five; those sent after it may go to a again.)
    const asideFor = backend.transport.replicas[0]!.asideUntil - performance.now();
    assert.ok(asideFor > 0, "set aside after its failure");
    // The double stamps requests with Date.now().
    const asideUntil = Date.now() + asideFor - 5;
    for (let i = 1; i <= 5; i++) await collect(backend.stream(req(i)));
    assert.deepEqual(
      calls(a)
        .slice(1)
        .filter((r) => r.startedAt < asideUntil),
      [],
      "set aside: nothing more went to it meanwhile",
    );
    assert.equal(calls(a).length + calls(b).length, 7);
    // Set aside for a second after one failure, then tried again (and it answers now).
    await eventually(
      async () => {
        await collect(backend.stream(req(9)));
        return calls(a).length > 1;
      },
      { timeoutMs: 10_000, everyMs: 100 },
    );
    assert.equal(calls(a).at(-1)!.status, 200);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a replica that refuses connections is skipped; scoring goes to the live one too", async () => {
  const b = await startProtocolDouble({ flavor: "vllm" });
  const dead = await startProtocolDouble({ flavor: "vllm" });
  const deadURL = dead.baseURL;
  await dead.close();
  try {
    const backend = new OpenAIBackend(
      { name: "v", backend: "openai", model: b.model, flavor: "vllm", baseURL: deadURL, baseUrls: [b.baseURL] },
      { maxRetries: 0 },
    );
    for (let i = 0; i < 3; i++) assert.ok((await collect(backend.stream(req(i)))).text.length > 0);
    const scored = await backend.score({ prefix: { kind: "chat", messages: [{ role: "user", content: "Q?" }] }, candidates: [" It is 4."] });
    assert.ok(scored.candidates[0]!.tokens.length > 0);
    assert.ok(backend.transport.replicas[0]!.failures >= 1);
  } finally {
    await b.close();
  }
});
