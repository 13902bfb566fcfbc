import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { buildReport, readResults } from "../../src/results/index.js";
import { loadGenexTrace } from "../../src/backends/genex-trace.js";
import {
  bootstrapCondition,
  chainLengthBins,
  ensembleWinners,
  escapeHtml,
  nllClass,
  renderChart,
  renderResultsHtml,
  renderSessionHtml,
} from "../../src/report-html/index.js";
import { groupByCondition } from "../../src/report-html/intervals.js";
import { conditionName } from "../../src/report-html/results.js";
import { HOSTILE, hostileRecords, hostileSession } from "./fixtures.js";
import { importedGenex, TRACES } from "./genex.js";
import { needsShared } from "../support/shared.js";

// The paper's shared outputs, imported once: only where ../shared is beside the clone.
const needsGenex = needsShared("data/genex/medcalc/outputs", "data/genex/medcalc/ensemble_qwq_dapo_eval_oss");
const GENEX = needsGenex ? "" : importedGenex();

/** Everything between tags, entity-decoded: what a reader sees. */
/** A tag whose attribute points outside the page, or a CSS url() that is not a fragment. */
const EXTERNAL = /<[a-z][^<>]*\s(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:|\/\/)|url\((?!\s*["']?#)/i;
const hasRawTag = (html: string, tag: string) => new RegExp(`<${tag}[\\s>]`, "i").test(html);

describe("escaping", () => {
  test("escapeHtml leaves no markup, quote or control character", () => {
    const s = escapeHtml(`${HOSTILE}'"&\u0007`);
    assert.doesNotMatch(s, /[<>"']/);
    assert.doesNotMatch(s, /[\u0000-\u0008\u001b]/);
    assert.match(s, /&lt;script&gt;/);
    assert.match(s, /&amp;/);
  });

  test("a results page with hostile ids has no script, image or escape sequence, and shows the text", async () => {
    const records = hostileRecords();
    const html = await renderResultsHtml({ source: HOSTILE, records, report: buildReport(records), reading: "paper", resamples: 200 });
    assert.equal(hasRawTag(html, "script"), false);
    assert.equal(hasRawTag(html, "img"), false);
    assert.doesNotMatch(html, /\u001b/);
    assert.doesNotMatch(html, EXTERNAL, "nothing in the page points outside it");
    assert.match(html, /&lt;script&gt;fetch/);
  });

  test("a session page with hostile model text has no script or image and keeps every token", async () => {
    const s = hostileSession();
    const html = await renderSessionHtml(s);
    assert.equal(hasRawTag(html, "script"), false);
    assert.equal(hasRawTag(html, "img"), false);
    assert.doesNotMatch(html, /\u001b/);
    assert.doesNotMatch(html, EXTERNAL);
    // Every candidate's first evaluator's tokens are drawn, one span each.
    const expected = s.chain.sentences.reduce((n, x) => n + x.candidates.reduce((m, c) => m + c.scores[0]!.tokens!.length, 0), 0);
    assert.equal((html.match(/<span class="tok n\d"/g) ?? []).length, expected);
  });
});

describe("numbers", () => {
  test("token shading classes follow -log p in whole nats, capped", () => {
    assert.equal(nllClass(-0.2), 0);
    assert.equal(nllClass(-1), 1);
    assert.equal(nllClass(-3.9), 3);
    assert.equal(nllClass(-40), 7);
    assert.equal(nllClass(0.5), 0);
  });

  test("bootstrap: the full-sample values are the report's, the interval holds them, the seed repeats it", () => {
    const records = hostileRecords(30);
    const report = buildReport(records);
    const groups = groupByCondition(records);
    for (const c of report.conditions) {
      for (const reading of ["paper", "strict"] as const) {
        // A condition answered by one target has no consistency (the self-transfer rows).
        if (!(reading === "paper" ? c.paper : c.strict).consistency) continue;
        const iv = bootstrapCondition(c.key, groups.get(c.key)!, { reading, resamples: 300 });
        const want = (reading === "paper" ? c.paper : c.strict).consistency!.mean;
        assert.ok(Math.abs(iv.consistency!.estimate - want) < 1e-12, `${c.key} ${reading}`);
        assert.ok(iv.consistency!.low <= want + 1e-12 && want <= iv.consistency!.high + 1e-12);
        assert.ok(iv.consistency!.high - iv.consistency!.low > 0, "30 varied items give a non-degenerate interval");
        for (const a of c.accuracy) assert.ok(Math.abs(iv.accuracy.get(a.target)!.estimate - a.accuracy) < 1e-12);
        const again = bootstrapCondition(c.key, groups.get(c.key)!, { reading, resamples: 300 });
        assert.deepEqual(again.consistency, iv.consistency);
      }
    }
  });

  test("bootstrap on the paper's outputs: estimates equal report --json's, 95% intervals a few points wide", { skip: needsGenex }, async () => {
    const { records } = await readResults(GENEX);
    const report = buildReport(records);
    const groups = groupByCondition(records);
    for (const c of report.conditions) {
      if (!c.paper.consistency) continue;
      const iv = bootstrapCondition(c.key, groups.get(c.key)!, { reading: "paper", resamples: 500 });
      assert.ok(Math.abs(iv.consistency!.estimate - c.paper.consistency!.mean) < 1e-12);
      const width = iv.consistency!.high - iv.consistency!.low;
      assert.ok(width > 0.03 && width < 0.3, `${c.label}: width ${width}`);
    }
  });

  test("chain-length bins: every item with a chain is in one bin, bins ordered by length, values from buildReport", () => {
    const records = hostileRecords(20);
    const report = buildReport(records);
    const bins = chainLengthBins(report, records, "strict");
    const names = [...new Set(bins.map((b) => b.condition))];
    assert.deepEqual(names, report.conditions.map(conditionName));
    for (const name of names) {
      const own = bins.filter((b) => b.condition === name);
      assert.equal(
        own.reduce((s, b) => s + b.items, 0),
        20,
      );
      for (let i = 1; i < own.length; i++) assert.ok(own[i]!.from >= own[i - 1]!.to);
      // The chains are "Step k of ..." sentences: 2 + p of them for problem p.
      assert.equal(own[0]!.from, 2);
      assert.equal(own[own.length - 1]!.to, 21);
      // Recompute one bin by hand from the records of its items.
      const first = own[0]!;
      const key = report.conditions.find((c) => conditionName(c) === name)!.key;
      const items = new Set(Array.from({ length: first.items }, (_, p) => String(p)));
      const sub = buildReport(
        groupByCondition(records)
          .get(key)!
          .filter((r) => items.has(r.problemId)),
      );
      assert.equal(first.consistency ?? null, sub.conditions[0]!.strict.consistency?.mean ?? null);
    }
  });

  test("ensemble winners on the paper's traces: every chosen sentence counted once per segment", { skip: needsGenex }, async () => {
    const trace = await loadGenexTrace(TRACES);
    const steps = trace.problems.reduce((s, p) => s + p.steps.length, 0);
    const shares = ensembleWinners([trace]);
    const whole = shares.filter((s) => s.segment === "whole chain");
    assert.equal(
      whole.reduce((s, x) => s + x.wins, 0),
      steps,
    );
    assert.ok(Math.abs(whole.reduce((s, x) => s + x.share, 0) - 1) < 1e-12);
    const quarters = shares.filter((s) => s.segment !== "whole chain");
    assert.equal(
      quarters.reduce((s, x) => s + x.wins, 0),
      steps,
    );
    const recount = new Map<string, number>();
    for (const p of trace.problems) for (const st of p.steps) recount.set(st.selectedGenerator, (recount.get(st.selectedGenerator) ?? 0) + 1);
    for (const w of whole) assert.equal(w.wins, recount.get(w.generator));
  });

  test("a chart renders to SVG of the asked size, offline", async () => {
    const c = await renderChart({
      width: 200,
      height: 100,
      data: { values: [{ a: "x", b: 1 }] },
      mark: "bar",
      encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } },
    });
    assert.match(c.svg, /^<svg /);
    assert.ok(c.width > 0 && c.height >= 100);
    await assert.rejects(
      renderChart({ data: { url: "https://example.com/data.json" }, mark: "point", encoding: { x: { field: "a", type: "quantitative" } } } as never),
      /inline data only/,
    );
  });
});
