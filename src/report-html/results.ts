// The results page: the paper's figures for a results folder, each beside its numbers. Point
// values come from the report model (buildReport, the same one `concord report --json` prints);
// intervals from a bootstrap over items; chain-length bins from buildReport on each bin's items.
import type { Reading } from "../core/consistency.js";
import { sentenceTexts } from "../core/sentences.js";
import type { GenexTrace } from "../backends/genex-trace.js";
import type { RelayResult } from "../engine/relay.js";
import { buildReport, variantLabel, type ConditionSummary, type ResultRecord, type ResultsReport } from "../results/index.js";
import { renderChart, type ChartSpec } from "./chart.js";
import { escapeHtml, fmtNum, renderFigure, renderPage, type Figure } from "./html.js";
import { ensembleWinners, relayFigures, winnersFigure } from "./results-traces.js";
import { bootstrapCondition, DEFAULT_RESAMPLES, DEFAULT_SEED, groupByCondition, type ConditionIntervals } from "./intervals.js";

export interface RelayFile {
  file: string;
  result: RelayResult;
}

export interface ResultsPageInput {
  /** Shown in the heading: the results folder. */
  source: string;
  records: readonly ResultRecord[];
  report: ResultsReport;
  /** Which consistency reading the figures draw (the tables show both where they differ). */
  reading: Reading;
  traces?: GenexTrace[];
  relays?: RelayFile[];
  resamples?: number;
}

export interface ResultsSection {
  id: string;
  title: string;
  figures: Figure[];
  /** Shown when the section has no figure (why not). */
  empty?: string;
}

export const SPLIT_LABELS = ["consistent-correct", "consistent-wrong", "inconsistent"] as const;
const SPLIT_COLORS = ["#16a34a", "#f59e0b", "#dc2626"];

/** "Transfer(QwQ) · w/o answer": one label per condition and variant. */
export function conditionName(c: Pick<ConditionSummary, "label" | "variant">): string {
  return `${c.label} · ${variantLabel(c.variant)}`;
}

/** Distinct display labels for targets (two ids that share a short label keep their ids). */
function targetLabels(targets: { id: string; label: string }[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const t of targets) count.set(t.label, (count.get(t.label) ?? 0) + 1);
  return new Map(targets.map((t) => [t.id, count.get(t.label)! > 1 ? t.id : t.label]));
}

export const rowStep = (n: number, per = 26) => Math.max(60, n * per);

function reading(c: ConditionSummary, r: Reading) {
  return r === "paper" ? c.paper : c.strict;
}

// ---------- figures ----------

async function consistencyFigure(report: ResultsReport, ci: Map<string, ConditionIntervals>, r: Reading): Promise<Figure> {
  const rows = report.conditions.map((c, i) => {
    const m = reading(c, r).consistency;
    const iv = ci.get(c.key)?.consistency;
    const d = {
      order: i,
      condition: conditionName(c),
      consistency: m?.mean ?? null,
      low: iv?.low ?? null,
      high: iv?.high ?? null,
      std: m?.std ?? null,
      pairs: m?.n ?? 0,
      items: c.items,
    };
    return { ...d, desc: `${d.condition}: consistency ${fmtNum(d.consistency)} (95% CI ${fmtNum(d.low)} to ${fmtNum(d.high)})` };
  });
  const data = rows.filter((d) => d.consistency !== null);
  const spec: ChartSpec = {
    width: 380,
    height: rowStep(data.length),
    data: { values: data },
    encoding: { y: { field: "condition", type: "nominal", sort: null, title: null }, description: { field: "desc" } },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 2, color: "#64748b" },
        encoding: { x: { field: "low", type: "quantitative", scale: { domain: [0, 1] }, title: "pairwise consistency (95% CI)" }, x2: { field: "high" } },
      },
      { mark: { type: "point", filled: true, size: 70, color: "#2563eb" }, encoding: { x: { field: "consistency", type: "quantitative" } } },
    ],
  };
  return {
    id: "fig-consistency",
    title: "Pairwise consistency per condition",
    note: `${r === "paper" ? "Paper-compatible" : "Strict"} reading: mean over target pairs; whiskers: 95% percentile bootstrap over items.`,
    chart: await renderChart(spec),
    table: {
      caption: "Consistency per condition (mean over pairs, population std, 95% bootstrap interval)",
      head: ["condition", "consistency", "95% low", "95% high", "std", "pairs", "items"],
      rows: rows.map((d) => [d.condition, d.consistency, d.low, d.high, d.std, d.pairs, d.items]),
    },
  };
}

async function meanAccuracyFigure(report: ResultsReport, ci: Map<string, ConditionIntervals>): Promise<Figure> {
  const rows = report.conditions.map((c, i) => {
    const iv = ci.get(c.key)?.meanAccuracy;
    const mean = c.accuracy.length ? c.accuracy.reduce((s, a) => s + a.accuracy, 0) / c.accuracy.length : null;
    const d = { order: i, condition: conditionName(c), accuracy: mean, low: iv?.low ?? null, high: iv?.high ?? null, targets: c.accuracy.length };
    return { ...d, desc: `${d.condition}: mean accuracy ${fmtNum(d.accuracy)} (95% CI ${fmtNum(d.low)} to ${fmtNum(d.high)})` };
  });
  const data = rows.filter((d) => d.accuracy !== null);
  const spec: ChartSpec = {
    width: 380,
    height: rowStep(data.length),
    data: { values: data },
    encoding: { y: { field: "condition", type: "nominal", sort: null, title: null }, description: { field: "desc" } },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 2, color: "#64748b" },
        encoding: {
          x: { field: "low", type: "quantitative", scale: { domain: [0, 1] }, title: "accuracy, mean over targets (95% CI)" },
          x2: { field: "high" },
        },
      },
      { mark: { type: "point", filled: true, size: 70, shape: "diamond", color: "#7c3aed" }, encoding: { x: { field: "accuracy", type: "quantitative" } } },
    ],
  };
  return {
    id: "fig-accuracy-mean",
    title: "Accuracy per condition",
    note: "Share correct (recorded grades), averaged over the condition's targets; whiskers: 95% percentile bootstrap over items.",
    chart: await renderChart(spec),
    table: {
      caption: "Mean accuracy per condition with 95% bootstrap interval",
      head: ["condition", "accuracy", "95% low", "95% high", "targets"],
      rows: rows.map((d) => [d.condition, d.accuracy, d.low, d.high, d.targets]),
    },
  };
}

async function accuracyFigure(report: ResultsReport, ci: Map<string, ConditionIntervals>): Promise<Figure> {
  const all = report.conditions.flatMap((c) => c.targets);
  const labels = targetLabels([...new Map(all.map((t) => [t.id, t])).values()]);
  const targetOrder = [...labels.values()];
  const data = report.conditions.flatMap((c, i) =>
    c.accuracy.map((a) => {
      const iv = ci.get(c.key)?.accuracy.get(a.target);
      const d = {
        order: i,
        condition: conditionName(c),
        target: labels.get(a.target) ?? a.label,
        accuracy: a.accuracy,
        low: iv?.low ?? null,
        high: iv?.high ?? null,
        correct: a.correct,
        total: a.total,
      };
      return {
        ...d,
        desc: `${d.condition}, ${d.target}: accuracy ${fmtNum(d.accuracy)} (${d.correct} of ${d.total}; 95% CI ${fmtNum(d.low)} to ${fmtNum(d.high)})`,
      };
    }),
  );
  const nTargets = Math.max(1, targetOrder.length);
  const spec: ChartSpec = {
    width: 380,
    height: { step: 11 } as never,
    data: { values: data },
    encoding: {
      y: { field: "condition", type: "nominal", sort: null, title: null },
      yOffset: { field: "target", type: "nominal", sort: targetOrder },
      description: { field: "desc" },
    },
    layer: [
      {
        mark: { type: "bar", height: { band: 0.9 } },
        encoding: {
          x: { field: "accuracy", type: "quantitative", scale: { domain: [0, 1] }, title: "accuracy (share correct, 95% CI)" },
          color: { field: "target", type: "nominal", sort: targetOrder, scale: { scheme: "tableau10" }, title: "target" },
        },
      },
      { mark: { type: "rule", color: "#111827", strokeWidth: 1.5 }, encoding: { x: { field: "low", type: "quantitative" }, x2: { field: "high" } } },
    ],
  };
  void nTargets;
  return {
    id: "fig-accuracy-targets",
    title: "Accuracy per target and condition",
    note: "Recorded grades; missing or crashed answers count as wrong. Black lines: 95% percentile bootstrap over items.",
    chart: await renderChart(spec),
    table: {
      caption: "Accuracy per target and condition",
      head: ["condition", "target", "accuracy", "correct", "of", "95% low", "95% high"],
      rowHeaders: 2,
      rows: data.map((d) => [d.condition, d.target, d.accuracy, d.correct, d.total, d.low, d.high]),
    },
  };
}

async function splitFigure(report: ResultsReport, r: Reading): Promise<Figure> {
  const data = report.conditions.flatMap((c, i) => {
    const s = reading(c, r).split;
    if (!s) return [];
    const v = [s.consistentCorrect, s.consistentWrong, s.inconsistent];
    return SPLIT_LABELS.map((kind, k) => ({
      order: i,
      condition: conditionName(c),
      kind,
      stack: k,
      share: v[k]!,
      desc: `${conditionName(c)}: ${kind} ${fmtNum(v[k]!)}`,
    }));
  });
  const spec: ChartSpec = {
    width: 380,
    height: rowStep(report.conditions.filter((c) => reading(c, r).split).length),
    data: { values: data },
    mark: "bar",
    encoding: {
      y: { field: "condition", type: "nominal", sort: null, title: null },
      x: { field: "share", type: "quantitative", stack: "zero", scale: { domain: [0, 1] }, title: "share of compared pair-items" },
      color: { field: "kind", type: "nominal", scale: { domain: [...SPLIT_LABELS], range: SPLIT_COLORS }, title: "agreement" },
      order: { field: "stack" },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-split",
    title: "Agreement split per condition",
    note: `${r === "paper" ? "Paper-compatible" : "Strict"} reading: both correct / same wrong answer / disagree, as shares of compared pair-items, mean over pairs.`,
    chart: await renderChart(spec),
    table: {
      caption: "Agreement split, shares of compared pair-items",
      head: ["condition", ...SPLIT_LABELS],
      rows: report.conditions.map((c) => {
        const sp = reading(c, r).split;
        return [conditionName(c), sp?.consistentCorrect ?? null, sp?.consistentWrong ?? null, sp?.inconsistent ?? null];
      }),
    },
  };
}

async function heatmapFigure(c: ConditionSummary, index: number, r: Reading): Promise<Figure> {
  const labels = targetLabels(c.targets);
  const names = c.targets.map((t) => labels.get(t.id)!);
  const matrix = reading(c, r).matrix;
  const data = matrix.flatMap((row, i) =>
    row.map((v, j) => ({
      row: names[i]!,
      column: names[j]!,
      consistency: v,
      shown: v === null ? "—" : v.toFixed(2),
      desc: `${names[i]} and ${names[j]}: consistency ${fmtNum(v)}`,
    })),
  );
  const side = Math.max(120, names.length * 56);
  const spec: ChartSpec = {
    width: side,
    height: side,
    data: { values: data },
    encoding: {
      x: { field: "column", type: "nominal", sort: names, title: null, axis: { orient: "top", labelAngle: -30 } },
      y: { field: "row", type: "nominal", sort: names, title: null },
      description: { field: "desc" },
    },
    layer: [
      {
        mark: { type: "rect", stroke: "#fff", strokeWidth: 1, invalid: null } as never,
        encoding: { color: { field: "consistency", type: "quantitative", scale: { domain: [0, 1], scheme: "blues" }, title: "consistency" } },
      },
      {
        mark: { type: "text", fontSize: 11 },
        encoding: {
          text: { field: "shown" },
          color: { condition: { test: "datum.consistency !== null && datum.consistency > 0.6", value: "#fff" }, value: "#111827" },
        },
      },
    ],
  };
  return {
    id: `fig-heatmap-${index}`,
    title: `Pairwise consistency: ${conditionName(c)}`,
    note: `${r === "paper" ? "Paper-compatible" : "Strict"} reading; cell = share of items on which the two targets agree (same answer or both correct).`,
    chart: await renderChart(spec),
    table: {
      caption: `Pairwise consistency matrix, ${conditionName(c)}`,
      head: ["", ...names],
      rows: matrix.map((row, i) => [names[i]!, ...row]),
    },
  };
}

/** Sentences in an item's chain: recorded by the engine (meta.chainSentences) or counted. */
function chainLengthOf(recs: ResultRecord[]): number | undefined {
  for (const r of recs) if (typeof r.meta.chainSentences === "number") return r.meta.chainSentences;
  const cot = recs.find((r) => r.cot)?.cot;
  return cot ? sentenceTexts(cot).filter((s) => s.trim() !== "").length : undefined;
}

export interface LengthBin {
  condition: string;
  bin: number;
  from: number;
  to: number;
  items: number;
  meanLength: number;
  consistency: number | null;
}

export const LENGTH_BINS = 4;
const MIN_ITEMS_PER_BIN = 5;

/**
 * Consistency by chain length: items with a chain are sorted by its length and cut into equal
 * bins; each bin's consistency is buildReport's over that bin's records.
 */
export function chainLengthBins(report: ResultsReport, records: readonly ResultRecord[], r: Reading): LengthBin[] {
  const groups = groupByCondition(records);
  const out: LengthBin[] = [];
  for (const c of report.conditions) {
    const recs = groups.get(c.key) ?? [];
    const byItem = new Map<string, ResultRecord[]>();
    for (const rec of recs) {
      const id = `${rec.dataset}\u241f${rec.problemId}`;
      let l = byItem.get(id);
      if (!l) byItem.set(id, (l = []));
      l.push(rec);
    }
    const sized = [...byItem.values()].flatMap((l) => {
      const len = chainLengthOf(l);
      return len === undefined ? [] : [{ len, recs: l }];
    });
    // Most items must have a chain, and there must be enough for every bin to mean something.
    if (sized.length < byItem.size * 0.8 || sized.length < MIN_ITEMS_PER_BIN * 2) continue;
    sized.sort((a, b) => a.len - b.len);
    const bins = Math.min(LENGTH_BINS, Math.floor(sized.length / MIN_ITEMS_PER_BIN));
    for (let b = 0; b < bins; b++) {
      const part = sized.slice(Math.floor((b * sized.length) / bins), Math.floor(((b + 1) * sized.length) / bins));
      const sub = buildReport(part.flatMap((p) => p.recs)).conditions[0];
      const m = sub ? reading(sub, r).consistency : null;
      out.push({
        condition: conditionName(c),
        bin: b + 1,
        from: part[0]!.len,
        to: part[part.length - 1]!.len,
        items: part.length,
        meanLength: part.reduce((s, p) => s + p.len, 0) / part.length,
        consistency: m?.mean ?? null,
      });
    }
  }
  return out;
}

async function chainLengthFigure(bins: LengthBin[], r: Reading): Promise<Figure> {
  const spec: ChartSpec = {
    width: 420,
    height: 260,
    data: {
      values: bins
        .filter((b) => b.consistency !== null)
        .map((b) => ({ ...b, desc: `${b.condition}, bin ${b.bin} (${b.from} to ${b.to} sentences): consistency ${fmtNum(b.consistency)}` })),
    },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "meanLength", type: "quantitative", title: "chain length (sentences, mean of the bin)" },
      y: { field: "consistency", type: "quantitative", scale: { domain: [0, 1] }, title: "pairwise consistency" },
      color: { field: "condition", type: "nominal", scale: { scheme: "tableau10" }, title: null, legend: { orient: "bottom", columns: 1 } },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-chain-length",
    title: "Consistency by chain length",
    note: `Items sorted by the length of the chain the targets were given, cut into ${LENGTH_BINS} equal bins; ${r === "paper" ? "paper-compatible" : "strict"} reading.`,
    chart: await renderChart(spec),
    table: {
      caption: "Consistency per chain-length bin",
      head: ["condition", "bin", "sentences from", "to", "mean", "items", "consistency"],
      rows: bins.map((b) => [b.condition, b.bin, b.from, b.to, b.meanLength.toFixed(1), b.items, b.consistency]),
    },
  };
}

// ---------- the page ----------

export async function buildResultsSections(input: ResultsPageInput): Promise<ResultsSection[]> {
  const { report, records, reading: r } = input;
  const groups = groupByCondition(records);
  const ci = new Map<string, ConditionIntervals>();
  for (const c of report.conditions) ci.set(c.key, bootstrapCondition(c.key, groups.get(c.key) ?? [], { reading: r, resamples: input.resamples }));

  const sections: ResultsSection[] = [];
  sections.push({
    id: "summary",
    title: "Consistency and accuracy",
    figures: [await consistencyFigure(report, ci, r), await meanAccuracyFigure(report, ci), await accuracyFigure(report, ci), await splitFigure(report, r)],
  });
  const heat: Figure[] = [];
  for (const [i, c] of report.conditions.entries()) if (c.targets.length >= 2) heat.push(await heatmapFigure(c, i, r));
  sections.push({ id: "heatmaps", title: "Pairwise consistency, target by target", figures: heat, empty: "Every condition has fewer than two targets." });
  const bins = chainLengthBins(report, records, r);
  sections.push({
    id: "chain-length",
    title: "Consistency and chain length",
    figures: bins.length ? [await chainLengthFigure(bins, r)] : [],
    empty: "These results hold no chains (or too few items per condition) to bin by length.",
  });
  if (input.traces?.length) sections.push({ id: "ensemble", title: "Ensemble: whose sentences won", figures: [await winnersFigure(input.traces)] });
  if (input.relays?.length) {
    const figs: Figure[] = [];
    for (const [i, rf] of input.relays.entries()) figs.push(...(await relayFigures(rf, i)));
    sections.push({ id: "relay", title: "Reasoning relay", figures: figs });
  }
  return sections;
}

export async function renderResultsHtml(input: ResultsPageInput): Promise<string> {
  const sections = await buildResultsSections(input);
  const { report } = input;
  const records = report.conditions.reduce((s, c) => s + c.records, 0);
  const missing = report.conditions.reduce((s, c) => s + c.missing, 0);
  const head = `<h1>Concord results: ${escapeHtml(input.source)}</h1>
<p class="meta">${report.conditions.length} conditions, ${records} answers${missing ? ` (${missing} missing or crashed)` : ""}; consistency in the ${input.reading === "paper" ? "paper-compatible" : "strict"} reading; intervals: 95% percentile bootstrap over items (${input.resamples ?? DEFAULT_RESAMPLES} resamples, seed ${DEFAULT_SEED}). Point values are those of <code>concord report --json</code>; each figure's numbers are in the table beside it.</p>
<nav aria-label="Figures"><ul>${sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join("")}</ul></nav>`;
  const body = sections
    .map(
      (s) => `<section id="${s.id}" aria-labelledby="${s.id}-h"><h2 id="${s.id}-h">${escapeHtml(s.title)}</h2>
${s.figures.length ? s.figures.map(renderFigure).join("\n") : `<p class="empty">${escapeHtml(s.empty ?? "Nothing to show.")}</p>`}
</section>`,
    )
    .join("\n");
  return renderPage(`Concord results: ${input.source}`, `${head}\n${body}`);
}

export { fmtNum, ensembleWinners };
