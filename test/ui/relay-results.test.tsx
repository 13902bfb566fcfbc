// The Relay screen on a relay results folder: the folders, the failing cases (broken ones,
// where the initiator was right, first), and a case side by side with its step scores and the
// sentence where the continuer departs; Esc goes back a level.
import "./_force-color.mjs";
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { screenPorts } from "../../src/app/ports/screen-ports.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { failingCases } from "../../src/state/relay-cases.js";
import type { RelayRecord } from "../../src/results/relay-store.js";
import { eventually } from "../wait.js";
import { chainDigest, importanceFile } from "../../src/engine/importance.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

const base = { schema: 1 as const, dataset: "gsm8k", reference: { kind: "number" as const, value: "7" }, answerRaw: "", meta: {} };
const initSentences = ["Tom has 3.", " He buys 4.", " Three and four is seven.", " So 7."];
function records(): RelayRecord[] {
  const out: RelayRecord[] = [];
  for (const [problemId, initRight] of [
    ["p1", false],
    ["p2", true],
  ] as const) {
    out.push({
      ...base,
      role: "initiator",
      problemId,
      initiator: "init",
      sentences: initSentences,
      answer: initRight ? "7" : "6",
      correct: initRight,
      stepScores: [1, 1, 0.5, 1],
    });
    const hybrid = [...initSentences.slice(0, 2), " Wait, he finds one.", " That makes eight."];
    out.push({
      ...base,
      role: "hybrid",
      problemId,
      initiator: "init",
      continuer: "cont",
      stage: "early",
      sample: 0,
      cutSentence: 1,
      handover: 2,
      sentences: hybrid,
      answer: "8",
      correct: false,
      comparison: "differs",
      departure: { sentence: 3, position: 0.5, answer: "8" },
      stepScores: [1, 1, 0.5, 0],
      scoreAggregate: { min: 0, mean: 0.625, last: 0 },
      scorer: "judge:j",
    });
    out.push({
      ...base,
      role: "hybrid",
      problemId,
      initiator: "init",
      continuer: "cont",
      stage: "late",
      sample: 0,
      cutSentence: 2,
      handover: 3,
      sentences: initSentences,
      answer: "7",
      correct: true,
      comparison: "agrees",
      departure: null,
    });
  }
  return out;
}

describe("relay results on the Relay screen", () => {
  test("failing cases: broken first, right hybrids left out", () => {
    const cases = failingCases(records());
    assert.deepEqual(
      cases.map((c) => `${c.problemId}:${c.stage}:${c.broken}`),
      ["p2:early:true", "p1:early:false"],
    );
  });

  test("lists folders and cases, opens a case with its step scores and departure, Esc goes back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-relay-ui-"));
    writeFileSync(
      join(dir, "relay.jsonl"),
      records()
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    const store = createConcordStore({ flushMs: 5 });
    // Saved importance samples of p2's initiator chain: only its third sentence moves the answers.
    const importanceRoot = join(dir, "importance");
    const chain = { source: "gsm8k", id: "p2" };
    mkdirSync(importanceRoot);
    const samples = [0, 1, 2, 3, 4].flatMap((prefix) =>
      [0, 1].map((sample) => ({ target: "a", prefix, sample, answer: prefix >= 3 ? "7" : "8", correct: prefix >= 3, continuation: "" })),
    );
    const header = { kind: "concord-importance", problemId: "p2", chain: chainDigest(chain, initSentences), temperature: 0.7, seed: 1 };
    writeFileSync(importanceFile(chain, initSentences, importanceRoot), [header, ...samples].map((x) => JSON.stringify(x)).join("\n") + "\n");
    const ui = render(
      <App
        store={store}
        theme={theme}
        size={{ columns: 110, rows: 24 }}
        ports={screenPorts({ resultsRoot: join(tmpdir(), "concord-no-results"), resultsDirs: [dir], importanceRoot })}
      />,
    );
    const frame = () => stripAnsi(ui.lastFrame() ?? "");
    const until = async (re: RegExp) => {
      await eventually(() => re.test(frame()), { everyMs: 10 }).catch(() => assert.match(frame(), re));
    };
    ui.stdin.write("3");
    await until(/relay results folders/);
    ui.stdin.write("f");
    await until(/Relay results folders 1/);
    assert.ok(frame().includes(dir));
    ui.stdin.write("\r");
    await until(/Failing cases 2/);
    const lines = frame().split("\n");
    const first = lines.findIndex((l) => /broken\s+p2/.test(l));
    const second = lines.findIndex((l) => /wrong\s+p1/.test(l));
    assert.ok(first > 0 && second > first, frame());
    ui.stdin.write("\r");
    await until(/case 1\/2: gsm8k\/p2 init -> cont early \(broken: the initiator was right\)/);
    const f = frame();
    assert.match(f, /initiator init: 4 sentences, answer "7" ✓/);
    assert.match(f, /cont "8" ✗ differs/);
    assert.match(f, /4\s+\.00\s+That makes eight\./);
    assert.match(f, /◆ departs here: answer "8"/);
    assert.match(f, /step scores: judge:j/);
    // y shows the importance column: the third sentence moved every answer, the others none.
    ui.stdin.write("y");
    await until(/── init \(importance: answer shift, 1 target\)/);
    assert.match(frame(), /3 1\.00 \.50 Three and four is seven\./);
    assert.match(frame(), /1 \.00 1\.00 Tom has 3\./);
    ui.stdin.write("y");
    await until(/── init \(shading: -log p\)/);
    ui.stdin.write("\u001b");
    await until(/Failing cases 2/);
    ui.stdin.write("\u001b");
    await until(/Relay results folders 1/);
  });
});
