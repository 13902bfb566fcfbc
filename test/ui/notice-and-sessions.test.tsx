// The start-up notice (offline: the demo model stands in) says what to do first and is read
// whole at every width: it wraps onto a second line instead of being cut (#12.22). A saved
// session's row on the Problems screen says when, what, how long and on which models (#12.16).
import "./_force-color.mjs";
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { startupModels } from "../../src/backends/first-run.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../wait.js";

afterEach(() => cleanup());

test("offline, the demo model's notice leads with CONCORD_MODEL / --model and is whole at 60, 80 and 120 columns", async () => {
  const env = { CONCORD_MODELS_DIR: mkdtempSync(join(tmpdir(), "concord-notice-")), CONCORD_HF_ENDPOINT: "http://127.0.0.1:9" };
  const { notice } = await startupModels({ env });
  assert.ok(notice);
  for (const columns of [60, 80, 120]) {
    const rows = 18;
    const store = createConcordStore({});
    const ui = render(<App store={store} theme={loadTheme({ theme: "dark", env: {} })} size={{ columns, rows }} notice={notice} />);
    await eventually(() => /Concord/.test(ui.lastFrame() ?? ""));
    const frame = stripAnsi(ui.lastFrame() ?? "");
    const lines = frame.split("\n");
    assert.ok(lines.length <= rows, `${columns}x${rows}: ${lines.length} rows`);
    for (const l of lines) assert.ok(stringWidth(l) <= columns, l);
    // The advice is on the first line of the notice at every width.
    assert.match(lines[1]!, /^no network: for a real model set CONCORD_MODEL/, frame);
    const joined = lines.slice(1, 3).join(" ").replace(/\s+/g, " ");
    assert.match(joined, /set CONCORD_MODEL=<file\.gguf> or pass --model <file\.gguf>/, `${columns} columns:\n${frame}`);
    ui.unmount();
  }
});

test("a saved session's row: date (year when not this one), problem, length and generators (#12.16)", async () => {
  const { sessionLabel, sessionWhen } = await import("../../src/ui/screens/Problems.js");
  const now = new Date(2026, 11, 6, 9, 0);
  assert.equal(sessionWhen(new Date(2026, 11, 6, 7, 5).toISOString(), now), "Dec 6 07:05");
  assert.equal(sessionWhen(new Date(2025, 0, 31, 7, 5).toISOString(), now), "2025-01-31");
  assert.equal(sessionWhen("not a date", now), "?");
  const entry = {
    file: "/s/demo-1.json",
    id: "demo-1-20261206",
    problem: "demo/demo-1",
    sentences: 9,
    updatedAt: new Date(2026, 11, 6, 7, 5).toISOString(),
    roles: { generators: ["qwq", "dapo"], evaluators: ["oss"], targets: ["t1"] },
  };
  assert.equal(sessionLabel(entry, now), "Dec 6 07:05 demo/demo-1 · 9 sent. · qwq+1");
  assert.equal(sessionLabel({ ...entry, roles: undefined }, now), "Dec 6 07:05 demo/demo-1 · 9 sent. · -");
  assert.match(sessionLabel({ file: "/s/x.json", id: "x", error: "not valid JSON", updatedAt: entry.updatedAt }, now), /^! Dec 6 07:05 x$/);
});
