// `concord models list|probe`: the configured model profiles, and what each server can really do.
import { resolve as resolvePath } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import stringWidth from "string-width";
import stripAnsi from "strip-ansi";
import {
  addModelsOption,
  checkEnvName,
  FLAVORS,
  loadModelsConfig,
  openSettings,
  requireCapability,
  ROLE_OF_LIST,
  THINKING_FORMATS,
  type ModelProfile,
  type ModelsConfig,
  type ProbeRecord,
  type ProfileSource,
  type Roles,
} from "../config/index.js";
import { downloadReporter } from "../cli/progress.js";
import { probeProfile, singleModelProfile } from "../engine/models.js";
import { oneLine, UserError } from "../errors.js";

interface CommonOptions {
  models?: string;
  json?: boolean;
}

interface ProbeOptions extends CommonOptions {
  timeout: number;
}

/** Server text is untrusted: no escapes or line breaks reach the terminal. */
function clean(text: string): string {
  if (!text) return "";
  return oneLine(stripAnsi(text)).replace(/\s+/g, " ");
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...rows.map((r) => stringWidth(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + " ".repeat(widths[i] - stringWidth(c)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

const yn = (b: boolean | undefined) => (b === undefined ? "?" : b ? "yes" : "no");

function sourceText(s: ProfileSource | undefined): string {
  if (!s) return "";
  return typeof s === "string" ? s : `file ${s.file}`;
}

/** The configured profiles; with none configured, the CONCORD_MODEL one (what the commands would use). */
function inEffect(cfg: ModelsConfig): ModelProfile[] {
  const one = process.env.CONCORD_MODEL?.trim();
  if (!cfg.profiles.length && one) return [singleModelProfile(one).profile];
  return cfg.profiles;
}

function select(cfg: ModelsConfig, names: string[]): ModelProfile[] {
  const all = inEffect(cfg);
  if (!names.length) return all;
  return names.map((n) => {
    const p = all.find((q) => q.name === n);
    if (!p) throw new UserError(`no model named "${n}" (known: ${all.map((q) => q.name).join(", ") || "none"})`);
    return p;
  });
}

export function listModels(opts: CommonOptions, out: NodeJS.WritableStream = process.stdout): void {
  const cfg = loadModelsConfig({ modelsFile: opts.models });
  const profiles = inEffect(cfg);
  if (opts.json) {
    out.write(
      JSON.stringify(
        profiles.map((p) => ({ ...p, source: cfg.sources[p.name] })),
        null,
        2,
      ) + "\n",
    );
    return;
  }
  if (!profiles.length) {
    out.write("no models configured: add profiles with --models <file>, CONCORD_MODELS, or OPENAI_BASE_URL\n");
    return;
  }
  const rows = profiles.map((p) => [
    p.name,
    p.backend,
    p.flavor ?? p.capabilities?.flavor ?? "",
    p.model,
    p.baseURL ?? p.path ?? p.recording ?? "",
    p.apiKeyEnv ? `$${p.apiKeyEnv}` : "",
    p.capabilities ? "yes" : "no",
    sourceText(cfg.sources[p.name]),
  ]);
  out.write(
    table(
      ["name", "backend", "flavor", "model", "where", "key", "probed", "from"],
      rows.map((r) => r.map(clean)),
    ),
  );
}

export interface ProbeRow {
  name: string;
  flavor?: string;
  capabilities?: ProbeRecord;
  error?: string;
}

export async function probeModels(
  names: string[],
  opts: ProbeOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<ProbeRow[]> {
  const cfg = loadModelsConfig({ modelsFile: opts.models });
  const chosen = select(cfg, names);
  if (!chosen.length) throw new UserError("no models configured: add profiles with --models <file>, CONCORD_MODELS, or OPENAI_BASE_URL");
  const rows: ProbeRow[] = [];
  // On a terminal a line says what is being waited on; captured output keeps one line per failure.
  const tty = (err as NodeJS.WriteStream).isTTY === true;
  for (const p of chosen) {
    const where = p.baseURL ?? p.path ?? p.recording ?? p.model;
    if (tty) err.write(`probing ${clean(p.name)} (${clean(where)}) ...\n`);
    try {
      const saved = await probeProfile(p, {
        settings: cfg.settings,
        timeoutMs: opts.timeout * 1000,
        download: downloadReporter({ stream: err as NodeJS.WriteStream }),
      });
      rows.push({ name: p.name, flavor: saved.flavor ?? p.backend, capabilities: saved });
    } catch (e) {
      const msg = clean(oneLine(e));
      rows.push({ name: p.name, error: msg });
      err.write(`concord: ${msg}\n`);
    }
  }
  const probed = rows.filter((r) => r.capabilities);
  if (opts.json) {
    out.write(JSON.stringify(rows, null, 2) + "\n");
  } else if (probed.length) {
    const body = probed.map((r) => {
      const c = r.capabilities!;
      return [r.name, c.flavor ?? r.flavor ?? "unknown", yn(c.streaming), yn(c.tokenLogprobs), yn(c.promptScoring), yn(c.prefill), c.reasoningField ?? "none"];
    });
    out.write(
      table(
        ["name", "flavor", "stream", "token logprobs", "prompt scoring", "prefill", "reasoning field"],
        body.map((r) => r.map(clean)),
      ),
    );
    for (const r of probed) for (const n of r.capabilities?.notes ?? []) out.write(`${clean(r.name)}: ${clean(n)}\n`);
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
  return rows;
}

export interface AddOptions {
  backend: string;
  baseUrl?: string;
  model?: string;
  apiKeyEnv?: string;
  flavor?: string;
  thinkingFormat?: string;
  reasoningEffort?: string;
  chatTemplate?: string;
  path?: string;
  recording?: string;
  contextSize?: number;
  sequences?: number;
  kvCache?: string;
  threads?: number;
  gpu?: string;
}

/** `concord models add`: save (or replace) a profile in settings. Keys only as variable names. */
export function addModel(name: string, opts: AddOptions, out: NodeJS.WritableStream = process.stdout): ModelProfile {
  const settings = openSettings();
  if (opts.apiKeyEnv !== undefined) checkEnvName(opts.apiKeyEnv, "--api-key-env");
  const model =
    opts.model ??
    (opts.backend === "local" && opts.path ? opts.path.replace(/[#?].*$/, "").replace(/^.*[\\/]/, "") : opts.backend === "replay" ? name : undefined);
  if (!model) throw new UserError(`models add ${name}: --model <id> is required (the model the server serves, or "auto" for its first)`);
  const input: Record<string, unknown> = {
    name,
    backend: opts.backend,
    model,
    baseURL: opts.baseUrl,
    apiKeyEnv: opts.apiKeyEnv,
    flavor: opts.flavor,
    thinkingFormat: opts.thinkingFormat,
    reasoningEffort: opts.reasoningEffort,
    // Stored absolute: settings outlive the folder the command ran in.
    chatTemplate: opts.chatTemplate === undefined ? undefined : resolvePath(opts.chatTemplate),
    path: opts.path,
    recording: opts.recording,
    contextSize: opts.contextSize,
    sequences: opts.sequences,
    kvCache: opts.kvCache,
    threads: opts.threads,
    gpu: opts.gpu === undefined ? undefined : opts.gpu === "false" || opts.gpu === "off" ? false : opts.gpu,
  };
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  const replaced = settings.profile(name) !== undefined;
  const saved = settings.saveProfile(input);
  out.write(
    `${replaced ? "replaced" : "added"} model "${saved.name}" (${saved.backend}${saved.baseURL ? ` ${saved.baseURL}` : ""}${saved.path ? ` ${saved.path}` : ""}, model ${saved.model}) in ${settings.path}\n`,
  );
  return saved;
}

/** `concord models remove`: drop a saved profile and its name from the saved roles. */
export function removeModel(name: string, out: NodeJS.WritableStream = process.stdout): void {
  const settings = openSettings();
  if (!settings.removeProfile(name)) {
    const known =
      settings
        .profiles()
        .map((p) => p.name)
        .join(", ") || "none";
    throw new UserError(`no saved model named "${name}" in ${settings.path} (saved: ${known})`);
  }
  const roles = settings.roles();
  const next: Roles = {
    ...roles,
    generators: roles.generators.filter((n) => n !== name),
    evaluators: roles.evaluators.filter((n) => n !== name),
    targets: roles.targets.filter((n) => n !== name),
    continuers: roles.continuers.filter((n) => n !== name),
  };
  for (const k of ["sanitizer", "initiator", "prm"] as const) if (next[k] === name) delete next[k];
  settings.setRoles(next);
  out.write(`removed model "${name}" from ${settings.path}\n`);
}

export interface RolesOptions {
  generators?: string;
  evaluators?: string;
  targets?: string;
  continuers?: string;
  initiator?: string;
  sanitizer?: string;
  prm?: string;
  json?: boolean;
}

const LIST_ROLES = ["generators", "evaluators", "targets", "continuers"] as const;
const ONE_ROLES = ["initiator", "sanitizer", "prm"] as const;

/**
 * `concord models roles`: set the saved roles named on the command line (others are kept), each
 * name checked against the saved profiles and, where a probe says it cannot do the job, refused.
 * With no role flag it prints the saved roles.
 */
export function setRoles(opts: RolesOptions, out: NodeJS.WritableStream = process.stdout): Roles {
  const settings = openSettings();
  // Names known without a models file: saved profiles and the implicit OPENAI_BASE_URL one.
  const cfg = loadModelsConfig({ modelsFile: "", env: { ...process.env, CONCORD_MODELS: "" }, settings });
  const roles = settings.roles();
  const next: Roles = { ...roles };
  const check = (name: string, list: keyof typeof ROLE_OF_LIST) => {
    const p = cfg.profiles.find((q) => q.name === name);
    if (!p)
      throw new UserError(
        `--${list}: no model named "${name}" (known: ${cfg.profiles.map((q) => q.name).join(", ") || "none"}; add one with \`concord models add\`)`,
      );
    requireCapability(p, p.capabilities, ROLE_OF_LIST[list]);
    return name;
  };
  let changed = false;
  for (const k of LIST_ROLES) {
    const v = opts[k];
    if (v === undefined) continue;
    next[k] = [
      ...new Set(
        v
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean),
      ),
    ].map((n) => check(n, k));
    changed = true;
  }
  for (const k of ONE_ROLES) {
    const v = opts[k]?.trim();
    if (v === undefined) continue;
    if (v === "" || v === "none") delete next[k];
    else next[k] = check(v, k);
    changed = true;
  }
  if (changed) settings.setRoles(next);
  if (opts.json) out.write(JSON.stringify(next) + "\n");
  else {
    const show = (v: string[] | string | undefined) => (Array.isArray(v) ? v.join(", ") : (v ?? "")) || "-";
    for (const k of [...LIST_ROLES, ...ONE_ROLES]) out.write(`${k.padEnd(11)} ${clean(show(next[k]))}\n`);
  }
  return next;
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

export function register(program: Command): void {
  const models = program.command("models").description("list, add, remove and probe model profiles; assign roles");
  addModelsOption(
    models.command("list").description("list configured model profiles (settings, --models file, OPENAI_BASE_URL)").option("--json", "machine-readable output"),
  ).action((opts: CommonOptions) => listModels(opts));
  addModelsOption(
    models
      .command("probe [names...]")
      .description("ask each model (or the named ones) small real questions and record its capabilities")
      .option("--json", "machine-readable output")
      .option("--timeout <seconds>", "per-request timeout", seconds, 30),
  ).action(async (names: string[], opts: ProbeOptions) => {
    await probeModels(names, opts);
  });
  models
    .command("add <name>")
    .description("save a model profile in settings (API keys only as the NAME of an environment variable)")
    .requiredOption("--backend <kind>", "openai (any OpenAI-compatible server), local (a GGUF file) or replay (a recording)")
    .option("--base-url <url>", "openai: the server's base URL, e.g. http://127.0.0.1:8000/v1")
    .option("--model <id>", 'openai: the model id the server serves ("auto": its first)')
    .option("--api-key-env <NAME>", "openai: the environment variable holding the API key (never the key itself)")
    .option("--flavor <server>", `openai: the server kind (${FLAVORS.join(", ")}); default: detected`)
    .option("--thinking-format <format>", `how the model writes its thinking (${THINKING_FORMATS.join(", ")})`)
    .option("--reasoning-effort <low|medium|high>", "a reasoning model's effort (reasoning_effort; gpt-oss's template)")
    .option("--chat-template <file.jinja>", "openai: the model's chat template, rendered by Concord where the server's own deletes a prefill")
    .option("--path <file.gguf|hf:...|url>", "local: the GGUF file, hf: URI or URL")
    .option("--recording <file.jsonl>", "replay: the recording to serve")
    .option("--context-size <tokens>", "local: tokens per sequence", count)
    .option("--sequences <n>", "local: requests served at once", count)
    .option("--kv-cache <f32|f16>", "local: KV cache precision")
    .option("--threads <n>", "local: evaluation threads", count)
    .option("--gpu <auto|false|cuda|vulkan|metal>", "local: GPU use")
    .action((name: string, opts: AddOptions) => {
      addModel(name, opts);
    });
  models
    .command("remove <name>")
    .description("remove a saved model profile (and its name from the saved roles)")
    .action((name: string) => removeModel(name));
  models
    .command("roles")
    .description("set the saved roles (comma-separated model names; other roles are kept); no flags: show them")
    .option("--generators <names>", "models that write candidate sentences")
    .option("--evaluators <names>", "models that score candidates (need prompt log-probabilities)")
    .option("--targets <names>", "models that answer from a chain (need prefill)")
    .option("--continuers <names>", "models that finish a relayed chain (need prefill)")
    .option("--initiator <name>", 'model that starts a relay ("none" clears)')
    .option("--sanitizer <name>", 'model that rewrites chains ("none" clears)')
    .option("--prm <name>", 'process reward model for step scores ("none" clears)')
    .option("--json", "machine-readable output")
    .action((opts: RolesOptions) => {
      setRoles(opts);
    });
}
