// Which capability each role needs, and a clear refusal when a probed model lacks it.
import type { Capabilities } from "../backends/types.js";
import { UserError } from "../errors.js";
import type { ModelProfile } from "./profile.js";

export type Role = "generator" | "evaluator" | "target" | "sanitizer" | "initiator" | "continuer" | "prm";

interface Need {
  has: (c: Capabilities) => boolean;
  /** What the probe found missing, after "its probe record says it ...". */
  lack: string;
  /** Server kinds known to do the job, by flavor: never suggested to a model of that very kind. */
  servers: Array<[flavor: string, text: string]>;
}

const PREFILL_SERVERS: Need["servers"] = [
  ["vllm", "vLLM"],
  ["sglang", "SGLang"],
  ["llama-server", "llama-server"],
];

const NEEDS: Partial<Record<Role, Need>> = {
  evaluator: { has: (c) => c.promptScoring, lack: "gave no prompt log-probabilities", servers: [["vllm", "vLLM"]] },
  prm: { has: (c) => c.promptScoring, lack: "gave no prompt log-probabilities", servers: [["vllm", "vLLM"]] },
  continuer: { has: (c) => c.prefill, lack: "could not continue a partial answer (no prefill)", servers: PREFILL_SERVERS },
  target: { has: (c) => c.prefill, lack: "could not continue a prefilled thinking block (no prefill)", servers: PREFILL_SERVERS },
};

/** "an embedded model, or a vLLM or SGLang server", leaving out the model's own kind. */
function alternatives(need: Need, ownFlavor: string | undefined): string {
  const others = need.servers.filter(([f]) => f !== ownFlavor).map(([, t]) => t);
  if (!others.length) return "an embedded model";
  const list = others.length === 1 ? others[0] : `${others.slice(0, -1).join(", ")} or ${others.at(-1)}`;
  return `an embedded model, or a ${list} server`;
}

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
  const cannot = `model "${profile.name}"`;
  if (profile.backend === "replay") {
    throw new UserError(
      `${cannot} (recording) cannot be ${ARTICLE[role]}: its recording ${need.lack}; use ${alternatives(need, undefined)} as ${role === "prm" ? "PRM" : role}`,
    );
  }
  const flavor = profile.flavor ?? (caps as { flavor?: string }).flavor;
  // The record may be stale or from a failed probe: asking again is the first remedy.
  throw new UserError(
    `${cannot} (${flavor ?? "unknown server"}) cannot be ${ARTICLE[role]}: its probe record says it ${need.lack}; ` +
      `re-probe it with \`concord models probe ${profile.name}\`, or use ${alternatives(need, flavor)} as ${role === "prm" ? "PRM" : role}`,
  );
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
