// 5. Experiments: problems x targets through runExperiment, every target an OpenAIBackend on
// its own protocol double with a fixed latency and token rate, under the spec's global and
// per-model concurrency limits. The ideal wall time is the number of request "waves" the
// limits allow times one request's own time (measured alone, side by side). Then the same
// experiment again into a fresh results folder with every target behind a CachedBackend
// filled by a first cached run: the doubles must see zero model calls.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect } from "../src/backends/types.js";
import { CachedBackend } from "../src/backends/cache.js";
import { OpenAIBackend } from "../src/backends/openai.js";
import type { Problem } from "../src/core/types.js";
import { parseExperimentSpec, runExperiment } from "../src/engine/experiment.js";
import type { ModelHandle } from "../src/engine/models.js";
import { thinkingPrefill } from "../src/core/thinking.js";
import { startProtocolDouble, type ProtocolDouble } from "../test/doubles/protocol-double.js";
import { check, fmt, median, ms, table, timed, type Bench } from "./lib.js";

export interface ExperimentParams {
  problems: number;
  targets: number;
  latencyMs: number;
  tokensPerSecond: number;
  global: number;
  perModel: number;
}

export interface ExperimentRun {
  wallMs: number;
  idealMs: number;
  requestMs: number;
  slots: number;
  records: number;
  cachedWallMs: number;
  cachedRecords: number;
  /** Model calls the doubles saw during the cached run. */
  cachedCalls: number;
  /** Model calls during the run that filled the cache. */
  fillCalls: number;
}

export function syntheticProblems(n: number): Problem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i + 1}`,
    source: "bench",
    messages: [{ role: "user", content: `Sam has ${i + 2} pens and buys ${i + 3} more. How many pens does he have now?` }],
    reference: { kind: "number", value: String(2 * i + 5) },
    meta: {},
  }));
}

const modelCalls = (d: ProtocolDouble) => d.requests.filter((r) => r.path === "/v1/chat/completions" || r.path === "/v1/completions").length;

export async function measureExperiment(p: ExperimentParams): Promise<ExperimentRun> {
  const doubles: ProtocolDouble[] = [];
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "concord-bench-exp-"));
    dirs.push(d);
    return d;
  };
  try {
    for (let i = 0; i < p.targets; i++) {
      doubles.push(
        await startProtocolDouble({ flavor: "vllm", latencyMs: p.latencyMs, tokensPerSecond: p.tokensPerSecond, script: () => " The answer is 12." }),
      );
    }
    const names = doubles.map((_, i) => `t${i + 1}`);
    const backends = doubles.map(
      (d, i) => new OpenAIBackend({ name: names[i]!, backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" }, { maxRetries: 0 }),
    );
    const handles = (wrap?: (b: OpenAIBackend, i: number) => ModelHandle["backend"]) =>
      new Map(backends.map((b, i) => [names[i]!, { name: names[i]!, backend: wrap ? wrap(b, i) : b, thinkingFormat: "think-tags" } as ModelHandle]));
    const problems = syntheticProblems(p.problems);
    const spec = (out: string) =>
      parseExperimentSpec(
        { name: "bench", problems: { set: "builtin" }, conditions: ["empty"], targets: names, concurrency: { global: p.global, perModel: p.perModel }, out },
        "bench",
      );

    // One request alone: what every answer costs without any queueing.
    const one = () =>
      collect(
        backends[0]!.stream({
          prompt: { kind: "chat", messages: problems[0]!.messages, assistantPrefix: thinkingPrefill("think-tags", "") },
          maxTokens: 100,
          temperature: 0,
        }),
      );
    await one();
    const singles: number[] = [];
    for (let i = 0; i < 5; i++) singles.push((await timed(one)).ms);
    const requestMs = median(singles);

    const run = await timed(() => runExperiment(spec(tmp()), { problems, models: handles() }));
    const slots = Math.min(p.global, p.targets * p.perModel);
    const jobs = p.problems * p.targets;
    const idealMs = Math.ceil(jobs / slots) * requestMs;

    // Cache: a first run fills it (and calls the models), a second run into a new folder must not.
    const cacheDir = tmp();
    const cached = () => handles((b, i) => new CachedBackend(b, { dir: cacheDir, model: doubles[i]!.baseURL }));
    const before = doubles.reduce((s, d) => s + modelCalls(d), 0);
    await runExperiment(spec(tmp()), { problems, models: cached() });
    const afterFill = doubles.reduce((s, d) => s + modelCalls(d), 0);
    const second = await timed(() => runExperiment(spec(tmp()), { problems, models: cached() }));
    const afterCached = doubles.reduce((s, d) => s + modelCalls(d), 0);
    return {
      wallMs: run.ms,
      idealMs,
      requestMs,
      slots,
      records: run.value.written,
      cachedWallMs: second.ms,
      cachedRecords: second.value.written,
      cachedCalls: afterCached - afterFill,
      fillCalls: afterFill - before,
    };
  } finally {
    await Promise.all(doubles.map((d) => d.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export const experiment: Bench = {
  name: "experiment",
  title: "Experiments: concurrency and cache",
  async run({ quick, log }) {
    const p: ExperimentParams = quick
      ? { problems: 4, targets: 2, latencyMs: 10, tokensPerSecond: 0, global: 2, perModel: 1 }
      : { problems: 100, targets: 5, latencyMs: 100, tokensPerSecond: 100, global: 8, perModel: 2 };
    log?.(`experiment: ${p.problems} problems x ${p.targets} targets`);
    const r = await measureExperiment(p);
    const ratio = r.wallMs / r.idealMs;
    return {
      body: [
        `${p.problems} problems x ${p.targets} targets, condition \`empty\` (one answer request per problem and target), each target an OpenAIBackend on its own vLLM double ` +
          `(${p.latencyMs} ms latency, ${p.tokensPerSecond || "unlimited"} tokens/s, a 6-token answer). Limits: global ${p.global}, per model ${p.perModel}, so ${r.slots} requests at once. ` +
          `Ideal = ceil(${p.problems * p.targets} / ${r.slots}) x one request alone (${ms(r.requestMs)}, median of 5).`,
        table(
          ["figure", "value"],
          [
            ["records written", String(r.records)],
            ["wall time", ms(r.wallMs)],
            ["ideal under the limits", ms(r.idealMs)],
            ["wall / ideal", fmt(ratio)],
            ["model calls filling the cache", String(r.fillCalls)],
            ["second run from the cache: records / model calls", `${r.cachedRecords} / ${r.cachedCalls}`],
            ["second run from the cache: wall time", ms(r.cachedWallMs)],
          ],
        ),
      ],
      checks: [
        check("wall / ideal under the concurrency limit", ratio, "<= 1.10", ratio <= 1.1),
        check("model calls in the run served from the cache", r.cachedCalls, "0", r.cachedCalls === 0 && r.cachedRecords === r.records),
      ],
      notes: [],
    };
  },
};
