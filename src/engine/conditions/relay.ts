// The relay condition at dataset scale (SCIENCE.md §2): per problem, each initiator's chain
// (greedy, with log-probabilities to place the cuts) answered alone; each continuer's own chain
// answered alone; and for every initiator x continuer x stage x sample, the initiator's chain
// cut at that stage and finished by the continuer, answered, graded against the reference and
// compared with the initiator's answer, with the sentence where it departs. Steps are scored
// by the judge or PRM when the spec names one; min/mean/last are kept beside the step scores.
// Every chain is saved (cots.ndjson) before it is answered and every record is keyed, so a
// killed run resumes where it stopped; sampled continuations carry a seed, so the response
// cache can serve a rerun.
import { cutPoints, type CutRule } from "../../core/cutpoints.js";
import { aggregateScores, departurePosition } from "../../core/relay-stats.js";
import { splitSentences } from "../../core/sentences.js";
import type { Grade, Problem } from "../../core/types.js";
import type { ExperimentSpec, RelayConditionSpec } from "../../config/experiment-spec.js";
import type { CotMeta, CotStore } from "../../results/cot-store.js";
import { relayRecordKey, type RelayRecord } from "../../results/relay-store.js";
import { oneLine } from "../../errors.js";
import { isAbort } from "../abort.js";
import { generateCot } from "../cot.js";
import type { EngineEvent } from "../events.js";
import type { ModelHandle } from "../models.js";
import { compareAnswers, JudgeScorer, joinSentences, locateDeparture, PrmScorer, type StepScorer } from "../relay.js";
import { askTarget, DEFAULT_ANSWER_TOKENS } from "../targets.js";

const SEP = "\u241f";
type Stage = RelayConditionSpec["stages"][number];
const RULES: CutRule[] = ["threshold", "quantile", "cumulative"];

export interface RelayContext {
  spec: ExperimentSpec;
  cond: RelayConditionSpec;
  cots: CotStore;
  model(name: string): ModelHandle;
  /** Records already written (by key): their answers and scores are reused, not asked again. */
  existing: ReadonlyMap<string, RelayRecord>;
  signal?: AbortSignal;
  emit?: (e: EngineEvent) => void;
}

export interface RelayJob {
  key: string;
  label: string;
  /** Model calls for its chain and answer when nothing is saved (judge and departure calls come on top). */
  plannedCalls: number;
  /** The record, or a thrown error (then nothing is written and the next run tries again). */
  run(): Promise<RelayRecord>;
}

const sentencesOf = (cot: string) =>
  splitSentences(cot, "concord")
    .filter((s) => s.text.trim() !== "")
    .map((s) => s.text);

interface Answered {
  raw: string;
  grade: Grade;
  truncated?: boolean;
}

/** All jobs of one relay condition over the problems (a job per record, whether written or not). */
export function relayJobs(problems: readonly Problem[], ctx: RelayContext): RelayJob[] {
  const { cond, spec, signal } = ctx;
  const maxTokens = cond.maxTokens ?? spec.cot.maxTokens;
  const answerTokens = cond.answerTokens ?? DEFAULT_ANSWER_TOKENS;
  const scorer: StepScorer | undefined = cond.prm
    ? new PrmScorer({ name: cond.prm.model, ...cond.prm })
    : cond.judge
      ? new JudgeScorer(ctx.model(cond.judge))
      : undefined;
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, make: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = make();
      // A failed step is tried again by the next job that needs it.
      p.catch(() => memo.delete(key));
      memo.set(key, p);
    }
    return p;
  };
  const problemPart = (p: Problem) => `${p.source}${SEP}${p.id}`;
  const base = { schema: 1 as const, experiment: spec.name, meta: {} };

  const score = async (problem: Problem, steps: string[], from = 0): Promise<(number | null)[] | undefined> => {
    if (!scorer) return undefined;
    try {
      return await scorer.scoreSteps(
        problem,
        steps.map((s) => s.trim()),
        signal,
        from,
      );
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      ctx.emit?.({ type: "error", source: scorer.name, message: oneLine(err) });
      return steps.map(() => null);
    }
  };
  const answer = async (m: ModelHandle, problem: Problem, sentences: string[]): Promise<Answered> => {
    const r = await askTarget(m, problem, joinSentences(sentences), { maxTokens: answerTokens, signal });
    if (r.error) throw new Error(r.error);
    return { raw: r.raw, grade: r.grade, ...(r.truncated ? { truncated: true } : {}) };
  };

  // The initiator's chain, with the cut sentence of every rule and stage in its meta.
  const initiatorChain = (init: ModelHandle, problem: Problem) =>
    ctx.cots.get(["relay-initiator", init.name, maxTokens, problemPart(problem)].join(SEP), async () => {
      const r = await generateCot(init, problem, { maxTokens, temperature: 0, logprobs: true, signal });
      const spans = splitSentences(r.cot, "concord").filter((s) => s.text.trim() !== "");
      const meta: CotMeta = { cotModel: init.name, cotClosed: r.closed };
      try {
        if (!r.tokens?.length) throw new Error(`${init.name} gave no token log-probabilities; the relay needs them to place cuts`);
        for (const rule of RULES) {
          const cps = cutPoints(r.tokens, spans, { rule });
          for (const stage of ["early", "mid", "late"] as const) meta[`cut.${rule}.${stage}`] = cps[stage].sentence;
        }
      } catch (err) {
        meta.cutError = `${init.name} on problem ${problem.id}: ${oneLine(err)}`;
      }
      return { cot: r.cot, meta };
    });
  const recordOf = (key: string) => ctx.existing.get(key);
  const initiatorKey = (init: ModelHandle, problem: Problem) =>
    relayRecordKey({ experiment: spec.name, role: "initiator", dataset: problem.source, problemId: problem.id, initiator: init.name });
  const initiatorAnswer = (init: ModelHandle, problem: Problem): Promise<Answered> =>
    once(`answer${SEP}${init.name}${SEP}${problemPart(problem)}`, async () => {
      const have = recordOf(initiatorKey(init, problem));
      if (have) return { raw: have.answerRaw, grade: { answer: have.answer, correct: have.correct } };
      const chain = await initiatorChain(init, problem);
      return answer(init, problem, sentencesOf(chain.cot));
    });
  const initiatorScores = (init: ModelHandle, problem: Problem) =>
    once(`scores${SEP}${init.name}${SEP}${problemPart(problem)}`, async () => {
      const have = recordOf(initiatorKey(init, problem));
      if (have) return have.stepScores;
      return score(problem, sentencesOf((await initiatorChain(init, problem)).cot));
    });

  // What every record of a chain holds: its problem, its sentences, the graded answer, step scores.
  const chainFields = (problem: Problem, sentences: string[], a: Answered, stepScores: (number | null)[] | undefined, meta: CotMeta) => ({
    ...base,
    problemId: problem.id,
    dataset: problem.source,
    reference: problem.reference,
    sentences,
    answerRaw: a.raw,
    answer: a.grade.answer,
    correct: a.grade.correct,
    ...(a.truncated ? { truncated: true } : {}),
    ...scoreFields(stepScores, scorer),
    meta,
  });

  const jobs: RelayJob[] = [];
  for (const problem of problems) {
    for (const initName of cond.initiators) {
      const init = ctx.model(initName);
      jobs.push({
        key: initiatorKey(init, problem),
        label: `${problem.id} relay: ${init.name} alone`,
        plannedCalls: 2,
        run: async () => {
          const chain = await initiatorChain(init, problem);
          const sentences = sentencesOf(chain.cot);
          const [a, stepScores] = await Promise.all([initiatorAnswer(init, problem), initiatorScores(init, problem)]);
          return {
            ...chainFields(problem, sentences, a, stepScores, chain.meta),
            role: "initiator",
            initiator: init.name,
            ...(init.family ? { initiatorFamily: init.family } : {}),
          };
        },
      });
    }
    for (const contName of cond.continuers) {
      const cont = ctx.model(contName);
      jobs.push({
        key: relayRecordKey({ experiment: spec.name, role: "continuer-alone", dataset: problem.source, problemId: problem.id, continuer: cont.name }),
        label: `${problem.id} relay: ${cont.name} alone`,
        plannedCalls: 2,
        run: async () => {
          const chain = await ctx.cots.get(["relay-alone", cont.name, maxTokens, problemPart(problem)].join(SEP), async () => {
            const r = await generateCot(cont, problem, { maxTokens, temperature: 0, signal });
            return { cot: r.cot, meta: { cotModel: cont.name, cotClosed: r.closed } };
          });
          const sentences = sentencesOf(chain.cot);
          const [a, stepScores] = await Promise.all([answer(cont, problem, sentences), score(problem, sentences)]);
          return {
            ...chainFields(problem, sentences, a, stepScores, chain.meta),
            role: "continuer-alone",
            continuer: cont.name,
            ...(cont.family ? { continuerFamily: cont.family } : {}),
          };
        },
      });
    }
    for (const initName of cond.initiators) {
      const init = ctx.model(initName);
      for (const contName of cond.continuers) {
        const cont = ctx.model(contName);
        for (const stage of cond.stages) {
          for (let sample = 0; sample < cond.samples; sample++) {
            jobs.push({
              key: relayRecordKey({
                experiment: spec.name,
                role: "hybrid",
                dataset: problem.source,
                problemId: problem.id,
                initiator: init.name,
                continuer: cont.name,
                stage,
                rule: cond.rule,
                sample,
              }),
              label: `${problem.id} relay: ${init.name} -> ${cont.name} from ${stage}${cond.samples > 1 ? ` #${sample + 1}` : ""}`,
              plannedCalls: 2,
              run: () => hybrid(problem, init, cont, stage, sample),
            });
          }
        }
      }
    }
  }

  async function hybrid(problem: Problem, init: ModelHandle, cont: ModelHandle, stage: Stage, sample: number): Promise<RelayRecord> {
    const chain = await initiatorChain(init, problem);
    const cut = chain.meta[`cut.${cond.rule}.${stage}`];
    if (typeof cut !== "number") throw new Error(String(chain.meta.cutError ?? `no ${stage} cut in ${init.name}'s chain for problem ${problem.id}`));
    const sentences = sentencesOf(chain.cot);
    const sampled = cond.samples > 1;
    const temperature = sampled ? cond.temperature : 0;
    const seed = sampled ? cond.seed + sample : undefined;
    // Keyed by the cut sentence, not the stage: stages that fall on one sentence share a continuation.
    const more = await ctx.cots.get(
      ["relay-continuation", init.name, cont.name, maxTokens, `cut=${cut}`, `t=${temperature}`, `seed=${seed ?? "-"}`, problemPart(problem)].join(SEP),
      async () => {
        // No trailing whitespace: the continuer's first token brings its own separator.
        const prefix = joinSentences(sentences.slice(0, cut + 1)).trimEnd();
        const r = await generateCot(cont, problem, { prefix, maxTokens, temperature, seed, signal });
        return {
          cot: r.cot,
          meta: { cotModel: cont.name, cotClosed: r.closed, cotTemperature: temperature, ...(seed !== undefined ? { cotSeed: seed } : {}) },
        };
      },
    );
    const handover = cut + 1;
    const hybridSentences = [...sentences.slice(0, handover), ...sentencesOf(more.cot)];
    const [a, initAnswer] = await Promise.all([answer(cont, problem, hybridSentences), initiatorAnswer(init, problem)]);
    const comparison = compareAnswers(a, initAnswer);
    const [prefixScores, ownScores, dep] = await Promise.all([
      initiatorScores(init, problem),
      score(problem, hybridSentences, handover),
      comparison === "agrees" || !cond.departure || initAnswer.grade.answer === "" || hybridSentences.length <= handover
        ? Promise.resolve(null)
        : locateDeparture(cont, problem, hybridSentences, handover, initAnswer, answerTokens, signal),
    ]);
    const stepScores = ownScores?.map((s, i) => (i < handover ? (prefixScores?.[i] ?? s) : s));
    return {
      ...chainFields(problem, hybridSentences, a, stepScores, more.meta),
      role: "hybrid",
      initiator: init.name,
      ...(init.family ? { initiatorFamily: init.family } : {}),
      continuer: cont.name,
      ...(cont.family ? { continuerFamily: cont.family } : {}),
      stage,
      rule: cond.rule,
      sample,
      cutSentence: cut,
      handover,
      comparison,
      departure: dep ? { sentence: dep.sentence, position: departurePosition(dep.sentence, handover, hybridSentences.length), answer: dep.answer } : null,
    };
  }

  return jobs;
}

function scoreFields(stepScores: (number | null)[] | undefined, scorer: StepScorer | undefined): Partial<RelayRecord> {
  if (!scorer || !stepScores) return {};
  return { stepScores, scoreAggregate: aggregateScores(stepScores), scorer: scorer.name };
}
