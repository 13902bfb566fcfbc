// The results page's figures from ensemble traces and relays: whose sentences won, and each
// relay's continuations against its initiator.
import type { GenexTrace } from "../backends/genex-trace.js";
import { modelLabel } from "../results/index.js";
import { renderChart, type ChartSpec } from "./chart.js";
import { fmtNum, type Figure } from "./html.js";
import { rowStep, type RelayFile } from "./results.js";
export interface WinnerShare {
  segment: string;
  generator: string;
  wins: number;
  share: number;
}

export const SEGMENTS = ["whole chain", "1st quarter", "2nd quarter", "3rd quarter", "4th quarter"] as const;

/** Which generator's sentence the evaluator chose: over whole chains and by position in the chain. */
export function ensembleWinners(traces: readonly GenexTrace[]): WinnerShare[] {
  const counts = new Map<string, Map<string, number>>(SEGMENTS.map((s) => [s, new Map()]));
  const generators: string[] = [];
  for (const t of traces) {
    for (const g of t.generators) if (!generators.includes(g)) generators.push(g);
    for (const p of t.problems) {
      p.steps.forEach((s, i) => {
        const seg = SEGMENTS[1 + Math.min(3, Math.floor((4 * i) / p.steps.length))]!;
        for (const key of [SEGMENTS[0], seg]) {
          const m = counts.get(key)!;
          m.set(s.selectedGenerator, (m.get(s.selectedGenerator) ?? 0) + 1);
        }
        if (!generators.includes(s.selectedGenerator)) generators.push(s.selectedGenerator);
      });
    }
  }
  return SEGMENTS.flatMap((segment) => {
    const m = counts.get(segment)!;
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    return generators.map((generator) => ({ segment, generator, wins: m.get(generator) ?? 0, share: total ? (m.get(generator) ?? 0) / total : 0 }));
  });
}

export async function winnersFigure(traces: readonly GenexTrace[]): Promise<Figure> {
  const shares = ensembleWinners(traces);
  const steps = traces.reduce((s, t) => s + t.problems.reduce((a, p) => a + p.steps.length, 0), 0);
  const chains = traces.reduce((s, t) => s + t.problems.length, 0);
  const spec: ChartSpec = {
    width: 420,
    height: rowStep(SEGMENTS.length, 30),
    data: {
      values: shares.map((s) => ({
        ...s,
        generator: modelLabel(s.generator),
        desc: `${s.segment}, ${modelLabel(s.generator)}: ${s.wins} sentences, share ${fmtNum(s.share)}`,
      })),
    },
    mark: "bar",
    encoding: {
      y: { field: "segment", type: "ordinal", sort: [...SEGMENTS], title: null },
      x: { field: "share", type: "quantitative", stack: "zero", scale: { domain: [0, 1] }, title: "share of chosen sentences" },
      color: { field: "generator", type: "nominal", scale: { scheme: "set2" }, title: "generator" },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-winners",
    title: "Whose sentences won the ensemble",
    note: `${steps} chosen sentences in ${chains} chains (${traces.map((t) => (t.evaluator ? `evaluator ${modelLabel(t.evaluator)}` : "evaluator unknown")).join(", ")}), over whole chains and by position in the chain.`,
    chart: await renderChart(spec),
    table: {
      caption: "Chosen sentences per generator",
      head: ["segment", "generator", "sentences", "share"],
      rowHeaders: 2,
      rows: shares.map((s) => [s.segment, modelLabel(s.generator), s.wins, s.share]),
    },
  };
}

const COMPARISON_COLORS = { agrees: "#16a34a", differs: "#dc2626", "no-answer": "#d1d5db" };
const INITIATOR_COLOR = "#334155";

/** One relay: every hybrid chain as a bar (the initiator's part, then the continuer's), and step scores. */
export async function relayFigures(rf: RelayFile, index: number): Promise<Figure[]> {
  const r = rf.result;
  const runs = r.runs.map((run, i) => {
    const comparison = run.comparison ?? (run.agrees ? "agrees" : "differs");
    const cut = typeof run.cut === "number" ? `after ${run.cut + 1}` : run.cut;
    return {
      run: `${i + 1}. ${run.continuer} from ${cut}`,
      continuer: run.continuer,
      cut,
      handover: run.handover,
      length: run.sentences.length,
      comparison,
      answer: run.answer.grade.answer,
      correct: run.answer.grade.correct,
      departure: run.departure ? run.departure.sentence + 1 : null,
    };
  });
  const bars = runs.flatMap((x) => [
    { run: x.run, part: "initiator", from: 0, to: x.handover, desc: `${x.run}: initiator's sentences 1 to ${x.handover}` },
    {
      run: x.run,
      part: `continuer: ${x.comparison}`,
      from: x.handover,
      to: x.length,
      desc: `${x.run}: continuer's sentences ${x.handover + 1} to ${x.length}, answer ${x.comparison}`,
    },
  ]);
  const parts = ["initiator", ...Object.keys(COMPARISON_COLORS).map((k) => `continuer: ${k}`)];
  const spec: ChartSpec = {
    width: 440,
    height: rowStep(runs.length),
    layer: [
      {
        data: { values: bars },
        mark: { type: "bar", height: { band: 0.7 } },
        encoding: {
          y: { field: "run", type: "nominal", sort: null, title: null },
          x: { field: "from", type: "quantitative", title: "sentence" },
          x2: { field: "to" },
          color: {
            field: "part",
            type: "nominal",
            scale: { domain: parts, range: [INITIATOR_COLOR, ...Object.values(COMPARISON_COLORS)] },
            title: null,
            legend: { orient: "bottom", columns: 2 },
          },
          description: { field: "desc" },
        },
      },
      {
        data: { values: runs.filter((x) => x.departure !== null).map((x) => ({ ...x, desc: `${x.run}: answer departs after sentence ${x.departure}` })) },
        mark: { type: "point", shape: "triangle-down", size: 90, filled: true, color: "#111827" },
        encoding: { y: { field: "run", type: "nominal", sort: null }, x: { field: "departure", type: "quantitative" }, description: { field: "desc" } },
      },
    ],
  };
  const out: Figure[] = [
    {
      id: `fig-relay-${index}`,
      title: `Relay of problem ${r.problemId}: initiator ${r.initiator.model}`,
      note: `Each bar is one hybrid chain: the initiator's sentences (dark), then the continuer's, coloured by whether its answer agrees with the initiator's (${r.initiator.answer.grade.answer === "" ? "no answer" : `"${r.initiator.answer.grade.answer}"`}, ${r.initiator.answer.grade.correct ? "correct" : "wrong"}). ▼ marks the first sentence after which the answer departs. From ${rf.file}.`,
      chart: await renderChart(spec),
      table: {
        caption: "Relay runs",
        head: ["run", "continuer from sentence", "sentences", "answer", "correct", "vs initiator", "departs after"],
        rows: runs.map((x) => [x.run, x.handover + 1, x.length, x.answer === "" ? "(none)" : x.answer, x.correct ? "yes" : "no", x.comparison, x.departure]),
      },
    },
  ];
  const scoreRows = [
    ...(r.initiator.stepScores ?? []).map((s, i) => ({ chain: `initiator ${r.initiator.model}`, sentence: i + 1, score: s })),
    ...r.runs.flatMap((run, k) => (run.stepScores ?? []).map((s, i) => ({ chain: runs[k]!.run, sentence: i + 1, score: s }))),
  ].filter((x): x is { chain: string; sentence: number; score: number } => typeof x.score === "number");
  if (scoreRows.length) {
    out.push({
      id: `fig-relay-${index}-scores`,
      title: `Step scores, relay of problem ${r.problemId}`,
      note: `Scored by ${r.scorer ?? "the step scorer"}; one line per chain.`,
      chart: await renderChart({
        width: 440,
        height: 240,
        data: { values: scoreRows },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "sentence", type: "quantitative" },
          y: { field: "score", type: "quantitative", title: "step score" },
          color: { field: "chain", type: "nominal", title: null, legend: { orient: "bottom", columns: 1 } },
        },
      }),
      table: { caption: "Step scores", head: ["chain", "sentence", "score"], rowHeaders: 1, rows: scoreRows.map((x) => [x.chain, x.sentence, x.score]) },
    });
  }
  return out;
}
