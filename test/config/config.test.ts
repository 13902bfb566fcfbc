import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  addCacheRecordOptions,
  checkEnvName,
  ConfigError,
  implicitOpenAIProfile,
  looksLikeSecret,
  parseProfile,
  probeKey,
  requireCapability,
  ROLE_OF_LIST,
  loadModelsConfig,
  loadModelsFile,
  openSettings,
  parseModelsData,
  type SettingsStore,
} from "../../src/config/index.js";
import { UserError } from "../../src/errors.js";
import { Command } from "commander";
import { addModelsOption } from "../../src/config/index.js";

let dir: string;
let settings: SettingsStore;
const SECRET = "sk-concord-test-secret-0123456789";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-config-"));
  settings = openSettings({ cwd: dir, env: { CONCORD_TEST_KEY: SECRET } });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const vllm = { name: "qwq", backend: "openai", baseURL: "http://127.0.0.1:8000/v1", model: "Qwen/QwQ-32B", apiKeyEnv: "CONCORD_TEST_KEY" };

describe("models files", () => {
  test("YAML list, map and JSON forms all load", () => {
    const a = loadModelsFile(file("a.yaml", "models:\n  - name: qwq\n    backend: openai\n    baseURL: http://h:1/v1\n    model: m\n"));
    const b = loadModelsFile(file("b.yaml", "models:\n  qwq:\n    backend: openai\n    baseURL: http://h:1/v1\n    model: m\nroles:\n  evaluators: [qwq]\n"));
    const c = loadModelsFile(file("c.json", JSON.stringify([{ name: "qwq", backend: "openai", baseURL: "http://h:1/v1", model: "m" }])));
    for (const f of [a, b, c]) assert.deepEqual(f.profiles, [{ name: "qwq", backend: "openai", baseURL: "http://h:1/v1", model: "m" }]);
    assert.deepEqual(b.roles!.evaluators, ["qwq"]);
  });

  test("a bad field is one line naming the file and the field path", () => {
    const p = file(
      "bad.yaml",
      "models:\n  - name: ok\n    backend: openai\n    model: m\n  - name: two\n    backend: openai\n    baseURL: not a url\n    model: m\n",
    );
    assert.throws(
      () => loadModelsFile(p),
      (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: models\\[1\\]\\.baseURL: `));
        assert.ok(!err.message.includes("\n"));
        return true;
      },
    );
    assert.throws(
      () => parseModelsData({ models: [{ name: "x", backend: "openai", model: "m", sampling: { temperature: -1 } }] }, "f.yaml"),
      /f\.yaml: models\[0\]\.sampling\.temperature: /,
    );
    assert.throws(() => parseModelsData({ models: [{ name: "x", backend: "cloud", model: "m" }] }, "f.yaml"), /f\.yaml: models\[0\]\.backend: /);
    assert.throws(
      () => parseModelsData({ models: [{ name: "x", backend: "openai", model: "m", colour: "red" }] }, "f.yaml"),
      /f\.yaml: models\[0\]: unknown field "colour"$/,
    );
    assert.throws(() => parseModelsData({ models: { a: { backend: "local", model: "m" } } }, "f.yaml"), /f\.yaml: models\.a\.path: a local model needs/);
    assert.throws(() => loadModelsFile(join(dir, "missing.yaml")), /missing\.yaml: no such file$/);
    assert.throws(() => loadModelsFile(file("broken.json", "{ not json")), /broken\.json: not valid JSON at line 1, column \d+$/);
  });

  test("a key written into a profile is refused with a pointer to apiKeyEnv", () => {
    assert.throws(
      () => parseModelsData({ models: [{ name: "x", backend: "openai", model: "m", apiKey: "sk-abc" }] }, "f.yaml"),
      (err: unknown) =>
        err instanceof ConfigError && /f\.yaml: models\[0\]\.apiKey: API keys are never stored/.test(err.message) && !err.message.includes("sk-abc"),
    );
  });
});

describe("merging sources", () => {
  test("file profiles override settings profiles of the same name; roles must name known models", () => {
    settings.saveProfile({ ...vllm, model: "from-settings" });
    settings.saveProfile({ name: "other", backend: "openai", baseURL: "http://h:2/v1", model: "o" });
    const f = file(
      "m.yaml",
      "models:\n  - name: qwq\n    backend: openai\n    baseURL: http://h:9/v1\n    model: from-file\nroles:\n  generators: [qwq, other]\n",
    );
    const cfg = loadModelsConfig({ modelsFile: f, env: {}, settings });
    assert.equal(cfg.profiles.find((p) => p.name === "qwq")!.model, "from-file");
    assert.equal(cfg.profiles.find((p) => p.name === "other")!.model, "o");
    assert.deepEqual(cfg.sources, { qwq: { file: f }, other: "settings" });
    assert.deepEqual(cfg.roles.generators, ["qwq", "other"]);
    const bad = file("r.yaml", "models: []\nroles:\n  evaluators: [ghost]\n");
    assert.throws(() => loadModelsConfig({ modelsFile: bad, env: {}, settings }), new RegExp(`r\\.yaml: roles\\.evaluators\\[0\\]: no model named "ghost"$`));
  });

  test("CONCORD_MODELS names the file when --models is not given", () => {
    const f = file("env.yaml", "- name: e\n  backend: openai\n  baseURL: http://h:3/v1\n  model: em\n");
    const cfg = loadModelsConfig({ env: { CONCORD_MODELS: f }, settings });
    assert.deepEqual(
      cfg.profiles.map((p) => p.name),
      ["e"],
    );
  });

  test("OPENAI_BASE_URL / OPENAI_API_KEY give an implicit profile that names the key variable", () => {
    assert.equal(implicitOpenAIProfile({}), undefined);
    const p = implicitOpenAIProfile({ OPENAI_BASE_URL: "http://127.0.0.1:8000/v1", OPENAI_API_KEY: SECRET })!;
    assert.deepEqual(p, { name: "openai", backend: "openai", baseURL: "http://127.0.0.1:8000/v1", model: "auto", apiKeyEnv: "OPENAI_API_KEY" });
    assert.equal(implicitOpenAIProfile({ OPENAI_API_KEY: "k", OPENAI_MODEL: "gpt-4o-mini" })!.baseURL, "https://api.openai.com/v1");
    assert.throws(() => implicitOpenAIProfile({ OPENAI_BASE_URL: "nope" }), /environment \(OPENAI_BASE_URL \/ OPENAI_MODEL\): baseURL: /);
    settings.saveProfile({ name: "openai", backend: "openai", baseURL: "http://saved:1/v1", model: "saved" });
    const cfg = loadModelsConfig({ env: { OPENAI_BASE_URL: "http://127.0.0.1:8000/v1" }, settings });
    assert.equal(cfg.profiles[0].model, "saved", "a saved profile of the same name wins over the environment");
  });

  test("addModelsOption adds --models", () => {
    const cmd = addModelsOption(new Command("x").exitOverride());
    cmd.parse(["--models", "f.yaml"], { from: "user" });
    assert.equal(cmd.opts().models, "f.yaml");
  });
});

describe("settings", () => {
  test("opening and reading the settings writes nothing: a reader never puts an older file back over a newer one", () => {
    const reader = openSettings({ cwd: dir });
    assert.deepEqual([reader.profiles(), reader.theme(), reader.keyOverrides(), reader.roles().generators], [[], "default", {}, []]);
    assert.equal(existsSync(join(dir, "config.json")), false, "no file before the first change");
    // A writer (another process, as two commands started at once) saves after the reader opened.
    const writer = openSettings({ cwd: dir });
    writer.saveProfile({ name: "laptop", backend: "openai", baseURL: "http://127.0.0.1:8000/v1", model: "m" });
    const written = readFileSync(join(dir, "config.json"), "utf8");
    const again = openSettings({ cwd: dir });
    assert.deepEqual([reader.profiles().map((p) => p.name), again.profiles().map((p) => p.name)], [["laptop"], ["laptop"]]);
    assert.equal(readFileSync(join(dir, "config.json"), "utf8"), written, "opening it again changed nothing");
    assert.equal(JSON.parse(written).version, 1);
  });

  test("a change waits for another process's change to the settings and keeps it: two writers at once both keep theirs", async () => {
    const { spawn } = await import("node:child_process");
    const file = join(dir, "config.json");
    const ready = join(dir, "writer-ready");
    openSettings({ cwd: dir }).setTheme("dark");
    // Another process mid-change: it holds the settings' lock, has read the file, and writes its
    // profile 400 ms later (as a second `concord models add` would).
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs"), os = require("node:os");
         const [file, ready] = process.argv.slice(1);
         fs.writeFileSync(file + ".lock", JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), what: "concord models add" }) + "\\n");
         const data = JSON.parse(fs.readFileSync(file, "utf8"));
         fs.writeFileSync(ready, "");
         setTimeout(() => {
           data.profiles = [...(data.profiles ?? []), { name: "other", backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: "m" }];
           fs.writeFileSync(file, JSON.stringify(data));
           fs.unlinkSync(file + ".lock");
         }, 400);`,
        file,
        ready,
      ],
      { stdio: "inherit" },
    );
    const exited = new Promise((r) => writer.once("exit", r));
    while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 10));
    openSettings({ cwd: dir }).saveProfile({ name: "mine", backend: "openai", baseURL: "http://127.0.0.1:8000/v1", model: "m" });
    assert.equal(await exited, 0);
    const again = openSettings({ cwd: dir });
    assert.deepEqual(
      again.profiles().map((p) => p.name),
      ["other", "mine"],
    );
    assert.equal(again.theme(), "dark");
    assert.equal(existsSync(file + ".lock"), false, "no lock left behind");
  });

  test("no key value is ever written to the settings file", () => {
    const env = { CONCORD_TEST_KEY: SECRET, OPENAI_API_KEY: SECRET, OPENAI_BASE_URL: "http://127.0.0.1:8000/v1" };
    const s = openSettings({ cwd: dir, env });
    const cfg = loadModelsConfig({ env, settings: s });
    for (const p of cfg.profiles) s.saveProfile(p); // the implicit "openai" profile, persisted
    s.saveProfile(vllm);
    s.setRoles({ generators: ["qwq"], evaluators: ["openai"], targets: [], continuers: [] });
    s.saveProbe(vllm as never, { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: "reasoning", notes: ["ok"] });
    s.setTheme("dark");
    assert.throws(
      () => s.saveProfile({ ...vllm, name: "leaky", extra: { api_token: SECRET } }),
      /profile\.extra\.api_token: looks like an API key or other secret \(not repeated here\)/,
    );
    const text = readFileSync(s.path, "utf8");
    assert.ok(text.includes('"apiKeyEnv": "CONCORD_TEST_KEY"') || text.includes('"apiKeyEnv":"CONCORD_TEST_KEY"'));
    assert.ok(text.includes("OPENAI_API_KEY"));
    assert.ok(!text.includes(SECRET), "the key's value is not in the settings file");
    assert.ok(!text.includes("leaky"));
  });

  test("secrets anywhere in a profile's extra request fields are refused, never echoed", () => {
    const base = { name: "srv", backend: "openai", baseURL: "http://127.0.0.1:8000/v1", model: "m" };
    const refused: Array<[unknown, string]> = [
      [{ api_key: SECRET }, "extra.api_key"],
      [{ headers: { Authorization: `Bearer ${SECRET}` } }, "extra.headers.Authorization"],
      [{ auth: { token: "plain-but-named-token" } }, "extra.auth"],
      [{ chat_template_kwargs: { "X-Api-Key": "whatever" } }, "extra.chat_template_kwargs.X-Api-Key"],
      [{ note: ["ok", `use ${SECRET}`] }, "extra.note[1]"],
      [{ openai_api_key: "x" }, "extra.openai_api_key"],
    ];
    for (const [extra, at] of refused) {
      assert.throws(
        () => parseProfile({ ...base, extra }, "models.yaml", ["models", 0]),
        (e: unknown) => {
          const m = (e as Error).message;
          assert.ok(e instanceof ConfigError, m);
          assert.equal(
            m,
            `models.yaml: models[0].${at}: looks like an API key or other secret (not repeated here); API keys are never stored in profiles; put it in an environment variable and set apiKeyEnv to its name`,
          );
          assert.ok(!m.includes(SECRET) && !m.includes("plain-but-named-token") && !m.includes("whatever"));
          return true;
        },
        JSON.stringify(at),
      );
    }
    // Ordinary request fields pass, token counts and ids included.
    const fine = {
      chat_template_kwargs: { enable_thinking: false },
      max_tokens: 10,
      stop_token_ids: [2],
      skip_special_tokens: false,
      min_tokens: 1,
      top_k: 20,
      keywords: ["a"],
    };
    assert.deepEqual(parseProfile({ ...base, extra: fine }, "x").extra, fine);
  });

  test("probe records are keyed by name + baseURL + model", () => {
    const caps = { streaming: true, tokenLogprobs: false, promptScoring: false, prefill: true, reasoningField: null, notes: [] };
    settings.saveProbe(vllm as never, caps);
    const reopened = openSettings({ cwd: dir, env: {} });
    assert.equal(reopened.probe(vllm as never)!.promptScoring, false);
    assert.ok(reopened.probe(vllm as never)!.probedAt);
    assert.equal(reopened.probe({ ...vllm, baseURL: "http://elsewhere:1/v1" } as never), undefined);
    assert.equal(reopened.probe({ ...vllm, model: "other" } as never), undefined);
    settings.saveProfile(vllm);
    const cfg = loadModelsConfig({ env: {}, settings: reopened });
    assert.equal(cfg.profiles[0].capabilities!.prefill, true, "loaded profiles carry their probe record");
  });

  test("profiles, roles, theme, keys and sessions folder persist", () => {
    settings.saveProfile(vllm);
    settings.saveProfile({ ...vllm, model: "replaced" });
    settings.setRoles({ generators: ["qwq"], evaluators: [], targets: ["qwq"], continuers: [], sanitizer: "qwq" });
    settings.setKeyOverrides({ accept: "a" });
    settings.setSessionsDir("/tmp/s");
    const s = openSettings({ cwd: dir, env: {} });
    assert.deepEqual(
      s.profiles().map((p) => p.model),
      ["replaced"],
    );
    assert.equal(s.roles().sanitizer, "qwq");
    assert.deepEqual(s.keyOverrides(), { accept: "a" });
    assert.equal(s.sessionsDir(), "/tmp/s");
    assert.equal(s.removeProfile("qwq"), true);
    assert.deepEqual(s.profiles(), []);
  });

  test("a corrupt or hand-broken settings file is a one-line error naming it", () => {
    writeFileSync(join(dir, "config.json"), "{ broken");
    assert.throws(
      () => openSettings({ cwd: dir, env: {} }),
      (err: unknown) => err instanceof UserError && err.message.startsWith(join(dir, "config.json")) && !err.message.includes("\n"),
    );
    writeFileSync(join(dir, "config.json"), JSON.stringify({ profiles: [{ name: "x", backend: "openai", model: 5 }] }));
    assert.throws(() => openSettings({ cwd: dir, env: {} }).profiles(), /config\.json: profiles\[0\]\.model: /);
  });

  test("CONCORD_CONFIG_DIR chooses the folder", () => {
    const s = openSettings({ env: { CONCORD_CONFIG_DIR: dir } });
    assert.equal(s.path, join(dir, "config.json"));
  });
});

describe("local options, key names and role refusals", () => {
  test("local profiles take contextSize, sequences, kvCache, threads and gpu from a models file", () => {
    const f = file(
      "local.yaml",
      "models:\n  tiny: {backend: local, model: tiny, path: /m/tiny.gguf, contextSize: 1024, sequences: 2, kvCache: f16, threads: 1, gpu: false}\n  big: {backend: local, model: big, path: 'hf:acme/big:Q4_K_M', gpu: auto}\n",
    );
    const [tiny, big] = loadModelsFile(f).profiles;
    assert.deepEqual([tiny.contextSize, tiny.sequences, tiny.kvCache, tiny.threads, tiny.gpu], [1024, 2, "f16", 1, false]);
    assert.equal(big.gpu, "auto");
    assert.throws(
      () => loadModelsFile(file("bad.yaml", "models:\n  - {name: t, backend: local, model: t, path: /m.gguf, sequences: 0}\n")),
      /bad\.yaml: models\[0\]\.sequences: /,
    );
    assert.throws(
      () => loadModelsFile(file("srv.yaml", `models:\n  - {name: s, backend: openai, model: m, threads: 2}\n`)),
      /srv\.yaml: models\[0\]\.threads: only local models take threads/,
    );
  });

  test("a value given where a key's NAME belongs is refused when it looks like the key, and never echoed", () => {
    for (const key of ["sk-proj-abc123DEF456", "hf_AbCdEfGhIjKlMnOpQrStUv", "ghp_0123456789abcdefABCDEF", "AbCdEf0123456789GhIjKl0123"]) {
      assert.ok(looksLikeSecret(key), key);
      assert.throws(
        () => checkEnvName(key, "--api-key-env"),
        (err: unknown) => err instanceof ConfigError && /looks like an API key itself/.test(err.message) && !err.message.includes(key),
      );
    }
    for (const name of ["OPENAI_API_KEY", "HF_TOKEN", "MY_SERVER_KEY_2", "together_api_key"]) {
      assert.ok(!looksLikeSecret(name), name);
      assert.equal(checkEnvName(name, "--api-key-env"), name);
    }
    assert.throws(() => checkEnvName("my key", "--api-key-env"), /--api-key-env: not an environment variable name/);
  });

  test("probe records of replay profiles are keyed by their recording", () => {
    const replay = parseProfile({ name: "r", backend: "replay", model: "r", recording: "/rec/a.jsonl" }, "test");
    settings.saveProbe(replay, { streaming: true, tokenLogprobs: false, promptScoring: false, prefill: false, reasoningField: null, notes: [] });
    assert.equal(probeKey(replay), "r|/rec/a.jsonl|r");
    assert.equal(settings.probe(replay)?.promptScoring, false);
    assert.equal(settings.probe({ ...replay, recording: "/rec/b.jsonl" }), undefined);
  });

  test("requireCapability holds servers and replays to their probe records; embedded models always pass", () => {
    const none = { streaming: true, tokenLogprobs: true, promptScoring: false, prefill: false, reasoningField: null, notes: [] };
    assert.throws(
      () => requireCapability({ name: "r", backend: "replay" }, none, "evaluator"),
      /^UserError: model "r" \(recording\) cannot be an evaluator: its recording gave no prompt log-probabilities; use an embedded model, or a vLLM server as evaluator$/,
    );
    assert.throws(
      () => requireCapability({ name: "o", backend: "openai", flavor: "ollama" }, none, "target"),
      /model "o" \(ollama\) cannot be a target: .*no prefill.*; re-probe it with `concord models probe o`, or use an embedded model, or a vLLM, SGLang or llama-server server as target$/,
    );
    // A model is never told to use a server of its own kind (its record may be from a bad probe).
    const vllm = () => requireCapability({ name: "oss", backend: "openai", flavor: "vllm" }, none, "evaluator");
    assert.throws(vllm, (e: unknown) => {
      const m = (e as Error).message;
      assert.equal(
        m,
        'model "oss" (vllm) cannot be an evaluator: its probe record says it gave no prompt log-probabilities; re-probe it with `concord models probe oss`, or use an embedded model as evaluator',
      );
      return true;
    });
    assert.throws(
      () => requireCapability({ name: "s", backend: "openai", flavor: "sglang" }, none, "continuer"),
      /or use an embedded model, or a vLLM or llama-server server as continuer$/,
    );
    assert.doesNotThrow(() => requireCapability({ name: "l", backend: "local" }, none, "evaluator"));
    assert.doesNotThrow(() => requireCapability({ name: "o", backend: "openai" }, none, "generator"));
    assert.deepEqual(Object.keys(ROLE_OF_LIST).sort(), ["continuers", "evaluators", "generators", "initiator", "prm", "sanitizer", "targets"]);
  });

  test("addCacheRecordOptions adds --no-cache and --record", () => {
    const cmd = addCacheRecordOptions(new Command("x").exitOverride());
    cmd.parse(["node", "x", "--no-cache", "--record", "r.jsonl"]);
    assert.deepEqual(cmd.opts(), { cache: false, record: "r.jsonl" });
    const plain = addCacheRecordOptions(new Command("y").exitOverride());
    plain.parse(["node", "y"]);
    assert.deepEqual(plain.opts(), { cache: true });
  });
});
