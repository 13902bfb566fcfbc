// 10. Relay experiments and sentence importance at dataset scale: wall time against the ideal
// for the concurrency limits, and a rerun served by the response cache. Every model is an
// OpenAIBackend on its own vLLM protocol double with a fixed latency, so one request costs
// about the same whatever it asks. The ideal is the number of request "waves" the limits allow
// (the requests the doubles saw, over the requests in flight at once) times one request alone,
// a lower bound: the relay's chains must exist before they are continued.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect } from "../src/backends/types.js";
import { CachedBackend } from "../src/backends/cache.js";
import { OpenAIBackend } from "../src/backends/openai.js";
import { thinkingPrefill } from "../src/core/thinking.js";
import { parseExperimentSpec, runExperiment } from "../src/engine/experiment.js";
import { runImportance } from "../src/engine/importance.js";
import { Limiter } from "../src/engine/limits.js";
import type { ModelHandle } from "../src/engine/models.js";
import { startProtocolDouble, type ProtocolDouble, type ScriptRequest } from "../test/doubles/protocol-double.js";
import { syntheticProblems } from "./experiment.js";
import { check, fmt, median, ms, table, timed, type Bench } from "./lib.js";

export interface RelayBenchParams {
  problems: number;
  continuers: number;
  samples: number;
  importanceTargets: number;
  importanceSamples: number;
  latencyMs: number;
  global: number;
  perModel: number;
}

export interface Measured {
  wallMs: number;
  idealMs: number;
  calls: number;
  slots: number;
  records: number;
  cachedCalls: number;
  cachedRecords: number;
}

const CHAIN = " Tom starts with some. He buys more. Adding them gives the total. So that is it.</think>";
const isAnswer = (req: ScriptRequest) => (req.messages?.at(-1)?.content ?? req.prompt).includes("</think>");
const modelCalls = (d: ProtocolDouble) => d.requests.filter((r) => r.path === "/v1/chat/completions" || r.path === "/v1/completions").length;

async function doubles(n: number, latencyMs: number): Promise<ProtocolDouble[]> {
  const out: ProtocolDouble[] = [];
  for (let i = 0; i < n; i++)
    out.push(
      await startProtocolDouble({ flavor: "vllm", latencyMs, firstTokenMs: latencyMs / 10, script: (req) => (isAnswer(req) ? " The answer is 7." : CHAIN) }),
    );
  return out;
}

function handlesOf(ds: ProtocolDouble[], names: string[], cacheDir?: string): Map<string, ModelHandle> {
  return new Map(
    ds.map((d, i) => {
      const b = new OpenAIBackend({ name: names[i]!, backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" }, { maxRetries: 0 });
      const backend = cacheDir ? new CachedBackend(b, { dir: cacheDir, model: d.baseURL }) : b;
      return [names[i]!, { name: names[i]!, backend, thinkingFormat: "think-tags" } as ModelHandle];
    }),
  );
}

async function requestAlone(d: ProtocolDouble): Promise<number> {
  const b = new OpenAIBackend({ name: "one", backend: "openai", baseURL: d.baseURL, model: d.model, flavor: "vllm" }, { maxRetries: 0 });
  const one = () =>
    collect(
      b.stream({
        prompt: { kind: "chat", messages: [{ role: "user", content: "How many?" }], assistantPrefix: thinkingPrefill("think-tags", "") },
        maxTokens: 100,
        temperature: 0,
      }),
    );
  await one();
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) xs.push((await timed(one)).ms);
  return median(xs);
}

export async function measureRelay(p: RelayBenchParams): Promise<{ relay: Measured; importance: Measured; requestMs: number }> {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "concord-bench-relay-"));
    dirs.push(d);
    return d;
  };
  const ds = await doubles(1 + p.continuers, p.latencyMs);
  try {
    const requestMs = await requestAlone(ds[0]!);
    const names = ["init", ...Array.from({ length: p.continuers }, (_, i) => `cont${i + 1}`)];
    const problems = syntheticProblems(p.problems);
    const spec = (out: string) =>
      parseExperimentSpec(
        {
          name: "bench-relay",
          problems: { set: "builtin" },
          conditions: [
            { kind: "relay", initiators: ["init"], continuers: names.slice(1), rule: "quantile", samples: p.samples, maxTokens: 64, answerTokens: 16 },
          ],
          concurrency: { global: p.global, perModel: p.perModel },
          out,
        },
        "bench",
      );
    const calls = () => ds.reduce((s, d) => s + modelCalls(d), 0);
    const slotsRelay = Math.min(p.global, names.length * p.perModel);

    // The relay: timed without a cache, then a run filling a cache, then one served by it.
    const c0 = calls();
    const perModel0 = ds.map(modelCalls);
    const run = await timed(() => runExperiment(spec(tmp()), { problems, models: handlesOf(ds, names) }));
    const relayCalls = calls() - c0;
    // The busiest model's calls at its own limit bound the run as well (the initiator writes
    // every chain and its baseline before any continuer has work).
    const busiest = Math.max(...ds.map((d, i) => modelCalls(d) - perModel0[i]!));
    const cacheDir = tmp();
    await runExperiment(spec(tmp()), { problems, models: handlesOf(ds, names, cacheDir) });
    const c1 = calls();
    const cached = await runExperiment(spec(tmp()), { problems, models: handlesOf(ds, names, cacheDir) });
    const relay: Measured = {
      wallMs: run.ms,
      idealMs: Math.max(Math.ceil(relayCalls / slotsRelay), Math.ceil(busiest / p.perModel)) * requestMs,
      calls: relayCalls,
      slots: slotsRelay,
      records: run.value.written,
      cachedCalls: calls() - c1,
      cachedRecords: cached.written,
    };

    // Importance: every continuer's double is a target; a chain of five sentences.
    const targetsOf = (cache?: string) => {
      const limiter = new Limiter({ global: p.global, perModel: p.perModel });
      const hs = handlesOf(ds.slice(1, 1 + p.importanceTargets), names.slice(1, 1 + p.importanceTargets), cache);
      return [...hs.values()].map((h) => limiter.wrap(h));
    };
    const sentences = ["Tom has 3 apples.", "He buys 4 more.", "Three plus four is seven.", "He eats none.", "So he has 7."];
    const imp = (file: string | undefined, cache?: string) =>
      runImportance({ problem: problems[0]!, sentences, targets: targetsOf(cache), samples: p.importanceSamples, maxTokens: 64, answerTokens: 16, file });
    const slotsImp = Math.min(p.global, p.importanceTargets * p.perModel);
    const c2 = calls();
    const impRun = await timed(() => imp(join(tmp(), "s.jsonl")));
    const impCalls = calls() - c2;
    const impCache = tmp();
    await imp(undefined, impCache);
    const c3 = calls();
    const impCached = await imp(join(tmp(), "s.jsonl"), impCache);
    const importance: Measured = {
      wallMs: impRun.ms,
      idealMs: Math.ceil(impCalls / slotsImp) * requestMs,
      calls: impCalls,
      slots: slotsImp,
      records: impRun.value.made,
      cachedCalls: calls() - c3,
      cachedRecords: impCached.made,
    };
    return { relay, importance, requestMs };
  } finally {
    await Promise.all(ds.map((d) => d.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export const relay: Bench = {
  name: "relay",
  title: "Relay experiments and sentence importance: concurrency and cache",
  async run({ quick, log }) {
    const p: RelayBenchParams = quick
      ? { problems: 4, continuers: 2, samples: 1, importanceTargets: 2, importanceSamples: 2, latencyMs: 10, global: 4, perModel: 2 }
      : { problems: 40, continuers: 2, samples: 2, importanceTargets: 2, importanceSamples: 8, latencyMs: 100, global: 8, perModel: 4 };
    log?.(`relay: ${p.problems} problems, 1 initiator x ${p.continuers} continuers x 3 stages x ${p.samples} samples`);
    const r = await measureRelay(p);
    const relayRatio = r.relay.wallMs / r.relay.idealMs;
    const impRatio = r.importance.wallMs / r.importance.idealMs;
    const row = (what: string, m: Measured) => [
      what,
      String(m.records),
      String(m.calls),
      String(m.slots),
      ms(m.wallMs),
      ms(m.idealMs),
      fmt(m.wallMs / m.idealMs),
      `${m.cachedRecords} / ${m.cachedCalls}`,
    ];
    return {
      body: [
        `Relay: ${p.problems} problems, one initiator and ${p.continuers} continuers (stages early, mid, late; ${p.samples} samples per cut; both baselines; no judge), ` +
          `importance: a 5-sentence chain, ${p.importanceTargets} targets, ${p.importanceSamples} samples per prefix. Each model an OpenAIBackend on its own vLLM double ` +
          `(${p.latencyMs} ms a request, its first token after ${p.latencyMs / 10} ms, as a server prefills and then decodes: requests sharing a prompt are sent after the first one's first token, so the server's prefix cache serves them). Limits: global ${p.global}, per model ${p.perModel}. Ideal = the larger of ceil(model calls / requests at once) and ceil(the busiest model's calls / its limit), x one request alone ` +
          `(${ms(r.requestMs)}, median of 5); the relay's chains come before their continuations, so the ideal is a lower bound.`,
        table(
          ["run", "records / samples", "model calls", "at once", "wall", "ideal", "wall / ideal", "from the cache: records / calls"],
          [row("relay experiment", r.relay), row("sentence importance", r.importance)],
        ),
      ],
      checks: [
        check("relay: wall / ideal under the concurrency limit", relayRatio, "<= 1.10", relayRatio <= 1.1),
        check("importance: wall / ideal under the concurrency limit", impRatio, "<= 1.10", impRatio <= 1.1),
        check(
          "model calls of reruns served from the cache",
          r.relay.cachedCalls + r.importance.cachedCalls,
          "0",
          r.relay.cachedCalls + r.importance.cachedCalls === 0 && r.relay.cachedRecords === r.relay.records,
        ),
      ],
      notes: [],
    };
  },
};
