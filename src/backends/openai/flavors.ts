// One object per server kind: how it continues a partial assistant message, how it scores
// text, which sampling fields it takes, how it counts tokens, and how it is recognised.
// These are the defaults before a probe; `concord models probe` measures and records the rest.
import type { Flavor, PrefillMethod, ScoringMethod } from "../../config/profile.js";
import type { Json, Transport } from "./transport.js";

export interface FlavorTraits {
  /** Prefill methods to try, best first (the probe keeps the first that verifiably works). */
  prefill: PrefillMethod[];
  scoring: ScoringMethod;
  /** Rejects unknown sampling fields such as top_k. */
  strictParams: boolean;
  /** The field that caps generated tokens. */
  maxTokensField: "max_tokens" | "max_completion_tokens";
  /** The body of a /tokenize request counting `text`, or null when the server has no tokenizer. */
  tokenizeBody: ((text: string, model: string) => Json) | null;
  /**
   * How a reasoning effort reaches the model: the `reasoning_effort` request field, the chat
   * template's `reasoning_effort` variable (llama-server's chat_template_kwargs), or not at all.
   */
  reasoningEffort: "field" | "template" | "none";
}

const common: FlavorTraits = {
  prefill: ["trailing_assistant"],
  scoring: "none",
  strictParams: false,
  maxTokensField: "max_tokens",
  tokenizeBody: null,
  reasoningEffort: "none",
};

const vllmTokenize = (text: string, model: string): Json => ({ model, prompt: text, add_special_tokens: false });

export const FLAVOR_TRAITS: Record<Flavor, FlavorTraits> = {
  // A template that deletes or refuses a closed thinking block (R1-distill, gpt-oss) makes the
  // server refuse continue_final_message: Concord then renders the template itself.
  vllm: { ...common, prefill: ["continue_final_message", "render_template"], scoring: "prompt_logprobs", tokenizeBody: vllmTokenize, reasoningEffort: "field" },
  sglang: {
    ...common,
    prefill: ["continue_final_message", "render_template"],
    scoring: "sglang_generate",
    tokenizeBody: vllmTokenize,
    reasoningEffort: "field",
  },
  // Measured on llama.cpp 80fb11a: a trailing assistant message is continued but streamed back
  // first, so continue_final_message (or its template endpoint) is used; echo is ignored.
  "llama-server": {
    ...common,
    prefill: ["continue_final_message", "apply_template", "render_template"],
    tokenizeBody: (text) => ({ content: text, add_special: false }),
    reasoningEffort: "template",
  },
  ollama: common,
  lmstudio: common,
  openrouter: { ...common, reasoningEffort: "field" },
  together: { ...common, scoring: "echo" },
  deepseek: { ...common, prefill: ["deepseek_prefix"], strictParams: true },
  openai: { ...common, prefill: ["none"], strictParams: true, maxTokensField: "max_completion_tokens", reasoningEffort: "field" },
  unknown: { ...common, scoring: "echo" },
};

const HOST_FLAVORS: Array<[RegExp, Flavor]> = [
  [/(^|\.)api\.openai\.com$/, "openai"],
  [/(^|\.)openrouter\.ai$/, "openrouter"],
  [/(^|\.)together\.(xyz|ai)$/, "together"],
  [/(^|\.)deepseek\.com$/, "deepseek"],
];

/** The flavor a hosted API's address names, if any. */
export function flavorOfHost(baseURL: string): Flavor | undefined {
  let host = "";
  try {
    host = new URL(baseURL).hostname;
  } catch {
    return undefined;
  }
  return HOST_FLAVORS.find(([re]) => re.test(host))?.[1];
}

/**
 * Whether a profile's server continues a partial assistant message: its probe record when it
 * has one, else its flavor's default (OpenAI's API never does). Embedded models and
 * recordings always do.
 */
export function profileCanPrefill(profile: { backend: string; flavor?: Flavor; baseURL?: string; capabilities?: { prefill: boolean } }): boolean {
  if (profile.backend !== "openai") return true;
  if (profile.capabilities) return profile.capabilities.prefill;
  const flavor = profile.flavor ?? (profile.baseURL ? flavorOfHost(profile.baseURL) : undefined) ?? "unknown";
  return FLAVOR_TRAITS[flavor].prefill[0] !== "none";
}

/** The request fields that carry a reasoning effort to this kind of server. */
export function reasoningEffortFields(flavor: Flavor, effort: string | undefined): Json {
  if (!effort) return {};
  switch (FLAVOR_TRAITS[flavor].reasoningEffort) {
    case "field":
      return { reasoning_effort: effort };
    case "template":
      return { chat_template_kwargs: { reasoning_effort: effort } };
    case "none":
      return {};
  }
}

/** Ask the server what it is, by the endpoints only one kind has. */
export async function detectFlavor(t: Transport, signal?: AbortSignal): Promise<Flavor> {
  const [sglang, vllm, ollama, llama] = await Promise.all([
    t.tryGet("/get_model_info", signal),
    t.tryGet("/version", signal),
    t.tryGet("/api/version", signal),
    t.tryGet("/props", signal),
  ]);
  if (sglang && "model_path" in sglang) return "sglang";
  if (ollama && typeof ollama.version === "string") return "ollama";
  if (llama && ("default_generation_settings" in llama || "build_info" in llama)) return "llama-server";
  if (vllm && typeof vllm.version === "string") return "vllm";
  return "unknown";
}

/**
 * What the server says it serves: the model id from /v1/models (the first one for "auto"),
 * with the facts it lists beside it (size, parameters), so that another model behind the
 * same URL and name is another identity.
 */
export function servedIdentity(list: Json | undefined, asked: string): string | undefined {
  const data = Array.isArray(list?.data) ? (list.data as Json[]) : [];
  const entry = asked === "auto" ? data[0] : (data.find((m) => m.id === asked) ?? (data.length === 1 ? data[0] : undefined));
  if (!entry || typeof entry.id !== "string") return undefined;
  const meta = entry.meta && typeof entry.meta === "object" ? entry.meta : undefined;
  return meta ? `${entry.id} ${JSON.stringify(meta)}` : entry.id;
}
