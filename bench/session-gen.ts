// A synthetic session in the session schema, as long as asked, every candidate kept.
import type { Candidate, ChainSentence } from "../src/core/chain.js";
import type { SessionFile } from "../src/state/sessions.js";
import { problem } from "./overlap.js";
import { rng } from "./lib.js";

const WORDS = ["so", "the", "total", "is", "we", "add", "each", "value", "then", "check", "units", "first", "next", "result", "apples", "pens"];

/** A session of `n` accepted sentences, each chosen among `k` candidates scored by 2 evaluators. */
export function syntheticSession(n: number, k: number, seed = 3): SessionFile {
  const r = rng(seed);
  const sentence = () => {
    const len = 8 + Math.floor(r() * 10);
    const ws = Array.from({ length: len }, () => WORDS[Math.floor(r() * WORDS.length)]!);
    return " " + ws.join(" ") + ".";
  };
  const tokensOf = (text: string) => (text.match(/\s*\S+/g) ?? []).map((token) => ({ token, logprob: -r() * 4 }));
  const gens = ["alpha", "beta"];
  const sentences: ChainSentence[] = [];
  for (let i = 0; i < n; i++) {
    const candidates: Candidate[] = Array.from({ length: k }, (_, j) => {
      const text = sentence();
      const scores = ["judge-a", "judge-b"].map((evaluator) => {
        const tokens = tokensOf(text);
        const meanNll = -tokens.reduce((s, t) => s + t.logprob, 0) / tokens.length;
        return { evaluator, meanNll, perplexity: Math.exp(meanNll), tokens };
      });
      return {
        id: `${gens[j % 2]}#${Math.floor(j / 2)}`,
        generator: gens[j % 2]!,
        sampleIndex: Math.floor(j / 2),
        text,
        raw: text + sentence(),
        tokens: tokensOf(text),
        scores,
        meanPerplexity: (scores[0]!.perplexity + scores[1]!.perplexity) / 2,
        endOfThought: false,
      };
    });
    const best = candidates.reduce((a, b) => (b.meanPerplexity! < a.meanPerplexity! ? b : a));
    sentences.push({
      text: best.text,
      author: best.generator,
      decision: "evaluator",
      candidates,
      evaluatorPick: best.id,
      acceptedId: best.id,
      at: new Date(0).toISOString(),
    });
  }
  return {
    schema: 1,
    id: `bench-${n}`,
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    problem,
    roles: { generators: gens, evaluators: ["judge-a", "judge-b"], targets: [] },
    // Finished, so that opening it starts no step: only the session is in memory.
    chain: { sentences, finished: true },
    targets: { answers: [], consistency: [] },
  };
}
