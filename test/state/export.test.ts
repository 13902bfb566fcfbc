// Session exports written next to the session file they belong to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSessionExports } from "../../src/state/sessions.js";
import type { SessionSnapshot } from "../../src/state/store.js";
import { demoProblem } from "../doubles/scripted-driver.js";

const snapshot = (file?: string): SessionSnapshot => ({
  info: { id: "test-t-1-2026", createdAt: "2026-01-01T00:00:00.000Z", file },
  problem: demoProblem,
  roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] },
  chain: {
    finished: true,
    sentences: [
      { text: "First, 6 times 7.", author: "alpha", decision: "evaluator", candidates: [], at: "2026-01-01T00:00:00.000Z" },
      { text: " That is 42.", author: "human", decision: "human-written", candidates: [], at: "2026-01-01T00:00:01.000Z" },
    ],
  },
  targets: { answers: [], consistency: [] },
});

test("exports go to <sessions dir>/<id>.txt and .md; a resumed session's go beside its own file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-exports-"));
  const out = await writeSessionExports(snapshot(), join(dir, "sessions"));
  assert.deepEqual(out, { text: join(dir, "sessions", "test-t-1-2026.txt"), markdown: join(dir, "sessions", "test-t-1-2026.md") });
  assert.equal(readFileSync(out.text, "utf8"), "First, 6 times 7. That is 42.\n");
  assert.match(readFileSync(out.markdown, "utf8"), /- problem: test\/t-1[\s\S]*```text\nFirst, 6 times 7\. That is 42\.\n```/);

  const resumed = await writeSessionExports(snapshot(join(dir, "elsewhere", "kept.json")), join(dir, "sessions"));
  assert.equal(resumed.text, join(dir, "elsewhere", "kept.txt"));
  assert.deepEqual(readdirSync(join(dir, "elsewhere")).sort(), ["kept.md", "kept.txt"]);
});

test("JSON errors are placed where the parser stopped, also when it names the token only", async () => {
  const { jsonErrorPosition } = await import("../../src/state/sessions.js");
  for (const text of [
    '{"a": ,"b": 1, "c": [1, 2, 3, 4, 5, 6]}',
    '{"a": 1, "b": [1, 2, 3, 4, 5, 6], "c": x, "d": [1, 2, 3, 4]}',
    '{"a": 1, "b": [1, 2, 3, 4, 5, 6], "c": 2, "d": ]}',
    '{"a": ?}',
  ]) {
    let msg = "";
    try {
      JSON.parse(text);
    } catch (e) {
      msg = (e as Error).message;
    }
    const pos = jsonErrorPosition(msg, text);
    assert.ok(pos !== undefined, msg);
    assert.match(text[pos], /[,x\]?]/, `${msg} -> ${pos}`);
  }
});
