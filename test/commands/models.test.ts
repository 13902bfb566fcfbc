import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { addModel, removeModel, setRoles } from "../../src/commands/models.js";
import { needsShared } from "../support/shared.js";

const root = join(import.meta.dirname, "..", "..");
const GGUF = join(root, "..", "shared", "models", "stories260K.gguf");
let dir: string;
let modelsFile: string;
const doubles: Record<string, ProtocolDouble> = {};
const SECRET = "sk-cli-secret-value-424242";

// The CLI runs in a child process, so the doubles (in this process) must keep answering: async spawn only.
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "test", "concord-from-source.mjs"), ...args],
      { cwd: root, env: { ...process.env, CONCORD_CONFIG_DIR: dir, CONCORD_MODELS: "", OPENAI_BASE_URL: "", OPENAI_API_KEY: "", ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-models-"));
  doubles.vllm = await startProtocolDouble({ flavor: "vllm", reasoning: true, apiKey: SECRET });
  doubles.llama = await startProtocolDouble({ flavor: "llama-server", reasoning: true });
  doubles.ollama = await startProtocolDouble({ flavor: "ollama" });
  modelsFile = join(dir, "models.yaml");
  writeFileSync(
    modelsFile,
    [
      "models:",
      `  - {name: big-vllm, backend: openai, baseURL: "${doubles.vllm.baseURL}", model: ${doubles.vllm.model}, apiKeyEnv: CLI_TEST_KEY}`,
      `  - {name: laptop-llama, backend: openai, baseURL: "${doubles.llama.baseURL}", model: ${doubles.llama.model}}`,
      `  - {name: home-ollama, backend: openai, baseURL: "${doubles.ollama.baseURL}", model: ${doubles.ollama.model}}`,
      "",
    ].join("\n"),
  );
});

after(async () => {
  await Promise.all(Object.values(doubles).map((d) => d.close()));
  rmSync(dir, { recursive: true, force: true });
});

test("models probe --json records capabilities that differ by server as documented", async () => {
  const r = await cli(["models", "probe", "--json", "--models", modelsFile], { CLI_TEST_KEY: SECRET });
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ name: string; capabilities: Record<string, unknown> & { notes: string[] } }>;
  const by = Object.fromEntries(rows.map((x) => [x.name, x.capabilities]));
  assert.deepEqual(
    [by["big-vllm"].flavor, by["big-vllm"].promptScoring, by["big-vllm"].prefill, by["big-vllm"].reasoningField],
    ["vllm", true, true, "reasoning"],
  );
  assert.deepEqual(
    [by["laptop-llama"].flavor, by["laptop-llama"].promptScoring, by["laptop-llama"].reasoningField],
    ["llama-server", false, "reasoning_content"],
  );
  assert.ok(
    by["laptop-llama"].notes.some((n) => n.includes("ignored echo")),
    by["laptop-llama"].notes.join(" | "),
  );
  assert.deepEqual([by["home-ollama"].flavor, by["home-ollama"].promptScoring], ["ollama", false]);
  assert.equal(r.stderr, "", "captured output: no progress lines");

  // Saved in settings (keyed by name + URL + model), shown by `models list`, and no key value written.
  const settingsText = readFileSync(join(dir, "config.json"), "utf8");
  assert.ok(!settingsText.includes(SECRET));
  assert.ok(settingsText.includes(`big-vllm|${doubles.vllm.baseURL}|${doubles.vllm.model}`));
  const list = await cli(["models", "list", "--json", "--models", modelsFile]);
  assert.equal(list.code, 0, list.stderr);
  const profiles = JSON.parse(list.stdout) as Array<{ name: string; capabilities?: { promptScoring: boolean }; source: unknown }>;
  assert.deepEqual(
    profiles.map((p) => [p.name, p.capabilities?.promptScoring]),
    [
      ["big-vllm", true],
      ["laptop-llama", false],
      ["home-ollama", false],
    ],
  );
  assert.deepEqual(profiles[0].source, { file: modelsFile });
});

test("models probe prints a table for named models; failures are one line and exit 1", async () => {
  const broken = join(dir, "broken.yaml");
  writeFileSync(broken, "models:\n  - name: x\n    backend: openai\n    model: m\n    baseURL: 12\n");
  const wrongKey = "sk-wrong-key-value-777777";
  // Independent runs, in parallel: each CLI start costs seconds.
  const [r, noKey, badKey, unknown, brokenRun] = await Promise.all([
    cli(["models", "probe", "home-ollama", "--models", modelsFile]),
    cli(["models", "probe", "big-vllm", "--models", modelsFile]),
    cli(["models", "probe", "big-vllm", "--models", modelsFile, "--timeout", "5"], { CLI_TEST_KEY: wrongKey }),
    cli(["models", "probe", "ghost", "--models", modelsFile]),
    cli(["models", "list", "--models", broken]),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0], /^name\s+flavor\s+stream\s+token logprobs\s+prompt scoring\s+prefill\s+reasoning field$/);
  assert.match(lines[2], /^home-ollama\s+ollama\s+yes\s+yes\s+no\s+yes\s+none$/);
  assert.ok(!r.stdout.includes("big-vllm"));

  assert.equal(noKey.code, 1);
  assert.equal(noKey.stdout, "");
  assert.match(noKey.stderr, /^concord: model "big-vllm": probe failed, nothing recorded: environment variable CLI_TEST_KEY \(its API key\) is not set\n$/);
  assert.equal(badKey.code, 1);
  assert.match(
    badKey.stderr,
    /^concord: model "big-vllm": probe failed, nothing recorded: HTTP 401 from server: Incorrect API key provided.*check the key in \$CLI_TEST_KEY\n$/,
  );
  assert.ok(!(badKey.stdout + badKey.stderr).includes(wrongKey));
  for (const x of [noKey, badKey]) assert.ok(!/\n\s+at /.test(x.stdout + x.stderr), "no stack trace");

  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^concord: no model named "ghost" \(known: big-vllm, laptop-llama, home-ollama\)\n$/);
  assert.equal(brokenRun.code, 1);
  assert.match(brokenRun.stderr, /^concord: .*broken\.yaml: models\[0\]\.baseURL: .*\n$/);
});

test(
  "models add / roles / remove manage saved settings; a probed llama-server is refused as evaluator",
  { timeout: 60_000, skip: needsShared("models/stories260K.gguf") },
  async () => {
    const cfg = { CONCORD_CONFIG_DIR: join(dir, "manage") };
    const looksLikeKey = "sk-proj-AbCdEf0123456789xyzXYZ";
    const [refused, added] = await Promise.all([
      cli(["models", "add", "laptop", "--backend", "openai", "--base-url", doubles.llama.baseURL, "--model", "m", "--api-key-env", looksLikeKey], cfg),
      cli(
        ["models", "add", "laptop", "--backend", "openai", "--base-url", doubles.llama.baseURL, "--model", doubles.llama.model, "--api-key-env", "LAPTOP_KEY"],
        cfg,
      ),
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^concord: --api-key-env: that looks like an API key itself \(not repeated here\); .*give its NAME/);
    assert.ok(!refused.stderr.includes(looksLikeKey));
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added model "laptop" \(openai http:\/\/127\.0\.0\.1:\d+\/v1, model .*\) in .*config\.json\n$/);

    // The same commands in this process (each CLI start costs seconds).
    let printed = "";
    const out = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
    const inProcess = <T>(fn: () => T): T => {
      const saved = process.env.CONCORD_CONFIG_DIR;
      process.env.CONCORD_CONFIG_DIR = cfg.CONCORD_CONFIG_DIR;
      try {
        return fn();
      } finally {
        if (saved === undefined) delete process.env.CONCORD_CONFIG_DIR;
        else process.env.CONCORD_CONFIG_DIR = saved;
      }
    };
    inProcess(() => addModel("tiny", { backend: "local", path: GGUF, threads: 1, contextSize: 512, sequences: 2 }, out));
    // Before a probe nothing is known against it; after one, the record refuses the role.
    inProcess(() => setRoles({ generators: "laptop,tiny", evaluators: "laptop" }, out));
    const probe = await cli(["models", "probe", "laptop", "--json"], { ...cfg, LAPTOP_KEY: "any" });
    assert.equal(probe.code, 0, probe.stderr);
    assert.equal(JSON.parse(probe.stdout)[0].capabilities.promptScoring, false);
    const [evaluator, ens] = await Promise.all([
      cli(["models", "roles", "--evaluators", "laptop"], cfg),
      // The saved roles still name it (set before the probe): a command refuses it when it resolves the role.
      cli(["ensemble", "--set", "builtin", "--problem", "1", "--steps", "1"], { ...cfg, LAPTOP_KEY: "any" }),
    ]);
    assert.equal(evaluator.code, 1);
    assert.equal(
      evaluator.stderr,
      'concord: model "laptop" (llama-server) cannot be an evaluator: its probe record says it gave no prompt log-probabilities; re-probe it with `concord models probe laptop`, or use an embedded model, or a vLLM server as evaluator\n',
    );
    assert.equal(ens.code, 1);
    assert.match(ens.stderr, /^concord: model "laptop" \(llama-server\) cannot be an evaluator: .*use an embedded model, or a vLLM server as evaluator\n$/);

    const roles = inProcess(() => setRoles({ evaluators: "tiny", targets: "tiny", json: true }, out));
    assert.deepEqual(roles, { generators: ["laptop", "tiny"], evaluators: ["tiny"], targets: ["tiny"], continuers: [] });
    assert.throws(() => inProcess(() => setRoles({ targets: "ghost" }, out)), /^UserError: --targets: no model named "ghost" \(known: laptop, tiny; /);

    inProcess(() => removeModel("laptop", out));
    assert.match(printed, /removed model "laptop" from .*config\.json\n$/);
    const saved = JSON.parse(readFileSync(join(dir, "manage", "config.json"), "utf8"));
    assert.deepEqual(
      saved.profiles.map((p: { name: string }) => p.name),
      ["tiny"],
    );
    assert.deepEqual(saved.roles.generators, ["tiny"]);
    assert.deepEqual(saved.profiles[0], { name: "tiny", backend: "local", model: "stories260K.gguf", path: GGUF, contextSize: 512, sequences: 2, threads: 1 });
    assert.throws(() => inProcess(() => removeModel("laptop", out)), /no saved model named "laptop" in .*config\.json \(saved: tiny\)$/);
  },
);

test("models probe loads local models for real and reads replay recordings", { timeout: 60_000, skip: needsShared("models/stories260K.gguf") }, async () => {
  const rec = join(dir, "one.jsonl");
  const request = { prompt: { kind: "chat", messages: [{ role: "user", content: "Hi" }] }, maxTokens: 4, temperature: 0 };
  writeFileSync(
    rec,
    [
      { schema: 1, kind: "concord-recording" },
      { type: "stream", backend: "old", request, chunks: [{ t: 0, text: "Hello" }], result: { text: "Hello", reasoning: "", finishReason: "stop" } },
    ]
      .map((l) => JSON.stringify(l))
      .join("\n") + "\n",
  );
  const file = join(dir, "local-replay.yaml");
  writeFileSync(
    file,
    [
      "models:",
      `  - {name: tiny, backend: local, model: tiny, path: "${GGUF}", threads: 1, contextSize: 256, sequences: 1}`,
      `  - {name: old, backend: replay, model: old, recording: "${rec}"}`,
      "",
    ].join("\n"),
  );
  const cfg = { CONCORD_CONFIG_DIR: join(dir, "probe-local") };
  const r = await cli(["models", "probe", "--json", "--models", file], cfg);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{
    name: string;
    capabilities: { streaming: boolean; tokenLogprobs: boolean; promptScoring: boolean; prefill: boolean; notes: string[] };
  }>;
  const by = Object.fromEntries(rows.map((x) => [x.name, x.capabilities]));
  assert.deepEqual([by.tiny.streaming, by.tiny.tokenLogprobs, by.tiny.promptScoring, by.tiny.prefill], [true, true, true, true]);
  assert.ok(
    by.tiny.notes.some((n) => /context 256 tokens x 1 sequences; f32 KV cache; 1 thread/.test(n)),
    by.tiny.notes.join(" | "),
  );
  assert.deepEqual([by.old.streaming, by.old.promptScoring], [true, false]);
  const settings = readFileSync(join(dir, "probe-local", "config.json"), "utf8");
  assert.ok(settings.includes(`tiny|${GGUF}|tiny`) && settings.includes(`old|${rec}|old`));
  // The record now refuses the replay as an evaluator: it holds no scores.
  const ens = await cli(["ensemble", "--set", "builtin", "--problem", "1", "--models", file, "--generators", "old", "--evaluators", "old"], cfg);
  assert.equal(ens.code, 1);
  assert.match(ens.stderr, /^concord: model "old" \(recording\) cannot be an evaluator: its recording gave no prompt log-probabilities/);
});

test("a probe of an unreachable server records nothing: one line, exit 1, the earlier record kept", { timeout: 60_000 }, async () => {
  const server = await startProtocolDouble({ flavor: "vllm" });
  const cfg = { CONCORD_CONFIG_DIR: join(dir, "probe-down") };
  const file = join(dir, "down.yaml");
  writeFileSync(file, `models:\n  - {name: oss, backend: openai, baseURL: "${server.baseURL}", model: ${server.model}, flavor: vllm}\n`);
  const good = await cli(["models", "probe", "oss", "--models", file], cfg);
  assert.equal(good.code, 0, good.stderr);
  const before = readFileSync(join(dir, "probe-down", "config.json"), "utf8");
  assert.match(before, /"promptScoring":\s*true/);
  await server.close();

  const down = await cli(["models", "probe", "oss", "--models", file, "--timeout", "2"], cfg);
  assert.equal(down.code, 1);
  assert.equal(down.stdout, "");
  assert.match(down.stderr, /^concord: model "oss": probe failed, nothing recorded: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1 \(ECONNREFUSED\)[^\n]*\n$/);
  assert.equal(readFileSync(join(dir, "probe-down", "config.json"), "utf8"), before, "the earlier record is kept");

  // With no earlier record the profile stays unprobed: nothing refuses it later.
  const fresh = { CONCORD_CONFIG_DIR: join(dir, "probe-down-fresh") };
  const again = await cli(["models", "probe", "--json", "--models", file, "--timeout", "2"], fresh);
  assert.equal(again.code, 1);
  assert.match(JSON.parse(again.stdout)[0].error, /probe failed, nothing recorded: cannot reach/);
  const list = await cli(["models", "list", "--json", "--models", file], fresh);
  assert.equal(JSON.parse(list.stdout)[0].capabilities, undefined);
});

test("models list refuses a profile with a key inside extra, without printing it", async () => {
  const file = join(dir, "leaky.yaml");
  writeFileSync(file, `models:\n  - {name: srv, backend: openai, baseURL: "http://127.0.0.1:1/v1", model: m, extra: {headers: {api_key: "${SECRET}"}}}\n`);
  const r = await cli(["models", "list", "--json", "--models", file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^concord: .*leaky\.yaml: models\[0\]\.extra\.headers\.api_key: looks like an API key or other secret \(not repeated here\); .*apiKeyEnv/,
  );
  assert.equal(r.stderr.split("\n").length, 2);
  assert.ok(!r.stderr.includes(SECRET));
});
