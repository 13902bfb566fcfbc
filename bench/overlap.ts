// 1. Step overlap. One ensemble step of the real ChainBuilder with N generators (each an
// OpenAIBackend on its own protocol double with a fixed latency and token rate) and one
// evaluator (an OpenAIBackend on a vLLM double, scoring with prompt_logprobs), against the
// published code's order: every generator one after another, then every candidate scored
// one after another. Target: step <= 1.1 x (slowest generator alone + one scoring).
import { collect } from "../src/backends/types.js";
import { OpenAIBackend } from "../src/backends/openai.js";
import type { ModelProfile } from "../src/config/profile.js";
import { ChainBuilder } from "../src/engine/ensemble.js";
import type { ModelHandle } from "../src/engine/models.js";
import type { Problem } from "../src/core/types.js";
import { openThinkingPrefill, endOfThoughtMarker } from "../src/core/thinking.js";
import { startProtocolDouble, type ProtocolDouble } from "../test/doubles/protocol-double.js";
import { check, fmt, median, ms, table, timed, type Bench, type Check } from "./lib.js";

export const problem: Problem = {
  id: "bench-1",
  source: "bench",
  messages: [{ role: "user", content: "Tom has 3 apples and buys 4 more. How many apples does he have now?" }],
  reference: { kind: "number", value: "7" },
  meta: {},
};

const WORDS = ["the", "model", "reads", "each", "value", "and", "then", "adds", "them", "so", "we", "get", "a", "total"];

/** One sentence of exactly `tokens` double-tokens (words with their space, then the full stop). */
export function sentenceOfTokens(tokens: number, salt = 0): string {
  const words: string[] = [];
  for (let i = 0; i < tokens - 1; i++) words.push(WORDS[(i + salt) % WORDS.length]!);
  words[0] = words[0]![0]!.toUpperCase() + words[0]!.slice(1);
  return " " + words.join(" ") + ".";
}

export interface OverlapParams {
  n: number;
  tokens: number;
  tokensPerSecond: number;
  latencyMs: number;
  evaluatorLatencyMs: number;
  repeats: number;
}

export interface OverlapRow {
  n: number;
  /** Median wall time of a whole ChainBuilder step (ms). */
  step: number;
  /** Median wall time of the paper's order: generators then scorings, one at a time (ms). */
  sequential: number;
  /** Slowest generator streamed alone + slowest single scoring (ms). */
  ideal: number;
  slowest: number;
  scoring: number;
  /** Candidates that the step scored (proves the evaluator ran). */
  scored: number;
}

function profile(name: string, d: ProtocolDouble): ModelProfile {
  return { name, backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm", thinkingFormat: "think-tags" };
}

/** Run the comparison for one N; every double is closed before it returns. */
export async function measureOverlap(p: OverlapParams): Promise<OverlapRow> {
  const doubles: ProtocolDouble[] = [];
  try {
    for (let i = 0; i < p.n; i++) {
      const reply = sentenceOfTokens(p.tokens, i);
      doubles.push(await startProtocolDouble({ flavor: "vllm", latencyMs: p.latencyMs, tokensPerSecond: p.tokensPerSecond, script: () => reply }));
    }
    const evDouble = await startProtocolDouble({ flavor: "vllm", latencyMs: p.evaluatorLatencyMs });
    doubles.push(evDouble);
    const generators: ModelHandle[] = doubles.slice(0, p.n).map((d, i) => {
      const prof = profile(`g${i + 1}`, d);
      return { name: prof.name, backend: new OpenAIBackend(prof, { maxRetries: 0 }), thinkingFormat: "think-tags" };
    });
    const evProf = profile("judge", evDouble);
    const evaluator: ModelHandle = { name: "judge", backend: new OpenAIBackend(evProf, { maxRetries: 0 }), thinkingFormat: "think-tags" };

    const concordStep = async (): Promise<{ ms: number; scored: number }> => {
      const b = new ChainBuilder({ problem, generators, evaluators: [evaluator], k: 1, auto: true, sampling: { maxTokens: p.tokens + 8, temperature: 0 } });
      const { ms: t, value: outcome } = await timed(() => b.startStep());
      if (outcome !== "accepted") throw new Error(`the ensemble step ended "${outcome}"`);
      const s = b.getChain().sentences[0]!;
      return { ms: t, scored: s.candidates.filter((c) => c.meanPerplexity !== undefined).length };
    };

    // The published code: each generator in turn, then each candidate scored in turn.
    const sequentialStep = async (): Promise<{ ms: number; gens: number[]; scores: number[] }> => {
      const gens: number[] = [];
      const scores: number[] = [];
      const texts: string[] = [];
      const t0 = performance.now();
      for (const g of generators) {
        const { ms: t, value } = await timed(() =>
          collect(
            g.backend.stream({
              prompt: { kind: "chat", messages: problem.messages, assistantPrefix: openThinkingPrefill("think-tags", "") },
              maxTokens: p.tokens + 8,
              temperature: 0,
              logprobs: true,
            }),
          ),
        );
        gens.push(t);
        texts.push(value.text);
      }
      for (const text of texts) {
        const { ms: t } = await timed(() =>
          evaluator.backend.score({
            prefix: { kind: "chat", messages: problem.messages, assistantPrefix: openThinkingPrefill("think-tags", "") },
            candidates: [text + endOfThoughtMarker("think-tags")],
          }),
        );
        scores.push(t);
      }
      return { ms: performance.now() - t0, gens, scores };
    };

    // Warm up connections and the backends' flavor look-ups, untimed.
    await concordStep();
    await sequentialStep();
    const steps: number[] = [];
    const seqs: number[] = [];
    const ideals: number[] = [];
    const slowests: number[] = [];
    const scorings: number[] = [];
    let scored = 0;
    for (let r = 0; r < p.repeats; r++) {
      const c = await concordStep();
      steps.push(c.ms);
      scored = c.scored;
      const s = await sequentialStep();
      seqs.push(s.ms);
      const slowest = Math.max(...s.gens);
      const scoring = Math.max(...s.scores);
      slowests.push(slowest);
      scorings.push(scoring);
      ideals.push(slowest + scoring);
    }
    return { n: p.n, step: median(steps), sequential: median(seqs), ideal: median(ideals), slowest: median(slowests), scoring: median(scorings), scored };
  } finally {
    await Promise.all(doubles.map((d) => d.close()));
  }
}

export const overlap: Bench = {
  name: "overlap",
  title: "Ensemble step overlap",
  async run({ quick, log }) {
    const base = quick
      ? { tokens: 8, tokensPerSecond: 400, latencyMs: 20, evaluatorLatencyMs: 5, repeats: 1 }
      : { tokens: 40, tokensPerSecond: 100, latencyMs: 100, evaluatorLatencyMs: 30, repeats: 3 };
    const ns = quick ? [2] : [2, 4, 8];
    const rows: OverlapRow[] = [];
    const checks: Check[] = [];
    for (const n of ns) {
      log?.(`overlap: N=${n}`);
      const r = await measureOverlap({ n, ...base });
      rows.push(r);
      checks.push(check(`N=${n}: step / (slowest generator + scoring)`, r.step / r.ideal, "<= 1.10", r.step / r.ideal <= 1.1));
    }
    return {
      body: [
        `Each generator: its own vLLM protocol double, ${base.latencyMs} ms to first byte, ${base.tokensPerSecond} tokens/s, a ${base.tokens}-token sentence (k = 1 candidate per generator). ` +
          `Evaluator: a vLLM double (${base.evaluatorLatencyMs} ms latency) scoring through prompt_logprobs. Medians of ${base.repeats} run(s) after a warm-up.`,
        table(
          ["N", "Concord step", "paper order (sequential)", "sequential / step", "slowest gen + scoring", "step / ideal", "scored"],
          rows.map((r) => [r.n, ms(r.step), ms(r.sequential), `${fmt(r.sequential / r.step)}x`, ms(r.ideal), fmt(r.step / r.ideal), `${r.scored}/${r.n}`]),
        ),
      ],
      checks,
      notes: [],
    };
  },
};
