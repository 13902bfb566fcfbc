import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import stringWidth from "string-width";
import { sanitize, fitWidth, tailWidth, MAX_LINE } from "../../src/ui/sanitize.js";
import { DEFAULT_BINDINGS, resolveAction, withOverrides, helpRows, keyName } from "../../src/ui/keys.js";
import { loadTheme, ROLES, nllStyle, readThemeFile } from "../../src/ui/theme.js";

describe("sanitize", () => {
  test("escapes, controls and bidi overrides are removed; newlines kept or folded", () => {
    assert.equal(sanitize("a\u001b[31mb\u001b[0m\u001b]8;;http://x\u0007c\u001b]8;;\u0007"), "abc");
    assert.equal(sanitize("x\u009b2Jy\u0085z"), "xyz");
    assert.equal(sanitize("l1\r\nl2\u202e\u2066ok"), "l1\nl2ok");
    assert.equal(sanitize("l1\nl2", { multiline: false }), "l1 l2");
    assert.equal(sanitize("bad \ud800 surrogate"), "bad \ufffd surrogate");
    assert.equal(sanitize(new Uint8Array([0x61, 0xff, 0x62])), "a\ufffdb");
  });

  test("no output ever holds a control character, ESC or bidi override (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const out = sanitize(s);
        assert.ok(!/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/.test(out), JSON.stringify(out));
      }),
      { numRuns: 200 },
    );
  });

  test("long lines are clipped; widths respect wide characters", () => {
    const out = sanitize("x".repeat(MAX_LINE + 50) + "\nshort");
    assert.equal(out.split("\n")[0].length, MAX_LINE + 1);
    assert.equal(out.split("\n")[1], "short");
    assert.equal(stringWidth(fitWidth("漢字漢字漢字", 7)), 7);
    assert.ok(stringWidth(tailWidth("abcdef漢字", 5)) <= 5);
    assert.ok(tailWidth("abcdef漢字", 5).endsWith("漢字"));
  });
});

describe("keys", () => {
  test("screen bindings win over global ones; overrides replace keys", () => {
    assert.equal(resolveAction(DEFAULT_BINDINGS, "race", "enter"), "choose");
    assert.equal(resolveAction(DEFAULT_BINDINGS, "problems", "enter"), "open");
    assert.equal(resolveAction(DEFAULT_BINDINGS, "race", "?"), "help");
    const b = withOverrides({ "accept-pick": "x", undo: ["z", "U"] });
    assert.equal(resolveAction(b, "race", "x"), "accept-pick");
    assert.equal(resolveAction(b, "race", "a"), undefined);
    assert.equal(resolveAction(b, "race", "U"), "undo");
    assert.throws(() => withOverrides({ fly: ["f"] }), /key override "fly": no such action/);
  });

  test("help rows cover every binding; key names from ink", () => {
    assert.equal(helpRows(DEFAULT_BINDINGS).length, DEFAULT_BINDINGS.length);
    const k = {
      upArrow: false,
      downArrow: false,
      leftArrow: false,
      rightArrow: false,
      pageDown: false,
      pageUp: false,
      home: false,
      end: false,
      return: false,
      escape: false,
      ctrl: false,
      shift: false,
      tab: false,
      backspace: false,
      delete: false,
      meta: false,
      super: false,
      hyper: false,
      capsLock: false,
      numLock: false,
    };
    assert.equal(keyName("", { ...k, escape: true }), "escape");
    assert.equal(keyName("c", { ...k, ctrl: true }), "ctrl+c");
    assert.equal(keyName(" ", k), "space");
    assert.equal(keyName("G", { ...k, shift: true }), "G");
  });
});

describe("theme", () => {
  test("the three themes define every role; NO_COLOR gives mono without colours", () => {
    for (const name of ["dark", "light", "mono"]) {
      const t = loadTheme({ theme: name, env: {} });
      for (const r of ROLES) assert.ok(t.roles[r], `${name}.${r}`);
    }
    const mono = loadTheme({ theme: "dark", env: { NO_COLOR: "1" } });
    assert.equal(mono.name, "mono");
    const json = JSON.stringify(mono);
    assert.ok(!/"(color|backgroundColor)"/.test(json), "mono has no colours");
    assert.notDeepEqual(nllStyle(mono, 0), nllStyle(mono, 20), "the ramp still shades");
  });

  test("a bad user theme is one line naming the file and field", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-theme-"));
    const file = join(dir, "t.json");
    const t = loadTheme({ theme: "dark", env: {} });
    writeFileSync(file, JSON.stringify({ ...t, roles: { ...t.roles, pick: { colour: "red" } } }));
    assert.throws(
      () => readThemeFile(file),
      (e: Error) => e.message.startsWith(`${file}: roles.pick`),
    );
    writeFileSync(file, JSON.stringify({ ...t, name: "mine" }));
    assert.equal(loadTheme({ theme: file, env: {} }).name, "mine");
    assert.throws(() => loadTheme({ theme: "nope", env: {} }), /not a builtin theme/);
  });
});
