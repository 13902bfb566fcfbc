// End to end against the real llama-server (llama.cpp, ../shared/tools), serving the real 1 MB
// model: the probe, ensemble, run (the server killed mid-run, restarted, the run resumed),
// relay and the interface, with assertions on the text that comes back.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { llamaServerMissing, startLlamaServer, STORIES, type LlamaServer } from "./llama-server.js";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { CachedBackend } from "../../src/backends/cache.js";
import { BackendError, collect, type Prompt } from "../../src/backends/types.js";
import { raceLanes as lanes } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(root, "test", "concord-from-source.mjs");
const missing = llamaServerMissing();
const dir = mkdtempSync(join(tmpdir(), "concord-llama-"));
const baseEnv = {
  ...process.env,
  CONCORD_MODEL: "",
  CONCORD_MODELS: "",
  CONCORD_CONFIG_DIR: join(dir, "config"),
  CONCORD_CACHE_DIR: join(dir, "cache"),
};

let server: LlamaServer;
const servers: LlamaServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

function modelsFile(baseURL: string, file = join(dir, "models.yaml")): string {
  writeFileSync(
    file,
    [
      "models:",
      `  ls-a: { backend: openai, baseURL: "${baseURL}", model: auto }`,
      `  ls-b: { backend: openai, baseURL: "${baseURL}", model: auto, sampling: { temperature: 0.8, seed: 7 } }`,
      `  tiny: { backend: local, model: stories, path: "${STORIES}" }`,
      "roles:",
      "  generators: [ls-a, ls-b]",
      "  evaluators: [tiny]",
      "  targets: [ls-a, tiny]",
      "  initiator: ls-a",
      "  continuers: [ls-b]",
    ].join("\n"),
  );
  return file;
}

function concord(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const probeOf = (models: string, name: string) => {
  const r = concord(["models", "probe", name, "--models", models, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ name: string; capabilities: Record<string, unknown> & { notes: string[] } }>)[0].capabilities;
};

describe("the real llama-server", { skip: missing, timeout: 600_000 }, () => {
  before(async () => {
    server = await startLlamaServer();
    servers.push(server);
  });

  test("models probe measures what the server does, verified by what came back", () => {
    const caps = probeOf(modelsFile(server.baseURL), "ls-a");
    assert.deepEqual(
      [caps.flavor, caps.streaming, caps.tokenLogprobs, caps.promptScoring, caps.prefill, caps.prefillMethod, caps.scoringMethod, caps.reasoningField],
      ["llama-server", true, true, false, true, "continue_final_message", "none", null],
      caps.notes.join(" | "),
    );
    for (const note of [
      /^serves: .*stories260K\.gguf$/,
      /^chat logprobs: yes, they spell the answer$/,
      /^completions logprobs: yes, they spell the text$/,
      /^scoring: the server ignored echo/,
      /^prefill: continue_final_message, verified/,
      /^thinking prefill: continues inside the open block, not refused$/,
      /^top_k: honoured$/,
      /^tokenize: yes \(\d+ tokens/,
    ])
      assert.ok(
        caps.notes.some((n) => note.test(n)),
        `${note} in ${caps.notes.join(" | ")}`,
      );
  });

  for (const [template, method, reasoning] of [
    ["Qwen-Qwen3-0.6B.jinja", "apply_template", null],
    ["Qwen-QwQ-32B.jinja", "apply_template", "reasoning_content"],
    ["meta-llama-Llama-3.1-8B-Instruct.jinja", "continue_final_message", null],
  ] as const) {
    test(`with ${template}: prefill by ${method}, thinking in ${reasoning ?? "no field"}`, async () => {
      const other = await startLlamaServer({ template });
      servers.push(other);
      try {
        const caps = probeOf(modelsFile(other.baseURL, join(dir, "other.yaml")), "ls-a");
        assert.deepEqual([caps.prefillMethod, caps.reasoningField, caps.tokenLogprobs], [method, reasoning, true], caps.notes.join(" | "));
        // A template that rewrites the final assistant message (an empty thinking block added, or a closed one removed) is not used for prefill.
        assert.equal(
          caps.notes.includes("prefill (continue_final_message): the chat template rewrites a final assistant message that holds a thinking block"),
          method === "apply_template",
        );
      } finally {
        await other.stop();
      }
    });
  }

  test("in-process: a context overflow is named as such and changes no method; a hung server costs one timeout; another model behind the address is not served from the cache", async () => {
    const b = new OpenAIBackend({ name: "ls", backend: "openai", baseURL: server.baseURL, model: "auto" }, { timeoutMs: 2000 });
    const prompt = (words: number): Prompt => ({
      kind: "chat",
      messages: [{ role: "user", content: "word ".repeat(words) }],
      assistantPrefix: "Once upon a time",
    });
    await assert.rejects(collect(b.stream({ prompt: prompt(3000), maxTokens: 8 })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.kind, "context-overflow");
      assert.match(err.message, /^model "ls": HTTP 400 from server: request \(\d+ tokens\) exceeds the available context size \(512 tokens\)/);
      return true;
    });
    const ok = await collect(b.stream({ prompt: prompt(3), maxTokens: 8, temperature: 0 }));
    assert.ok(ok.text.trim() && !ok.text.startsWith("Once upon a time"), ok.text);
    assert.equal(b.prefillMethod("llama-server"), "continue_final_message");

    // A hung process (SIGSTOP): one timeout, then each request fails at once; answered again once it runs.
    process.kill(server.pid()!, "SIGSTOP");
    try {
      await assert.rejects(collect(b.stream({ prompt: prompt(3), maxTokens: 8 })), /no answer from .* within 2 s/);
      await assert.rejects(
        collect(b.stream({ prompt: prompt(3), maxTokens: 8 })),
        /is not answering \(it did not answer within 2 s before, nor \/health within 0\.5 s now\)/,
      );
    } finally {
      process.kill(server.pid()!, "SIGCONT");
    }
    assert.ok((await collect(b.stream({ prompt: prompt(3), maxTokens: 8, temperature: 0 }))).text.trim());

    // The cache: the same server and name, restarted under another model id.
    const cacheDir = mkdtempSync(join(tmpdir(), "concord-cache-"));
    const cached = () => {
      const inner = new OpenAIBackend({ name: "ls", backend: "openai", baseURL: server.baseURL, model: "auto" });
      return new CachedBackend(inner, { dir: cacheDir, model: server.baseURL, served: (s) => inner.servedModel(s) });
    };
    const req = { prompt: prompt(3), maxTokens: 8, temperature: 0 };
    await collect(cached().stream(req));
    const same = cached();
    await collect(same.stream(req));
    assert.equal(same.stats().hits, 1);
    await server.stop();
    await server.start({ alias: "stories-renamed" });
    const renamed = cached();
    await collect(renamed.stream(req));
    assert.deepEqual([renamed.stats().hits, renamed.stats().misses], [0, 1]);
  });

  test("ensemble: candidates continue the chain, never repeat it", () => {
    const r = concord(["ensemble", "--models", modelsFile(server.baseURL), "--set", "builtin", "--problem", "demo-1", "--steps", "3", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      chain: { sentences: Array<{ text: string; author: string; candidates: Array<{ generator: string; raw: string }> }> };
    };
    const sentences = out.chain.sentences.map((s) => s.text);
    assert.equal(sentences.length, 3, r.stdout.slice(0, 500));
    out.chain.sentences.forEach((sentence, i) => {
      const generators = new Set(sentence.candidates.map((c) => c.generator));
      assert.deepEqual([...generators].sort(), ["ls-a", "ls-b"], "both server profiles raced");
      const chainSoFar = sentences.slice(0, i).join(" ").trim();
      for (const c of sentence.candidates) {
        assert.ok(c.raw.trim().length > 0, `step ${i + 1}: an empty candidate`);
        if (chainSoFar)
          assert.ok(!c.raw.trimStart().startsWith(chainSoFar.slice(0, 20)), `step ${i + 1}: ${c.generator} repeats the chain: ${c.raw.slice(0, 80)}`);
      }
    });
    assert.ok(
      sentences.every((s) => s.trim() && !s.includes("<think>")),
      JSON.stringify(sentences),
    );
  });

  test("run: the server killed mid-run is failures, counted and not written; restarted, the run resumes and finishes", async () => {
    const models = modelsFile(server.baseURL);
    const spec = join(dir, "exp.yaml");
    writeFileSync(
      spec,
      [
        "name: real-server",
        "problems: { set: builtin }",
        "conditions:",
        "  - empty",
        "  - { kind: transfer, source: ls-a, variants: [full] }",
        "targets: [ls-a, ls-b]",
        "cot: { maxTokens: 60 }",
        "answerTokens: 40",
        "concurrency: { global: 2, perModel: 1 }",
        "out: results",
      ].join("\n"),
    );
    const results = join(dir, "results", "results.jsonl");
    const lines = () => (existsSync(results) ? readFileSync(results, "utf8").split("\n").filter(Boolean) : []);
    const total = 5 * 2 * 2;
    const child = spawn(process.execPath, [BIN, "run", spec, "--models", models], { cwd: dir, env: baseEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    while (lines().length < 3 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    await server.stop();
    const first = await code;
    const written = lines().length;
    const m = /^done: (\d+) answers written, 0 already there, (\d+) failed, of (\d+)/m.exec(stdout);
    assert.ok(m, `summary line; stdout: ${stdout} stderr: ${stderr.slice(-500)}`);
    assert.equal(Number(m[3]), total);
    assert.ok(Number(m[2]) > 0 && Number(m[1]) === written && written + Number(m[2]) === total, stdout);
    assert.equal(first, 1, "failures set the exit status");
    assert.match(stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1/);
    const recs = lines().map((l) => JSON.parse(l) as { answerRaw: string | null; answerMissing?: string; cot: string; condition: { kind: string } });
    assert.ok(
      recs.every((r) => typeof r.answerRaw === "string" && r.answerRaw.length > 0 && r.answerMissing !== "error"),
      "only real answers are written",
    );

    await server.start();
    const resumed = spawnSync(process.execPath, [BIN, "run", spec, "--models", models], { cwd: dir, env: baseEnv, encoding: "utf8", timeout: 180_000 });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^done: ${total - written} answers written, ${written} already there, 0 failed, of ${total}`, "m"));
    const all = lines().map((l) => JSON.parse(l) as { target: string; problemId: string; condition: { kind: string }; answerRaw: string; cot: string });
    assert.equal(all.length, total);
    assert.equal(new Set(all.map((r) => `${r.problemId}|${r.condition.kind}|${r.target}`)).size, total, "none duplicated");
    for (const r of all) {
      assert.ok(r.answerRaw.length > 0, JSON.stringify(r));
      if (r.condition.kind === "transfer") {
        assert.ok(r.cot.length > 0, "the transfer chain came from the server");
        assert.ok(!r.answerRaw.startsWith(r.cot.slice(0, 30)), `the answer repeats the chain: ${r.answerRaw.slice(0, 80)}`);
      }
    }
  });

  test("relay: each continuer's text continues the cut chain, it does not repeat it", () => {
    const r = concord([
      "relay",
      "--models",
      modelsFile(server.baseURL),
      "--set",
      "builtin",
      "--problem",
      "demo-2",
      "--json",
      "--no-scores",
      "--max-tokens",
      "120",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      initiator: { model: string; sentences: string[] };
      runs: Array<{ cutSentence: number; continuer: string; continuation: string }>;
    };
    assert.equal(out.initiator.model, "ls-a");
    assert.ok(out.initiator.sentences.length > 2);
    assert.ok(out.runs.length > 0);
    for (const run of out.runs) {
      assert.equal(run.continuer, "ls-b");
      assert.ok(run.continuation.trim().length > 0);
      const handed = out.initiator.sentences.slice(0, run.cutSentence + 1).join("");
      assert.ok(!run.continuation.trimStart().startsWith(handed.trim().slice(0, 20)), `the continuation repeats its input: ${run.continuation.slice(0, 80)}`);
    }
  });

  const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
  test("the interface races the server's candidates, accepts one, and quits", { skip: hasTmux ? false : "tmux is not installed" }, async () => {
    const name = `concord-llama-${process.pid}`;
    const models = modelsFile(server.baseURL);
    const tmux = (...a: string[]) => execFileSync("tmux", a, { encoding: "utf8" });
    const screen = () => tmux("capture-pane", "-p", "-t", name);
    const waitFor = async (what: string, pred: (s: string) => boolean, ms = 90_000) => {
      const end = Date.now() + ms;
      let s = "";
      while (Date.now() < end) {
        s = screen();
        if (pred(s)) return s;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    };
    const cmd = `cd '${root}' && CONCORD_MODEL= CONCORD_MODELS='${models}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' CONCORD_CACHE_DIR='${dir}/cache' node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
    tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "32", cmd);
    try {
      const s = await waitFor("candidates from the server", (x) => /your call/.test(x) && lanes(x).some((l) => l.pick));
      const pick = lanes(s).find((l) => l.pick)!;
      assert.ok(pick.text.length > 0 && !pick.text.includes("<think>"), JSON.stringify(lanes(s)));
      tmux("send-keys", "-t", name, "a");
      const after1 = await waitFor("the accepted sentence", (x) => /chain: 1 sentence /.test(x));
      const squeeze = (x: string) => x.replace(/\s+/g, "");
      assert.ok(squeeze(after1.split("── step")[0]).includes(squeeze(pick.text.slice(0, 12))), `the chain shows the pick "${pick.text}"; screen:\n${after1}`);
      tmux("send-keys", "-t", name, "q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 20_000);
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  });
});
