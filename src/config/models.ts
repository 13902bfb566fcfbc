// Where model profiles come from, merged: the implicit "openai" profile from OPENAI_BASE_URL /
// OPENAI_API_KEY, then settings, then a models file (--models or CONCORD_MODELS), each
// overriding the one before by name.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseStructuredText } from "../structured-text.js";
import { oneLine } from "../errors.js";
import { ConfigError, fmtPath, parseProfile, parseRoles, type ModelProfile, type Roles } from "./profile.js";
import { openSettings, type SettingsStore } from "./settings.js";

export interface ModelsFile {
  profiles: ModelProfile[];
  roles?: Roles;
}

/** Read and validate a models file (YAML or JSON). Errors are one line naming the file and field. */
export function loadModelsFile(file: string): ModelsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === "ENOENT" ? "no such file" : oneLine(err)}`);
  }
  let data: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both; errors name line and column.
    data = parseStructuredText(text, file);
  } catch (err) {
    throw new ConfigError(oneLine(err));
  }
  return parseModelsData(data, file);
}

/** Accepted shapes: a list of profiles; `{models: [...]}`; `{models: {name: {...}}}`; each with optional `roles`. */
export function parseModelsData(data: unknown, where: string): ModelsFile {
  let list: Array<{ value: unknown; path: Array<string | number> }>;
  let roles: Roles | undefined;
  if (Array.isArray(data)) {
    list = data.map((value, i) => ({ value, path: [i] }));
  } else if (data && typeof data === "object") {
    const obj = data as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (k !== "models" && k !== "roles") throw new ConfigError(`${where}: ${k}: unknown field (expected "models" and optional "roles")`);
    }
    const models = obj.models;
    if (Array.isArray(models)) list = models.map((value, i) => ({ value, path: ["models", i] }));
    else if (models && typeof models === "object")
      list = Object.entries(models as Record<string, unknown>).map(([name, value]) => ({
        value: value && typeof value === "object" && !Array.isArray(value) ? { name, ...value } : value,
        path: ["models", name],
      }));
    else throw new ConfigError(`${where}: models: expected a list or a map of model profiles`);
    if (obj.roles !== undefined) roles = parseRoles(obj.roles, where);
  } else {
    throw new ConfigError(`${where}: expected a list of model profiles or an object with "models"`);
  }
  const profiles: ModelProfile[] = [];
  const seen = new Set<string>();
  for (const { value, path } of list) {
    const p = parseProfile(value, where, path);
    if (seen.has(p.name)) throw new ConfigError(`${where}: ${fmtPath([...path, "name"])}: duplicate model name "${p.name}"`);
    seen.add(p.name);
    profiles.push(p);
  }
  return { profiles, roles };
}

/** The profile OpenAI-client users expect from OPENAI_BASE_URL / OPENAI_API_KEY (model from OPENAI_MODEL, else "auto"). */
export function implicitOpenAIProfile(env: NodeJS.ProcessEnv): ModelProfile | undefined {
  if (!env.OPENAI_BASE_URL && !env.OPENAI_API_KEY) return undefined;
  return parseProfile(
    {
      name: "openai",
      backend: "openai",
      baseURL: env.OPENAI_BASE_URL || "https://api.openai.com/v1",
      model: env.OPENAI_MODEL || "auto",
      ...(env.OPENAI_API_KEY ? { apiKeyEnv: "OPENAI_API_KEY" } : {}),
    },
    "environment (OPENAI_BASE_URL / OPENAI_MODEL)",
  );
}

export type ProfileSource = "environment" | "settings" | { file: string };

export interface ModelsConfig {
  profiles: ModelProfile[];
  roles: Roles;
  /** Where each profile came from, by name. */
  sources: Record<string, ProfileSource>;
  /** The models file that was read, if any. */
  modelsFile?: string;
  settings: SettingsStore;
}

export interface LoadModelsOptions {
  /** --models value; falls back to env CONCORD_MODELS. */
  modelsFile?: string;
  env?: NodeJS.ProcessEnv;
  settings?: SettingsStore;
}

/**
 * All model profiles and roles in effect. Probe records saved in settings fill in
 * `capabilities` where a profile has none of its own.
 */
export function loadModelsConfig(opts: LoadModelsOptions = {}): ModelsConfig {
  const env = opts.env ?? process.env;
  const settings = opts.settings ?? openSettings({ env });
  const byName = new Map<string, ModelProfile>();
  const sources: Record<string, ProfileSource> = {};
  const implicit = implicitOpenAIProfile(env);
  if (implicit) {
    byName.set(implicit.name, implicit);
    sources[implicit.name] = "environment";
  }
  for (const p of settings.profiles()) {
    byName.set(p.name, p);
    sources[p.name] = "settings";
  }
  let roles = settings.roles();
  const modelsFile = opts.modelsFile || env.CONCORD_MODELS || undefined;
  if (modelsFile) {
    const f = loadModelsFile(modelsFile);
    for (const p of f.profiles) {
      byName.set(p.name, p);
      sources[p.name] = { file: modelsFile };
    }
    if (f.roles) roles = f.roles;
  }
  const profiles = [...byName.values()].map((p) => {
    if (p.capabilities) return p;
    const rec = settings.probe(p);
    return rec ? { ...p, capabilities: rec } : p;
  });
  checkRoles(roles, new Set(byName.keys()), modelsFile ?? settings.path);
  return { profiles, roles, sources, modelsFile, settings };
}

function checkRoles(roles: Roles, names: Set<string>, where: string): void {
  const check = (name: string | undefined, path: Array<string | number>) => {
    if (name !== undefined && !names.has(name)) throw new ConfigError(`${where}: ${fmtPath(path)}: no model named "${name}"`);
  };
  for (const key of ["generators", "evaluators", "targets", "continuers"] as const) roles[key].forEach((n, i) => check(n, ["roles", key, i]));
  for (const key of ["sanitizer", "initiator", "prm"] as const) check(roles[key], ["roles", key]);
}

/** Add the shared `--models <file>` option to a command. */
export function addModelsOption<C extends Command>(cmd: C): C {
  cmd.option("--models <file>", "model profiles file (YAML or JSON); overrides saved profiles of the same name (env CONCORD_MODELS)");
  return cmd;
}

/** Add `--no-cache` and `--record <file.jsonl>` (the response cache and recordings) to a command. */
export function addCacheRecordOptions<C extends Command>(cmd: C): C {
  cmd.option("--no-cache", "do not answer deterministic requests from the response cache, nor keep them (env CONCORD_NO_CACHE=1)");
  cmd.option("--record <file.jsonl>", "append every model exchange to this recording (replay it with a replay profile or `concord replay`)");
  // The value reaches openModels as `model`: the flag wins over CONCORD_MODEL.
  cmd.option("--model <file.gguf>", "run every role on this one local GGUF (same as CONCORD_MODEL)");
  return cmd;
}
