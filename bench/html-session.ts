// A real session of n sentences for the HTML benchmark, built by the engine (ChainBuilder races,
// evaluator scoring, targets asked every `every` sentences, snapshotOf) over scripted in-process
// models: seeded, instant and deterministic, with a context that never runs out (the 1 MB
// stories260K model has a 512-token context, too short for a 200-sentence chain).
import type {
  Backend,
  Capabilities,
  CompletionRequest,
  CompletionResult,
  ScoreRequest,
  ScoreResult,
  StreamChunk,
  TokenLogprob,
} from "../src/backends/types.js";
import { builtinProblems } from "../src/problems/builtin.js";
import { ChainBuilder } from "../src/engine/ensemble.js";
import { handleFor, type ModelHandle } from "../src/engine/models.js";
import { askTarget, snapshotOf } from "../src/engine/targets.js";
import { chainText } from "../src/core/chain.js";
import { seededRandom } from "../src/core/random.js";
import type { TargetAnswer, ConsistencySnapshot } from "../src/engine/events.js";
import type { SessionFile } from "../src/state/sessions.js";

const OPENERS = ["First,", "Next,", "So", "Then", "Now", "Checking,", "In total,", "Again,"];
const FACTS = [
  "Tom has 3 apples",
  "he buys 4 more",
  "3 plus 4 is 7",
  "the count goes up by 4",
  "we add the two amounts",
  "nothing is taken away",
  "the answer should be a whole number",
  "7 apples is the total",
];

const words = (text: string) => text.match(/\s*\S+|\s+$/g) ?? [];

function hashLogprob(token: string, salt: number): number {
  let h = 2166136261 ^ salt;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 16777619);
  return -((h >>> 0) % 6000) / 1000;
}

/** A seeded stand-in for a model: writes arithmetic sentences, scores by a token hash, answers a number. */
class ScriptedModel implements Backend {
  private calls = 0;
  constructor(
    readonly name: string,
    private readonly seed: number,
  ) {}

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const r = seededRandom(this.seed * 7919 + this.calls++);
    const prefix = req.prompt.kind === "chat" ? (req.prompt.assistantPrefix ?? "") : req.prompt.text;
    let text: string;
    if (req.maxTokens <= 32) {
      // Asked for an answer: more often right as the chain grows.
      const sentences = (prefix.match(/\./g) ?? []).length;
      const right = r() < Math.min(0.95, 0.2 + sentences / 120);
      text = `Answer: ${right ? 7 : 5 + Math.floor(r() * 5)}`;
    } else {
      const sentence = () => ` ${OPENERS[Math.floor(r() * OPENERS.length)]} ${FACTS[Math.floor(r() * FACTS.length)]}.`;
      text = sentence() + sentence();
    }
    const tokens: TokenLogprob[] = words(text).map((token) => ({ token, logprob: hashLogprob(token, this.seed) }));
    for (const t of tokens) {
      if (req.signal?.aborted) return { text, reasoning: "", finishReason: "abort" };
      yield { channel: "content", text: t.token, ...(req.logprobs ? { tokens: [t] } : {}) };
    }
    return { text, reasoning: "", ...(req.logprobs ? { tokens } : {}), finishReason: "stop" };
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const candidates = req.candidates.map((c) => ({ tokens: words(c).map((token) => ({ token, logprob: hashLogprob(token, this.seed) })) }));
    return { candidates, evaluatedTokens: candidates.reduce((s, c) => s + c.tokens.length, 0) };
  }

  async probe(): Promise<Capabilities> {
    return { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["scripted"] };
  }

  async close(): Promise<void> {}
}

const handle = (name: string, seed: number): ModelHandle => handleFor({ name, backend: "local", model: "scripted" }, new ScriptedModel(name, seed));

export async function engineSession(n: number, every = 10): Promise<SessionFile> {
  const problem = builtinProblems()[0]!;
  const targets = ["t1", "t2", "t3"].map((t, i) => handle(t, 10 + i));
  const builder = new ChainBuilder({
    problem,
    generators: [handle("alpha", 1), handle("beta", 2)],
    evaluators: [handle("judge", 3)],
    k: 2,
    auto: true,
    budget: { maxSentences: n, maxTokens: 1_000_000 },
  });
  const answers: TargetAnswer[] = [];
  const consistency: ConsistencySnapshot[] = [];
  const ask = async (length: number) => {
    const cot = chainText({ sentences: builder.getChain().sentences.slice(0, length), finished: false });
    const round = await Promise.all(targets.map((t) => askTarget(t, problem, cot, { maxTokens: 16 })));
    const got = round.map((r) => ({ target: r.target, chainLength: length, raw: r.raw, grade: r.grade }));
    answers.push(...got);
    consistency.push(
      snapshotOf(
        length,
        got,
        targets.map((t) => t.name),
      ),
    );
  };
  await ask(0);
  while (builder.getChain().sentences.length < n) {
    const before = builder.getChain().sentences.length;
    const outcome = await builder.runSteps(Math.min((Math.floor(before / every) + 1) * every, n) - before);
    const after = builder.getChain().sentences.length;
    if (after === before) throw new Error(`the chain stopped at ${after} sentences (${outcome})`);
    if (after % every === 0 || after === n) await ask(after);
  }
  const now = new Date(0).toISOString();
  return {
    schema: 1,
    id: `engine-${n}`,
    createdAt: now,
    updatedAt: now,
    problem,
    roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: targets.map((t) => t.name) },
    chain: builder.getChain(),
    targets: { answers, consistency },
  };
}
