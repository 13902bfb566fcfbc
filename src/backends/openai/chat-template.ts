// The model's chat template, for rendering a prompt in Concord when the server's own rendering
// deletes or refuses a prefill: from the profile's chatTemplate file, or from llama-server's /props.
import { promises as fs } from "node:fs";
import { Template } from "@huggingface/jinja";
import type { Flavor, ModelProfile } from "../../config/profile.js";
import type { RenderTemplate } from "../../core/chat-template.js";
import { BackendError } from "../types.js";
import type { Json, Transport } from "./transport.js";

/** Loads and parses the template once; `vars` are the extra variables the template reads (reasoning_effort). */
export async function loadChatTemplate(
  profile: ModelProfile,
  flavor: Flavor,
  t: Transport,
  signal?: AbortSignal,
  why = "the server's chat template deletes the prefill",
): Promise<Template> {
  let source: string | undefined;
  let from: string;
  if (profile.chatTemplate) {
    from = profile.chatTemplate;
    try {
      source = await fs.readFile(profile.chatTemplate, "utf8");
    } catch (err) {
      throw new BackendError(
        `model "${profile.name}": chatTemplate ${profile.chatTemplate}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        profile.name,
        undefined,
        false,
        "refused",
      );
    }
  } else if (flavor === "llama-server") {
    from = "the server's /props";
    const props = await t.tryGet("/props", signal);
    source = typeof (props as Json | undefined)?.chat_template === "string" ? ((props as Json).chat_template as string) : undefined;
  } else from = "";
  if (!source)
    throw new BackendError(
      `model "${profile.name}" (${flavor}): ${why}, and Concord has no copy of the chat template to render: set chatTemplate in the profile to the model's template file`,
      profile.name,
      undefined,
      false,
      "refused",
    );
  try {
    return new Template(source);
  } catch (err) {
    throw new BackendError(
      `model "${profile.name}": chat template from ${from} does not parse (${(err as Error).message.split("\n")[0]})`,
      profile.name,
      undefined,
      false,
      "refused",
    );
  }
}

/** The template as a render function, with BOS left to the server (a raw completion adds it). */
export function renderer(template: Template, vars: Record<string, unknown>): RenderTemplate {
  return (v) => template.render({ bos_token: "", eos_token: "", enable_thinking: true, ...vars, ...v });
}
