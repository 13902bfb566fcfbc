// What the engine needs to know about a model: its backend, and the thinking format its chat
// template uses (so a chain can be placed inside its thinking block). Also how the headless
// commands turn configuration into handles.
import type { Backend, SamplingOptions } from "../backends/types.js";
import { guessThinkingFormat, type ThinkingFormat } from "../core/thinking.js";
import type { ModelProfile, Roles } from "../config/profile.js";
import { loadModelsConfig } from "../config/models.js";
import { UserError } from "../errors.js";

export type { ThinkingFormat };

export interface ModelHandle {
  /** Profile name (unique within a run). */
  name: string;
  backend: Backend;
  thinkingFormat: ThinkingFormat;
  /** The profile's sampling defaults (temperature, topK...), used when a role sets none. */
  sampling?: Partial<SamplingOptions>;
}

/** A backend for one profile. */
export async function backendFor(profile: ModelProfile): Promise<Backend> {
  switch (profile.backend) {
    case "local": {
      const [{ LocalBackend }, { resolveModelSpec }] = await Promise.all([import("../backends/local.js"), import("../backends/models.js")]);
      return new LocalBackend({ name: profile.name, modelPath: await resolveModelSpec(profile.path ?? profile.model) });
    }
    case "openai": {
      const { OpenAIBackend } = await import("../backends/openai.js");
      return new OpenAIBackend(profile);
    }
    case "replay": {
      const { ReplayBackend, loadRecording } = await import("../backends/replay.js");
      return new ReplayBackend(await loadRecording(profile.recording!), { name: profile.name, speed: "instant" });
    }
  }
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
  /** Handles are made on first use and shared. */
  get(name: string): Promise<ModelHandle>;
  close(): Promise<void>;
}

/**
 * The models in effect for a headless command: a models file (--models, CONCORD_MODELS) or
 * saved settings; or, when neither names a file and CONCORD_MODEL=<file.gguf> is set, that one
 * local file in every role (profile name "local"), and under any model name asked for.
 */
export function openModels(opts: { modelsFile?: string; env?: NodeJS.ProcessEnv } = {}): OpenedModels {
  const env = opts.env ?? process.env;
  let profiles: ModelProfile[];
  let roles: Roles;
  let source: string;
  let single: ModelProfile | undefined;
  const one = env.CONCORD_MODEL?.trim();
  if (!opts.modelsFile && !env.CONCORD_MODELS && one) {
    const p: ModelProfile = { name: "local", backend: "local", model: one.replace(/^.*[\\/]/, ""), path: one };
    profiles = [p];
    single = p;
    roles = { generators: ["local"], evaluators: ["local"], targets: ["local"], sanitizer: undefined, initiator: "local", continuers: ["local"] };
    source = `CONCORD_MODEL=${one}`;
  } else {
    const cfg = loadModelsConfig({ modelsFile: opts.modelsFile, env });
    profiles = cfg.profiles;
    roles = cfg.roles;
    source = cfg.modelsFile ?? "saved settings";
  }
  const made = new Map<string, Promise<ModelHandle>>();
  return {
    profiles,
    roles,
    source,
    get(name: string) {
      let h = made.get(name);
      if (!h) {
        // With CONCORD_MODEL, any model name runs on that one file (an experiment's five
        // "targets" become five handles on the same model).
        const profile = profiles.find((p) => p.name === name) ?? (single ? { ...single, name } : undefined);
        if (!profile) {
          const known = profiles.map((p) => p.name).join(", ") || "none";
          return Promise.reject(new UserError(`no model named "${name}" in ${source} (known: ${known})`));
        }
        h = backendFor(profile).then((b) => handleFor(profile, b));
        made.set(name, h);
      }
      return h;
    },
    async close() {
      await Promise.allSettled([...made.values()].map(async (h) => (await h).backend.close()));
    },
  };
}

/** Names for a role, or a clear error naming what to configure. */
export function roleNames(roles: Roles, role: "generators" | "evaluators" | "targets" | "continuers", source: string): string[] {
  const names = roles[role];
  if (!names.length) throw new UserError(`no ${role} configured in ${source}: set roles.${role} in a models file, or CONCORD_MODEL=<file.gguf>`);
  return names;
}
