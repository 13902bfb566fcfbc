// The Race's importance column (#16): `i` draws the chain one sentence per line behind the
// targets' mean answer shift for that sentence, read from `concord importance`'s saved samples.
import "./_force-color.mjs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { screenPorts } from "../../src/app/ports/screen-ports.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { chainDigest, importanceFile } from "../../src/engine/importance.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const sentences = ["Six is the first factor.", " Seven is the second.", " Six times seven is forty-two.", " So 42."];

test("i shows each chain sentence's importance beside it, and says when none is saved", async () => {
  const importanceRoot = mkdtempSync(join(tmpdir(), "concord-imp-"));
  const store = createConcordStore({
    flushMs: 5,
    createRace: (_p, chain) => ({ builder: new ScriptedDriver(chain), roles: { generators: ["local"], evaluators: ["local"], targets: ["a"] } }),
  });
  const ui = render(
    <App
      store={store}
      theme={loadTheme({ theme: "mono", env: {} })}
      size={{ columns: 100, rows: 30 }}
      ports={screenPorts({ resultsRoot: join(importanceRoot, "none"), importanceRoot })}
    />,
  );
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  try {
    const chain = {
      sentences: sentences.map((text) => ({ text, author: "local", decision: "evaluator" as const, candidates: [], at: "" })),
      finished: false,
    };
    await store.getState().openProblem(demoProblem, { chain, roles: { generators: ["local"], evaluators: ["local"], targets: ["a"] } });
    await eventually(() => assert.match(frame(), /chain: 4 sentences/));
    ui.stdin.write("i");
    await eventually(() => assert.match(frame(), /no saved importance for this chain \(concord importance\)/));
    // Samples where only the third sentence moves target a's answers (8 before it, 42 after).
    const samples = [0, 1, 2, 3, 4].flatMap((prefix) =>
      [0, 1].map((sample) => ({ target: "a", prefix, sample, answer: prefix >= 3 ? "42" : "8", correct: prefix >= 3, continuation: "" })),
    );
    const header = { kind: "concord-importance", problemId: demoProblem.id, chain: chainDigest(demoProblem, sentences), temperature: 0.7, seed: 1 };
    writeFileSync(importanceFile(demoProblem, sentences, importanceRoot), [header, ...samples].map((x) => JSON.stringify(x)).join("\n") + "\n");
    ui.stdin.write("i");
    await eventually(() => assert.doesNotMatch(frame(), /importance/));
    ui.stdin.write("i");
    await eventually(() => assert.match(frame(), /importance: answer shift, 1 target/));
    assert.match(frame(), /1\.00 Six times seven is forty-two\./);
    assert.match(frame(), / \.00 Six is the first factor\./);
    assert.match(frame(), / \.00 So 42\./);
  } finally {
    cleanup();
    await store.getState().dispose();
  }
});
