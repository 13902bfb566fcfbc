// The models Concord uses when nothing is configured, and how roles get a model spec.
// Defaults are small (a few hundred MB), openly licensed, from two families, one of them a
// reasoning model that writes <think> blocks. They download on first use (see download.ts).
import { basename } from "node:path";
import { UserError } from "../errors.js";
import { parseModelSpec, resolveModelFile, type Env, type ResolveModelOptions } from "./download.js";

export interface DefaultModel {
  /** Profile name. */
  name: string;
  /** Model spec (hf: URI). A quantisation tag rather than a file name: the repository's listing
   * names the file (Qwen3-0.6B-Q8_0.gguf, smollm2-360m-instruct-q8_0.gguf), whatever its case. */
  spec: string;
  family: string;
  licence: string;
  /** Writes <think> ... </think> before answering. */
  reasoning: boolean;
  /** Approximate download size in bytes. */
  approxBytes: number;
}

export const DEFAULT_MODELS: readonly DefaultModel[] = [
  {
    name: "qwen3-0.6b",
    spec: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0",
    family: "Qwen3 (Alibaba Qwen team)",
    licence: "Apache-2.0",
    reasoning: true,
    approxBytes: 639_000_000,
  },
  {
    name: "smollm2-360m",
    spec: "hf:HuggingFaceTB/SmolLM2-360M-Instruct-GGUF:Q8_0",
    family: "SmolLM2 (Hugging Face, Llama architecture)",
    licence: "Apache-2.0",
    reasoning: false,
    approxBytes: 386_000_000,
  },
];

export type RoleName = "generators" | "evaluators" | "targets" | "sanitizer" | "initiator" | "continuers" | "prm";

export interface DefaultModelSpecs {
  /** Where the answer came from. */
  source: "CONCORD_MODEL" | "defaults" | "demo";
  /** Profiles to create: name and spec. */
  models: { name: string; spec: string }[];
  /** Profile names per role (sanitizer/initiator hold one name; prm may be empty). */
  roles: Record<RoleName, string[]>;
}

/**
 * What every role uses when nothing is configured. `CONCORD_MODEL=<file.gguf | hf:... | url>`
 * makes every role use that one model; otherwise the default set: both models generate, score
 * and answer, the reasoning model starts relays, the non-reasoning one sanitises and continues.
 * No process reward model is bundled (prm is empty).
 */
export function resolveDefaultModelSpecs(env: Env = process.env): DefaultModelSpecs {
  const one = env.CONCORD_MODEL?.trim();
  if (one) {
    const parsed = parseModelSpec(one);
    const raw =
      parsed.kind === "path"
        ? basename(parsed.path)
        : parsed.kind === "url"
          ? basename(new URL(parsed.url).pathname)
          : parsed.file
            ? basename(parsed.file)
            : `${parsed.repo}${parsed.quant ? `-${parsed.quant}` : ""}`;
    const name =
      raw
        .replace(/\.gguf$/i, "")
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-") || "local";
    const spec = parsed.kind === "path" ? parsed.path : one;
    return {
      source: "CONCORD_MODEL",
      models: [{ name, spec }],
      roles: {
        generators: [name],
        evaluators: [name],
        targets: [name],
        sanitizer: [name],
        initiator: [name],
        continuers: [name],
        prm: [],
      },
    };
  }
  const [reasoner, plain] = DEFAULT_MODELS as [DefaultModel, DefaultModel];
  return {
    source: "defaults",
    models: DEFAULT_MODELS.map((m) => ({ name: m.name, spec: m.spec })),
    roles: {
      generators: [reasoner.name, plain.name],
      evaluators: [reasoner.name, plain.name],
      targets: [reasoner.name, plain.name],
      sanitizer: [plain.name],
      initiator: [reasoner.name],
      continuers: [plain.name],
      prm: [],
    },
  };
}

/**
 * A local GGUF path for a spec (downloading when needed). Errors are one line and, for a
 * failed download, say how to use a local file instead.
 */
export async function resolveModelSpec(spec: string, options: ResolveModelOptions = {}): Promise<string> {
  if (!spec.trim()) throw new UserError("no model given: set CONCORD_MODEL=<file.gguf> or pass --model <file.gguf>");
  return resolveModelFile(spec, options);
}

export { modelsDir, hfEndpoint, parseModelSpec, resolveModelFile, downloadFile } from "./download.js";
export type { DownloadProgress, DownloadOptions, DownloadResult, ResolveModelOptions, ParsedModelSpec } from "./download.js";
