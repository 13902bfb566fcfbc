// Which capability each role needs, and a clear refusal when a probed model lacks it.
import type { Capabilities } from "../backends/types.js";
import { UserError } from "../errors.js";
import type { ModelProfile } from "./profile.js";

export type Role = "generator" | "evaluator" | "target" | "sanitizer" | "initiator" | "continuer" | "prm";

interface Need {
  has: (c: Capabilities) => boolean;
  lack: string;
  instead: string;
}

const NEEDS: Partial<Record<Role, Need>> = {
  evaluator: {
    has: (c) => c.promptScoring,
    lack: "it gives no prompt log-probabilities",
    instead: "use an embedded model or a vLLM server as evaluator",
  },
  prm: {
    has: (c) => c.promptScoring,
    lack: "it gives no prompt log-probabilities",
    instead: "use an embedded model or a vLLM server as PRM",
  },
  continuer: {
    has: (c) => c.prefill,
    lack: "it cannot continue a partial answer (no prefill)",
    instead: "use an embedded model, or a vLLM, SGLang or llama-server server as continuer",
  },
  target: {
    has: (c) => c.prefill,
    lack: "it cannot continue a prefilled thinking block (no prefill)",
    instead: "use an embedded model, or a vLLM, SGLang or llama-server server as target",
  },
};

const ARTICLE: Record<Role, string> = {
  generator: "a generator",
  evaluator: "an evaluator",
  target: "a target",
  sanitizer: "a sanitizer",
  initiator: "an initiator",
  continuer: "a continuer",
  prm: "a PRM",
};

/**
 * Throws a UserError when `caps` (a probe record) shows the model lacks what `role` needs.
 * Unprobed models (`caps` undefined) and embedded models pass: nothing is known against them, and
 * the embedded engine scores and continues by construction. A replay is held to what it recorded.
 */
export function requireCapability(profile: Pick<ModelProfile, "name" | "backend" | "flavor">, caps: Capabilities | undefined, role: Role): void {
  if (!caps || profile.backend === "local") return;
  const need = NEEDS[role];
  if (!need || need.has(caps)) return;
  const flavor = profile.backend === "replay" ? "recording" : (profile.flavor ?? (caps as { flavor?: string }).flavor ?? "unknown server");
  throw new UserError(`model "${profile.name}" (${flavor}) cannot be ${ARTICLE[role]}: ${need.lack}; ${need.instead}`);
}

/** The role a list of the roles settings names (generators -> generator ...). */
export const ROLE_OF_LIST = {
  generators: "generator",
  evaluators: "evaluator",
  targets: "target",
  continuers: "continuer",
  sanitizer: "sanitizer",
  initiator: "initiator",
  prm: "prm",
} as const satisfies Record<string, Role>;
