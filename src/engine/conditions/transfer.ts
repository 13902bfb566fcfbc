// Transfer(S): every target answers from source S's chain (greedy by default, as the authors'),
// or from chains written beforehand (`cots`: a JSONL file or a folder of <problemId>.txt).
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { collapseWhitespace } from "../../core/paper-grade.js";
import type { ConditionSpec } from "../../config/experiment-spec.js";
import { UserError } from "../../errors.js";
import { generateCot } from "../cot.js";
import { conditionKey } from "../../results/schema.js";
import { chainKey, recordCondition, transferChainBase } from "./keys.js";
import type { ConditionStrategy } from "./types.js";

type TransferSpec = Extract<ConditionSpec, { kind: "transfer" }>;

const curated = new Map<string, Promise<Map<string, string>>>();

/** Chains written beforehand, by problem id: a JSONL file of {problemId, cot}, or a folder of <id>.txt. */
export function curatedCots(path: string): Promise<Map<string, string>> {
  let p = curated.get(path);
  if (!p) {
    p = readCuratedCots(path);
    curated.set(path, p);
    // A file fixed after a failed read is read again.
    p.catch(() => curated.delete(path));
  }
  return p;
}

async function readCuratedCots(path: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) throw new UserError(`${path}: no such file or folder (transfer cots)`);
  if (st.isDirectory()) {
    for (const name of (await fs.readdir(path)).filter((n) => n.endsWith(".txt"))) {
      out.set(name.slice(0, -4), (await fs.readFile(join(path, name), "utf8")).trim());
    }
    return out;
  }
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"}) (transfer cots)`);
  }
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UserError(`${path} line ${i + 1}: not valid JSON`);
    }
    const rec = v as { problemId?: unknown; cot?: unknown };
    if (typeof rec?.problemId !== "string" || typeof rec.cot !== "string")
      throw new UserError(`${path} line ${i + 1}: expected {"problemId": "...", "cot": "..."}`);
    out.set(rec.problemId, rec.cot.trim());
  });
  return out;
}

export const transferCondition: ConditionStrategy<TransferSpec> = {
  fullCot: async (job, ctx) => {
    const c = job.cond;
    if (c.cots) {
      const chains = await curatedCots(c.cots);
      const cot = chains.get(job.problem.id);
      if (cot === undefined) throw new UserError(`${c.cots}: no chain for problem "${job.problem.id}"`);
      // The authors' transferred chains were cut from whitespace-collapsed replies (LLMInference.answer).
      return { cot: ctx.mode === "paper" ? collapseWhitespace(cot) : cot, meta: { cotSource: c.source, cotFile: c.cots } };
    }
    const temperature = ctx.spec.cot.transferTemperature;
    return ctx.cots.get(chainKey(transferChainBase(c.source), job.problem), async () => {
      const r = await generateCot(ctx.model(c.source), job.problem, {
        maxTokens: ctx.spec.cot.maxTokens,
        temperature,
        seed: ctx.spec.cot.seed,
        signal: ctx.signal,
        paper: ctx.mode === "paper",
      });
      const cot = ctx.mode === "paper" ? collapseWhitespace(r.cot) : r.cot;
      return { cot, meta: { cotModel: c.source, cotClosed: r.closed, cotTemperature: temperature } };
    });
  },
  chainKey: (job) => conditionKey(recordCondition(job.cond, "full")),
  answerTemperature: () => 0,
  // run_transfer_thoughts.py's extract_answer read the global model_name: the source's.
  paperGradingModel: (job) => job.cond.source,
};
