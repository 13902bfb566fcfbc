// What `concord replay <recording>` races with. A recording imported from the paper's ensemble
// traces (`concord import trace`) names its generators and evaluator: each gets its own replay
// backend, so the real candidates of every generator stream in with their recorded timing, and the
// race runs in paper mode, where following the recorded picks rebuilds the recorded chain. Any
// other recording serves every role from one replay backend.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { ReplayBackend, thinkingAnchor, thinkingOf, type Recording, type ReplaySpeed } from "../backends/replay.js";
import {
  BackendError,
  type Backend,
  type Capabilities,
  type CompletionResult,
  type ScoreRequest,
  type ScoreResult,
  type StreamChunk,
  type TokenLogprob,
} from "../backends/types.js";
import type { Problem } from "../core/types.js";
import type { EnsembleMode } from "./ensemble.js";
import type { ModelHandle } from "./models.js";
import { loadProblems, medcalcMessages } from "../problems/index.js";
import { UserError } from "../errors.js";

export interface TraceReplay {
  generators: string[];
  evaluator: string;
  /** The recording's problem tag (the row index of the trace). */
  problemTag: string;
  rowNumber?: string;
  /** Candidates per generator per step. */
  k: number;
  steps: number;
  mode: EnsembleMode;
}

interface TraceHeader {
  generators?: unknown;
  evaluator?: unknown;
  problems?: Array<{ problem?: unknown; rowNumber?: unknown; steps?: unknown }>;
}

/** The problems a trace recording holds: each one's tag and, when known, its Row Number. */
export function traceProblems(rec: Recording): Array<{ tag: string; rowNumber?: string }> {
  const h = rec.header as TraceHeader;
  return (h.problems ?? []).map((p) => ({ tag: String(p.problem ?? "0"), ...(typeof p.rowNumber === "string" ? { rowNumber: p.rowNumber } : {}) }));
}

/** The trace-import facts of a recording (for one of its problems: its tag or Row Number; default
 * the first), or undefined when it is not one. */
export function traceReplayOf(rec: Recording, problem?: string): TraceReplay | undefined {
  const h = rec.header as TraceHeader;
  if (!Array.isArray(h.generators) || !h.generators.length || typeof h.evaluator !== "string") return undefined;
  const generators = h.generators.filter((g): g is string => typeof g === "string");
  const first = problem === undefined ? h.problems?.[0] : h.problems?.find((p) => String(p.problem) === problem || p.rowNumber === problem);
  if (problem !== undefined && !first) {
    const held = traceProblems(rec);
    const list = held
      .slice(0, 8)
      .map((p) => (p.rowNumber ? `${p.tag} (row ${p.rowNumber})` : p.tag))
      .join(", ");
    throw new UserError(`${rec.file}: no problem "${problem}" in this recording; it holds ${held.length}: ${list}${held.length > 8 ? ", ..." : ""}`);
  }
  const problemTag = first?.problem === undefined ? "0" : String(first.problem);
  // k: how many streams the first generator has for the first step of that problem.
  const k = rec.exchanges.filter((e) => e.type === "stream" && e.backend === generators[0] && e.problem === problemTag && e.step === 0).length || 3;
  return {
    generators,
    evaluator: h.evaluator,
    problemTag,
    rowNumber: typeof first?.rowNumber === "string" ? first.rowNumber : undefined,
    k,
    steps: typeof first?.steps === "number" ? first.steps : 60,
    mode: "paper",
  };
}

/** A candidate as the trace and the race write it: up to the end of thought, trimmed. */
function traceText(text: string): string {
  return text.replace(/<\/think>[\s\S]*$/, "").trim();
}

/**
 * The evaluator of a trace. The trace kept one number per step, the perplexity the evaluator gave
 * the winner; it is served for that candidate at that point of the chain (found by the thinking so
 * far, as the generators' streams are), in whichever reading the race asks for. The other
 * candidates were never scored in the trace: asking for them says so, and they show no score.
 */
class TraceScoreBackend implements Backend {
  readonly name: string;
  private readonly scores = new Map<string, TokenLogprob[]>();

  constructor(rec: Recording, tr: TraceReplay) {
    this.name = tr.evaluator;
    for (const e of rec.exchanges) {
      if (e.type !== "score" || e.backend !== tr.evaluator || e.problem !== tr.problemTag || !e.thinking || !e.result) continue;
      e.request.candidates.forEach((c, i) => {
        const scored = e.result!.candidates[i];
        if (scored) this.scores.set(`${e.thinking!.sha256}\u241f${traceText(c)}`, scored.tokens);
      });
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    req.signal?.throwIfAborted();
    const at = thinkingAnchor(thinkingOf(req.prefix)).sha256;
    const candidates = req.candidates.map((c) => {
      const tokens = this.scores.get(`${at}\u241f${traceText(c)}`);
      if (!tokens) throw new BackendError(NOT_SCORED, this.name);
      // The recorded number already covers the whole sequence: no separate prefix tokens.
      return req.includePrefix ? { tokens, prefixTokens: [] } : { tokens };
    });
    return { candidates, evaluatedTokens: candidates.reduce((n, c) => n + c.tokens.length, 0) };
  }

  // eslint-disable-next-line require-yield
  async *stream(): AsyncGenerator<StreamChunk, CompletionResult> {
    throw new BackendError("the trace recorded no text from its evaluator", this.name);
  }

  async probe(): Promise<Capabilities> {
    return {
      streaming: false,
      tokenLogprobs: false,
      promptScoring: true,
      prefill: false,
      reasoningField: null,
      notes: ["scores recorded in a trace (the winner of each step only)"],
    };
  }

  async close(): Promise<void> {}
}

/** Why a trace candidate shows no score (the race keeps quiet about it). */
export const NOT_SCORED = "not scored in the trace (it kept only the winner's score)";

/** A handle per recorded model: each serves only its own exchanges of the one problem. */
export function traceHandle(rec: Recording, tr: TraceReplay, name: string, speed: ReplaySpeed = "original"): ModelHandle {
  return {
    name,
    backend:
      name === tr.evaluator ? new TraceScoreBackend(rec, tr) : new ReplayBackend(rec, { backend: name, problem: tr.problemTag, name, speed, again: true }),
    thinkingFormat: "think-tags",
  };
}

async function lineAt(file: string, index: number): Promise<string | undefined> {
  const rl = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let i = 0;
  try {
    for await (const line of rl) if (i++ === index) return line;
  } finally {
    rl.close();
  }
  return undefined;
}

function existing(...paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** The project's root (this file is in src/ui or dist/ui): recordings are often imported there. */
const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The first answer of `find` for `dir` or one of its parents (a few levels up). */
function upFrom<T>(dir: string, find: (d: string) => T | undefined, levels = 4): T | undefined {
  for (let d = dir, i = 0; i <= levels; i++) {
    const found = find(d);
    if (found !== undefined) return found;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The problem a trace was made on, found from the trace's source (a row file or the folder of
 * them, as `concord import trace` names it in the header; a relative path is tried from here, from
 * the recording's folder and from the project root): the genex outputs files beside it list the
 * same items in the same order (giving the Row Number, unless the header has it), and the
 * MedCalc-Bench CSV holds the full row. Without them, a stand-in that says where the question
 * would come from (replay matches on the thinking only).
 */
export async function traceProblem(rec: Recording, tr: TraceReplay): Promise<Problem> {
  const src = typeof rec.header.source === "string" ? rec.header.source : undefined;
  const traceFile = src ? existing(...[process.cwd(), dirname(rec.file), PROJECT_ROOT].map((base) => resolve(base, src))) : undefined;
  const why = !src
    ? "the recording names no source"
    : !traceFile
      ? `its source ${src} is not found from here (run from the folder it was imported in)`
      : `no genex outputs or MedCalc-Bench CSV beside ${src} (import with --rows to record Row Numbers)`;
  const fallback: Problem = {
    id: tr.rowNumber ?? tr.problemTag,
    source: "replay",
    messages: [{ role: "user", content: `(the question of this recording is not known: ${why})` }],
    reference: { kind: "free", value: "" },
    meta: {},
  };
  // .../genex/medcalc holds outputs/ and the trace folder (ensemble_.../row files).
  const genexDir = traceFile ? upFrom(isDir(traceFile) ? traceFile : dirname(traceFile), (d) => (isDir(join(d, "outputs")) ? d : undefined), 2) : undefined;
  const index = Number(tr.problemTag);
  let rowNumber = tr.rowNumber;
  let record: Record<string, unknown> | undefined;
  try {
    const outputs = genexDir ? join(genexDir, "outputs") : undefined;
    const file = outputs
      ? readdirSync(outputs)
          .filter((n) => n.endsWith(".jsonl"))
          .sort()[0]
      : undefined;
    if (outputs && file && Number.isInteger(index)) {
      const line = await lineAt(join(outputs, file), index);
      if (line) record = JSON.parse(line) as Record<string, unknown>;
      if (record && rowNumber === undefined && record["Row Number"] !== undefined) rowNumber = String(record["Row Number"]);
    }
    const csvIn = (d: string) => existing(join(d, "medcalc-bench", "test_data.csv"), join(d, "data", "medcalc-bench", "test_data.csv"));
    const csv = (genexDir ? upFrom(genexDir, csvIn) : undefined) ?? (rowNumber !== undefined ? csvIn(resolve(PROJECT_ROOT, "..", "shared")) : undefined);
    if (csv && rowNumber !== undefined) {
      for await (const p of loadProblems(csv, { onError: () => {} })) if (p.id === rowNumber) return p;
    }
  } catch {
    // the stand-in below still replays: the prompt is not what the recording matches on
  }
  if (record && typeof record["Patient Note"] === "string" && typeof record["Question"] === "string") {
    return {
      id: rowNumber ?? tr.problemTag,
      source: "medcalc-bench",
      messages: medcalcMessages(record["Patient Note"], record["Question"]),
      reference: { kind: "exact", value: String(record["Ground Truth Answer"] ?? "") },
      meta: { calculatorId: (record["Calculator ID"] as number | string | undefined) ?? null },
    };
  }
  return fallback;
}
