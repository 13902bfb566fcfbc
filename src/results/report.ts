// From result records to the paper's tables: per condition and variant, pairwise consistency
// (paper-compatible and strict), per-model accuracy and the agreement split; rendered as an
// 80-column text table, JSON, CSV (long format) and Markdown.
import { computeConsistency, type ConsistencyReport, type MeanStd, type Reading, type TargetAnswer } from "../core/consistency.js";
import { conditionKey, CONDITION_KINDS, type Condition, type ResultRecord } from "./schema.js";
import { conditionLabel, modelLabel, PAPER_TARGETS, variantLabel } from "./labels.js";
import { writeSummaryFiles } from "./store.js";
import { missingPaperCells, renderIntervals, renderMissingPaperCells, renderNotebookSplit } from "./report-extra.js";
import { bootstrapIntervals, filterTargets, notebookSplit, selfTransferDefaults, type ConditionIntervals, type NotebookSplit } from "./analysis.js";

export interface PairSummary {
  a: string;
  b: string;
  value: number | null;
  kept: number;
  skipped: number;
  consistentCorrect: number;
  consistentWrong: number;
  inconsistent: number;
}

export interface ReadingSummary {
  reading: Reading;
  consistency: MeanStd | null;
  split: ConsistencyReport["split"];
  pairs: PairSummary[];
  /** matrix[i][j] over ConditionSummary.targets. */
  matrix: (number | null)[][];
}

export interface AccuracySummary {
  target: string;
  label: string;
  correct: number;
  total: number;
  accuracy: number;
}

export interface ConditionSummary {
  key: string;
  condition: Condition;
  label: string;
  variant: Condition["variant"];
  targets: { id: string; label: string }[];
  /** Distinct problems answered by any target. */
  items: number;
  records: number;
  /** Answers that were missing or crashed (answer === null). */
  missing: number;
  /** From the recorded grades. */
  accuracy: AccuracySummary[];
  paper: ReadingSummary;
  strict: ReadingSummary;
  /**
   * Present when every record carries meta.regradedCorrect (Concord's own grading of the recorded
   * answer): the strict reading and accuracy under those grades, and how many grades changed.
   */
  regraded?: ReadingSummary & { accuracy: AccuracySummary[]; changed: number };
  /** The agreement split as the authors' notebook computes it (check_consistency_detailed). */
  notebook: NotebookSplit;
  /** 95% bootstrap intervals over items, when asked for. */
  intervals?: ConditionIntervals;
  /** Without-answer conditions: how their chains were sanitized, in chains (items) per sanitizer and method. */
  sanitizing?: SanitizingCount[];
}

export interface SanitizingCount {
  /** The sanitizer model's name, "rules", or null where the records do not say. */
  sanitizer: string | null;
  method: string | null;
  chains: number;
}

/** Chains per sanitizer and method (one chain per item, whatever the number of targets). */
function sanitizingOf(recs: readonly ResultRecord[]): SanitizingCount[] {
  const byKind = new Map<string, { count: SanitizingCount; items: Set<string> }>();
  for (const r of recs) {
    const sanitizer = typeof r.meta.sanitizer === "string" ? r.meta.sanitizer : null;
    const method = typeof r.meta.sanitizeMethod === "string" ? r.meta.sanitizeMethod : null;
    const k = `${sanitizer}\u241f${method}`;
    let e = byKind.get(k);
    if (!e) byKind.set(k, (e = { count: { sanitizer, method, chains: 0 }, items: new Set() }));
    e.items.add(itemId(r));
  }
  return [...byKind.values()].map((e) => ({ ...e.count, chains: e.items.size }));
}

const METHOD_WORDS: Record<string, string> = {
  paper: "authors' request, used as is",
  chat: "plain chat, verified by sentence",
  prefill: "thinking prefilled, verified by sentence",
  rules: "rule-based remover",
};

function sanitizingText(s: SanitizingCount): string {
  if (s.sanitizer === null && s.method === null) return `not recorded (${s.chains})`;
  const how = s.method ? (METHOD_WORDS[s.method] ?? s.method) : "method not recorded";
  return `${s.sanitizer === "rules" || s.method === "rules" ? "" : `${s.sanitizer ?? "?"}, `}${how} (${s.chains})`;
}

export interface ReportOptions {
  /** Keep only these targets (model ids). */
  targets?: readonly string[];
  /** Compute 95% bootstrap intervals over items (1,000 draws per condition). */
  intervals?: boolean;
}

export interface ResultsReport {
  conditions: ConditionSummary[];
}

/**
 * The text the published code compared for a record: the extracted answer; for a crash the
 * recorded crash text; for an absent answer "" (the paper-code quirk); otherwise what was recorded.
 */
export function paperText(rec: ResultRecord): string | null {
  if (rec.answer !== null) return rec.answer;
  if (rec.answerMissing === "absent") return null;
  return rec.answerRaw;
}

function itemId(rec: ResultRecord): string {
  return `${rec.dataset}\u241f${rec.problemId}`;
}

function toAnswers(recs: ResultRecord[], reading: Reading): TargetAnswer[] {
  return recs.map((r) =>
    reading === "paper"
      ? { target: r.target, itemId: itemId(r), answer: r.answer, correct: r.paperCorrect ?? r.correct, recorded: paperText(r) }
      : { target: r.target, itemId: itemId(r), answer: r.answer, correct: r.correct },
  );
}

function summariseReading(rep: ConsistencyReport): ReadingSummary {
  return {
    reading: rep.reading,
    consistency: rep.consistency,
    split: rep.split,
    pairs: rep.pairs.map(({ a, b, value, kept, skipped, consistentCorrect, consistentWrong, inconsistent }) => ({
      a,
      b,
      value,
      kept,
      skipped,
      consistentCorrect,
      consistentWrong,
      inconsistent,
    })),
    matrix: rep.matrix,
  };
}

function compareConditions(x: Condition, y: Condition): number {
  const k = CONDITION_KINDS.indexOf(x.kind) - CONDITION_KINDS.indexOf(y.kind);
  if (k) return k;
  const a = conditionKey({ ...x, variant: "full" });
  const b = conditionKey({ ...y, variant: "full" });
  if (a !== b) return a < b ? -1 : 1;
  return x.variant === y.variant ? 0 : x.variant === "full" ? -1 : 1;
}

/** One condition's answers (the last record per target and item), as the report reads them. */
export function conditionAnswers(all: readonly ResultRecord[], key: string, reading: Reading, targets?: readonly string[]): TargetAnswer[] {
  const recs = new Map<string, ResultRecord>();
  for (const r of filterTargets([...all, ...selfTransferDefaults(all)], targets)) {
    if (conditionKey(r.condition) === key) recs.set(`${r.target}\u241f${itemId(r)}`, r);
  }
  return toAnswers([...recs.values()], reading);
}

/** Group records by condition (the last record per condition+target+problem wins) and compute. */
export function buildReport(all: readonly ResultRecord[], opts: ReportOptions = {}): ResultsReport {
  // "Default (greedy)" is what the authors ran as a transfer from each target to itself.
  const records = filterTargets([...all, ...selfTransferDefaults(all)], opts.targets);
  const groups = new Map<string, { condition: Condition; recs: Map<string, ResultRecord> }>();
  for (const rec of records) {
    const key = conditionKey(rec.condition);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { condition: rec.condition, recs: new Map() }));
    g.recs.set(`${rec.target}\u241f${itemId(rec)}`, rec);
  }
  const conditions = [...groups.entries()]
    .sort(([, a], [, b]) => compareConditions(a.condition, b.condition))
    .map(([key, { condition, recs: recMap }]) => {
      const recs = [...recMap.values()];
      const order = [...PAPER_TARGETS];
      const paperAnswers = toAnswers(recs, "paper");
      const paper = computeConsistency(paperAnswers, "paper", order);
      const strict = computeConsistency(toAnswers(recs, "strict"), "strict", order);
      let regraded: ConditionSummary["regraded"];
      if (recs.every((r) => typeof r.meta.regradedCorrect === "boolean")) {
        const regrade = recs.map((r) => ({ ...r, correct: r.meta.regradedCorrect as boolean }));
        const rep = computeConsistency(toAnswers(regrade, "strict"), "strict", order);
        regraded = {
          ...summariseReading(rep),
          accuracy: rep.accuracy.map((a) => ({ ...a, label: modelLabel(a.target) })),
          changed: recs.filter((r) => r.meta.regradedCorrect !== r.correct).length,
        };
      }
      return {
        key,
        condition,
        label: conditionLabel(condition),
        variant: condition.variant,
        targets: strict.targets.map((id) => ({ id, label: modelLabel(id) })),
        items: new Set(recs.map(itemId)).size,
        records: recs.length,
        missing: recs.filter((r) => r.answer === null).length,
        accuracy: strict.accuracy.map((a) => ({ ...a, label: modelLabel(a.target) })),
        paper: summariseReading(paper),
        strict: summariseReading(strict),
        ...(regraded ? { regraded } : {}),
        notebook: notebookSplit(paperAnswers, order),
        ...(opts.intervals ? { intervals: bootstrapIntervals(paperAnswers, order) } : {}),
        ...(condition.variant === "without-answer" ? { sanitizing: sanitizingOf(recs) } : {}),
      } satisfies ConditionSummary;
    });
  return { conditions };
}

// ---------- rendering ----------

export const fmt3 = (x: number) => x.toFixed(3);
export const fmtMeanStd = (m: MeanStd | null) => (m ? `${fmt3(m.mean)} ± ${fmt3(m.std)}` : "—");
export const fmtPct = (x: number) => String(Math.round(x * 100));

/** Model ids come from files: never let control or escape characters reach the terminal. */
function safe(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

function pad(raw: string, width: number, right = false): string {
  const s = safe(raw);
  const cut = [...s].length > width ? [...s].slice(0, width - 1).join("") + "…" : s;
  const fill = " ".repeat(Math.max(0, width - [...cut].length));
  return right ? fill + cut : cut + fill;
}

/** Every target of the report, in table order (the paper's five first). */
function allTargets(report: ResultsReport): { id: string; label: string }[] {
  const seen = new Map<string, string>();
  for (const c of report.conditions) for (const t of c.targets) seen.set(t.id, t.label);
  const ids = [...seen.keys()];
  const rank = (id: string) => {
    const i = (PAPER_TARGETS as readonly string[]).indexOf(id);
    return i === -1 ? PAPER_TARGETS.length : i;
  };
  ids.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return ids.map((id) => ({ id, label: seen.get(id)! }));
}

const fmtSplit = (s: ConsistencyReport["split"]) => (s ? `${fmt3(s.consistentCorrect)} ${fmt3(s.consistentWrong)} ${fmt3(s.inconsistent)}` : "—");

/** The report as plain text that fits an 80-column terminal (for up to about 7 targets). */
export function renderText(report: ResultsReport): string {
  if (report.conditions.length === 0) return "No results.\n";
  const C = 26;
  const V = 11;
  const out: string[] = [];
  out.push("Pairwise consistency, mean ± population std over target pairs");
  out.push(`${pad("condition", C)} ${pad("variant", V)} ${pad("paper", 15)} ${pad("strict", 15)} ${pad("items", 5, true)}`);
  for (const c of report.conditions) {
    out.push(
      `${pad(c.label, C)} ${pad(variantLabel(c.variant), V)} ${pad(fmtMeanStd(c.paper.consistency), 15)} ` +
        `${pad(fmtMeanStd(c.strict.consistency), 15)} ${pad(String(c.items), 5, true)}`,
    );
  }
  out.push("");
  const targets = allTargets(report);
  // Target columns share what is left of 80 columns; long labels are cut with "…".
  const fit = (room: number) =>
    Math.max(4, Math.min(Math.max(5, ...targets.map((t) => [...safe(t.label)].length)), Math.floor(room / Math.max(1, targets.length)) - 1));
  const W = fit(80 - (C + 1 + V));
  out.push("Accuracy (% correct, recorded grades)");
  out.push(`${pad("condition", C)} ${pad("variant", V)}${targets.map((t) => " " + pad(t.label, W, true)).join("")}`);
  for (const c of report.conditions) {
    const cells = targets.map((t) => {
      const a = c.accuracy.find((x) => x.target === t.id);
      return " " + pad(a ? fmtPct(a.accuracy) : "—", W, true);
    });
    out.push(`${pad(c.label, C)} ${pad(variantLabel(c.variant), V)}${cells.join("")}`);
  }
  out.push("");
  out.push("Agreement split (Concord's): both correct / same wrong answer / disagree");
  out.push("(share of compared pair-items, mean over pairs)");
  out.push(`${pad("condition", C)} ${pad("variant", V)} ${pad("paper", 17)} ${pad("strict", 17)}`);
  for (const c of report.conditions) {
    out.push(`${pad(c.label, C)} ${pad(variantLabel(c.variant), V)} ${pad(fmtSplit(c.paper.split), 17)} ${pad(fmtSplit(c.strict.split), 17)}`);
  }
  const regraded = report.conditions.filter((c) => c.regraded);
  if (regraded.length) {
    out.push("");
    const W = fit(80 - (C + 1 + V + 1 + 5 + 1 + 4));
    out.push("Regraded with Concord's grader (strict reading; chg = grades that changed)");
    out.push(`${pad("condition", C)} ${pad("variant", V)} ${pad("cons", 5)} ${pad("chg", 4, true)}` + targets.map((t) => " " + pad(t.label, W, true)).join(""));
    for (const c of regraded) {
      const r = c.regraded!;
      const cells = targets.map((t) => {
        const a = r.accuracy.find((x) => x.target === t.id);
        return " " + pad(a ? fmtPct(a.accuracy) : "—", W, true);
      });
      out.push(
        `${pad(c.label, C)} ${pad(variantLabel(c.variant), V)} ${pad(r.consistency ? fmt3(r.consistency.mean) : "—", 5)} ` +
          `${pad(String(r.changed), 4, true)}${cells.join("")}`,
      );
    }
  }
  out.push("", ...renderNotebookSplit(report));
  const intervals = renderIntervals(report);
  if (intervals.length) out.push("", ...intervals);
  const sanitized = report.conditions.filter((c) => c.sanitizing?.length);
  if (sanitized.length) {
    out.push("");
    out.push("Without-answer chains, sanitized by (chains):");
    for (const c of sanitized) out.push(`  ${c.label}: ${c.sanitizing!.map(sanitizingText).join("; ")}`);
  }
  const uncomputable = renderMissingPaperCells(report);
  if (uncomputable.length) out.push("", ...uncomputable);
  const missing = report.conditions.filter((c) => c.missing > 0);
  if (missing.length) {
    out.push("");
    out.push("Missing or crashed answers (skipped by strict; paper reads them as recorded):");
    for (const c of missing) out.push(`  ${c.label}, ${variantLabel(c.variant)}: ${c.missing} of ${c.records}`);
  }
  return out.map((l) => safe(l).trimEnd()).join("\n") + "\n";
}

/** JSON for `report --json`: the same data as the text, with pairs and matrices. */
export function reportJson(report: ResultsReport): unknown {
  return {
    conditions: report.conditions.map((c) => ({
      key: c.key,
      label: c.label,
      condition: c.condition,
      variant: c.variant,
      targets: c.targets,
      items: c.items,
      records: c.records,
      missing: c.missing,
      accuracy: c.accuracy,
      paper: c.paper,
      strict: c.strict,
      ...(c.regraded ? { regraded: c.regraded } : {}),
      notebook: c.notebook,
      ...(c.intervals ? { intervals: c.intervals } : {}),
      ...(c.sanitizing ? { sanitizing: c.sanitizing } : {}),
    })),
    uncomputablePaperCells: missingPaperCells(report),
  };
}

function csvCell(v: string | number | null): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Long-format CSV: one row per condition, reading, metric and target (pair). */
export function renderCsv(report: ResultsReport): string {
  const rows: (string | number | null)[][] = [["condition_key", "condition", "variant", "reading", "metric", "target_a", "target_b", "value", "n"]];
  for (const c of report.conditions) {
    for (const r of [c.paper, c.strict]) {
      if (r.consistency) {
        rows.push([c.key, c.label, c.variant, r.reading, "consistency_mean", null, null, r.consistency.mean, r.consistency.n]);
        rows.push([c.key, c.label, c.variant, r.reading, "consistency_std", null, null, r.consistency.std, r.consistency.n]);
      }
      if (r.split) {
        rows.push([c.key, c.label, c.variant, r.reading, "consistent_correct", null, null, r.split.consistentCorrect, null]);
        rows.push([c.key, c.label, c.variant, r.reading, "consistent_wrong", null, null, r.split.consistentWrong, null]);
        rows.push([c.key, c.label, c.variant, r.reading, "inconsistent", null, null, r.split.inconsistent, null]);
      }
      for (const p of r.pairs) rows.push([c.key, c.label, c.variant, r.reading, "pair_consistency", p.a, p.b, p.value, p.kept]);
    }
    for (const a of c.accuracy) rows.push([c.key, c.label, c.variant, "recorded", "accuracy", a.target, null, a.accuracy, a.total]);
  }
  return rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

function mdCell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

export function renderMarkdown(report: ResultsReport): string {
  const out: string[] = ["# Results", ""];
  out.push("## Pairwise consistency (mean ± population std over target pairs)", "");
  out.push("| condition | variant | paper-compatible | strict | items | missing |", "|---|---|---|---|---|---|");
  for (const c of report.conditions) {
    out.push(
      `| ${mdCell(c.label)} | ${variantLabel(c.variant)} | ${fmtMeanStd(c.paper.consistency)} | ${fmtMeanStd(c.strict.consistency)} | ${c.items} | ${c.missing} |`,
    );
  }
  const targets = allTargets(report);
  out.push("", "## Accuracy (% correct, recorded grades)", "");
  out.push(`| condition | variant | ${targets.map((t) => mdCell(t.label)).join(" | ")} |`);
  out.push(`|---|---|${targets.map(() => "---|").join("")}`);
  for (const c of report.conditions) {
    const cells = targets.map((t) => {
      const a = c.accuracy.find((x) => x.target === t.id);
      return a ? fmtPct(a.accuracy) : "—";
    });
    out.push(`| ${mdCell(c.label)} | ${variantLabel(c.variant)} | ${cells.join(" | ")} |`);
  }
  out.push("", "## Agreement split (both correct / same wrong answer / disagree)", "");
  out.push("| condition | variant | paper | strict |", "|---|---|---|---|");
  for (const c of report.conditions) {
    out.push(`| ${mdCell(c.label)} | ${variantLabel(c.variant)} | ${fmtSplit(c.paper.split)} | ${fmtSplit(c.strict.split)} |`);
  }
  out.push("", "## Pairwise matrices (paper-compatible)", "");
  for (const c of report.conditions) {
    if (c.targets.length < 2) continue;
    out.push(`### ${mdCell(c.label)}, ${variantLabel(c.variant)}`, "");
    out.push(`| | ${c.targets.map((t) => mdCell(t.label)).join(" | ")} |`);
    out.push(`|---|${c.targets.map(() => "---|").join("")}`);
    c.paper.matrix.forEach((row, i) => {
      out.push(`| ${mdCell(c.targets[i].label)} | ${row.map((v) => (v === null ? "—" : fmt3(v))).join(" | ")} |`);
    });
    out.push("");
  }
  return out.join("\n") + "\n";
}

/** Write summary.csv and report.md for a report into a results folder (atomically). */
export async function writeSummary(dir: string, report: ResultsReport): Promise<void> {
  await writeSummaryFiles(dir, { csv: renderCsv(report), markdown: renderMarkdown(report) });
}
