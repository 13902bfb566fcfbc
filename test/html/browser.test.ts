// The pages in a real browser: Debian's Chromium, headless, each page loaded from disk with the
// network off. Every figure must be drawn at its size, nothing may try to leave file://, the
// console stays clean, and the numbers drawn are those of `concord report --json`.
// CONCORD_HTML_SHOTS=<dir> keeps the screenshots there (default: a temporary folder).
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPage, chromiumMissing, type FigureCheck, type PageCheck } from "./browser.js";
import { hostileSession, HOSTILE } from "./fixtures.js";
import { concord, importedGenex, ROOT, TRACES } from "./genex.js";
import { needsShared } from "../support/shared.js";

const skip = chromiumMissing();
const SHOTS = process.env.CONCORD_HTML_SHOTS ?? mkdtempSync(join(tmpdir(), "concord-html-shots-"));
mkdirSync(SHOTS, { recursive: true });

interface JsonCondition {
  label: string;
  variant: "full" | "without-answer";
  targets: { id: string; label: string }[];
  accuracy: { target: string; label: string; accuracy: number; correct: number; total: number }[];
  paper: {
    consistency: { mean: number } | null;
    split: { consistentCorrect: number; consistentWrong: number; inconsistent: number } | null;
    matrix: (number | null)[][];
  };
}

const name = (c: JsonCondition) => `${c.label} · ${c.variant === "full" ? "full" : "w/o answer"}`;
const f3 = (x: number | null) => (x === null ? "—" : x.toFixed(3));

function assertDrawn(f: FigureCheck) {
  assert.ok(f.width > 50 && f.height > 50, `${f.id}: ${f.width}x${f.height}`);
  assert.equal(f.width, f.expectedWidth, `${f.id}: drawn at the width Vega computed`);
  assert.equal(f.height, f.expectedHeight);
  assert.ok(Math.abs(f.boxWidth - f.width) < 1 && Math.abs(f.boxHeight - f.height) < 1, `${f.id}: laid out at ${f.boxWidth}x${f.boxHeight}`);
  assert.ok(f.marks >= 10, `${f.id}: ${f.marks} marks`);
  assert.ok(f.labels.length > 0, `${f.id}: data marks carry descriptions`);
  assert.ok(f.table.length >= 2, `${f.id}: a table with a header and rows`);
}

function assertClean(p: PageCheck) {
  assert.deepEqual(p.blockedRequests, [], "no request left file://");
  assert.deepEqual(p.consoleErrors, []);
  assert.equal(p.scripts, 0);
  assert.ok(statSync(p.screenshot).size > 10_000, "a screenshot was taken");
}

/** The label of a data mark that starts with `prefix`, and the number after `what`. */
function labelled(f: FigureCheck, prefix: string, what: string): string {
  const l = f.labels.find((x) => x.startsWith(prefix) && x.includes(`${what} `));
  assert.ok(l, `${f.id}: no mark labelled "${prefix}… ${what}" among ${f.labels.slice(0, 3).join(" | ")}`);
  return l!.slice(l!.indexOf(`${what} `) + what.length + 1).split(/[ ;(]/)[0]!;
}

describe("results page in Chromium", { skip: skip || needsShared("data/genex/medcalc/outputs", "data/genex/medcalc/ensemble_qwq_dapo_eval_oss") }, () => {
  let page: PageCheck;
  let json: { conditions: JsonCondition[] };
  let dir: string;
  before(async () => {
    dir = importedGenex();
    copyFileSync(join(ROOT, "test/fixtures/html/relay-stories260K-demo-2.json"), join(dir, "relay-demo-2.json"));
    const r = concord("report", dir, "--json");
    assert.equal(r.code, 0, r.stderr);
    json = JSON.parse(r.stdout);
    const html = join(dir, "report.html");
    const w = concord("report", dir, "--html", html, "--traces", TRACES);
    assert.equal(w.code, 0, w.stderr);
    page = await checkPage(html, join(SHOTS, "results.png"), { figureShots: SHOTS });
  });

  test("loads offline with a clean console, no scripts, nothing fetched", () => assertClean(page));

  test("every figure is drawn: consistency, accuracy, split, 5 heatmaps, chain length, winners, relay", () => {
    const ids = page.figures.map((f) => f.id);
    for (const id of ["fig-consistency", "fig-accuracy-mean", "fig-accuracy-targets", "fig-split", "fig-chain-length", "fig-winners", "fig-relay-0"])
      assert.ok(ids.includes(id), id);
    assert.equal(ids.filter((i) => i.startsWith("fig-heatmap-")).length, json.conditions.filter((c) => c.targets.length >= 2).length);
    for (const f of page.figures) assertDrawn(f);
  });

  test("the figures draw the numbers of report --json", () => {
    const fig = (id: string) => page.figures.find((f) => f.id === id)!;
    for (const [i, c] of json.conditions.entries()) {
      // A condition one target answered (the self-transfer rows of the shared files) has no consistency to draw.
      if (!c.paper.consistency) continue;
      assert.equal(labelled(fig("fig-consistency"), `${name(c)}:`, "consistency"), f3(c.paper.consistency!.mean));
      const row = fig("fig-consistency").table.find((r) => r[0] === name(c))!;
      assert.equal(row[1], f3(c.paper.consistency!.mean));
      for (const [k, v] of [
        ["consistent-correct", c.paper.split!.consistentCorrect],
        ["consistent-wrong", c.paper.split!.consistentWrong],
        ["inconsistent", c.paper.split!.inconsistent],
      ] as const) {
        assert.equal(labelled(fig("fig-split"), `${name(c)}:`, k), f3(v));
      }
      for (const a of c.accuracy) {
        assert.equal(labelled(fig("fig-accuracy-targets"), `${name(c)}, ${a.label}:`, "accuracy"), f3(a.accuracy));
      }
      const heat = fig(`fig-heatmap-${i}`);
      c.paper.matrix.forEach((row, a) =>
        row.forEach((v, b) => assert.equal(labelled(heat, `${c.targets[a]!.label} and ${c.targets[b]!.label}:`, "consistency"), f3(v))),
      );
    }
  });

  test("the paper's published consistencies are on the page", () => {
    for (const v of ["0.302", "0.870", "0.638", "0.883", "0.657"]) assert.ok(page.text.includes(v), v);
  });
});

describe("the browser check itself", { skip }, () => {
  test("a page that does reach out is caught: its request is refused and recorded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-html-control-"));
    const html = join(dir, "control.html");
    writeFileSync(html, `<!doctype html><title>control</title><img src="http://example.invalid/x.png"><script>console.error("boom")</script>`);
    const p = await checkPage(html, join(dir, "control.png"));
    assert.deepEqual(p.blockedRequests, ["http://example.invalid/x.png"]);
    assert.ok(p.consoleErrors.includes("boom"));
    assert.equal(p.scripts, 1);
  });
});

describe("session page in Chromium", { skip }, () => {
  let page: PageCheck;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-html-session-"));
    const file = join(dir, "hostile.json");
    writeFileSync(file, JSON.stringify(hostileSession()));
    const html = join(dir, "hostile.html");
    const r = concord("export", file, "--html", html);
    assert.equal(r.code, 0, r.stderr);
    page = await checkPage(html, join(SHOTS, "session.png"), { figureShots: SHOTS });
  });

  test("hostile model text is shown as text: no image, script or request", () => {
    assertClean(page);
    assert.ok(page.text.includes(HOSTILE.slice(0, 40)), "the text reads as written");
  });

  test("trajectory, answers, perplexity and authors figures are drawn with the session's numbers", () => {
    const ids = page.figures.map((f) => f.id);
    assert.deepEqual(ids, ["fig-trajectory", "fig-answers", "fig-perplexity", "fig-authors"]);
    for (const f of page.figures) assertDrawn(f);
    const s = hostileSession();
    const traj = page.figures[0]!;
    for (const snap of s.targets.consistency) assert.equal(labelled(traj, `after ${snap.chainLength} sentences:`, "consistency"), f3(snap.consistency));
    const authors = page.figures[3]!;
    for (const who of ["alpha", "beta"]) {
      const n = s.chain.sentences.filter((x) => x.author === who).length;
      assert.ok(authors.labels.includes(`${who}: ${n} of 4 sentences`), authors.labels.join(" | "));
    }
  });
});
