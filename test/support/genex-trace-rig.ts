// A real ensemble trace of the paper's run (KoyenaPal/genex) set up for replay through the
// ChainBuilder in paper mode: each generator and the evaluator replay their own recorded exchanges.
import { loadGenexTrace, traceToRecording, type GenexTrace } from "../../src/backends/genex-trace.js";
import { parseRecording, ReplayBackend } from "../../src/backends/replay.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import type { EnsembleOptions } from "../../src/engine/ensemble-types.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";

export const GENEX_ROWS = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";

type TraceProblem = GenexTrace["problems"][number];

/** Row `row`'s first problem, and a paper-mode ChainBuilder over its recorded models (`extra` adds options for that problem). */
export async function traceBuilder(
  row: number,
  extra: (p: TraceProblem) => Partial<EnsembleOptions> = () => ({}),
): Promise<{ trace: GenexTrace; p: TraceProblem; b: ChainBuilder }> {
  const trace = await loadGenexTrace(`${GENEX_ROWS}/selected_distributions_row_${row}.json`);
  const p = trace.problems[0]!;
  const conversion = traceToRecording({ ...trace, problems: [p] });
  const recording = parseRecording(`${[conversion.header, ...conversion.exchanges].map((e) => JSON.stringify(e)).join("\n")}\n`, `row${row}.jsonl`);
  const handle = (name: string): ModelHandle => ({
    name,
    backend: new ReplayBackend(recording, { backend: name, problem: p.index, speed: "instant", name }),
    thinkingFormat: "think-tags",
  });
  const problem: Problem = {
    id: String(p.rowNumber ?? p.index),
    source: "medcalc-bench",
    messages: [{ role: "user", content: "(note and question)" }],
    reference: { kind: "exact", value: "" },
    meta: {},
  };
  const first = p.steps[0]!.candidates;
  const perGenerator = Math.max(...first.map((c) => first.filter((d) => d.generator === c.generator).length));
  const b = new ChainBuilder({
    problem,
    generators: trace.generators.map(handle),
    evaluators: [handle(trace.evaluator ?? "openai/gpt-oss-20b")],
    k: perGenerator,
    mode: "paper",
    ...extra(p),
  });
  return { trace, p, b };
}
