// What the engine needs to know about a model: its backend, and the thinking format its chat
// template uses (so a chain can be placed inside its thinking block). Also how the headless
// commands turn configuration into handles.
import type { Backend, SamplingOptions } from "../backends/types.js";
import { backendFor, type BackendOptions, type DownloadListener } from "./backend-factory.js";
import { Recorder } from "../backends/recorder.js";
import { downloadReporter } from "../cli/progress.js";
import { guessThinkingFormat, type ThinkingFormat } from "../core/thinking.js";
import type { ModelProfile, ProbeRecord, Roles } from "../config/profile.js";
import type { SettingsStore } from "../config/settings.js";
import { loadModelsConfig } from "../config/models.js";
import { requireCapability, type Role } from "../config/roles.js";
import { oneLine, UserError } from "../errors.js";
import { resolveDefaultModelSpecs } from "../backends/models.js";
import type { ExperimentSpec } from "./experiment.js";

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
}

export function handleFor(profile: ModelProfile, backend: Backend): ModelHandle {
  return {
    name: profile.name,
    backend,
    thinkingFormat: profile.thinkingFormat ?? guessThinkingFormat(profile.model),
    sampling: profile.sampling,
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

export interface OpenModelsOptions {
  /** --models file; else CONCORD_MODELS, saved settings, or CONCORD_MODEL. */
  modelsFile?: string;
  env?: NodeJS.ProcessEnv;
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

/** OpenedModels.source when nothing is configured and the default model set is used. */
export const DEFAULT_MODELS_SOURCE = "the default models";

/** The CONCORD_MODEL profile: one file (path, hf: URI or URL) in every role, named "local". */
export function singleModelProfile(spec: string): { profile: ModelProfile; roles: Roles } {
  const profile: ModelProfile = { name: "local", backend: "local", model: spec.replace(/[#?].*$/, "").replace(/^.*[\\/]/, "") || "local", path: spec };
  const roles: Roles = { generators: ["local"], evaluators: ["local"], targets: ["local"], sanitizer: undefined, initiator: "local", continuers: ["local"] };
  return { profile, roles };
}

/**
 * The models in effect for a headless command: a models file (--models, CONCORD_MODELS) or
 * saved settings; or, when neither names a file and CONCORD_MODEL=<file.gguf> is set, that one
 * local file in every role (profile name "local"), and under any model name asked for.
 */
export function openModels(opts: OpenModelsOptions = {}): OpenedModels {
  const env = opts.env ?? process.env;
  let profiles: ModelProfile[];
  let roles: Roles;
  let source: string;
  let single: ModelProfile | undefined;
  const one = env.CONCORD_MODEL?.trim();
  if (!opts.modelsFile && !env.CONCORD_MODELS && one) {
    const s = singleModelProfile(one);
    profiles = [s.profile];
    single = s.profile;
    roles = s.roles;
    source = `CONCORD_MODEL=${one}`;
  } else {
    const cfg = loadModelsConfig({ modelsFile: opts.modelsFile, env });
    profiles = cfg.profiles;
    roles = cfg.roles;
    source = cfg.modelsFile ?? "saved settings";
    if (!cfg.modelsFile && profiles.length === 0) {
      // Nothing configured anywhere: the default model set, downloaded on first use (as the
      // interface does), so every command works on a fresh machine.
      const d = resolveDefaultModelSpecs(env);
      profiles = d.models.map((m) => ({ name: m.name, backend: "local" as const, model: m.spec.replace(/^.*[\\/]/, ""), path: m.spec }));
      roles = {
        generators: d.roles.generators,
        evaluators: d.roles.evaluators,
        targets: d.roles.targets,
        continuers: d.roles.continuers,
        ...(d.roles.sanitizer[0] ? { sanitizer: d.roles.sanitizer[0] } : {}),
        ...(d.roles.initiator[0] ? { initiator: d.roles.initiator[0] } : {}),
      };
      source = DEFAULT_MODELS_SOURCE;
    }
  }
  const recorder = opts.record ? new Recorder(opts.record, { source: `concord (${source})` }) : undefined;
  const backendOptions: BackendOptions = {
    env,
    cache: opts.cache,
    recorder,
    download: opts.download === false ? undefined : (opts.download ?? downloadReporter()),
  };
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
        for (const r of role === undefined ? [] : Array.isArray(role) ? role : [role]) requireCapability(profile, profile.capabilities, r);
      } catch (err) {
        return Promise.reject(err);
      }
      let h = made.get(name);
      if (!h) {
        h = backendFor(profile, backendOptions).then((b) => handleFor(profile, b));
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
  }
  if (spec.sanitizer) add(spec.sanitizer, "sanitizer");
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
