// Component tests of the Models & settings screen: add, edit and remove profiles through the
// form, saved with conf in a temporary settings folder; keys never shown or saved.
import "./_force-color.mjs";
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { DEFAULT_BINDINGS } from "../../src/ui/keys.js";
import { openSettings } from "../../src/config/settings.js";
import { createSettingsPort } from "../../src/app/ports/settings-port.js";
import { profileFromDraft, emptyDraft } from "../../src/ui/profile-form.js";
import type { OpenedModels } from "../../src/engine/models.js";
import { eventually, rendered } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

const KEY = "sk-proj-Abc123Def456Ghi789Jkl012";

async function setup(size = { columns: 100, rows: 30 }, seed?: (settings: ReturnType<typeof openSettings>) => void) {
  const cwd = mkdtempSync(join(tmpdir(), "concord-settings-ui-"));
  const settings = openSettings({ cwd, env: {} });
  seed?.(settings);
  const store = createConcordStore({ initial: { screen: "settings" } });
  const ui = render(<App store={store} theme={theme} size={size} ports={{ settings: createSettingsPort(settings) }} />);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  /** Each key is taken, drawn and its effects run before the next (the form's own state moves with it). */
  const press = async (...keys: string[]) => {
    for (const k of keys) await rendered(() => ui.stdin.write(k));
  };
  /** Select a form row by its label (from the top), then enter. */
  const field = async (label: string) => {
    await press("\u001b[A", "\u001b[A", "\u001b[A", "\u001b[A", "\u001b[A", "\u001b[A", "\u001b[A", "\u001b[A");
    const rows = frame().split("\n").slice(3);
    const i = rows.findIndex((l) => l.startsWith(label));
    assert.ok(i >= 0, `no field ${label} in\n${frame()}`);
    for (let n = 0; n < i; n++) await press("j");
    await press("\r");
  };
  /** Type into the one-line prompt, then Enter. */
  const type = async (text: string) => {
    await press("\u0015", text, "\r"); // ctrl+u clears what the field held
  };
  const status = () => frame().trimEnd().split("\n").at(-1) ?? "";
  const save = async () => {
    for (let n = 0; n < 9; n++) await press("j");
    await press("\r");
  };
  await eventually(() => assert.match(frame(), /\S/));
  await rendered(() => {});
  return { cwd, settings, store, frame, press, field, type, status, save, file: () => readFileSync(settings.path, "utf8") };
}

async function addOpenAI(s: Awaited<ReturnType<typeof setup>>, name: string, key = "MY_API_KEY") {
  await s.press("a");
  await s.field("name");
  await s.type(name);
  await s.field("base URL");
  await s.type("http://127.0.0.1:8000/v1");
  await s.field("model");
  await s.type("Qwen/Qwen3-8B");
  await s.field("api key env");
  await s.type(key);
  await s.field("flavor");
  await s.save();
}

describe("models screen: profiles", () => {
  test("add a profile through the form: saved with conf and listed", async () => {
    const s = await setup();
    assert.match(s.frame(), /No profiles/);
    await addOpenAI(s, "my-vllm");
    assert.match(s.status(), /added model "my-vllm"/);
    const saved = openSettings({ cwd: s.cwd, env: {} }).profiles();
    assert.deepEqual(saved, [
      { name: "my-vllm", backend: "openai", model: "Qwen/Qwen3-8B", baseURL: "http://127.0.0.1:8000/v1", apiKeyEnv: "MY_API_KEY", flavor: "vllm" },
    ]);
    assert.match(s.frame(), /my-vllm .*openai:Qwen\/Qwen3-8B .*\$MY_API_KEY/);
  });

  test("a key typed where the variable NAME belongs is refused, never shown nor saved", async () => {
    const s = await setup();
    await s.press("a");
    await s.field("name");
    await s.type("keyed");
    await s.field("api key env");
    await s.type(KEY);
    assert.match(s.status(), /^error: api key env: that looks like an API key itself/);
    assert.ok(!s.frame().includes(KEY.slice(0, 12)), "the key is not on screen");
    assert.match(s.frame(), /api key env +\(none\)/);
    await s.field("model");
    await s.type("auto");
    await s.save();
    assert.match(s.status(), /added model "keyed"/);
    assert.ok(!s.file().includes(KEY.slice(0, 12)), "the key is not in the settings file");
    assert.equal(openSettings({ cwd: s.cwd, env: {} }).profile("keyed")?.apiKeyEnv, undefined);
  });

  test("invalid input: one status line naming the field; nothing saved", async () => {
    const s = await setup();
    await s.press("a");
    await s.save();
    assert.equal(s.status(), "error: name: required");
    await s.field("name");
    await s.type("bad-url");
    await s.field("base URL");
    await s.type("not a url");
    await s.field("model");
    await s.type("m");
    await s.save();
    assert.match(s.status(), /^error: base URL: /);
    await s.field("backend"); // openai -> local: the third field asks for a GGUF path now
    assert.match(s.frame(), /GGUF path/);
    await s.field("GGUF path");
    await s.type("");
    await s.save();
    assert.equal(s.status(), "error: GGUF path: required for a local model");
    await s.press("\u001b");
    await eventually(() => assert.match(s.status(), /no profile added/));
    assert.deepEqual(openSettings({ cwd: s.cwd, env: {} }).profiles(), []);
  });

  test("edit the selected profile: fields prefilled, rename carries its roles", async () => {
    const s = await setup(undefined, (settings) => {
      settings.saveProfile({ name: "tiny", backend: "local", model: "stories.gguf", path: "/m/stories.gguf", threads: 2 });
      settings.setRoles({ generators: ["tiny"], evaluators: ["tiny"], targets: [], continuers: [] });
    });
    await s.press("e");
    assert.match(s.frame(), /edit "tiny"/);
    assert.match(s.frame(), /GGUF path +\/m\/stories\.gguf/);
    await s.field("name");
    await s.type("tiny2");
    await s.field("thinking format");
    await s.save();
    assert.match(s.status(), /saved model "tiny2"/);
    const again = openSettings({ cwd: s.cwd, env: {} });
    assert.deepEqual(again.profiles(), [
      { name: "tiny2", backend: "local", model: "stories.gguf", path: "/m/stories.gguf", threads: 2, thinkingFormat: "think-tags" },
    ]);
    assert.deepEqual(again.roles().generators, ["tiny2"]);
    assert.deepEqual(again.roles().evaluators, ["tiny2"]);
  });

  test("remove asks y/n: n keeps it, y removes it and its roles", async () => {
    const s = await setup(undefined, (settings) => {
      settings.saveProfile({ name: "a1", backend: "replay", model: "a1", recording: "/r.jsonl" });
      settings.saveProfile({ name: "b2", backend: "replay", model: "b2", recording: "/r.jsonl" });
      settings.setRoles({ generators: ["a1", "b2"], evaluators: ["b2"], targets: [], continuers: [] });
    });
    await s.press("d");
    await eventually(() => s.status().startsWith("remove"));
    assert.equal(s.status(), 'remove "a1" from settings? y/n');
    await s.press("n");
    await eventually(() => s.status().startsWith("kept"));
    assert.equal(s.status(), 'kept "a1"');
    assert.equal(openSettings({ cwd: s.cwd, env: {} }).profiles().length, 2);
    await s.press("jdy"); // question and answer in one burst
    await eventually(() => /removed model/.test(s.status()));
    assert.match(s.status(), /removed model "b2"/);
    const again = openSettings({ cwd: s.cwd, env: {} });
    assert.deepEqual(
      again.profiles().map((p) => p.name),
      ["a1"],
    );
    assert.deepEqual(again.roles().generators, ["a1"]);
    assert.deepEqual(again.roles().evaluators, []);
    assert.ok(
      !s
        .frame()
        .split("\n")
        .some((l) => l.startsWith("b2 ")),
      "the list no longer shows b2",
    );
  });

  test("the help overlay lists the form keys; at 80x24 the form fits", async () => {
    const s = await setup({ columns: 80, rows: 24 });
    await s.press("?");
    const f = s.frame();
    for (const a of ["add-profile", "edit-profile", "remove-profile"]) {
      const b = DEFAULT_BINDINGS.find((x) => x.action === a)!;
      assert.ok(f.includes(b.description), `help lists ${a}`);
    }
    await s.press("?", "a");
    for (const line of s.frame().split("\n")) assert.ok(stringWidth(line) <= 80, `too wide: ${line}`);
    assert.match(s.frame(), /\[ save \]/);
  });
});

describe("profile form values", () => {
  test("defaults and checks mirror `concord models add`", () => {
    assert.deepEqual(profileFromDraft({ ...emptyDraft(), name: "l", backend: "local", where: "/x/y/tiny.gguf" }), {
      name: "l",
      backend: "local",
      model: "tiny.gguf",
      path: "/x/y/tiny.gguf",
    });
    assert.equal(profileFromDraft({ ...emptyDraft(), name: "o", model: "auto" }).baseURL, "https://api.openai.com/v1");
    assert.throws(() => profileFromDraft({ ...emptyDraft(), name: "has space", model: "m" }), /^UserError: name: no spaces or quotes$/);
    assert.throws(
      () => profileFromDraft({ ...emptyDraft(), name: "o", model: "m", apiKeyEnv: "lower-case key" }),
      /^UserError: api key env: not an environment variable name/,
    );
  });
});

describe("settings port", () => {
  /** Models opened at start from CONCORD_MODEL: in effect, but not saved in settings. */
  const opened: OpenedModels = {
    profiles: [{ name: "local", backend: "local", model: "tiny.gguf", path: "/m/tiny.gguf" }],
    roles: { generators: ["local"], evaluators: ["local"], targets: ["local"], continuers: [] },
    source: "CONCORD_MODEL=/m/tiny.gguf",
    get: () => Promise.reject(new Error("not opened in this test")),
    close: async () => {},
  };

  test("roles only for saved profiles; a saved name is not added twice; secret values are never written", () => {
    const cwd = mkdtempSync(join(tmpdir(), "concord-settings-port-"));
    const secret = "abcdefgh-not-shaped-like-a-key";
    const settings = openSettings({ cwd, env: { MY_TOKEN: secret } });
    const port = createSettingsPort(settings, opened);
    assert.throws(() => port.toggleRole("local", "target"), /"local" is not saved in settings \(it comes from CONCORD_MODEL=\/m\/tiny\.gguf\)/);
    assert.deepEqual(settings.roles().targets, []);
    // Saving the opened profile makes it a saved one, which can then take a role.
    port.saveProfile!(port.draft!("local")!, "local");
    port.toggleRole("local", "target");
    assert.deepEqual(settings.roles().targets, ["local"]);
    assert.throws(() => port.saveProfile!({ ...port.draft!("local")! }), /^UserError: name: a model named "local" is already saved/);
    assert.throws(() => port.saveProfile!({ ...emptyDraft(), name: "o", model: secret }), /refusing to write the value of \$MY_TOKEN/);
    assert.ok(!readFileSync(settings.path, "utf8").includes(secret));
    assert.deepEqual(
      port.profiles().map((r) => [r.name, r.saved, r.active]),
      [["local", true, true]],
    );
  });
});
