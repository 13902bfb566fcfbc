// Server faults against the OpenAI-compatible backend, served by the protocol double on
// 127.0.0.1: each fault must end in ONE clear line naming the model, no unhandled rejection,
// and retries only where they are safe (counted at the double).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { BackendError, collect, type CompletionResult } from "../../src/backends/types.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { askTarget } from "../../src/engine/targets.js";
import { generateCot } from "../../src/engine/cot.js";
import { runRelay } from "../../src/engine/relay.js";
import { handleFor } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { startProtocolDouble, type Fault, type ProtocolDouble } from "../doubles/protocol-double.js";
import { oneLineProblem, trackRejections } from "../fixtures/faults/harness.js";

const rejections = trackRejections();
const doubles: ProtocolDouble[] = [];
const servers: Server[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
  for (const s of servers) s.close();
  // Let late rejections surface before judging.
  await new Promise((r) => setTimeout(r, 50));
  rejections.dispose();
  assert.deepEqual(rejections.list.map(String), [], "no unhandled rejection in the whole file");
});

const MODEL = "faulty-model";
const prompt = { kind: "chat" as const, messages: [{ role: "user" as const, content: "What is 2 + 3?" }] };

function profile(baseURL: string, extra: Partial<ModelProfile> = {}): ModelProfile {
  return { name: MODEL, backend: "openai", baseURL, model: "double-model", flavor: "vllm", ...extra };
}

async function double(faults: Fault[] = [], opts: Parameters<typeof startProtocolDouble>[0] = {}) {
  const d = await startProtocolDouble({ flavor: "vllm", faults, ...opts });
  doubles.push(d);
  return d;
}

const modelCalls = (d: ProtocolDouble) => d.requests.filter((r) => r.path === "/v1/chat/completions").length;

/** Stream once; the outcome is the result or the error, never a throw out of here. */
async function attempt(
  b: OpenAIBackend,
  req: Partial<Parameters<OpenAIBackend["stream"]>[0]> = {},
): Promise<{ result?: CompletionResult; error?: unknown; chunks: number; ms: number }> {
  const t0 = Date.now();
  let chunks = 0;
  try {
    const result = await collect(b.stream({ prompt, maxTokens: 40, temperature: 0, ...req }), () => chunks++);
    return { result, chunks, ms: Date.now() - t0 };
  } catch (error) {
    return { error, chunks, ms: Date.now() - t0 };
  }
}

/** Run the CLI from source without blocking this process; resolves with its output. */
function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["test/concord-from-source.mjs", ...args], { env: { ...process.env, CONCORD_MODEL: "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Rows of the table written to docs/FAULTS.md: fault, requests seen, outcome. */
const table: Array<{ fault: string; requests: number | string; outcome: string }> = [];

function expectOneLine(error: unknown, fault: string): string {
  assert.ok(error instanceof BackendError, `${fault}: a BackendError, got ${String(error)}`);
  const msg = error.message;
  const problem = oneLineProblem(msg, MODEL);
  assert.equal(problem, null, `${fault}: the message ${problem}: ${JSON.stringify(msg)}`);
  return msg;
}

describe("server faults: one clear line, retries only where safe", () => {
  test("connection refused: one line naming the model and the address", async () => {
    // A port that was open a moment ago and is now closed.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const b = new OpenAIBackend(profile(`http://127.0.0.1:${port}/v1`), { maxRetries: 1, timeoutMs: 2000 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "refused");
    assert.match(msg, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1/);
    assert.match(msg, /ECONNREFUSED/);
    table.push({ fault: "connection refused", requests: "n/a (retried once, 0.5 s back-off)", outcome: msg });
  });

  for (const [status, name] of [
    [401, "401 bad key"],
    [403, "403 forbidden"],
    [400, "400 bad request"],
    [422, "422 unprocessable"],
  ] as const) {
    test(`${name}: no retry, one line`, async () => {
      const d = await double([{ kind: "status", status, message: `refused with ${status}` }]);
      const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
      const r = await attempt(b);
      const msg = expectOneLine(r.error, name);
      assert.match(msg, new RegExp(`HTTP ${status}`));
      assert.equal(modelCalls(d), 1, `${name} is not retried`);
      table.push({ fault: name, requests: modelCalls(d), outcome: msg });
    });
  }

  test("404 unknown model (the server's own answer): no retry, the line names both model names", async () => {
    const d = await double();
    const b = new OpenAIBackend(profile(d.baseURL, { model: "no-such-model" }), { maxRetries: 3 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "404");
    assert.match(msg, /HTTP 404/);
    assert.match(msg, /no-such-model/);
    assert.equal(modelCalls(d), 1);
    table.push({ fault: "404 unknown model", requests: modelCalls(d), outcome: msg });
  });

  test("429 with Retry-After: waits as asked, retries once, then succeeds", async () => {
    const d = await double([{ kind: "status", status: 429, retryAfter: "1" }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
    const r = await attempt(b);
    assert.equal(r.error, undefined, String(r.error));
    assert.ok(r.result!.text.length > 0);
    assert.equal(modelCalls(d), 2);
    const gap = d.requests[1].startedAt - d.requests[0].startedAt;
    assert.ok(gap >= 950, `waited ${gap} ms for Retry-After: 1`);
    table.push({ fault: "429 + Retry-After: 1", requests: modelCalls(d), outcome: `succeeded after waiting ${gap} ms` });
  });

  test("429 without Retry-After: backs off, retries, succeeds; repeated 429s end in one line", async () => {
    const d = await double([{ kind: "status", status: 429 }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
    const r = await attempt(b);
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(modelCalls(d), 2);
    table.push({ fault: "429, no Retry-After", requests: modelCalls(d), outcome: "succeeded after back-off" });

    const d2 = await double([
      { kind: "status", status: 429 },
      { kind: "status", status: 429 },
    ]);
    const b2 = new OpenAIBackend(profile(d2.baseURL), { maxRetries: 1 });
    const r2 = await attempt(b2);
    const msg = expectOneLine(r2.error, "429 x2");
    assert.match(msg, /HTTP 429/);
    assert.equal(modelCalls(d2), 2, "maxRetries 1: two requests in all");
    table.push({ fault: "429 twice, maxRetries 1", requests: modelCalls(d2), outcome: msg });
  });

  test("429 asking for a longer wait than allowed: fails at once, saying how long", async () => {
    const d = await double([{ kind: "status", status: 429, retryAfter: "120" }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3, maxRetryDelayMs: 5000 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "429 long");
    assert.match(msg, /wait 120 s/);
    assert.equal(modelCalls(d), 1);
    assert.ok(r.ms < 2000);
    table.push({ fault: "429 + Retry-After: 120 (limit 5 s)", requests: modelCalls(d), outcome: msg });
  });

  for (const status of [500, 502, 503] as const) {
    test(`${status}: retried (nothing streamed yet), then succeeds; persistent ${status} is one line`, async () => {
      const d = await double([{ kind: "status", status, retryAfterMs: "20" }]);
      const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 2 });
      const r = await attempt(b);
      assert.equal(r.error, undefined, String(r.error));
      assert.equal(modelCalls(d), 2);
      const faults: Fault[] = [0, 1, 2].map(() => ({ kind: "status", status, retryAfterMs: "20" }));
      const d2 = await double(faults);
      const b2 = new OpenAIBackend(profile(d2.baseURL), { maxRetries: 2 });
      const r2 = await attempt(b2);
      const msg = expectOneLine(r2.error, `${status} x3`);
      assert.match(msg, new RegExp(`HTTP ${status}`));
      assert.equal(modelCalls(d2), 3);
      table.push({ fault: `${status} (then ok / 3 times)`, requests: `${modelCalls(d)} / ${modelCalls(d2)}`, outcome: msg });
    });
  }

  test("a reply that stops mid-stream: one line, and no retry once tokens were delivered", async () => {
    const d = await double([{ kind: "cut", afterTokens: 4 }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "cut");
    assert.match(msg, /closed mid-stream/);
    assert.ok(r.chunks >= 1, "tokens arrived before the cut");
    assert.equal(modelCalls(d), 1, "a stream that delivered tokens is not re-asked");
    table.push({ fault: "stream cut after 4 tokens", requests: modelCalls(d), outcome: msg });
  });

  test("malformed SSE chunk: one line, no retry after tokens", async () => {
    const d = await double([{ kind: "malformed", afterTokens: 3 }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "malformed");
    assert.match(msg, /malformed|mid-stream|stream/);
    assert.equal(modelCalls(d), 1);
    table.push({ fault: "malformed SSE chunk after 3 tokens", requests: modelCalls(d), outcome: msg });
  });

  test("a server that never answers: one line after the timeout, not retried, nothing hangs", async () => {
    const d = await double([{ kind: "hang" }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3, timeoutMs: 400 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "hang");
    assert.match(msg, /no answer|timed out|within/);
    assert.ok(r.ms < 3000, `gave up after ${r.ms} ms`);
    assert.equal(modelCalls(d), 1);
    table.push({ fault: "never answers (timeout 0.4 s)", requests: modelCalls(d), outcome: msg });
  });

  test("a stream that stalls after some tokens: one line naming the stall", async () => {
    const d = await double([], { tokensPerSecond: 1.5 });
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3, timeoutMs: 300 });
    const r = await attempt(b);
    const msg = expectOneLine(r.error, "stall");
    assert.match(msg, /stalled|no answer/);
    assert.ok(r.ms < 3000);
    assert.equal(modelCalls(d), 1);
    table.push({ fault: "stalls mid-stream (idle 0.3 s)", requests: modelCalls(d), outcome: msg });
  });

  test("errors while scoring and probing are one line too", async () => {
    const d = await double([{ kind: "status", status: 401, path: "/v1/chat/completions" }]);
    const b = new OpenAIBackend(profile(d.baseURL), { maxRetries: 3 });
    await assert.rejects(b.probe(), (e: unknown) => {
      assert.equal(oneLineProblem((e as Error).message, MODEL), null, (e as Error).message);
      return true;
    });
    const d2 = await double([
      { kind: "status", status: 503, path: "/v1/chat/completions" },
      { kind: "status", status: 503, path: "/v1/chat/completions" },
    ]);
    const b2 = new OpenAIBackend(profile(d2.baseURL), { maxRetries: 1 });
    await assert.rejects(b2.score({ prefix: { ...prompt, assistantPrefix: "It is" }, candidates: [" five."] }), (e: unknown) => {
      assert.equal(oneLineProblem((e as Error).message, MODEL), null, (e as Error).message);
      return true;
    });
    table.push({ fault: "401 on probe / 503 x2 on score", requests: `${modelCalls(d)} / ${modelCalls(d2)}`, outcome: "one line each" });
  });

  test("logprobs promised but missing: generation goes on; the relay says so in one line", async () => {
    // A server whose probe record says token logprobs work, but whose answers carry none.
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const words = " First add two and three. Then the sum is five. So it is five.</think> The answer is 5.".split(/(?= )/);
        for (const w of words)
          res.write(
            `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model: "double-model", choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }] })}\n\n`,
          );
        res.end(
          `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model: "double-model", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`,
        );
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    const caps = {
      streaming: true,
      tokenLogprobs: true,
      promptScoring: false,
      prefill: true,
      reasoningField: null,
      notes: [],
      flavor: "vllm" as const,
      prefillMethod: "continue_final_message" as const,
    };
    const p = profile(url, { capabilities: caps, thinkingFormat: "think-tags" });
    const b = new OpenAIBackend(p);
    const r = await attempt(b, { logprobs: true });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.result!.tokens, undefined, "no invented log-probabilities");
    const h = handleFor(p, b);
    const problem = builtinProblems()[0];
    const err = await runRelay({ problem, initiator: h, continuers: [h], maxTokens: 60, answerTokens: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, "the relay cannot place cuts without log-probabilities");
    assert.equal(oneLineProblem(err.message, MODEL), null, err.message);
    assert.match(err.message, /no token log-probabilities/);
    table.push({ fault: "logprobs promised, none sent", requests: "-", outcome: `stream ok, tokens undefined; relay: ${err.message}` });
  });

  test("a reasoning model that never closes its thinking: the chain ends at the budget, the answer is 'not found', no hang", async () => {
    const d = await double([], {
      script: () => "<think>I keep thinking about the apples and the apples and the apples and more apples",
    });
    const p = profile(d.baseURL, { thinkingFormat: "think-tags" });
    const b = new OpenAIBackend(p, { timeoutMs: 2000 });
    const r = await attempt(b, { maxTokens: 12 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.result!.text, "", "nothing leaks from thinking into the answer");
    assert.ok(r.result!.reasoning.length > 0);
    assert.equal(r.result!.finishReason, "length");
    const h = handleFor(p, b);
    const problem = builtinProblems()[0];
    const cot = await generateCot(h, problem, { maxTokens: 12 });
    assert.equal(cot.closed, false, "the chain is marked as never closed");
    const reply = await askTarget(h, problem, cot.cot, { maxTokens: 12 });
    assert.equal(reply.grade.correct, false);
    assert.equal(reply.error, undefined);
    table.push({
      fault: "thinking never closed",
      requests: modelCalls(d),
      outcome: `finish=length, text empty; cot closed=false; target answer "${reply.grade.answer}"`,
    });
  });

  test("headless command: a 401 from the generator is one line on stderr, no stack, exit code set", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-faults-cli-"));
    return (async () => {
      const d = await double([], { apiKey: "the-right-key" });
      const models = join(dir, "models.yaml");
      writeFileSync(
        models,
        `models:\n  - {name: ${MODEL}, backend: openai, baseURL: "${d.baseURL}", model: double-model, flavor: vllm, apiKeyEnv: FAULTS_WRONG_KEY}\nroles: {generators: [${MODEL}], evaluators: [${MODEL}], targets: [${MODEL}]}\n`,
      );
      // Asynchronous: the double answers from this very process.
      const res = await runCli(["ensemble", "--models", models, "--set", "builtin", "--problem", "1", "--steps", "1", "--k", "1"], {
        CONCORD_CONFIG_DIR: join(dir, "cfg"),
        FAULTS_WRONG_KEY: "sk-wrong-key-123456",
      });
      const lines = res.stderr.split("\n").filter((l) => l.trim());
      assert.ok(lines.length >= 1, "the failure is reported");
      for (const l of lines) assert.equal(oneLineProblem(l), null, l);
      assert.ok(!/\n\s+at /.test(res.stderr + res.stdout), "no stack trace");
      assert.ok(
        lines.some((l) => l.includes(MODEL) && /401/.test(l)),
        res.stderr,
      );
      assert.notEqual(res.status, 0);
      assert.ok(!(res.stdout + res.stderr).includes("sk-wrong-key-123456"), "the key is not echoed");
      table.push({ fault: "401 via `concord ensemble`", requests: modelCalls(d), outcome: `${lines.length} stderr line(s): ${lines[lines.length - 1]}` });
    })();
  });

  after(() => {
    // Printed for docs/FAULTS.md.
    if (process.env.FAULTS_TABLE) for (const row of table) console.log(`| ${row.fault} | ${row.requests} | ${row.outcome.replace(/\|/g, "\\|")} |`);
  });
});
