// Model profiles and role assignments: the shapes, validated with zod. A profile names the
// environment variable that holds its API key, never the key itself.
import { z } from "zod";
import type { Capabilities } from "../backends/types.js";
import { UserError } from "../errors.js";

export const FLAVORS = ["vllm", "sglang", "llama-server", "ollama", "lmstudio", "openrouter", "together", "deepseek", "openai", "unknown"] as const;
export type Flavor = (typeof FLAVORS)[number];

export const THINKING_FORMATS = ["think-tags", "openthinker", "harmony", "none"] as const;
export type ThinkingFormat = (typeof THINKING_FORMATS)[number];

/** How a server continues a partial assistant message (chosen by probe or by flavor). */
export const PREFILL_METHODS = ["continue_final_message", "trailing_assistant", "deepseek_prefix", "apply_template", "render_template", "none"] as const;
export type PrefillMethod = (typeof PREFILL_METHODS)[number];

/** How a server scores given text. */
export const SCORING_METHODS = ["echo", "prompt_logprobs", "sglang_generate", "none"] as const;
export type ScoringMethod = (typeof SCORING_METHODS)[number];

/** How long a reasoning model thinks (OpenAI's o-series and gpt-oss take it). */
export const REASONING_EFFORTS = ["low", "medium", "high"] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

const SamplingSchema = z
  .object({
    temperature: z.number().min(0).optional(),
    topK: z.number().int().min(0).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    maxTokens: z.number().int().positive().optional(),
  })
  .strict();
export type Sampling = z.infer<typeof SamplingSchema>;

/** A probe record: the Capabilities a backend reported, plus how it got them. */
const CapabilitiesSchema = z.object({
  streaming: z.boolean(),
  tokenLogprobs: z.boolean(),
  promptScoring: z.boolean(),
  prefill: z.boolean(),
  reasoningField: z.enum(["reasoning", "reasoning_content", "thinking", "inline"]).nullable(),
  notes: z.array(z.string()),
  flavor: z.enum(FLAVORS).optional(),
  prefillMethod: z.enum(PREFILL_METHODS).optional(),
  scoringMethod: z.enum(SCORING_METHODS).optional(),
  probedAt: z.string().optional(),
});
export type ProbeRecord = Capabilities & {
  flavor?: Flavor;
  prefillMethod?: PrefillMethod;
  scoringMethod?: ScoringMethod;
  probedAt?: string;
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const ModelProfileSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\s"'`]+$/, "no spaces or quotes"),
    backend: z.enum(["openai", "local", "replay"]),
    baseURL: z.string().url().optional(),
    /** More servers of the same model (replicas): requests go to the least busy. */
    baseUrls: z.array(z.string().url()).min(1).max(64).optional(),
    model: z.string().min(1),
    apiKeyEnv: z.string().regex(ENV_NAME, "an environment variable NAME, e.g. OPENAI_API_KEY").optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
    thinkingFormat: z.enum(THINKING_FORMATS).optional(),
    /** Sent as reasoning_effort to servers that take it; gpt-oss's template writes it into its system message. */
    reasoningEffort: z.enum(REASONING_EFFORTS).optional(),
    /** The model's chat template (a .jinja file), for servers whose own template deletes a prefill: Concord renders it and sends a raw completion. */
    chatTemplate: z.string().min(1).optional(),
    sampling: SamplingSchema.optional(),
    path: z.string().min(1).optional(),
    recording: z.string().min(1).optional(),
    capabilities: CapabilitiesSchema.optional(),
    flavor: z.enum(FLAVORS).optional(),
    /** Model family (e.g. "qwen"), grouping relay pairs as same- or cross-family. */
    family: z.string().min(1).max(64).optional(),
    // Local (GGUF) models only: how the model is loaded.
    /** Tokens per sequence (capped at the model's training context). */
    contextSize: z.number().int().min(16).max(1_048_576).optional(),
    /** Parallel sequences: requests served at once on this model. */
    sequences: z.number().int().min(1).max(64).optional(),
    /** KV cache precision: f32 keeps generated and scored log-probabilities equal; f16 halves its memory. */
    kvCache: z.enum(["f32", "f16"]).optional(),
    /** Evaluation threads. */
    threads: z.number().int().min(1).max(256).optional(),
    /** "auto" uses a GPU when there is one; false never does. */
    gpu: z.union([z.literal(false), z.enum(["auto", "cuda", "vulkan", "metal"])]).optional(),
  })
  .strict();
export type ModelProfile = z.infer<typeof ModelProfileSchema>;

export const RolesSchema = z
  .object({
    generators: z.array(z.string()).default([]),
    evaluators: z.array(z.string()).default([]),
    targets: z.array(z.string()).default([]),
    sanitizer: z.string().optional(),
    initiator: z.string().optional(),
    continuers: z.array(z.string()).default([]),
    prm: z.string().optional(),
  })
  .strict();
export type Roles = z.infer<typeof RolesSchema>;

export const emptyRoles = (): Roles => ({ generators: [], evaluators: [], targets: [], continuers: [] });

/** Options that only mean something for a model loaded in-process. */
const LOCAL_ONLY = ["contextSize", "sequences", "kvCache", "threads", "gpu"] as const;

/** Keys that look like a secret written into a profile: refused with a pointer to apiKeyEnv. */
const SECRET_KEYS = ["apiKey", "api_key", "key", "token", "apiToken", "authorization"];

/**
 * Validate one profile. Throws a one-line message `<where>: <field.path>: <problem>`.
 * `where` names the file (or "settings") the profile came from.
 */
export function parseProfile(input: unknown, where: string, path: Array<string | number> = []): ModelProfile {
  if (input && typeof input === "object" && !Array.isArray(input)) {
    for (const k of SECRET_KEYS) {
      if (k in input) {
        throw new ConfigError(
          `${where}: ${fmtPath([...path, k])}: API keys are never stored in profiles; put the key in an environment variable and set apiKeyEnv to its name`,
        );
      }
    }
  }
  const r = ModelProfileSchema.safeParse(input);
  if (!r.success) throw new ConfigError(`${where}: ${zodLine(r.error, path)}`);
  if (r.data.extra) {
    const at = secretIn(r.data.extra, [...path, "extra"]);
    // The value is never repeated: it may be the key itself.
    if (at)
      throw new ConfigError(
        `${where}: ${fmtPath(at)}: looks like an API key or other secret (not repeated here); API keys are never stored in profiles; put it in an environment variable and set apiKeyEnv to its name`,
      );
  }
  const p = r.data;
  if (p.baseUrls && p.backend !== "openai") throw new ConfigError(`${where}: ${fmtPath([...path, "baseUrls"])}: only servers (backend openai) have replicas`);
  if (p.baseUrls && !p.baseURL) p.baseURL = p.baseUrls[0];
  const inURL = [p.baseURL, ...(p.baseUrls ?? [])].map((u) => (u ? urlCredential(u) : undefined)).find(Boolean);
  // Neither the address nor the secret is repeated: the message itself may be shown or logged.
  if (inURL)
    throw new ConfigError(
      `${where}: ${fmtPath([...path, "baseURL"])}: ${inURL} (not repeated here); put the key in an environment variable and set apiKeyEnv to its name`,
    );
  if (p.backend === "openai" && !p.baseURL) {
    // The openai client's default base URL; explicit is kinder in errors and records.
    p.baseURL = "https://api.openai.com/v1";
  }
  if (p.backend !== "local") {
    for (const k of LOCAL_ONLY) {
      if (p[k] !== undefined) throw new ConfigError(`${where}: ${fmtPath([...path, k])}: only local models take ${k}`);
    }
  }
  if (p.backend === "local" && !p.path) throw new ConfigError(`${where}: ${fmtPath([...path, "path"])}: a local model needs a GGUF path or hf: URI`);
  if (p.backend === "replay" && !p.recording) throw new ConfigError(`${where}: ${fmtPath([...path, "recording"])}: a replay model needs a recording file`);
  return p;
}

/** Field names that hold credentials, compared without case, "-" or "_". */
const SECRET_NAMES = new Set([
  "apikey",
  "key",
  "token",
  "apitoken",
  "accesstoken",
  "authtoken",
  "authorization",
  "auth",
  "bearer",
  "secret",
  "password",
  "passwd",
  "credentials",
  "xapikey",
  "sessiontoken",
  "refreshtoken",
]);
const SECRET_SUFFIXES = ["apikey", "secret", "password", "accesstoken", "authtoken", "bearertoken", "secretkey", "privatekey", "accesskey"];

function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_\s]/g, "");
  return SECRET_NAMES.has(n) || SECRET_SUFFIXES.some((x) => n.endsWith(x));
}

/**
 * Whether a URL carries a credential (user:password@, or a key-like query parameter), as a
 * phrase for an error message that does not repeat it; undefined when it carries none.
 */
export function urlCredential(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.password) return "holds a password";
  if (u.username) return "holds a user name or key before @";
  for (const [k, v] of u.searchParams) if (v && (isSecretName(k) || looksLikeSecret(v))) return "holds a key in its query";
  if (u.pathname.split("/").some((seg) => seg && looksLikeSecret(seg))) return "holds a key in its path";
  return undefined;
}

/**
 * The path of the first secret-looking entry at any depth of `value` (request fields such as
 * `headers: {Authorization: ...}` or `api_key: ...`), by name or by a value shaped like a key.
 */
function secretIn(value: unknown, path: Array<string | number>): Array<string | number> | undefined {
  if (typeof value === "string") return value.split(/\s+/).some((w) => w && looksLikeSecret(w)) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = secretIn(value[i], [...path, i]);
      if (hit) return hit;
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (isSecretName(k) && v !== null && v !== "" && v !== false) return [...path, k];
      const hit = secretIn(v, [...path, k]);
      if (hit) return hit;
    }
  }
  return undefined;
}

export function parseRoles(input: unknown, where: string, path: Array<string | number> = ["roles"]): Roles {
  const r = RolesSchema.safeParse(input ?? {});
  if (!r.success) throw new ConfigError(`${where}: ${zodLine(r.error, path)}`);
  return r.data;
}

/** A configuration problem the user can fix; its message is one line naming file and field. */
export class ConfigError extends UserError {}

export function fmtPath(path: ReadonlyArray<PropertyKey>): string {
  if (!path.length) return "(top level)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function zodLine(err: z.ZodError, prefix: Array<string | number> = []): string {
  const issue = err.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])];
  let msg = issue?.message ?? "invalid";
  if (issue?.code === "unrecognized_keys") msg = `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${fmtPath(path)}: ${msg}`;
}

/** Prefixes of common API key formats (OpenAI, Anthropic, Hugging Face, GitHub, Slack, AWS, Google). */
// Case matters: keys start in lower case, variable names (HF_TOKEN) do not.
const KEY_PREFIX = /^(sk-|sk_|pk-|rk-|hf_|ghp_|gho_|ghs_|github_pat_|xox[abpr]-|AKIA[0-9A-Z]{12}|AIza|gsk_|r8_)/;

/** True when `value` looks like a credential rather than an environment variable name. */
export function looksLikeSecret(value: string): boolean {
  if (KEY_PREFIX.test(value)) return true;
  // Variable names are words; keys are long runs mixing letters and digits.
  return value.length >= 24 && /\d/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && !value.includes("_");
}

/**
 * Checks a value given where an environment variable NAME is expected (`--api-key-env`).
 * A value that looks like the key itself is refused without repeating it.
 */
export function checkEnvName(value: string, what: string): string {
  if (looksLikeSecret(value) || !ENV_NAME.test(value)) {
    // Never echoed: a mistyped flag may hold the key itself.
    const hint = looksLikeSecret(value) ? "that looks like an API key itself (not repeated here); " : "not an environment variable name; ";
    throw new ConfigError(`${what}: ${hint}put the key in an environment variable and give its NAME, e.g. OPENAI_API_KEY`);
  }
  return value;
}
