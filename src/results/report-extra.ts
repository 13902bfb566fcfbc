// Text for the report's added sections: the notebook's agreement split, bootstrap intervals,
// and a paired comparison of two conditions.
import type { Comparison, Interval } from "./analysis.js";
import { NOTEBOOK_CATEGORIES, SELF_TRANSFER_TAG } from "./analysis.js";
import { modelLabel, PAPER_TARGETS, variantLabel } from "./labels.js";
import type { ResultsReport } from "./report.js";

const safe = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

function pad(raw: string, width: number, right = false): string {
  const s = safe(raw);
  const cut = [...s].length > width ? [...s].slice(0, width - 1).join("") + "…" : s;
  const fill = " ".repeat(Math.max(0, width - [...cut].length));
  return right ? fill + cut : cut + fill;
}

const f3 = (x: number) => x.toFixed(3);
const C = 26;
const V = 11;

/** The split of consistency_all.cells.py (check_consistency_detailed), labelled as the notebook's. */
export function renderNotebookSplit(report: ResultsReport): string[] {
  const out = [
    "Agreement split as the notebook computes it (check_consistency_detailed):",
    "same answer and both correct / both wrong / otherwise (mixed); inconsistent =",
    "different answers, even both correct; mean over pairs where a category occurs",
    `${pad("condition", C)} ${pad("variant", V)} ${pad("correct", 9, true)} ${pad("wrong", 9, true)} ${pad("mixed", 9, true)} ${pad("incons.", 9, true)}`,
  ];
  for (const c of report.conditions) {
    const cells = NOTEBOOK_CATEGORIES.map((k) => {
      const v = c.notebook[k];
      return " " + pad(v ? f3(v.mean) : "—", 9, true);
    });
    out.push(`${pad(c.label, C)} ${pad(variantLabel(c.variant), V)}${cells.join("")}`);
  }
  return out;
}

const fmtInterval = (i: Interval | null) => (i ? `${f3(i.value)} [${f3(i.low)},${f3(i.high)}]` : "—");

export function renderIntervals(report: ResultsReport): string[] {
  const shown = report.conditions.filter((c) => c.intervals);
  if (!shown.length) return [];
  const out = ["95% bootstrap intervals over items (1,000 draws): consistency, mean accuracy"];
  for (const c of shown) {
    const i = c.intervals!;
    out.push(`${pad(c.label, C)} ${pad(variantLabel(c.variant), V)}`);
    out.push(`    paper ${fmtInterval(i.paper)} strict ${fmtInterval(i.strict)} acc ${fmtInterval(i.accuracy)}`);
  }
  return out;
}

export function renderComparison(cmp: Comparison, labelOf: (key: string) => string): string {
  const out = [`Paired comparison over shared items (${cmp.reading} reading): B = ${labelOf(cmp.b)} minus A = ${labelOf(cmp.a)}`];
  for (const r of cmp.results) {
    const p = r.p < 0.001 ? "< 0.001" : `= ${r.p.toFixed(3)}`;
    out.push(
      `  ${pad(r.metric, 12)} ${r.difference >= 0 ? "+" : ""}${f3(r.difference)}  95% CI [${f3(r.low)}, ${f3(r.high)}]  p ${p}  (${r.items} items; sign-flip permutation test)`,
    );
  }
  return out.map(safe).join("\n") + "\n";
}

/** A cell of the paper's table that a folder cannot give, and which records it lacks. */
export interface MissingCell {
  label: string;
  variant: string | null;
  /** The paper's targets with answers here (short labels). */
  present: string[];
  missing: string[];
  /** The authors' files that hold the missing answers (<T> = a missing target's id, "/" as "_"). */
  files: string;
}

/**
 * For a folder holding the paper's five targets: the conditions of its table whose consistency
 * cannot be computed as published (not all five targets answered), and the paper's conditions
 * with no records at all. Empty for any other folder.
 */
export function missingPaperCells(report: ResultsReport): MissingCell[] {
  const everywhere = new Set(report.conditions.flatMap((c) => c.targets.map((t) => t.id)));
  if (!PAPER_TARGETS.every((t) => everywhere.has(t))) return [];
  const out: MissingCell[] = [];
  for (const c of report.conditions) {
    const have = new Set(c.targets.map((t) => t.id));
    const missing = PAPER_TARGETS.filter((t) => !have.has(t));
    if (!missing.length) continue;
    const variantFile = c.variant === "without-answer" ? "without_answer" : "full";
    const files =
      c.condition.kind === "default-greedy" && c.condition.tag === SELF_TRANSFER_TAG
        ? `<T>_thoughts_to_<T>_zero_shot_${variantFile}.jsonl`
        : "their answers in this condition";
    out.push({ label: c.label, variant: c.variant, present: c.targets.map((t) => t.label), missing: missing.map(modelLabel), files });
  }
  if (!report.conditions.some((c) => c.condition.kind === "default-sampled"))
    out.push({
      label: "Default (sampled)",
      variant: null,
      present: [],
      missing: PAPER_TARGETS.map(modelLabel),
      files: "<T>_zero_shot_original*.jsonl (T's own sampled chain)",
    });
  return out;
}

/** Says plainly which of the paper's cells need files this folder does not hold. */
export function renderMissingPaperCells(report: ResultsReport): string[] {
  const cells = missingPaperCells(report);
  if (!cells.length) return [];
  const out = ["Paper cells this folder cannot give (consistency needs all five targets):"];
  for (const m of cells) {
    const has = m.present.length ? `answers from ${m.present.join(", ")} only` : "no records";
    out.push(`  ${m.label}${m.variant ? `, ${variantLabel(m.variant as never)}` : ""}: ${has}`, `    needs ${m.files}`, `    for T = ${m.missing.join(", ")}`);
  }
  return out;
}
