// `concord models list|probe`: the configured model profiles, and what each server can really do.
import { InvalidArgumentError, type Command } from "commander";
import stringWidth from "string-width";
import stripAnsi from "strip-ansi";
import { OpenAIBackend } from "../backends/openai.js";
import { addModelsOption, loadModelsConfig, type ModelProfile, type ModelsConfig, type ProbeRecord, type ProfileSource } from "../config/index.js";
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
  return oneLine(stripAnsi(text)).replace(/\s+/g, " ");
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...rows.map((r) => stringWidth(r[i] ?? ""))));
  const line = (cells: string[]) => cells.map((c, i) => c + " ".repeat(widths[i] - stringWidth(c))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

const yn = (b: boolean | undefined) => (b === undefined ? "?" : b ? "yes" : "no");

function sourceText(s: ProfileSource | undefined): string {
  if (!s) return "";
  return typeof s === "string" ? s : `file ${s.file}`;
}

function select(cfg: ModelsConfig, names: string[]): ModelProfile[] {
  if (!names.length) return cfg.profiles;
  return names.map((n) => {
    const p = cfg.profiles.find((q) => q.name === n);
    if (!p) throw new UserError(`no model named "${n}" (known: ${cfg.profiles.map((q) => q.name).join(", ") || "none"})`);
    return p;
  });
}

export function listModels(opts: CommonOptions, out: NodeJS.WritableStream = process.stdout): void {
  const cfg = loadModelsConfig({ modelsFile: opts.models });
  if (opts.json) {
    out.write(JSON.stringify(cfg.profiles.map((p) => ({ ...p, source: cfg.sources[p.name] })), null, 2) + "\n");
    return;
  }
  if (!cfg.profiles.length) {
    out.write("no models configured: add profiles with --models <file>, CONCORD_MODELS, or OPENAI_BASE_URL\n");
    return;
  }
  const rows = cfg.profiles.map((p) => [
    p.name,
    p.backend,
    p.flavor ?? p.capabilities?.flavor ?? "",
    p.model,
    p.baseURL ?? p.path ?? p.recording ?? "",
    p.apiKeyEnv ? `$${p.apiKeyEnv}` : "",
    p.capabilities ? "yes" : "no",
    sourceText(cfg.sources[p.name]),
  ]);
  out.write(table(["name", "backend", "flavor", "model", "where", "key", "probed", "from"], rows.map((r) => r.map(clean))));
}

export interface ProbeRow {
  name: string;
  flavor?: string;
  capabilities?: ProbeRecord;
  skipped?: string;
  error?: string;
}

export async function probeModels(names: string[], opts: ProbeOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<ProbeRow[]> {
  const cfg = loadModelsConfig({ modelsFile: opts.models });
  const chosen = select(cfg, names);
  if (!chosen.length) throw new UserError("no models configured: add profiles with --models <file>, CONCORD_MODELS, or OPENAI_BASE_URL");
  const rows: ProbeRow[] = [];
  for (const p of chosen) {
    if (p.backend !== "openai") {
      rows.push({ name: p.name, skipped: `${p.backend} models run in-process; nothing to probe` });
      continue;
    }
    err.write(`probing ${p.name} (${p.baseURL}) ...\n`);
    // A probe asks afresh: the old record must not steer the methods it tries.
    const backend = new OpenAIBackend({ ...p, capabilities: undefined }, { timeoutMs: opts.timeout * 1000, maxRetries: 1 });
    try {
      const caps = await backend.probe();
      const saved = cfg.settings.saveProbe(p, caps);
      rows.push({ name: p.name, flavor: caps.flavor, capabilities: saved });
    } catch (e) {
      rows.push({ name: p.name, error: clean(oneLine(e)) });
    } finally {
      await backend.close();
    }
  }
  if (opts.json) {
    out.write(JSON.stringify(rows, null, 2) + "\n");
  } else {
    const body = rows.map((r) => {
      const c = r.capabilities;
      if (!c) return [r.name, "", "", "", "", "", r.error ? "error" : "skipped"];
      return [r.name, c.flavor ?? "unknown", yn(c.streaming), yn(c.tokenLogprobs), yn(c.promptScoring), yn(c.prefill), c.reasoningField ?? "none"];
    });
    out.write(table(["name", "flavor", "stream", "token logprobs", "prompt scoring", "prefill", "reasoning field"], body.map((r) => r.map(clean))));
    for (const r of rows) {
      if (r.error) out.write(`${clean(r.name)}: ${r.error}\n`);
      if (r.skipped) out.write(`${clean(r.name)}: ${r.skipped}\n`);
      for (const n of r.capabilities?.notes ?? []) out.write(`${clean(r.name)}: ${clean(n)}\n`);
    }
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
  return rows;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

export function register(program: Command): void {
  const models = program.command("models").description("list model profiles and probe what their servers can do");
  addModelsOption(
    models
      .command("list")
      .description("list configured model profiles (settings, --models file, OPENAI_BASE_URL)")
      .option("--json", "machine-readable output"),
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
}
