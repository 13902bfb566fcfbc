// Short display labels for the models of the published experiments, and condition labels.
import type { Condition } from "./schema.js";

/** The paper's five targets, in the order its tables list them. */
export const PAPER_TARGETS = [
  "openai/gpt-oss-20b",
  "BytedTsinghua-SIA/DAPO-Qwen-32B",
  "Qwen/QwQ-32B",
  "open-thoughts/OpenThinker-7B",
  "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
] as const;

const LABELS: Record<string, string> = {
  "openai/gpt-oss-20b": "OSS",
  "BytedTsinghua-SIA/DAPO-Qwen-32B": "DAPO",
  "Qwen/QwQ-32B": "QwQ",
  "open-thoughts/OpenThinker-7B": "OpenT",
  "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B": "NRR",
};

/** The short tags the genex file names use for ensemble generators and evaluators. */
const TAGS: Record<string, string> = {
  oss: "OSS",
  "gpt-oss": "OSS",
  dapo: "DAPO",
  qwq: "QwQ",
  opent: "OpenT",
  openthinker: "OpenT",
  nrr: "NRR",
  nemotron: "NRR",
};

/** File-name form of a Hugging Face id ("/" replaced by "_") -> the id, for the known models. */
export const FILE_NAME_TO_ID: Record<string, string> = Object.fromEntries(Object.keys(LABELS).map((id) => [id.replace("/", "_"), id]));

/** "Qwen/QwQ-32B" -> "QwQ"; "openai/gpt-oss-20b-low" -> "OSS-low"; unknown ids -> last path part. */
export function modelLabel(id: string): string {
  if (LABELS[id]) return LABELS[id];
  const effort = /^(.*)-(low|medium|high)$/.exec(id);
  if (effort && LABELS[effort[1]]) return `${LABELS[effort[1]]}-${effort[2]}`;
  if (TAGS[id.toLowerCase()]) return TAGS[id.toLowerCase()];
  const last = id.split("/").pop() ?? id;
  return last || id;
}

export function conditionLabel(c: Condition): string {
  const tag = c.tag ? ` [${c.tag}]` : "";
  switch (c.kind) {
    case "empty":
      return `Empty${tag}`;
    case "default-greedy":
      return `Default greedy${tag}`;
    case "default-sampled":
      return `Default sampled${tag}`;
    case "transfer":
      return `Transfer(${c.source ? modelLabel(c.source) : "?"})${tag}`;
    case "ensemble": {
      const g = (c.generators ?? []).map(modelLabel).join("+");
      const e = (c.evaluators ?? []).map(modelLabel).join("+");
      return `Ensemble(${g || "?"}/${e || "?"})${tag}`;
    }
  }
}

export function variantLabel(v: Condition["variant"]): string {
  return v === "full" ? "full" : "w/o answer";
}
