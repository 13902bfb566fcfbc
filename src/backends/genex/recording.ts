// A genex trace as a recording the replay backend serves: each candidate streamed in word-ish
// pieces at the logged pace, and the evaluator's recorded perplexity as a score.
import { writeFileVerified } from "../../fsutil/write.js";
import { RECORDING_SCHEMA, type Exchange, type RecordingHeader, type ScoreExchange, type StreamExchange } from "../recorder.js";
import { thinkingAnchor } from "../replay.js";
import type { GenexTrace } from "../genex-trace.js";

// --- as a recording ----------------------------------------------------------------------------

/** Word-ish pieces whose concatenation is the text: each word with the spaces after it. */
export function wordPieces(text: string): string[] {
  return text.match(/^\s+|\S+\s*/g) ?? [];
}

export interface RecordingConversion {
  header: RecordingHeader;
  exchanges: Exchange[];
}

export interface ToRecordingOptions {
  /** Milliseconds between pieces when the trace has no timing (default 40). */
  pieceMs?: number;
  /** Channel the candidates stream on (default "content"). */
  channel?: "content" | "reasoning";
  created?: string;
}

/**
 * Turn a trace into a recording. Each step gives, per generator, one stream per candidate (word-ish
 * chunks, spread over the iteration's logged seconds when known, else `pieceMs` apart), matched on
 * the thinking so far (the earlier selected texts, space-joined, kept as a hash); and, when the trace kept the
 * evaluator's score, a score of the selected text. The trace keeps only the paper's perplexity
 * of the whole sequence, so it is spread evenly over the candidate's pieces: exp(mean NLL) of the
 * served tokens equals the recorded perplexity (meta.perplexity keeps the number itself).
 * Problems are tagged by index, so serve one with ReplayBackend({problem}).
 */
export function traceToRecording(trace: GenexTrace, options: ToRecordingOptions = {}): RecordingConversion {
  const pieceMs = options.pieceMs ?? 40;
  const channel = options.channel === "reasoning" ? { channel: "reasoning" as const } : {};
  const evaluator = trace.evaluator ?? "evaluator";
  const header: RecordingHeader = {
    schema: RECORDING_SCHEMA,
    kind: "concord-recording",
    created: options.created ?? new Date().toISOString(),
    source: trace.source,
    note: "imported from a genex ensemble trace; exchanges match on the thinking so far",
    format: trace.format,
    generators: trace.generators,
    evaluator,
    problems: trace.problems.map((p) => ({
      problem: String(p.index),
      ...(p.rowNumber !== undefined ? { rowNumber: p.rowNumber } : {}),
      steps: p.steps.length,
      finished: p.finished,
    })),
  };
  const exchanges: Exchange[] = [];
  for (const p of trace.problems) {
    const problem = String(p.index);
    let soFar = "";
    p.steps.forEach((step, s) => {
      const thinking = thinkingAnchor(soFar);
      for (const c of step.candidates) {
        const pieces = wordPieces(c.text);
        const total = step.seconds !== undefined ? step.seconds * 1000 : pieces.length * pieceMs;
        const ex: StreamExchange = {
          type: "stream",
          backend: c.generator,
          problem,
          step: s,
          thinking,
          chunks: pieces.map((text, i) => ({ t: Math.round((total * (i + 1)) / pieces.length), ...channel, text })),
          result: {
            text: options.channel === "reasoning" ? "" : c.text,
            reasoning: options.channel === "reasoning" ? c.text : "",
            finishReason: "stop",
          },
        };
        exchanges.push(ex);
      }
      const pieces = wordPieces(step.selectedText);
      if (step.score !== undefined && step.score > 0 && pieces.length > 0) {
        const logprob = -Math.log(step.score);
        const ex: ScoreExchange = {
          type: "score",
          backend: evaluator,
          problem,
          step: s,
          thinking,
          request: { candidates: [step.selectedText] },
          result: { candidates: [{ tokens: pieces.map((token) => ({ token, logprob })) }], evaluatedTokens: pieces.length },
          meta: { perplexity: step.score, scope: "whole sequence, prompt included (the paper's code)" },
        };
        exchanges.push(ex);
      }
      soFar = s === 0 ? step.selectedText : `${soFar} ${step.selectedText}`;
    });
  }
  return { header, exchanges };
}

/** Write a whole recording at once, verified: readers never see half a file, and a full disk
 * keeps the previous file and says so in one line naming it. */
export async function writeRecordingFile(path: string, recording: RecordingConversion): Promise<void> {
  const lines = [JSON.stringify(recording.header), ...recording.exchanges.map((e) => JSON.stringify(e))];
  await writeFileVerified(path, `${lines.join("\n")}\n`, { what: "recording" });
}
