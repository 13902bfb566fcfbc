// Untrusted model text: escape sequences, cursor moves, bells, bidi overrides, 10,000-character
// lines and invalid UTF-8, through sanitize() and through rendered Ink frames (a lone text
// component and the whole Race screen: lanes, chain, targets, per-token view, errors, the
// problem itself). Once Ink's own colour codes (SGR) are stripped, no ESC, BEL, C0/C1 control
// or bidi control may remain in a frame.
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import fc from "fast-check";
import stringWidth from "string-width";
import { sanitize, MAX_LINE } from "../../src/ui/sanitize.js";
import { ModelText } from "../../src/ui/widgets/text.js";
import { ThemeContext } from "../../src/ui/theme.js";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { rendered } from "../wait.js";
import { trackRejections } from "../fixtures/faults/harness.js";

const rejections = trackRejections();
after(() => {
  rejections.dispose();
  assert.deepEqual(rejections.list.map(String), []);
});
afterEach(() => cleanup());

const theme = loadTheme({ theme: "dark", env: {} });

// Everything that must never reach a terminal from model text: C0 (but \n), DEL, C1, and the
// explicit bidi embeddings, overrides and isolates (Trojan Source).
const FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// The implicit bidi marks (LRM, RLM, ALM) are Bidi_Control characters too; checked apart.
const BIDI_MARKS = /[\u200e\u200f\u061c]/;
const FORBIDDEN_G = new RegExp(FORBIDDEN.source, "g");
// Ink's own styling: SGR only (ESC [ params m).
const INK_SGR = /\u001b\[[0-9;]*m/g;

/** What is left of a frame once Ink's colours are removed: must hold no control at all. */
function leftovers(frame: string): string[] {
  const rest = frame.replace(INK_SGR, "");
  return [...new Set(rest.match(FORBIDDEN_G) ?? [])].map((c) => `U+${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}

const ESC = "\u001b";
const EVIL: Array<[string, string]> = [
  ["SGR colour", `${ESC}[31;1mred${ESC}[0m`],
  ["clear screen + home", `${ESC}[2J${ESC}[Hwiped`],
  ["cursor moves", `${ESC}[10A${ESC}[5Cup${ESC}[s${ESC}[u${ESC}7${ESC}8`],
  ["OSC window title (BEL)", `${ESC}]0;pwned${"\u0007"}title`],
  ["OSC 8 hyperlink (ST)", `${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`],
  ["OSC 52 clipboard write", `${ESC}]52;c;cm0gLXJmIH4=${"\u0007"}copy`],
  ["DCS sequence", `${ESC}P1$r0m${ESC}\\dcs`],
  ["8-bit CSI and C1 NEL", "a\u009b2Jb\u0085c\u009d0;t\u009c"],
  ["bell, backspace, CR overwrite", "safe\u0007\u0008\u0008\u0008\u0008evil\rOVERWRITE"],
  ["bidi overrides and isolates", "abc\u202edcba\u202c \u2066iso\u2069 \u2067rtl\u2069 \u200fmark\u200e \u061calm"],
  ["lone surrogates (invalid UTF-8 decoded)", "bad \ud800 and \udfff here"],
  ["NUL and DEL", "nul\u0000del\u007f"],
  ["10,000-character line", "x".repeat(10_000)],
  ["50,000-character line with escapes inside", ("y".repeat(999) + `${ESC}[2J`).repeat(50)],
  ["wide and combining characters", "漢字🙂e\u0301".repeat(200)],
  ["keypad / mode switches", `${ESC}=${ESC}>${ESC}[?1049h${ESC}[?25l${ESC}c`],
];

/** Tokens as a stream would split them: escapes cut in the middle. */
function tokensOf(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 3) out.push(s.slice(i, i + 3));
  return out;
}

const counts = { inputs: 0, framesChecked: 0, leaked: 0 };

describe("sanitize()", () => {
  test("every hostile input comes out with no control, escape or bidi character, and line length kept", () => {
    for (const [name, s] of EVIL) {
      counts.inputs++;
      const out = sanitize(s);
      assert.deepEqual(leftovers(out), [], `${name}: ${JSON.stringify(out.slice(0, 80))}`);
      assert.ok(!out.includes(ESC), name);
      for (const line of out.split("\n")) assert.ok(line.length <= MAX_LINE + 1, `${name}: a ${line.length}-character line`);
    }
  });

  test("implicit bidi marks (LRM, RLM, ALM; Unicode Bidi_Control) are removed as well", () => {
    counts.inputs++;
    const out = sanitize("price \u200f100\u200e \u061cx");
    assert.ok(!BIDI_MARKS.test(out), JSON.stringify(out));
  });

  test("invalid UTF-8 bytes become U+FFFD, never raw bytes", () => {
    const bytes = new Uint8Array([0x61, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x1b, 0x5b, 0x32, 0x4a, 0xed, 0xa0, 0x80, 0x62]);
    counts.inputs++;
    const out = sanitize(bytes);
    assert.deepEqual(leftovers(out), []);
    assert.ok(out.startsWith("a\ufffd"));
    assert.ok(out.endsWith("b"));
  });

  test("1,000 random strings mixing escapes, controls, bidi and text: output is always clean (property)", () => {
    const piece = fc.oneof(
      fc.constantFrom(...EVIL.map(([, s]) => s.slice(0, 60))),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom(ESC, "[", "]", "\u0007", "\u009b", "\u202e", "\ud800", "\r", "\n", "\t", ";", "m", "2J"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        counts.inputs++;
        const out = sanitize(parts.join(""));
        assert.deepEqual(leftovers(out), [], JSON.stringify(out));
        const single = sanitize(parts.join(""), { multiline: false });
        assert.ok(!single.includes("\n"));
      }),
      { numRuns: 1000, seed: 99 },
    );
  });
});

describe("rendered frames", () => {
  test("a ModelText component: no control reaches the frame for any hostile input", async () => {
    for (const [name, s] of EVIL) {
      for (const multiline of [false, true]) {
        let ui!: ReturnType<typeof render>;
        await rendered(() => {
          ui = render(
            <ThemeContext.Provider value={theme}>
              <ModelText text={s} multiline={multiline} />
            </ThemeContext.Provider>,
          );
        });
        const frame = ui.lastFrame() ?? "";
        counts.framesChecked++;
        const left = leftovers(frame);
        if (left.length) counts.leaked++;
        assert.deepEqual(left, [], `${name} (multiline ${multiline})`);
        ui.unmount();
      }
    }
  });

  test("the Race screen: lanes streaming split escapes, the accepted chain, target answers, the per-token view, errors and the problem text", async () => {
    const evilProblem = {
      ...demoProblem,
      id: `evil${ESC}[2J`,
      messages: [{ role: "user" as const, content: EVIL.map(([, s]) => s.slice(0, 200)).join(" ") }],
      meta: { question: `${ESC}]0;title\u0007Q` },
    };
    for (const size of [
      { columns: 100, rows: 30 },
      { columns: 60, rows: 20 },
    ]) {
      const driver = new ScriptedDriver();
      const store = createConcordStore({
        flushMs: 5,
        createRace: () => ({ builder: driver, roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2"] } }),
      });
      let ui!: ReturnType<typeof render>;
      await rendered(() => {
        ui = render(<App store={store} theme={theme} size={size} />);
      });
      await store.getState().openProblem(evilProblem);
      await rendered(() => store.getState().flush());
      const frames: string[] = [];
      const snap = async () => {
        await rendered(() => store.getState().flush());
        frames.push(ui.lastFrame() ?? "");
      };
      for (const [i, [, s]] of EVIL.entries()) {
        const id = `${i % 2 ? "beta" : "alpha"}#${i}`;
        driver.stream(id, tokensOf(s.slice(0, 3000)), 2 + i);
        if (i % 4 === 0) await snap();
      }
      driver.decide("alpha#0");
      await snap();
      for (const [i, [, s]] of EVIL.slice(0, 6).entries()) {
        driver.emit({
          type: "target-answer",
          answer: { target: i % 2 ? "t2" : "t1", chainLength: 1, raw: s, grade: { answer: s.slice(0, 40), correct: false } },
        });
        driver.emit({ type: "error", source: `gen${ESC}[31m`, message: s.slice(0, 300) });
      }
      await snap();
      // Accept, then look at the chain and at the per-token view.
      await rendered(() => ui.stdin.write("a"));
      await snap();
      await rendered(() => ui.stdin.write("y"));
      await snap();
      for (const key of ["j", "j", "k", "?", "?"]) {
        await rendered(() => ui.stdin.write(key));
        await snap();
      }
      const seen = frames.join("\n").replace(INK_SGR, "");
      for (const visible of ["wiped", "OVERWRITE", "click"]) assert.ok(seen.includes(visible), `the text around the escapes is shown: ${visible}`);
      for (const [i, f] of frames.entries()) {
        counts.framesChecked++;
        const left = leftovers(f);
        if (left.length) counts.leaked++;
        assert.deepEqual(left, [], `frame ${i} at ${size.columns}x${size.rows}`);
        for (const line of f.replace(INK_SGR, "").split("\n"))
          assert.ok(stringWidth(line) <= size.columns, `frame ${i}: a line ${stringWidth(line)} columns wide`);
      }
      await store.getState().dispose();
      ui.unmount();
    }
  });

  after(() => {
    if (process.env.FAULTS_TABLE)
      console.log(`untrusted text: inputs ${counts.inputs}, frames checked ${counts.framesChecked}, frames with a leaked control ${counts.leaked}`);
  });
});
