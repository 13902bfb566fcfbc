// The composition root: one reading of the flags and environment into a model source, one
// openModels, and `concord replay` telling a session from a recording by its header.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelSourceOf, openModels } from "../../src/engine/models.js";
import { replayKind } from "../../src/app/replay-file.js";

const tmp = () => mkdtempSync(join(tmpdir(), "concord-app-"));

test("one reading of the model flags: a models file wins, then --model, then CONCORD_MODEL, then settings", () => {
  assert.deepEqual(modelSourceOf({ modelsFile: "m.yaml", model: "x.gguf", env: {} }), { kind: "configured", modelsFile: "m.yaml" });
  assert.deepEqual(modelSourceOf({ env: { CONCORD_MODELS: "m.yaml", CONCORD_MODEL: "y.gguf" } }), { kind: "configured", modelsFile: undefined });
  assert.deepEqual(modelSourceOf({ model: "x.gguf", env: { CONCORD_MODEL: "y.gguf" } }), { kind: "single", spec: "x.gguf" });
  assert.deepEqual(modelSourceOf({ env: { CONCORD_MODEL: " y.gguf " } }), { kind: "single", spec: "y.gguf" });
  assert.deepEqual(modelSourceOf({ env: {} }), { kind: "configured" });
});

test("one model file in the interface: two more targets on it, sampled with their own seeds and named so (#12.26)", async () => {
  const models = openModels({ source: { kind: "single", spec: "/nowhere/tiny.gguf", sampledTargets: 2 }, env: { CONCORD_CONFIG_DIR: tmp() }, download: false });
  assert.deepEqual(models.roles.targets, ["local", "local·seed1", "local·seed2"]);
  assert.deepEqual(models.roles.generators, ["local"]);
  assert.deepEqual(
    models.profiles.map((p) => p.path),
    ["/nowhere/tiny.gguf", "/nowhere/tiny.gguf", "/nowhere/tiny.gguf"],
    "every target runs on the one file",
  );
  await models.close();
  const plain = openModels({ source: { kind: "single", spec: "/nowhere/tiny.gguf" }, env: {}, download: false });
  assert.deepEqual(plain.roles.targets, ["local"], "headless commands keep one target per file");
});

test("replay tells a recording from a session by the file's header line", async () => {
  const dir = tmp();
  const rec = join(dir, "r.jsonl");
  writeFileSync(rec, JSON.stringify({ schema: 1, kind: "concord-recording", source: "x" }) + "\n");
  const session = join(dir, "s.json");
  // A session whose model text happens to hold the recording marker is still a session.
  writeFileSync(session, JSON.stringify({ schema: 1, id: "s", note: '{"kind":"concord-recording"}' }) + "\n");
  const broken = join(dir, "b.json");
  writeFileSync(broken, "{ not json");
  assert.equal(await replayKind(rec), "recording");
  assert.equal(await replayKind(session), "session");
  assert.equal(await replayKind(broken), "session", "a broken file is reported by the session reader, with its line and column");
  await assert.rejects(replayKind(join(dir, "missing.json")), /missing\.json: cannot read it \(no such file\)/);
});

test("concord replay --problem opens any problem of a trace recording, by tag or Row Number (#12.9)", async () => {
  const { traceReplayOf, traceProblems } = await import("../../src/engine/trace-replay.js");
  const header = {
    schema: 1,
    kind: "concord-recording",
    source: "traces",
    generators: ["a/QwQ"],
    evaluator: "b/OSS",
    problems: [
      { problem: "0", rowNumber: "353", steps: 3 },
      { problem: "3", rowNumber: "981", steps: 5 },
    ],
  };
  const rec = { file: "t.jsonl", header, exchanges: [] } as unknown as Parameters<typeof traceReplayOf>[0];
  assert.equal(traceReplayOf(rec)!.problemTag, "0", "the first by default");
  assert.equal(traceReplayOf(rec, "3")!.problemTag, "3");
  assert.equal(traceReplayOf(rec, "3")!.steps, 5);
  assert.equal(traceReplayOf(rec, "981")!.rowNumber, "981");
  assert.throws(() => traceReplayOf(rec, "7"), /t\.jsonl: no problem "7" in this recording; it holds 2: 0 \(row 353\), 3 \(row 981\)/);
  assert.deepEqual(traceProblems(rec), [
    { tag: "0", rowNumber: "353" },
    { tag: "3", rowNumber: "981" },
  ]);
});
