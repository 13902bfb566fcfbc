// The add/edit form of the Models screen: its fields as strings, and their checked conversion to
// a profile. Errors are one line naming the field as the form labels it. A value that looks like
// an API key where a variable NAME belongs is refused without being repeated.
import { checkEnvName, FLAVORS, parseProfile, THINKING_FORMATS, type ModelProfile } from "../config/index.js";
import { isAbsolute, resolve } from "node:path";
import { oneLine, UserError } from "../errors.js";

export const BACKENDS = ["openai", "local", "replay"] as const;
export type BackendKind = (typeof BACKENDS)[number];

/** The form's values; "" means "not set". */
export interface ProfileDraft {
  name: string;
  backend: BackendKind;
  /** base URL (openai), GGUF path (local) or recording (replay). */
  where: string;
  model: string;
  apiKeyEnv: string;
  flavor: string;
  thinkingFormat: string;
}

export type FieldKey = keyof ProfileDraft;

export interface FormField {
  key: FieldKey;
  label: string;
  /** Choices cycle with enter; text fields open a prompt. */
  choices?: readonly string[];
  hint: string;
}

export const emptyDraft = (): ProfileDraft => ({ name: "", backend: "openai", where: "", model: "", apiKeyEnv: "", flavor: "", thinkingFormat: "" });

const WHERE_LABEL: Record<BackendKind, string> = { openai: "base URL", local: "GGUF path", replay: "recording" };

/** The fields that mean something for the draft's backend, in form order. */
export function formFields(d: ProfileDraft): FormField[] {
  const fields: FormField[] = [
    { key: "name", label: "name", hint: "unique, no spaces" },
    { key: "backend", label: "backend", choices: BACKENDS, hint: "openai-compatible server, local GGUF, or a recording" },
    {
      key: "where",
      label: WHERE_LABEL[d.backend],
      hint:
        d.backend === "openai"
          ? "e.g. http://127.0.0.1:8000/v1 (empty: api.openai.com)"
          : d.backend === "local"
            ? "file, hf: URI or URL"
            : "a .jsonl recording",
    },
    { key: "model", label: "model", hint: d.backend === "openai" ? 'served model id, "auto": the first' : "empty: from the file name" },
  ];
  if (d.backend === "openai") {
    fields.push({ key: "apiKeyEnv", label: "api key env", hint: "NAME of the variable holding the key, e.g. OPENAI_API_KEY" });
    fields.push({ key: "flavor", label: "flavor", choices: ["", ...FLAVORS], hint: "server kind (empty: detected by probe)" });
  }
  fields.push({ key: "thinkingFormat", label: "thinking format", choices: ["", ...THINKING_FORMATS], hint: "empty: guessed from the model name" });
  return fields;
}

/** The label a profile field has in the form. */
function labelOf(field: string, backend: BackendKind): string {
  switch (field) {
    case "baseURL":
    case "path":
    case "recording":
      return WHERE_LABEL[backend];
    case "apiKeyEnv":
      return "api key env";
    case "thinkingFormat":
      return "thinking format";
    default:
      return field;
  }
}

export function draftFromProfile(p: ModelProfile): ProfileDraft {
  return {
    name: p.name,
    backend: p.backend,
    where: (p.backend === "openai" ? p.baseURL : p.backend === "local" ? p.path : p.recording) ?? "",
    model: p.model,
    apiKeyEnv: p.apiKeyEnv ?? "",
    flavor: p.flavor ?? "",
    thinkingFormat: p.thinkingFormat ?? "",
  };
}

/** Check a value typed into the api key env field; throws (without repeating it) when it looks like a key. */
export function checkKeyEnvField(value: string): string {
  const v = value.trim();
  if (!v) return "";
  return checkEnvName(v, "api key env");
}

const FORM_FIELDS = new Set(["name", "backend", "baseURL", "path", "recording", "model", "apiKeyEnv", "flavor", "thinkingFormat"]);
const LOCAL_ONLY = new Set(["contextSize", "sequences", "kvCache", "threads", "gpu"]);

/** A file typed relative to where Concord runs is stored absolute: the next start may run elsewhere. */
function storedWhere(d: ProfileDraft, cwd: string): string {
  const where = d.where.trim();
  if (d.backend === "openai" || !where || isAbsolute(where) || /^[a-z][a-z0-9+.-]*:/i.test(where)) return where;
  return resolve(cwd, where.replace(/^~(?=[\\/])/, process.env.HOME ?? "~"));
}

/**
 * The profile the form describes. `base` is the profile being edited: fields the form does not
 * show (sampling, context size, ...) are kept where they still apply.
 */
export function profileFromDraft(d: ProfileDraft, base?: ModelProfile, cwd = process.cwd()): ModelProfile {
  const name = d.name.trim();
  if (!name) throw new UserError("name: required");
  const where = storedWhere(d, cwd);
  if (d.backend === "local" && !where) throw new UserError("GGUF path: required for a local model");
  if (d.backend === "replay" && !where) throw new UserError("recording: required for a replay model");
  const apiKeyEnv = checkKeyEnvField(d.apiKeyEnv);
  const model = d.model.trim() || (d.backend === "local" ? where.replace(/[#?].*$/, "").replace(/^.*[\\/]/, "") : d.backend === "replay" ? name : "");
  if (!model) throw new UserError('model: required (the id the server serves, or "auto" for its first)');
  const input: Record<string, unknown> = {};
  if (base) {
    const moved = base.backend !== d.backend || draftFromProfile(base).where !== where || base.model !== model;
    for (const [k, v] of Object.entries(base)) {
      if (FORM_FIELDS.has(k) || (d.backend !== "local" && LOCAL_ONLY.has(k)) || (moved && k === "capabilities")) continue;
      input[k] = v;
    }
  }
  Object.assign(input, {
    name,
    backend: d.backend,
    model,
    ...(where ? { [d.backend === "openai" ? "baseURL" : d.backend === "local" ? "path" : "recording"]: where } : {}),
    ...(apiKeyEnv && d.backend === "openai" ? { apiKeyEnv } : {}),
    ...(d.flavor && d.backend === "openai" ? { flavor: d.flavor } : {}),
    ...(d.thinkingFormat ? { thinkingFormat: d.thinkingFormat } : {}),
  });
  try {
    return parseProfile(input, "form");
  } catch (err) {
    // "form: baseURL: Invalid URL" -> "base URL: Invalid URL"
    const msg = oneLine(err).replace(/^form: /, "");
    const m = /^([A-Za-z]+)(?:\.[^:]*)?: (.*)$/.exec(msg);
    throw new UserError(m ? `${labelOf(m[1], d.backend)}: ${m[2]}` : msg);
  }
}
