// What the engine needs to know about a model: its backend, and the thinking format its chat
// template uses (so a chain can be placed inside its thinking block). Also how the headless
// commands turn configuration into handles.
import type { Backend, SamplingOptions } from "../backends/types.js";
import { backendFor, type BackendOptions, type DownloadListener } from "./backend-factory.js";
import { Recorder } from "../backends/recorder.js";
import { profileCanPrefill } from "../backends/openai/flavors.js";
import { downloadReporter } from "../cli/progress.js";
import { guessThinkingFormat, type ThinkingFormat } from "../core/thinking.js";
import type { ModelProfile, ProbeRecord, Roles } from "../config/profile.js";
import type { SettingsStore } from "../config/settings.js";
import { loadModelsConfig } from "../config/models.js";
import { requireCapability, type Role } from "../config/roles.js";
import { oneLine, UserError } from "../errors.js";
import { resolveDefaultModelSpecs, type DefaultModelSpecs } from "../backends/models.js";
import type { ExperimentSpec } from "../config/experiment-spec.js";
import type { Recording } from "../backends/replay.js";
import { traceHandle, type TraceReplay } from "./trace-replay.js";
import { flavorOfHost } from "../backends/openai/flavors.js";
import { replicaURLs } from "../backends/openai/replicas.js";

export { backendFor, cacheDir, modelIdentity, type BackendOptions, type DownloadListener } from "./backend-factory.js";
export type { Role };

export type { ThinkingFormat };

export interface ModelHandle {
  /** Profile name (unique within a run). */
  name: string;
  backend: Backend;
  thinkingFormat: ThinkingFormat;
  /** The profile's sampling defaults (temperature, topK...), used when a role sets none. */
  sampling?: Partial<SamplingOptions>;
  /** The profile's model family, for same- versus cross-family relay pairs. */
  family?: string;
  /** How this handle answers as a target when not greedy (the one-file demo's sampled targets). */
  targetSampling?: { temperature: number; seed: number };
  /** False when the server cannot continue a partial assistant message (OpenAI's API); absent means it can. */
  canPrefill?: boolean;
  /** The names the paper reading matches the authors' model branches against (profile name and model). */
  paperName?: string;
  /** Requests its server takes at once, as far as is known before asking (limits start here). */
  concurrency?: number;
}

/**
 * Where a model's concurrency limit starts: an embedded engine serves its sequences; vLLM and
 * SGLang batch dozens of requests with little loss each; llama-server has a few slots; hosted
 * APIs rate-limit. Replicas multiply it. The limit then adapts (engine/limits.ts).
 */
export function startConcurrency(profile: ModelProfile): number {
  if (profile.backend === "local") return profile.sequences ?? 4;
  if (profile.backend === "replay") return 64;
  const replicas = replicaURLs(profile).length;
  const flavor = profile.flavor ?? profile.capabilities?.flavor ?? flavorOfHost(profile.baseURL ?? "https://api.openai.com/v1");
  const perServer =
    flavor === "vllm" || flavor === "sglang"
      ? 32
      : flavor === "llama-server"
        ? 4
        : flavor === "ollama" || flavor === "lmstudio"
          ? 2
          : flavor === "openai" || flavor === "openrouter" || flavor === "together" || flavor === "deepseek"
            ? 8
            : 4;
  return perServer * replicas;
}

export function handleFor(profile: ModelProfile, backend: Backend): ModelHandle {
  return {
    name: profile.name,
    backend,
    thinkingFormat: profile.thinkingFormat ?? guessThinkingFormat(profile.model),
    sampling: profile.sampling,
    canPrefill: profileCanPrefill(profile),
    ...(profile.family ? { family: profile.family } : {}),
    concurrency: startConcurrency(profile),
    paperName: `${profile.name} ${profile.model}`,
  };
}

export interface OpenedModels {
  profiles: ModelProfile[];
  roles: Roles;
  /** Where they came from, for messages. */
  source: string;
  /**
   * Handles are made on first use and shared. With a role (or roles), a model whose probe
   * record says it lacks what the role needs is refused with one line naming an alternative.
   */
  get(name: string, role?: Role | Role[]): Promise<ModelHandle>;
  close(): Promise<void>;
}

/**
 * Where the models of a run come from. Every entry (the interface, each headless command)
 * resolves its flags and environment into one of these, once, and opens it with `openModels`.
 */
export type ModelSource =
  /** A models file (--models, CONCORD_MODELS) or saved settings; the default set when they name none. */
  | { kind: "configured"; modelsFile?: string }
  /** One file (path, hf: URI or URL) in every role: CONCORD_MODEL or --model. With `sampledTargets`,
   * that many more targets on the same file answer sampled (each its own seed), so a panel of
   * targets and its consistency can be seen with one file. */
  | { kind: "single"; spec: string; sampledTargets?: number }
  /** The default model set, downloaded on first use; or other specs in its place (the demo model
   * when the defaults cannot be had). */
  | { kind: "defaults"; specs?: DefaultModelSpecs }
  /** Every role served by one recording made by Concord's recorder. */
  | { kind: "recording"; file: string }
  /** An imported trace: its recorded generators and evaluator, each on its own replay backend. */
  | { kind: "trace"; recording: Recording; trace: TraceReplay };

export interface OpenModelsOptions {
  /** Where the models come from; else resolved from `modelsFile`, `model` and `env` (see `modelSourceOf`). */
  source?: ModelSource;
  /** --models file. */
  modelsFile?: string;
  /** --model <file.gguf>: one file in every role. */
  model?: string;
  /** The environment as read at the entry (API keys, cache and config folders). */
  env?: NodeJS.ProcessEnv;
  /** The interface needs a generator and an evaluator: configured models without them give way to the default set. */
  needRace?: boolean;
  /** false (--no-cache): deterministic requests are not served from or kept in the response cache. */
  cache?: boolean;
  /** --record <file.jsonl>: every exchange of every model is appended to this recording. */
  record?: string;
  /**
   * Download progress of hf: / URL models. Default: a bar on stderr (plain lines when it is not a
   * terminal); false: silent. The interface passes its own listener (stderr is its screen).
   */
  download?: DownloadListener | false;
}

/** The one reading of the flags and environment into a model source: a models file wins, then
 * one file (--model, else CONCORD_MODEL), then saved settings (or the default set). */
export function modelSourceOf(o: { modelsFile?: string; model?: string; env?: NodeJS.ProcessEnv }): ModelSource {
  const env = o.env ?? process.env;
  if (o.modelsFile || env.CONCORD_MODELS) return { kind: "configured", modelsFile: o.modelsFile };
  const one = (o.model ?? env.CONCORD_MODEL)?.trim();
  return one ? { kind: "single", spec: one } : { kind: "configured" };
}

/** OpenedModels.source when nothing is configured and the default model set is used. */
export const DEFAULT_MODELS_SOURCE = "the default models";

/** The CONCORD_MODEL profile: one file (path, hf: URI or URL) in every role, named "local". */
export function singleModelProfile(spec: string): { profile: ModelProfile; roles: Roles } {
  const profile: ModelProfile = { name: "local", backend: "local", model: spec.replace(/[#?].*$/, "").replace(/^.*[\\/]/, "") || "local", path: spec };
  const roles: Roles = { generators: ["local"], evaluators: ["local"], targets: ["local"], sanitizer: undefined, initiator: "local", continuers: ["local"] };
  return { profile, roles };
}

/** The one-file demo's sampled targets: warm enough to disagree now and then. */
const DEMO_TEMPERATURE = 0.8;

interface Resolved {
  profiles: ModelProfile[];
  roles: Roles;
  source: string;
  /** Any model name runs on this one profile (an experiment's five "targets" on one file). */
  single?: ModelProfile;
  /** Makes a handle other than by the profile's backend (a trace's recorded models). */
  make?: (profile: ModelProfile, base: (profile: ModelProfile) => Promise<ModelHandle>) => Promise<ModelHandle>;
}

function defaultSet(env: NodeJS.ProcessEnv, specs?: DefaultModelSpecs): Resolved {
  // The default set only: CONCORD_MODEL is read once, into a "single" source.
  const d = specs ?? resolveDefaultModelSpecs({ ...env, CONCORD_MODEL: undefined });
  return {
    profiles: d.models.map((m) => ({ name: m.name, backend: "local" as const, model: m.spec.replace(/^.*[\\/]/, ""), path: m.spec })),
    roles: {
      generators: d.roles.generators,
      evaluators: d.roles.evaluators,
      targets: d.roles.targets,
      continuers: d.roles.continuers,
      ...(d.roles.sanitizer[0] ? { sanitizer: d.roles.sanitizer[0] } : {}),
      ...(d.roles.initiator[0] ? { initiator: d.roles.initiator[0] } : {}),
    },
    source: specs?.source === "demo" ? "the demo model" : DEFAULT_MODELS_SOURCE,
  };
}

function resolve(source: ModelSource, env: NodeJS.ProcessEnv, needRace: boolean): Resolved {
  switch (source.kind) {
    case "single": {
      const s = singleModelProfile(source.spec);
      const out: Resolved = { profiles: [s.profile], roles: s.roles, single: s.profile, source: `CONCORD_MODEL=${source.spec}` };
      if (!source.sampledTargets) return out;
      // Named for what they are: the same file, sampled at this temperature with this seed.
      const sampled = Array.from({ length: source.sampledTargets }, (_, i) => ({ name: `local·seed${i + 1}`, seed: i + 1 }));
      out.profiles = [s.profile, ...sampled.map((x) => ({ ...s.profile, name: x.name }))];
      out.roles = { ...s.roles, targets: ["local", ...sampled.map((x) => x.name)] };
      out.make = async (p, base) => {
        const h = await base(p);
        const x = sampled.find((y) => y.name === p.name);
        return x ? { ...h, targetSampling: { temperature: DEMO_TEMPERATURE, seed: x.seed } } : h;
      };
      return out;
    }
    case "defaults":
      return defaultSet(env, source.specs);
    case "recording": {
      const p: ModelProfile = { name: "replay", backend: "replay", model: "replay", recording: source.file };
      return { profiles: [p], roles: { generators: ["replay"], evaluators: ["replay"], targets: ["replay"], continuers: ["replay"] }, source: source.file };
    }
    case "trace": {
      const { recording: rec, trace: tr } = source;
      const names = [...tr.generators, tr.evaluator];
      return {
        profiles: names.map((name) => ({ name, backend: "replay" as const, model: name, recording: rec.file })),
        // A trace recorded no target answers: the race runs without a targets panel.
        roles: { generators: tr.generators, evaluators: [tr.evaluator], targets: [], continuers: [] },
        source: rec.file,
        make: async (p) => traceHandle(rec, tr, p.name),
      };
    }
    case "configured": {
      const cfg = loadModelsConfig({ modelsFile: source.modelsFile, env });
      // Nothing configured anywhere: the default model set, downloaded on first use, so every
      // command works on a fresh machine.
      if (!cfg.modelsFile && cfg.profiles.length === 0) return defaultSet(env);
      if (needRace && (!cfg.roles.generators.length || !cfg.roles.evaluators.length)) return defaultSet(env);
      return { profiles: cfg.profiles, roles: cfg.roles, source: cfg.modelsFile ?? "saved settings" };
    }
  }
}

/** Open the models of a source: handles are made on first use and shared. */
export function openModels(opts: OpenModelsOptions = {}): OpenedModels {
  const env = opts.env ?? process.env;
  const r = resolve(opts.source ?? modelSourceOf({ ...opts, env }), env, opts.needRace ?? false);
  const { profiles, roles, source, single } = r;
  const recorder = opts.record ? new Recorder(opts.record, { source: `concord (${source})` }) : undefined;
  const backendOptions: BackendOptions = {
    env,
    cache: opts.cache,
    recorder,
    download: opts.download === false ? undefined : (opts.download ?? downloadReporter()),
  };
  const base = (profile: ModelProfile) => backendFor(profile, backendOptions).then((b) => handleFor(profile, b));
  const make = r.make ? (profile: ModelProfile) => r.make!(profile, base) : base;
  const made = new Map<string, Promise<ModelHandle>>();
  return {
    profiles,
    roles,
    source,
    get(name: string, role?: Role | Role[]) {
      // With CONCORD_MODEL, any model name runs on that one file (an experiment's five
      // "targets" become five handles on the same model).
      const profile = profiles.find((p) => p.name === name) ?? (single ? { ...single, name } : undefined);
      if (!profile) {
        const known = profiles.map((p) => p.name).join(", ") || "none";
        return Promise.reject(new UserError(`no model named "${name}" in ${source} (known: ${known})`));
      }
      try {
        for (const x of role === undefined ? [] : Array.isArray(role) ? role : [role]) requireCapability(profile, profile.capabilities, x);
      } catch (err) {
        return Promise.reject(err);
      }
      let h = made.get(name);
      if (!h) {
        h = make(profile);
        made.set(name, h);
      }
      return h;
    },
    async close() {
      await Promise.allSettled([...made.values()].map(async (h) => (await h).backend.close()));
      // A recording that could not be written fails the command; a model that failed to open was reported already.
      if (recorder) await recorder.flush();
    },
  };
}

/** The roles each model plays in an experiment spec, for capability checks when handles are made. */
export function experimentRoles(spec: Pick<ExperimentSpec, "targets" | "conditions" | "sanitizer">): Map<string, Role[]> {
  const out = new Map<string, Role[]>();
  const add = (name: string, role: Role) => {
    const list = out.get(name) ?? [];
    if (!list.includes(role)) list.push(role);
    out.set(name, list);
  };
  spec.targets.forEach((n) => add(n, "target"));
  for (const c of spec.conditions) {
    if (c.kind === "transfer" && !c.cots) add(c.source, "generator");
    if (c.kind === "ensemble") {
      c.generators.forEach((n) => add(n, "generator"));
      c.evaluators.forEach((n) => add(n, "evaluator"));
    }
    if (c.kind === "relay") {
      c.initiators.forEach((n) => add(n, "initiator"));
      c.continuers.forEach((n) => add(n, "continuer"));
      if (c.judge) add(c.judge, "target");
    }
  }
  if (spec.sanitizer && spec.sanitizer !== "rules") add(spec.sanitizer, "sanitizer");
  return out;
}

/** Names for a role, or a clear error naming what to configure. */
export function roleNames(roles: Roles, role: "generators" | "evaluators" | "targets" | "continuers", source: string): string[] {
  const names = roles[role];
  if (!names.length) throw new UserError(`no ${role} configured in ${source}: set roles.${role} in a models file, or CONCORD_MODEL=<file.gguf>`);
  return names;
}

export interface ProbeProfileOptions {
  /** Where a successful probe is recorded. */
  settings: Pick<SettingsStore, "saveProbe">;
  /** Servers: per request. Embedded models and replays: the whole probe takes at most 4x this. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Ask this open backend (it is not closed); otherwise one is opened for the probe and closed after. */
  backend?: Backend;
  /** Progress of an hf: / URL model download. */
  download?: DownloadListener;
  env?: NodeJS.ProcessEnv;
}

/**
 * Ask a model what it can really do and record the answer in settings. A probe that fails
 * (server unreachable, timeout, key refused, nothing usable answered) throws a one-line
 * UserError naming the model and the reason, and leaves any earlier record as it was: a
 * record of all "no" from a server that was merely down would refuse it for every role.
 */
export async function probeProfile(profile: ModelProfile, opts: ProbeProfileOptions): Promise<ProbeRecord> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // A probe asks afresh: the old record must not steer the methods it tries.
  const fresh: ModelProfile = { ...profile, capabilities: undefined };
  let backend = opts.backend;
  const own = !backend;
  try {
    if (!backend) {
      if (profile.backend === "openai") {
        const { OpenAIBackend } = await import("../backends/openai.js");
        backend = new OpenAIBackend(fresh, { env: opts.env, timeoutMs, maxRetries: 1 });
      } else {
        backend = await backendFor(fresh, { env: opts.env, cache: false, download: opts.download });
      }
    }
    // Server requests time out on their own; an embedded load or a replay has no such limit.
    const caps = (await bounded(backend.probe(opts.signal), profile.backend === "openai" ? undefined : timeoutMs * 4, opts.signal)) as ProbeRecord;
    if (!caps.streaming && !caps.promptScoring && !caps.prefill) {
      const why = caps.notes.find((n) => !n.startsWith("flavor:")) ?? "it answered nothing usable";
      throw new UserError(`${why}`);
    }
    return opts.settings.saveProbe(profile, caps);
  } catch (err) {
    const msg = oneLine(err).replace(/^model "[^"]*"( \([^)]*\))?: /, "");
    throw new UserError(`model "${profile.name}": probe failed, nothing recorded: ${msg}`);
  } finally {
    if (own) await backend?.close().catch(() => undefined);
  }
}

async function bounded<T>(p: Promise<T>, ms: number | undefined, signal?: AbortSignal): Promise<T> {
  if (!ms && !signal) return p;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<never>((_, reject) => {
    if (ms) timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms);
    onAbort = () => reject(new Error("probe cancelled"));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
