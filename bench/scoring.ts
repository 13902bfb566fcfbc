// 2. Scoring with prefix reuse. A chain is built sentence by sentence on the embedded model
// (stories260K); at every step K candidates are scored after the chain so far, each in its
// own score() call as the ChainBuilder does. Reuse: one LocalBackend whose sequences keep
// the prefix in the KV cache. Paper's approach: prefix + candidate evaluated from scratch for
// every candidate (a one-sequence LocalBackend whose cache is moved to unrelated text before
// each timed call, so nothing of the prefix survives).
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalBackend, LocalModelPool } from "../src/backends/local.js";
import type { Prompt } from "../src/backends/types.js";
import type { ChatMessage } from "../src/core/types.js";
import { check, fmt, growthExponent, ms, rng, table, type Bench } from "./lib.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const STORIES_MODEL = resolve(root, "..", "shared", "models", "stories260K.gguf");

const NAMES = ["Tim", "Sue", "Max", "Lily", "Ben", "Amy", "Sam", "Mia"];
const VERBS = ["saw", "had", "got", "hid", "fed", "hugged", "found", "liked"];
const NOUNS = ["dog", "cat", "ball", "cake", "box", "bird", "toy", "hat", "car", "tree"];

/** Short story sentences (about 6-9 tokens of stories260K each), seeded. */
export function storySentences(n: number, seed: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, () => `${pick(NAMES)} ${pick(VERBS)} a ${pick(NOUNS)}.`);
}

const MESSAGES: ChatMessage[] = [{ role: "user", content: "Tell a story." }];

function prefixAt(chain: string[], i: number): Prompt {
  return { kind: "chat", messages: MESSAGES, assistantPrefix: chain.slice(0, i).join(" ") };
}

export interface ScoringParams {
  /** Chain lengths (sentences already in the chain) to report. */
  lengths: number[];
  /** Candidates per step (the default race: 2 generators x k = 3). */
  candidates: number;
  modelPath?: string;
  threads?: number;
}

export interface ScoringPoint {
  length: number;
  /** Tokens evaluated by the step that scores candidates after `length` sentences. */
  stepReuse: number;
  stepFresh: number;
  stepReuseMs: number;
  stepFreshMs: number;
  /** Totals over every step that builds a chain of `length` sentences. */
  totalReuse: number;
  totalFresh: number;
  totalReuseMs: number;
  totalFreshMs: number;
  /** Prompt tokens of the longest prefix + candidate at this length. */
  contextTokens: number;
}

export interface ScoringRun {
  points: ScoringPoint[];
  contextSize: number;
  /** The longest chain that fitted, when the context ran out before the last length. */
  fittedLength: number;
}

export async function measureScoring(p: ScoringParams): Promise<ScoringRun> {
  const modelPath = p.modelPath ?? STORIES_MODEL;
  const maxLen = Math.max(...p.lengths);
  const chain = storySentences(maxLen + 1, 7);
  const alternatives = storySentences((maxLen + 1) * p.candidates, 11);
  const pool = new LocalModelPool({ threads: p.threads ?? 1, gpu: false });
  const reuse = new LocalBackend({ name: "reuse", modelPath, pool, contextSize: 2048 });
  const fresh = new LocalBackend({ name: "fresh", modelPath, pool, contextSize: 2048, sequences: 1 });
  try {
    const contextSize = await reuse.getContextSize();
    await fresh.load();
    const points: ScoringPoint[] = [];
    let totals = { reuse: 0, fresh: 0, reuseMs: 0, freshMs: 0 };
    let fittedLength = 0;
    for (let i = 0; i <= maxLen; i++) {
      // Candidate 0 is the sentence the chain goes on with; the rest compete with it.
      const cands = [chain[i]!, ...alternatives.slice(i * p.candidates, i * p.candidates + p.candidates - 1)].map((s) => (i === 0 ? s : " " + s));
      const prefix = prefixAt(chain, i);
      const prefixTokens = await reuse.countTokens(((prefix as { assistantPrefix: string }).assistantPrefix ?? "") + "User: Tell a story.\nAssistant: ");
      const longest = Math.max(...(await Promise.all(cands.map((c) => reuse.countTokens(c)))));
      if (prefixTokens + longest + 4 > contextSize) break;
      fittedLength = i;

      // Concord: concurrent single-candidate calls, the ChainBuilder's pattern.
      const t0 = performance.now();
      const results = await Promise.all(cands.map((c) => reuse.score({ prefix, candidates: [c] })));
      const reuseMs = performance.now() - t0;
      const stepReuse = results.reduce((s, r) => s + r.evaluatedTokens, 0);

      // The paper's approach: nothing cached, prefix + candidate evaluated for every candidate.
      let stepFresh = 0;
      let freshMs = 0;
      for (const c of cands) {
        await fresh.score({ prefix: { kind: "raw", text: "Once" }, candidates: [" upon"] });
        const t1 = performance.now();
        const r = await fresh.score({ prefix, candidates: [c] });
        freshMs += performance.now() - t1;
        stepFresh += r.evaluatedTokens;
      }
      totals = { reuse: totals.reuse + stepReuse, fresh: totals.fresh + stepFresh, reuseMs: totals.reuseMs + reuseMs, freshMs: totals.freshMs + freshMs };
      if (p.lengths.includes(i)) {
        points.push({
          length: i,
          stepReuse,
          stepFresh,
          stepReuseMs: reuseMs,
          stepFreshMs: freshMs,
          totalReuse: totals.reuse,
          totalFresh: totals.fresh,
          totalReuseMs: totals.reuseMs,
          totalFreshMs: totals.freshMs,
          contextTokens: prefixTokens + longest,
        });
      }
    }
    return { points, contextSize, fittedLength };
  } finally {
    await reuse.close();
    await fresh.close();
  }
}

const maxLenText = (lengths: number[]) => String(Math.max(...lengths));

export const scoring: Bench = {
  name: "scoring",
  title: "Scoring with prefix reuse",
  async run({ quick, log }) {
    if (!existsSync(STORIES_MODEL)) return { body: [], checks: [], notes: [], skipped: `model file missing: ${STORIES_MODEL}` };
    const lengths = quick ? [2, 4] : [10, 40, 160];
    const candidates = quick ? 3 : 6;
    log?.(`scoring: chain lengths ${lengths.join(", ")}, ${candidates} candidates per step`);
    const run = await measureScoring({ lengths, candidates });
    const pts = run.points;
    const notes: string[] = [];
    if (pts.length < lengths.length) notes.push(`Only chains up to ${run.fittedLength} sentences fitted in the ${run.contextSize}-token context.`);
    const checks = [];
    const perSentence = pts.length >= 2 ? (pts.at(-1)!.contextTokens - pts[0]!.contextTokens) / (pts.at(-1)!.length - pts[0]!.length) : NaN;
    if (pts.length >= 2) {
      const xs = pts.map((q) => q.length);
      const expReuse = growthExponent(
        xs,
        pts.map((q) => q.totalReuse),
      );
      const expFresh = growthExponent(
        xs,
        pts.map((q) => q.totalFresh),
      );
      // Total work for a chain of L sentences: linear when each step costs about the same.
      checks.push(check("growth exponent of total tokens evaluated with reuse (1 = linear, 2 = quadratic)", expReuse, "<= 1.2", expReuse <= 1.2));
      notes.push(`Growth exponent of the total without reuse: ${fmt(expFresh)} (quadratic tends to 2 as the prefix outgrows the candidates).`);
      const last = pts[pts.length - 1]!;
      checks.push(
        check(`tokens evaluated, whole chain of ${last.length}: paper / reuse`, last.totalFresh / last.totalReuse, "> 1", last.totalFresh > last.totalReuse),
      );
      checks.push(
        check(`wall time, whole chain of ${last.length}: paper / reuse`, last.totalFreshMs / last.totalReuseMs, "> 1", last.totalFreshMs > last.totalReuseMs),
      );
    }
    return {
      body: [
        `Model: stories260K (${run.contextSize}-token context, 1 thread). ${candidates} candidates per step, each scored in its own score() call (as the ChainBuilder does), ` +
          `after the chain so far. Paper: a one-sequence LocalBackend whose KV cache is moved to unrelated text before every timed call, so prefix + candidate are evaluated in full for each candidate (tokens are LocalBackend's own evaluatedTokens). ` +
          `Sentences are short ("Tim saw a dog.", ${fmt(perSentence, 1)} tokens on average) so that ${maxLenText(lengths)} of them fit the context; "context" is the prompt + chain + longest candidate in tokens.`,
        table(
          ["chain length", "context", "tokens/step reuse", "tokens/step paper", "ratio", "step ms reuse", "step ms paper", "ratio"],
          pts.map((q) => [
            q.length,
            q.contextTokens,
            q.stepReuse,
            q.stepFresh,
            `${fmt(q.stepFresh / q.stepReuse)}x`,
            ms(q.stepReuseMs),
            ms(q.stepFreshMs),
            `${fmt(q.stepFreshMs / q.stepReuseMs)}x`,
          ]),
        ),
        table(
          ["whole chain of", "tokens reuse", "tokens paper", "ratio", "wall reuse", "wall paper", "ratio"],
          pts.map((q) => [
            q.length,
            q.totalReuse,
            q.totalFresh,
            `${fmt(q.totalFresh / q.totalReuse)}x`,
            ms(q.totalReuseMs),
            ms(q.totalFreshMs),
            `${fmt(q.totalFreshMs / q.totalReuseMs)}x`,
          ]),
        ),
      ],
      checks,
      notes,
    };
  },
};
