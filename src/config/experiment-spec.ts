// The experiment spec (a YAML or JSON file): what `concord run` runs. Validated here, once;
// the engine receives a parsed spec with absolute paths.
import { promises as fs } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { parseStructuredText } from "../structured-text.js";

/** How a run reads the science: the authors' pipeline request for request, or Concord's own. */
export const RUN_MODES = ["paper", "concord"] as const;
export type RunMode = (typeof RUN_MODES)[number];

/** New tokens for a model's own chain of thought (the authors: about 4,096, then the end tag forced). */
export const SPEC_COT_TOKENS = 4096;

const variants = z
  .array(z.enum(["full", "without-answer"]))
  .min(1)
  .default(["full"]);

/** The relay's cut stages (SCIENCE.md §2); a cut is "after sentence i" (core/cutpoints.ts). */
export const RELAY_STAGES = ["early", "mid", "late"] as const;

/**
 * A relay over the problem set: every initiator's chain cut at each stage and finished by every
 * continuer (`samples` times per cut), beside two baselines per problem: the initiator alone and
 * each continuer alone from the problem. Every chain is answered and graded; steps are scored by
 * the judge or PRM when one is named. Results go to relay.jsonl, not results.jsonl.
 */
const relayConditionSchema = z
  .object({
    kind: z.literal("relay"),
    initiators: z.array(z.string().min(1)).min(1),
    continuers: z.array(z.string().min(1)).min(1),
    stages: z.array(z.enum(RELAY_STAGES)).min(1).default(["early", "mid", "late"]),
    rule: z.enum(["threshold", "quantile", "cumulative"]).default("threshold"),
    /** Continuations per cut: 1 is greedy; more are sampled at `temperature`, each with its own seed. */
    samples: z.number().int().min(1).max(64).default(1),
    temperature: z.number().min(0).default(0.7),
    seed: z.number().int().default(1),
    /** Token budget of every chain and continuation (default: the spec's cot.maxTokens). */
    maxTokens: z.number().int().min(1).optional(),
    /** Answer budget (default: the relay's short budget, targets.ts). */
    answerTokens: z.number().int().min(1).optional(),
    /** An LLM judge (a model name) scores every step... */
    judge: z.string().min(1).optional(),
    /** ...or a process reward model served by vLLM's pooling API. */
    prm: z
      .object({ baseURL: z.string().url(), model: z.string().min(1), apiKeyEnv: z.string().min(1).optional(), stepToken: z.string().optional() })
      .strict()
      .optional(),
    /** Find the sentence where a continuer departs from the initiator's answer (extra answer calls). */
    departure: z.boolean().default(true),
  })
  .strict();

// A condition is an object, or just its kind as a string ("empty", "default-greedy").
const conditionSpecSchema = z.preprocess(
  (v) => (typeof v === "string" ? { kind: v } : v),
  z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("empty"), variants: z.array(z.literal("full")).min(1).default(["full"]) }).strict(),
    z.object({ kind: z.literal("default-greedy"), variants }).strict(),
    z.object({ kind: z.literal("default-sampled"), variants }).strict(),
    z
      .object({
        kind: z.literal("transfer"),
        /** The model whose chains are transferred, or (with `cots`) a label for curated chains. */
        source: z.string().min(1),
        /** Chains written beforehand (e.g. curated in the interface and exported): a JSONL file of
         * {problemId, cot} lines, or a folder of <problemId>.txt files. No model writes them. */
        cots: z.string().min(1).optional(),
        variants,
      })
      .strict(),
    z
      .object({
        kind: z.literal("ensemble"),
        generators: z.array(z.string().min(1)).min(1),
        evaluators: z.array(z.string().min(1)).min(1),
        k: z.number().int().min(1).max(16).default(3),
        /** The ensemble algorithm; by default the run's mode. */
        mode: z.enum(RUN_MODES).optional(),
        /** Sentence cap; by default 60 in Concord mode and none in paper mode (a 1,000-step safety stop). */
        maxSentences: z.number().int().min(1).optional(),
        maxTokens: z.number().int().min(1).optional(),
        /** Tokens per candidate (paper: 15). */
        candidateTokens: z.number().int().min(1).optional(),
        temperature: z.number().min(0).optional(),
        seed: z.number().int().optional(),
        variants,
      })
      .strict(),
    relayConditionSchema,
  ]),
);

export const experimentSpecSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** paper (default): budgets, sampling and grading as the authors ran them; concord: Concord's own. */
    mode: z.enum(RUN_MODES).default("paper"),
    /** A models file (profiles + roles); relative paths are read from the spec's folder. */
    models: z.string().min(1).optional(),
    problems: z
      .object({
        /** "builtin" or a dataset file/folder. */
        set: z.string().min(1),
        sample: z.number().int().min(1).optional(),
        seed: z.number().int().default(42),
        /** "pandas" draws exactly what pandas' df.sample(n, random_state=seed) draws (the paper's items). */
        sampler: z.enum(["concord", "pandas"]).default("concord"),
        ids: z.array(z.string()).optional(),
      })
      .strict(),
    conditions: z.array(conditionSpecSchema).min(1),
    /** Who answers the chains; a spec of relay conditions alone needs none. */
    targets: z.array(z.string().min(1)).default([]),
    /** The model that makes without-answer chains, or "rules" for the rule-based remover. */
    sanitizer: z.string().min(1).optional(),
    cot: z
      .object({
        maxTokens: z.number().int().min(1).default(SPEC_COT_TOKENS),
        /** Temperature of default-sampled chains (the paper sampled at 1.0). */
        sampledTemperature: z.number().min(0).default(1),
        /** Temperature of a transfer source's chain (the paper: greedy). */
        transferTemperature: z.number().min(0).default(0),
        /** Temperature of a target's answer in default-sampled (the paper sampled it too: 1.0; Concord: greedy). */
        sampledAnswerTemperature: z.number().min(0).optional(),
        /** Seed of every sampled chain and sampled answer: reproducible, so the response cache keeps them. */
        seed: z.number().int().optional(),
      })
      .strict()
      .default({ maxTokens: SPEC_COT_TOKENS, sampledTemperature: 1, transferTemperature: 0 }),
    /** A fixed answer budget; by default the authors' min(32768, prompt + 100 + prompt and CoT + 4096). */
    answerTokens: z.number().int().min(1).optional(),
    /** Caps on requests in flight; each model's limit adapts below them unless `adaptive: false`. */
    concurrency: z
      .object({ global: z.number().int().min(1).optional(), perModel: z.number().int().min(1).optional(), adaptive: z.boolean().default(true) })
      .strict()
      .default({ adaptive: true }),
    out: z.string().min(1),
  })
  .strict()
  .refine((s) => s.targets.length > 0 || s.conditions.every((c) => c.kind === "relay"), {
    path: ["targets"],
    message: "name at least one target (only relay conditions need none)",
  });

export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;
/** A condition whose targets answer (one result record per target answer). */
export type ConditionSpec = Exclude<ExperimentSpec["conditions"][number], { kind: "relay" }>;
/** A relay condition (relay records, conditions/relay.ts). */
export type RelayConditionSpec = Extract<ExperimentSpec["conditions"][number], { kind: "relay" }>;

export function isRelayCondition(c: ExperimentSpec["conditions"][number]): c is RelayConditionSpec {
  return c.kind === "relay";
}

/** Read and validate a spec file (YAML or JSON). Paths inside it become absolute. */
export async function loadExperimentSpec(file: string): Promise<ExperimentSpec> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const data = parseStructuredText(text, file);
  const spec = parseExperimentSpec(data, file);
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  return {
    ...spec,
    name: spec.name ?? file.replace(/^.*[\\/]/, "").replace(/\.(ya?ml|json)$/i, ""),
    models: spec.models ? abs(spec.models) : undefined,
    problems: { ...spec.problems, set: spec.problems.set === "builtin" ? "builtin" : abs(spec.problems.set) },
    conditions: spec.conditions.map((c) => (c.kind === "transfer" && c.cots ? { ...c, cots: abs(c.cots) } : c)),
    out: abs(spec.out),
  };
}

export function parseExperimentSpec(data: unknown, where: string): ExperimentSpec {
  const r = experimentSpecSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path =
      issue?.path
        .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
        .join("")
        .replace(/^\./, "") || "(top level)";
    throw new UserError(`${where}: ${path}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

/** Every model name a spec refers to (targets, sources, generators, evaluators, sanitizer). */
export function specModels(spec: ExperimentSpec): string[] {
  const names = new Set<string>(spec.targets);
  for (const c of spec.conditions) {
    if (c.kind === "transfer" && !c.cots) names.add(c.source);
    if (c.kind === "ensemble") [...c.generators, ...c.evaluators].forEach((n) => names.add(n));
    if (c.kind === "relay") [...c.initiators, ...c.continuers, ...(c.judge ? [c.judge] : [])].forEach((n) => names.add(n));
  }
  if (spec.sanitizer && spec.sanitizer !== "rules") names.add(spec.sanitizer);
  return [...names];
}
