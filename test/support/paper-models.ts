// The paper's five models as the tests name them: each one's id and the chat template of its
// family in ../shared/templates.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const TEMPLATES = join(import.meta.dirname ?? ".", "..", "..", "..", "shared", "templates");
export const TEMPLATES_SKIP: string | false = existsSync(join(TEMPLATES, "Qwen-QwQ-32B.jinja")) ? false : "needs ../shared/templates";

export const PAPER_MODELS = {
  QwQ: { id: "Qwen/QwQ-32B", template: "Qwen-QwQ-32B.jinja" },
  DAPO: { id: "BytedTsinghua-SIA/DAPO-Qwen-32B", template: "Qwen-Qwen2.5-7B-Instruct.jinja" },
  OpenT: { id: "open-thoughts/OpenThinker-7B", template: "Qwen-Qwen2.5-7B-Instruct.jinja" },
  NRR: { id: "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B", template: "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja" },
  OSS: { id: "openai/gpt-oss-20b", template: "openai-gpt-oss-120b.jinja" },
} as const;
