// A model writes its own chain of thought: the thinking block is opened (prefilled) and the
// model continues until it closes the block or runs out of budget.
import type { TokenLogprob } from "../backends/types.js";
import { endOfThoughtMarker, openThinkingPrefill } from "../core/thinking.js";
import type { Problem } from "../core/types.js";
import { childController, CancelledError, raceAbort, settleWithin } from "./abort.js";
import type { ModelHandle } from "./models.js";
import { paperOwnChainPrompt } from "./paper-requests.js";

export interface CotOptions {
  maxTokens?: number;
  /** 0 = greedy; undefined = the model's default. */
  temperature?: number;
  seed?: number;
  /** Ask for per-token log-probabilities (the relay's initiator needs them). */
  logprobs?: boolean;
  /** Continue after this partial chain instead of starting empty (relay continuers). */
  prefix?: string;
  signal?: AbortSignal;
  /** The paper reading: the authors' request text (their generate()), not Concord's prefill. */
  paper?: boolean;
  /** Called with each piece of thinking text as it arrives. */
  onText?: (text: string) => void;
}

export interface CotResult {
  /** The thinking text written by the model (after `prefix`, without the end marker). */
  cot: string;
  /** The model closed its thinking block (else it ran out of budget). */
  closed: boolean;
  /** Log-probabilities of the tokens of `cot`, when asked for and given. */
  tokens?: TokenLogprob[];
}

export const DEFAULT_COT_TOKENS = 1024;

export async function generateCot(model: ModelHandle, problem: Problem, opts: CotOptions = {}): Promise<CotResult> {
  const ctrl = childController(opts.signal);
  const marker = endOfThoughtMarker(model.thinkingFormat);
  const gen = model.backend.stream({
    prompt: (opts.paper && !opts.prefix && paperOwnChainPrompt(model, problem)) || {
      kind: "chat",
      messages: problem.messages,
      assistantPrefix: openThinkingPrefill(model.thinkingFormat, opts.prefix ?? ""),
    },
    maxTokens: opts.maxTokens ?? DEFAULT_COT_TOKENS,
    temperature: opts.temperature ?? model.sampling?.temperature,
    topK: model.sampling?.topK,
    topP: model.sampling?.topP,
    seed: opts.seed ?? model.sampling?.seed,
    // The server stops at the end of the thought: the reply is then whole (the response cache
    // keeps it; a stream cut short by the reader is never cached), and nothing is paid after it.
    // A server that ignores stop is still cut at the marker below.
    ...(marker ? { stop: [marker] } : {}),
    logprobs: opts.logprobs,
    signal: ctrl.signal,
  });
  let text = "";
  let sawReasoning = false;
  let closed = false;
  let finished = false;
  const tokens: TokenLogprob[] = [];
  try {
    for (;;) {
      const next = await raceAbort(gen.next(), ctrl.signal);
      if (next.done) {
        finished = true;
        if (next.value.finishReason === "abort") throw new CancelledError("chain of thought");
        // Ending the turn inside the thinking block ends the thought as well.
        if (next.value.finishReason === "stop") closed = true;
        break;
      }
      const chunk = next.value;
      if (chunk.channel === "content" && sawReasoning) {
        closed = true;
        break;
      }
      if (chunk.channel === "reasoning") sawReasoning = true;
      text += chunk.text;
      if (chunk.tokens) tokens.push(...chunk.tokens);
      opts.onText?.(chunk.text);
      if (marker && text.includes(marker)) {
        closed = true;
        break;
      }
    }
  } finally {
    if (!finished) {
      ctrl.abort();
      // Wait for the backend to really stop before anyone may close the model.
      await settleWithin(gen.return(undefined as never), 2000);
    }
  }
  const at = marker ? text.indexOf(marker) : -1;
  const cot = at >= 0 ? text.slice(0, at) : text;
  return { cot, closed, tokens: tokens.length ? trimTokens(tokens, cot.length) : undefined };
}

/** The leading tokens whose text makes up the first `chars` characters. */
export function trimTokens(tokens: TokenLogprob[], chars: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  let seen = 0;
  for (const t of tokens) {
    if (seen >= chars) break;
    out.push(t);
    seen += t.token.length;
  }
  return out;
}
