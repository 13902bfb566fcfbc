// The Race screen's export key (chain as text, session as Markdown next to the session file),
// text typed with its Enter in one chunk, and pause with no auto-run going.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { createConcordStore, type StoreOptions } from "../../src/state/store.js";
import { createAutosaver, writeSessionExports, loadSession, sessionPath } from "../../src/state/sessions.js";
import { loadTheme } from "../../src/ui/theme.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

async function setup(extra: Partial<StoreOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "concord-export-ui-"));
  const driver = new ScriptedDriver();
  const saver = createAutosaver(dir);
  const store = createConcordStore({
    flushMs: 5,
    createRace: () => ({ builder: driver, roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] } }),
    save: (s) => saver.save(s),
    export: async (s) => {
      const out = await writeSessionExports(s, dir);
      return [out.text, out.markdown];
    },
    ...extra,
  });
  const ui = render(<App store={store} theme={theme} size={{ columns: 200, rows: 30 }} />);
  await store.getState().openProblem(demoProblem);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  const status = () => frame().trimEnd().split("\n").at(-1) ?? "";
  await eventually(() => status() === "step 1: generating");
  /** Types keys, then waits until what they should do has happened. */
  const press = async (k: string, done: () => unknown) => {
    ui.stdin.write(k);
    await eventually(done);
  };
  const prompt = /your sentence:/;
  return { dir, driver, store, ui, frame, press, status, saver, prompt };
}

describe("race: export and prompt", () => {
  test("x writes <id>.txt (the chain) and <id>.md (the session) in the sessions folder; the status line shows both paths", async () => {
    // No next step after each decision: its status line would race the export's.
    const s = await setup({ autoAdvance: false });
    s.driver.stream("alpha#0", ["Six times seven."], 2);
    s.driver.decide("alpha#0");
    s.store.getState().flush();
    await eventually(() => assert.match(s.frame(), /Six times seven\./));
    await s.press("a", () => s.store.getState().chain.sentences.length === 1); // accept the pick
    await s.press("w", () => assert.match(s.frame(), s.prompt));
    await s.press("It is 42.", () => assert.match(s.frame(), /your sentence: It is 42\./));
    await s.press("\r", () => s.store.getState().chain.sentences.length === 2);
    await s.press("x", () => s.status().startsWith("exported"));
    const id = s.store.getState().session!.id;
    const txt = join(s.dir, `${id}.txt`);
    const md = join(s.dir, `${id}.md`);
    assert.equal(s.status(), `exported ${txt} and .md`);
    assert.equal(readFileSync(txt, "utf8"), "Six times seven. It is 42.\n");
    const markdown = readFileSync(md, "utf8");
    assert.match(markdown, /^# Session /);
    assert.match(markdown, /### 2\. human \(human-written\)/);
    // Next to the saved session, which holds the same chain.
    await s.saver.idle();
    const saved = await loadSession(sessionPath(s.dir, id));
    assert.equal(saved.chain.sentences.length, 2);
  });

  test("a failing export is one status line", async () => {
    const s = await setup({ export: () => Promise.reject(new Error("/ro/x.txt: EACCES")) });
    await s.press("x", () => assert.equal(s.status(), "error: export: /ro/x.txt: EACCES"));
  });

  test("text and Enter arriving in one chunk submit the text without the line break", async () => {
    const s = await setup();
    await s.press("w", () => assert.match(s.frame(), s.prompt));
    await s.press("Typed fast.\r", () =>
      assert.deepEqual(
        s.driver.calls.find((c) => c[0] === "write"),
        ["write", "Typed fast."],
      ),
    );
    await eventually(() => assert.doesNotMatch(s.frame(), s.prompt, "the prompt closed"));
  });

  test("a key that opens a prompt, typed with its text in one burst: the text goes into the prompt", async () => {
    const s = await setup();
    await s.press("wAll in one go.\r", () =>
      assert.deepEqual(
        s.driver.calls.find((c) => c[0] === "write"),
        ["write", "All in one go."],
      ),
    );
    assert.ok(!s.driver.calls.some((c) => c[0] === "regenerate"), "no letter of the text was taken as a command");
    const writesAndUndos = () => s.driver.calls.filter((c) => c[0] === "write" || c[0] === "undo").slice(1);
    await s.press("wOne.\rwTwo.\ru", () => assert.deepEqual(writesAndUndos(), [["write", "One."], ["write", "Two."], ["undo"]]));
    // ctrl+u and backspace edit inside a burst too
    await s.press("wtypo\u0015Fixd\u007fed.\r", () => assert.deepEqual(s.driver.calls.filter((c) => c[0] === "write").at(-1), ["write", "Fixed."]));
    await eventually(() => assert.equal(s.status(), "step 4: generating")); // the next step has started
    await s.press("e", () => assert.match(s.frame(), /that candidate is not finished yet/));
    await s.press("n", () => assert.match(s.frame(), /auto-run how many steps/));
    s.ui.stdin.write("\u0015");
    s.ui.stdin.write("x3");
    await s.press("\r", () => assert.equal(s.status(), "not a number of steps: x3"));
  });

  test("pause with no auto-run going says so and marks nothing paused", async () => {
    const s = await setup();
    await s.press("p", () => assert.equal(s.status(), "no auto-run to pause (n or G starts one)"));
    assert.equal(s.store.getState().paused, false);
    assert.doesNotMatch(s.frame(), /paused/);
  });
});
