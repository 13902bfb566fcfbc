// Secrets: an API key given through an environment variable (a profile's apiKeyEnv) must reach
// the server and nowhere else: not settings, sessions, recordings, caches, exports, results,
// logs, nor error messages, even when the server echoes the Authorization header back.
// Every path is run against the protocol double; then every file written and all captured
// output is searched for the key.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { CachedBackend } from "../../src/backends/cache.js";
import { Recorder, RecordingBackend } from "../../src/backends/recorder.js";
import { collect, type Backend } from "../../src/backends/types.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { openSettings } from "../../src/config/settings.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { handleFor } from "../../src/engine/models.js";
import { parseExperimentSpec, runExperiment } from "../../src/engine/experiment.js";
import { builtinProblems } from "../../src/problems/index.js";
import { createAutosaver, exportChainText, exportSessionMarkdown, loadSession, sessionPath } from "../../src/state/sessions.js";
import { createConcordStore } from "../../src/state/store.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { trackRejections, walkFiles } from "../fixtures/faults/harness.js";
import { eventually } from "../wait.js";

const KEY = `sk-secret-${randomBytes(12).toString("hex")}`;
const ENV_NAME = "CONCORD_TEST_KEY";
const root = mkdtempSync(join(tmpdir(), "concord-secrets-"));
const rejections = trackRejections();
const doubles: ProtocolDouble[] = [];
const captured: Array<{ where: string; text: string }> = [];
const savedEnv = process.env[ENV_NAME];
process.env[ENV_NAME] = KEY;

after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
  if (savedEnv === undefined) delete process.env[ENV_NAME];
  else process.env[ENV_NAME] = savedEnv;
  rmSync(root, { recursive: true, force: true });
  rejections.dispose();
  assert.deepEqual(rejections.list.map(String), []);
});

/** Every form the key could take in a file or a message. */
const FORMS = [KEY, JSON.stringify(KEY).slice(1, -1), Buffer.from(KEY).toString("base64"), KEY.slice(0, 20)];
const leaks = (text: string) => FORMS.filter((f) => text.includes(f)).length;

function profile(d: ProtocolDouble, name: string): ModelProfile {
  return { name, backend: "openai", baseURL: d.baseURL, model: "double-model", flavor: "vllm", apiKeyEnv: ENV_NAME, thinkingFormat: "think-tags" };
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["test/concord-from-source.mjs", ...args], { env: { ...process.env, CONCORD_MODEL: "", [ENV_NAME]: KEY, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe("no API key is written or shown anywhere", () => {
  test("settings refuse a key in a profile and store only the variable's name", () => {
    const settings = openSettings({ cwd: join(root, "config"), env: { ...process.env } });
    assert.throws(
      () => settings.saveProfile({ name: "x", backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: "m", apiKey: KEY }),
      (e: unknown) => {
        captured.push({ where: "saveProfile(apiKey) error", text: (e as Error).message });
        return /apiKeyEnv/.test((e as Error).message);
      },
    );
    // A value that happens to equal the key, in any field, is refused too.
    assert.throws(
      () => settings.saveProfile({ name: "x", backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: KEY }),
      (e: unknown) => {
        captured.push({ where: "saveProfile(model = key) error", text: (e as Error).message });
        return /refusing to write the value of \$CONCORD_TEST_KEY/.test((e as Error).message);
      },
    );
    settings.saveProfile({ name: "remote", backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: "m", apiKeyEnv: ENV_NAME });
  });

  test("probe, ensemble, record, cache, autosave, export and experiment paths carry the key to the server only", async () => {
    const d = await startProtocolDouble({ flavor: "vllm", apiKey: KEY, echoAuthorization: true });
    doubles.push(d);
    const events: EngineEvent[] = [];

    // Probe (in-process) and its record in settings.
    const settings = openSettings({ cwd: join(root, "config"), env: { ...process.env } });
    const p = profile(d, "remote");
    const probed = await new OpenAIBackend(p).probe();
    settings.saveProbe(p, probed);
    assert.ok(probed.streaming, "the key was accepted by the server");

    // An ensemble over recorded and cached backends, autosaved as a session.
    const recorder = new Recorder(join(root, "recordings", "run.jsonl"), { source: "secrets test" });
    const wrap = (name: string): Backend =>
      new RecordingBackend(new CachedBackend(new OpenAIBackend(profile(d, name)), { dir: join(root, "cache"), model: "double-model" }), recorder);
    const gen = handleFor(profile(d, "gen"), wrap("gen"));
    const judge = handleFor(profile(d, "judge"), wrap("judge"));
    const sessionsDir = join(root, "sessions");
    const saver = createAutosaver(sessionsDir);
    const store = createConcordStore({
      flushMs: 5,
      createRace: (problem, chain) => {
        const builder = new ChainBuilder({
          problem,
          generators: [gen],
          evaluators: [judge],
          k: 2,
          chain,
          auto: true,
          sampling: { maxTokens: 16, temperature: 0 },
          budget: { maxSentences: 3 },
        });
        builder.on((e) => events.push(e));
        return { builder, roles: { generators: ["gen"], evaluators: ["judge"], targets: [] } };
      },
      save: (s) => saver.save(s),
    });
    await store.getState().openProblem(builtinProblems()[0]);
    store.getState().autoRun("end");
    await eventually(() => store.getState().chain.finished || store.getState().chain.sentences.length >= 3, { timeoutMs: 30_000 }).catch(() => undefined);
    await store.getState().dispose();
    await saver.idle();
    const sessionFile = sessionPath(sessionsDir, store.getState().session!.id);
    const session = await loadSession(sessionFile);
    assert.ok(session.chain.sentences.length >= 1, "the ensemble made progress");
    mkdirSync(join(root, "exports"), { recursive: true });
    writeFileSync(join(root, "exports", "session.md"), exportSessionMarkdown(session));
    writeFileSync(join(root, "exports", "chain.txt"), exportChainText(session.chain));
    // Greedy again: served from the cache this time.
    await collect(wrap("gen").stream({ prompt: { kind: "chat", messages: builtinProblems()[0].messages }, maxTokens: 16, temperature: 0 }));
    await gen.backend.close();
    await judge.backend.close();
    await recorder.flush();

    // A small experiment writing results.
    const spec = parseExperimentSpec(
      { name: "secret", problems: { set: "builtin" }, conditions: ["empty"], targets: ["remote"], answerTokens: 8, out: join(root, "results") },
      "spec",
    );
    await runExperiment(spec, {
      problems: builtinProblems().slice(0, 2),
      models: new Map([["remote", handleFor(p, new OpenAIBackend(p))]]),
      onEvent: (e) => events.push(e),
    });

    captured.push({ where: "engine events", text: JSON.stringify(events) });
    assert.ok(d.requests.length > 5 && d.requests.every((r) => r.authorization === `Bearer ${KEY}`), "every request carried the key to the server");
  });

  test("a server that echoes the Authorization header in its errors: the key never reaches a message, a recording or a file", async () => {
    const d = await startProtocolDouble({ flavor: "vllm", apiKey: "the-key-the-server-wants", echoAuthorization: true });
    doubles.push(d);
    const recorder = new Recorder(join(root, "recordings", "errors.jsonl"));
    const b = new RecordingBackend(new OpenAIBackend(profile(d, "echo")), recorder);
    const messages: string[] = [];
    for (const run of [
      () => collect(b.stream({ prompt: { kind: "chat", messages: [{ role: "user", content: "hi" }] }, maxTokens: 8 })),
      () => b.score({ prefix: { kind: "raw", text: "Once" }, candidates: [" upon"] }),
      () => b.probe(),
    ]) {
      await run().then(
        () => assert.fail("the server refused the key"),
        (e: unknown) => messages.push((e as Error).message),
      );
    }
    await recorder.flush();
    assert.ok(d.requests.some((r) => r.status === 401));
    assert.ok(
      messages.every((m) => /401/.test(m)),
      messages.join(" / "),
    );
    // The double did put the key in its error bodies: the redaction is what keeps it out.
    captured.push({ where: "error messages", text: messages.join("\n") });
    // Engine level: the ensemble reports the failure as an event.
    const events: EngineEvent[] = [];
    const h = handleFor(profile(d, "echo"), new OpenAIBackend(profile(d, "echo")));
    const builder = new ChainBuilder({ problem: builtinProblems()[0], generators: [h], evaluators: [h], k: 1, auto: true });
    builder.on((e) => events.push(e));
    await builder.runSteps(1);
    assert.ok(events.some((e) => e.type === "error"));
    captured.push({ where: "ensemble error events", text: JSON.stringify(events) });
  });

  test("headless commands (probe, ensemble --json, a failing probe): stdout, stderr and the files they write", async () => {
    const good = await startProtocolDouble({ flavor: "vllm", apiKey: KEY, echoAuthorization: true });
    const echo = await startProtocolDouble({ flavor: "vllm", apiKey: "not-this-one", echoAuthorization: true });
    doubles.push(good, echo);
    const models = join(root, "models.yaml");
    writeFileSync(
      models,
      `models:\n` +
        `  - {name: remote, backend: openai, baseURL: "${good.baseURL}", model: double-model, flavor: vllm, apiKeyEnv: ${ENV_NAME}}\n` +
        `  - {name: echoer, backend: openai, baseURL: "${echo.baseURL}", model: double-model, flavor: vllm, apiKeyEnv: ${ENV_NAME}}\n` +
        `roles: {generators: [remote], evaluators: [remote], targets: [remote]}\n`,
    );
    const env = { CONCORD_CONFIG_DIR: join(root, "cli-config"), CONCORD_SESSIONS_DIR: join(root, "cli-sessions") };
    const runs = await Promise.all([
      runCli(["models", "probe", "remote", "--models", models], env),
      runCli(["models", "probe", "echoer", "--models", models, "--json"], env),
      runCli(["ensemble", "--models", models, "--set", "builtin", "--problem", "1", "--steps", "2", "--k", "2", "--json"], env),
      runCli(["models", "list", "--models", models, "--json"], env),
    ]);
    runs.forEach((r, i) => captured.push({ where: `cli run ${i} stdout`, text: r.out }, { where: `cli run ${i} stderr`, text: r.err }));
    assert.equal(runs[0].code, 0, runs[0].err);
    assert.match(runs[1].out, /401/, "the failing probe is reported");
    assert.equal(runs[2].code, 0, runs[2].err);
    assert.ok(
      echo.requests.some((r) => r.authorization === `Bearer ${KEY}`),
      "the key was sent to the echoing server, which echoed it",
    );
  });

  test("the search: every file written and all captured output", () => {
    const files = walkFiles(root);
    const found: string[] = [];
    for (const f of files) if (leaks(readFileSync(f).toString("latin1"))) found.push(f.replace(root, "<tmp>"));
    for (const c of captured) if (leaks(c.text)) found.push(c.where);
    const summary = `secrets: key searched in ${files.length} files and ${captured.length} captured outputs (${FORMS.length} forms); leaks: ${found.length}`;
    if (process.env.FAULTS_TABLE) console.log(summary);
    assert.ok(files.length >= 8, `files were written: ${files.length}`);
    assert.deepEqual(found, [], summary);
  });
});
