// How profiles become the backends a user gets: local options, the response cache, recordings,
// role refusals from probe records, and model downloads with progress.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { freemem, tmpdir } from "node:os";
import { join } from "node:path";
import { backendFor, cacheDir, experimentRoles, modelIdentity, openModels, probeProfile } from "../../src/engine/models.js";
import { openSettings } from "../../src/config/settings.js";
import { LocalBackend } from "../../src/backends/local.js";
import { collect, type CompletionRequest } from "../../src/backends/types.js";
import { estimateMemory } from "../../src/backends/local/pool.js";
import { downloadReporter } from "../../src/cli/progress.js";
import { parseProfile, type ModelProfile } from "../../src/config/profile.js";
import { UserError } from "../../src/errors.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { anyModelFile } from "../support/models.js";
import { needsShared } from "../support/shared.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "test", "concord-from-source.mjs");
const GGUF = anyModelFile();
const GGUF_BYTES = readFileSync(GGUF);
const dir = mkdtempSync(join(tmpdir(), "concord-engine-models-"));
const tmp = (name: string) => join(dir, name);

/** The CLI in a child process; async, so servers in this process keep answering. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: dir,
        env: {
          ...process.env,
          CONCORD_CONFIG_DIR: tmp("cfg"),
          CONCORD_MODELS: "",
          CONCORD_MODEL: "",
          CONCORD_NO_CACHE: "",
          OPENAI_BASE_URL: "",
          OPENAI_API_KEY: "",
          ...env,
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const greedy = (content: string): CompletionRequest => ({ prompt: { kind: "chat", messages: [{ role: "user", content }] }, maxTokens: 8, temperature: 0 });
const modelCalls = (d: ProtocolDouble) => d.requests.filter((r) => /\/(chat\/)?completions$|\/generate$/.test(r.path)).length;

let double: ProtocolDouble;
let fileHost: Server;
let fileBase = "";
let fileRequests = 0;

before(async () => {
  double = await startProtocolDouble({ flavor: "vllm" });
  // A file host on 127.0.0.1 standing in for Hugging Face / a model URL.
  fileHost = createServer((req, res) => {
    fileRequests++;
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/acme/tiny/resolve/main/tiny.gguf" || path === "/files/stories.gguf") {
      res.setHeader("content-length", String(GGUF_BYTES.length));
      // Several writes, so progress is reported more than once.
      const step = Math.ceil(GGUF_BYTES.length / 8);
      let i = 0;
      const next = () => {
        if (i >= GGUF_BYTES.length) {
          res.end();
          return;
        }
        res.write(GGUF_BYTES.subarray(i, i + step), next);
        i += step;
      };
      next();
      return;
    }
    res.statusCode = 404;
    res.end("not found");
  });
  await new Promise<void>((r) => fileHost.listen(0, "127.0.0.1", r));
  fileBase = `http://127.0.0.1:${(fileHost.address() as AddressInfo).port}`;
});

after(async () => {
  await double.close();
  await new Promise<void>((r) => fileHost.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe("local profile options", () => {
  test("contextSize, sequences, kvCache and threads reach the loaded model", async () => {
    const p = parseProfile(
      { name: "tiny", backend: "local", model: "tiny", path: GGUF, contextSize: 256, sequences: 1, kvCache: "f16", threads: 1, gpu: false },
      "test",
    );
    const b = await backendFor(p, { cache: false });
    try {
      assert.ok(b instanceof LocalBackend);
      const lease = await (b as LocalBackend).load();
      assert.deepEqual([lease.context.contextSize, lease.sequences.size, lease.kvCache, lease.threads, lease.gpu], [256, 1, "f16", 1, false]);
    } finally {
      await b.close();
    }
  });

  test("a model too big for the memory budget is refused in one line naming the profile", { skip: needsShared("models/stories260K.gguf") }, async (t) => {
    const est = await estimateMemory(GGUF, 1_048_576, 64);
    if (est.contextBytes < freemem()) return t.skip("this machine has memory for the huge context");
    const p = parseProfile({ name: "huge", backend: "local", model: "tiny", path: GGUF, contextSize: 1_048_576, sequences: 64, threads: 1 }, "test");
    await assert.rejects(backendFor(p), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(
        err.message,
        /^model "huge": cannot load .*stories260K\.gguf: it needs about [\d.]+ GB .* local model budget .*contextSize, sequences, kvCache: f16\)$/,
      );
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });

  test("local-only fields are refused on a server profile; bad values name the field", () => {
    assert.throws(
      () => parseProfile({ name: "s", backend: "openai", model: "m", contextSize: 512 }, "f.yaml", ["models", 0]),
      /^Error: f\.yaml: models\[0\]\.contextSize: only local models take contextSize$|f\.yaml: models\[0\]\.contextSize: only local models/,
    );
    assert.throws(
      () => parseProfile({ name: "l", backend: "local", model: "m", path: GGUF, kvCache: "f8" }, "f.yaml", ["models", 0]),
      /f\.yaml: models\[0\]\.kvCache: /,
    );
    assert.throws(
      () => parseProfile({ name: "l", backend: "local", model: "m", path: GGUF, gpu: "yes" }, "f.yaml", ["models", 0]),
      /f\.yaml: models\[0\]\.gpu: /,
    );
  });
});

describe("response cache", () => {
  test("cache folder: CONCORD_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache", () => {
    assert.equal(cacheDir({ CONCORD_CACHE_DIR: "/x/y" }), "/x/y");
    assert.equal(cacheDir({ XDG_CACHE_HOME: "/c" }), "/c/concord/responses");
    assert.match(cacheDir({}), /\.cache\/concord\/responses$/);
  });

  test("the key's model identity changes with the file (path, size, mtime) and the server fields", async () => {
    const copy = tmp("copy.gguf");
    copyFileSync(GGUF, copy);
    const local: ModelProfile = { name: "l", backend: "local", model: "m", path: copy };
    const a = await modelIdentity(local);
    assert.equal(await modelIdentity(local), a);
    const later = new Date(Date.now() + 60_000);
    utimesSync(copy, later, later);
    assert.notEqual(await modelIdentity(local), a, "a replaced file is another model");
    assert.notEqual(await modelIdentity({ ...local, kvCache: "f16" }), await modelIdentity(local));
    const server: ModelProfile = { name: "s", backend: "openai", model: "m", baseURL: "http://127.0.0.1:1/v1" };
    const ids = await Promise.all([
      modelIdentity(server),
      modelIdentity({ ...server, baseURL: "http://127.0.0.1:2/v1" }),
      modelIdentity({ ...server, model: "m2" }),
      modelIdentity({ ...server, extra: { chat_template_kwargs: { enable_thinking: false } } }),
    ]);
    assert.equal(new Set(ids).size, 4);
  });

  test("deterministic requests are answered from the cache by default; --no-cache and CONCORD_NO_CACHE go to the model", async () => {
    const modelsFile = tmp("cache-models.yaml");
    writeFileSync(modelsFile, `models:\n  - {name: dbl, backend: openai, baseURL: "${double.baseURL}", model: ${double.model}, flavor: vllm}\n`);
    const env = { CONCORD_CACHE_DIR: tmp("cache-unit"), CONCORD_CONFIG_DIR: tmp("cfg-unit") };
    const ask = async (opts: { cache?: boolean; env?: Record<string, string> } = {}) => {
      const models = openModels({ modelsFile, env: { ...env, ...opts.env }, cache: opts.cache, download: false });
      try {
        return await collect((await models.get("dbl")).backend.stream(greedy("What is two plus two?")));
      } finally {
        await models.close();
      }
    };
    const n0 = modelCalls(double);
    const first = await ask();
    assert.equal(modelCalls(double), n0 + 1);
    const second = await ask();
    assert.equal(modelCalls(double), n0 + 1, "the second identical request made no model call");
    assert.deepEqual([second.text, second.finishReason], [first.text, first.finishReason]);
    assert.ok(first.text.length > 0);
    await ask({ cache: false });
    assert.equal(modelCalls(double), n0 + 2);
    await ask({ env: { CONCORD_NO_CACHE: "1" } });
    assert.equal(modelCalls(double), n0 + 3);
  });

  test(
    "a second identical `concord run` (greedy conditions, on a server) asks only which model the server serves, nothing of the model",
    { timeout: 60_000 },
    async () => {
      const modelsFile = tmp("run-models.yaml");
      writeFileSync(modelsFile, `models:\n  - {name: dbl, backend: openai, baseURL: "${double.baseURL}", model: ${double.model}}\n`);
      const spec = (out: string) => {
        const file = tmp(`${out}.yaml`);
        writeFileSync(
          file,
          [
            "problems: { set: builtin, sample: 2 }",
            "conditions: [empty, default-greedy]",
            "targets: [dbl]",
            "cot: { maxTokens: 24 }",
            "answerTokens: 12",
            `out: ${out}`,
          ].join("\n"),
        );
        return file;
      };
      const env = { CONCORD_CACHE_DIR: tmp("cache-run") };
      const before = double.requests.length;
      const first = await cli(["run", spec("out1"), "--models", modelsFile, "--json"], env);
      assert.equal(first.code, 0, first.stderr);
      const firstCalls = double.requests.length - before;
      assert.ok(firstCalls >= 4, `first run asked the server ${firstCalls} times`);
      // A fresh results folder, so nothing is skipped as already done: only the cache can answer.
      const secondFrom = double.requests.length;
      const second = await cli(["run", spec("out2"), "--models", modelsFile, "--json"], env);
      assert.equal(second.code, 0, second.stderr);
      // The cache is keyed on what the server says it serves: one look at /v1/models, no model call.
      assert.deepEqual(
        double.requests.slice(secondFrom).map((r) => `${r.method} ${r.path}`),
        ["GET /v1/models"],
        "the second run asked the server nothing else",
      );
      const [s1, s2] = [first, second].map((r) => JSON.parse(r.stdout.trim().split("\n").at(-1)!));
      assert.equal(s2.written, s1.written);
      const answers = (out: string) =>
        readFileSync(join(dir, out, "results.jsonl"), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => String(JSON.parse(l).answerRaw))
          .sort();
      assert.equal(answers("out1").length, s1.written);
      assert.deepEqual(answers("out2"), answers("out1"));
      const third = await cli(["run", spec("out3"), "--models", modelsFile, "--json", "--no-cache"], env);
      assert.equal(third.code, 0, third.stderr);
      assert.ok(double.requests.length - before > firstCalls, "--no-cache asked the server again");
    },
  );
});

describe("recordings", () => {
  for (const mode of ["paper", "concord"])
    test(`an ensemble (${mode} mode) recorded on the embedded model replays to the same chain from a replay profile`, { timeout: 60_000 }, async () => {
      const rec = tmp(`ensemble-${mode}.jsonl`);
      const args = ["ensemble", "--set", "builtin", "--problem", "demo-2", "--steps", "3", "--k", "2", "--mode", mode, "--seed", "5", "--json"];
      const live = await cli([...args, "--record", rec], { CONCORD_MODEL: GGUF, CONCORD_NO_CACHE: "1" });
      assert.equal(live.code, 0, live.stderr);
      const lines = readFileSync(rec, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      assert.equal(lines[0].kind, "concord-recording");
      assert.ok(lines.some((e) => e.type === "stream") && lines.some((e) => e.type === "score"));
      const replayFile = tmp(`replay-${mode}.yaml`);
      writeFileSync(
        replayFile,
        `models:\n  - {name: local, backend: replay, model: local, recording: "${rec}"}\nroles: {generators: [local], evaluators: [local]}\n`,
      );
      const replayed = await cli([...args, "--models", replayFile]);
      assert.equal(replayed.code, 0, replayed.stderr);
      const [a, b] = [live, replayed].map((r) => JSON.parse(r.stdout));
      const strip = (chain: { sentences: Array<Record<string, unknown>> }) => chain.sentences.map(({ at: _at, ...s }) => s);
      assert.equal(b.text, a.text);
      assert.deepEqual(strip(b.chain), strip(a.chain));
      assert.equal(a.chain.sentences.length, 3);
    });
});

describe("roles and probe records", () => {
  test("a model whose probe record lacks a capability is refused for the role, in one line naming an alternative", async () => {
    const modelsFile = tmp("roles.yaml");
    const caps = { streaming: true, tokenLogprobs: true, promptScoring: false, prefill: false, reasoningField: null, notes: [], flavor: "llama-server" };
    writeFileSync(modelsFile, JSON.stringify({ models: [{ name: "laptop", backend: "openai", baseURL: double.baseURL, model: "m", capabilities: caps }] }));
    const models = openModels({ modelsFile, env: { CONCORD_CONFIG_DIR: tmp("cfg-roles") }, download: false });
    try {
      await assert.rejects(
        models.get("laptop", "evaluator"),
        /^UserError: model "laptop" \(llama-server\) cannot be an evaluator: its probe record says it gave no prompt log-probabilities; re-probe it with `concord models probe laptop`, or use an embedded model, or a vLLM server as evaluator$/,
      );
      await assert.rejects(models.get("laptop", ["generator", "target"]), /cannot be a target: .*no prefill/);
      const h = await models.get("laptop", "generator");
      assert.equal(h.name, "laptop");
    } finally {
      await models.close();
    }
  });

  test("experimentRoles: what each model does in a spec", () => {
    const roles = experimentRoles({
      targets: ["a", "b"],
      conditions: [
        { kind: "transfer", source: "c", variants: ["full"] },
        { kind: "ensemble", generators: ["a", "c"], evaluators: ["b"], k: 3, mode: "concord", maxSentences: 60, variants: ["full"] },
      ],
    } as Parameters<typeof experimentRoles>[0]);
    assert.deepEqual(Object.fromEntries(roles), { a: ["target", "generator"], b: ["target", "evaluator"], c: ["generator"] });
  });
});

describe("downloads", () => {
  test("progress: a bar redrawn in place on a terminal, a few plain lines otherwise", () => {
    const sink = (tty: boolean) => {
      const out: string[] = [];
      return { out, stream: Object.assign({ write: (s: string) => (out.push(s), true) }, { isTTY: tty, columns: 100 }) as unknown as NodeJS.WriteStream };
    };
    let clock = 0;
    const plain = sink(false);
    const r = downloadReporter({ stream: plain.stream, now: () => clock });
    for (let i = 1; i <= 100; i++) {
      clock += 50;
      r.onProgress({ file: "model\u001b[31m.gguf", downloadedBytes: i * 10 * 1024 ** 2, totalBytes: 1000 * 1024 ** 2 });
    }
    r.end(true);
    const text = plain.out.join("");
    assert.ok(!text.includes("\r") && !text.includes("\u001b"), "no terminal codes in plain output, none from the file name");
    assert.deepEqual(text.trim().split("\n"), [
      "downloading model?[31m.gguf (1000.0 MB)",
      "  25%, 250.0 MB",
      "  50%, 500.0 MB",
      "  75%, 750.0 MB",
      "downloaded model?[31m.gguf (1000.0 MB)",
    ]);

    clock = 0;
    const term = sink(true);
    const bar = downloadReporter({ stream: term.stream, now: () => clock, redrawMs: 100 });
    for (let i = 1; i <= 100; i++) {
      clock += 10;
      bar.onProgress({ file: "m.gguf", downloadedBytes: i, totalBytes: 100 });
    }
    bar.end(false);
    const draws = term.out.filter((s) => s.startsWith("\r\u001b[2K"));
    assert.ok(draws.length >= 5 && draws.length <= 15, `${draws.length} redraws`);
    assert.match(draws.at(-1)!, /downloading m\.gguf \[#{24}\] 100% /);
    assert.equal(term.out.at(-1), "\n", "a failed download leaves the bar on its own line");
  });

  test("an hf: model is downloaded with progress into the models folder, then used", async () => {
    const events: number[] = [];
    let ended: boolean | undefined;
    const env = {
      CONCORD_MODEL: "hf:acme/tiny/tiny.gguf",
      CONCORD_HF_ENDPOINT: fileBase,
      CONCORD_MODELS_DIR: tmp("models-hf"),
      CONCORD_CONFIG_DIR: tmp("cfg-dl"),
      CONCORD_NO_CACHE: "1",
    };
    const models = openModels({ env, download: { onProgress: (p) => events.push(p.downloadedBytes), end: (ok) => (ended = ok) } });
    try {
      const h = await models.get("local");
      assert.ok((await h.backend.countTokens!("Once upon a time")) > 0);
    } finally {
      await models.close();
    }
    assert.ok(events.length >= 2 && events.at(-1) === GGUF_BYTES.length, `progress ${events.join(",")}`);
    assert.equal(ended, true);
    const file = join(tmp("models-hf"), "hf", "acme", "tiny", "tiny.gguf");
    assert.equal(statSync(file).size, GGUF_BYTES.length);
  });

  test(
    "concord with a model URL shows plain progress lines on a non-terminal stderr",
    { timeout: 60_000, skip: needsShared("models/stories260K.gguf") },
    async () => {
      const r = await cli(["ensemble", "--set", "builtin", "--problem", "demo-1", "--steps", "1", "--k", "1", "--seed", "1", "--json"], {
        CONCORD_MODEL: `${fileBase}/files/stories.gguf`,
        CONCORD_MODELS_DIR: tmp("models-url"),
        CONCORD_NO_CACHE: "1",
      });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stderr.split("\n").filter((l) => /download/.test(l));
      assert.match(lines[0]!, /^downloading [0-9a-f]{12}-stories\.gguf \(1\.\d MB\)$/);
      assert.match(lines.at(-1)!, /^downloaded [0-9a-f]{12}-stories\.gguf \(1\.\d MB\)$/);
      assert.ok(!r.stderr.includes("\r"));
      assert.equal(JSON.parse(r.stdout).chain.sentences.length, 1);
    },
  );

  test("offline: one line saying how to point Concord at a local GGUF", { timeout: 60_000 }, async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const closed = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const env = { CONCORD_MODEL: "hf:acme/tiny/tiny.gguf", CONCORD_HF_ENDPOINT: `http://127.0.0.1:${closed}`, CONCORD_MODELS_DIR: tmp("models-offline") };
    const r = await cli(["ensemble", "--set", "builtin", "--problem", "demo-1", "--steps", "1"], env);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^concord: offline\? use a GGUF you have: set CONCORD_MODEL=<file\.gguf> or pass --model <file\.gguf> \(cannot download http:\/\/127\.0\.0\.1:\d+\/acme\/tiny\/resolve\/main\/tiny\.gguf: .*\)\n$/,
    );
    assert.ok(!existsSync(join(tmp("models-offline"), "hf", "acme", "tiny", "tiny.gguf")));
  });
});

describe("nothing configured", () => {
  test("headless commands fall back to the default model set, as the interface does", async () => {
    const { DEFAULT_MODELS } = await import("../../src/backends/models.js");
    const models = openModels({ env: { CONCORD_CONFIG_DIR: tmp("cfg-nothing") }, download: false });
    try {
      assert.equal(models.source, "the default models");
      assert.deepEqual(
        models.profiles.map((p) => p.name),
        DEFAULT_MODELS.map((m) => m.name),
      );
      assert.ok(models.roles.generators.length > 0 && models.roles.evaluators.length > 0 && models.roles.targets.length > 0);
    } finally {
      await models.close();
    }
  });

  test("--model <file.gguf> on a headless command runs every role on that file", { timeout: 60_000 }, async () => {
    const r = await cli(["ensemble", "--set", "builtin", "--problem", "demo-1", "--steps", "1", "--json", "--model", GGUF], {
      CONCORD_CONFIG_DIR: tmp("cfg-flag"),
      CONCORD_NO_CACHE: "1",
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.chain.sentences.length, 1);
    assert.equal(out.chain.sentences[0].author, "local");
  });
});

describe("probeProfile", () => {
  const closedPort = async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
  };

  test("records what a reachable server can do", async () => {
    const server = await startProtocolDouble({ flavor: "vllm" });
    try {
      const settings = openSettings({ cwd: tmp("probe-ok"), env: {} });
      const p = parseProfile({ name: "oss", backend: "openai", baseURL: server.baseURL, model: server.model }, "test");
      const rec = await probeProfile(p, { settings, timeoutMs: 5000 });
      assert.deepEqual([rec.flavor, rec.promptScoring, rec.prefill], ["vllm", true, true]);
      assert.deepEqual(settings.probe(p), rec);
    } finally {
      await server.close();
    }
  });

  test("an unreachable server, or an embedded file that will not load, is one line and leaves the earlier record", async () => {
    const settings = openSettings({ cwd: tmp("probe-fail"), env: {} });
    const p = parseProfile({ name: "oss", backend: "openai", baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: "m", flavor: "vllm" }, "test");
    const earlier = settings.saveProbe(p, {
      streaming: true,
      tokenLogprobs: true,
      promptScoring: true,
      prefill: true,
      reasoningField: null,
      notes: ["earlier"],
    });
    await assert.rejects(probeProfile(p, { settings, timeoutMs: 2000 }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^model "oss": probe failed, nothing recorded: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1 \(ECONNREFUSED\)/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    assert.deepEqual(settings.probe(p), earlier);

    const bad = tmp("not-a-model.gguf");
    writeFileSync(bad, "not a gguf file");
    const local = parseProfile({ name: "tiny", backend: "local", model: "x", path: bad, threads: 1 }, "test");
    await assert.rejects(probeProfile(local, { settings, timeoutMs: 5000 }), /^UserError: model "tiny": probe failed, nothing recorded: /);
    assert.equal(settings.probe(local), undefined);
  });
});
