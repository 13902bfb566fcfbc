// BatchingServer: an in-process double of one model server with continuous batching (not a
// model). Throughput model, stated: every request is work in token-times, `prefill` of them
// before its first token plus one per generated token; the server runs up to `maxBatch` requests
// at once and queues the rest in arrival order; with b requests running, each advances one token
// every tokenMs x (1 + slowdown x (b - 1)) (processor sharing), so a full batch of 64 at
// slowdown 0.01 serves 64 / 1.63 = 39 times the tokens per second of one request alone.
// Texts are short whatever the simulated token count, so the simulation costs little CPU.
// Reports latencies to the request's observer as a server backend does.
import type {
  Backend,
  Capabilities,
  CompletionRequest,
  CompletionResult,
  ScoreRequest,
  ScoreResult,
  StreamChunk,
  TokenLogprob,
} from "../src/backends/types.js";

export interface BatchingModel {
  maxBatch: number;
  /** Milliseconds per token-time of one request alone (time-scaled). */
  tokenMs: number;
  /** Per-request slowdown for every other request in the batch. */
  slowdown: number;
  /** Token-times before the first token (and the whole of a scoring request). */
  prefill: number;
}

export interface Reply {
  text: string;
  /** Generated tokens to simulate (the text itself may be shorter). */
  tokens: number;
}

interface Job {
  remaining: number;
  /** Work left when the first token is out (the prefill done). */
  firstAt: number;
  onFirst?: () => void;
  done: () => void;
  fired: boolean;
}

export class BatchingServer implements Backend {
  readonly name: string;
  private running = new Set<Job>();
  private queue: Job[] = [];
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;
  /** Token-times served, what one request alone would have waited for them, and the most running at once. */
  readonly stats = { requests: 0, work: 0, aloneMs: 0, maxRunning: 0, busyWorkMs: 0 };

  constructor(
    name: string,
    readonly model: BatchingModel,
    private readonly reply: (req: CompletionRequest) => Reply,
  ) {
    this.name = name;
  }

  /** Milliseconds per token-time for each request with b running. */
  private perToken(b: number): number {
    return this.model.tokenMs * (1 + this.model.slowdown * Math.max(0, b - 1));
  }

  private advance(): void {
    const t = performance.now();
    const b = this.running.size;
    if (b > 0) {
      const progress = (t - this.last) / this.perToken(b);
      for (const j of this.running) j.remaining -= progress;
    }
    this.last = t;
  }

  private settle(): void {
    for (const j of [...this.running]) {
      if (!j.fired && j.remaining <= j.firstAt + 1e-9) {
        j.fired = true;
        j.onFirst?.();
      }
      if (j.remaining <= 1e-9) {
        this.running.delete(j);
        j.done();
      }
    }
    while (this.queue.length && this.running.size < this.model.maxBatch) this.running.add(this.queue.shift()!);
    this.stats.maxRunning = Math.max(this.stats.maxRunning, this.running.size);
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running.size) return;
    let next = Infinity;
    for (const j of this.running) next = Math.min(next, j.fired ? j.remaining : j.remaining - j.firstAt);
    this.timer = setTimeout(
      () => {
        this.advance();
        this.settle();
      },
      Math.max(0, next * this.perToken(this.running.size)),
    );
  }

  private run(work: number, firstAt: number, onFirst?: () => void): Promise<void> {
    this.stats.requests++;
    this.stats.work += work;
    this.stats.aloneMs += work * this.model.tokenMs;
    return new Promise((resolve) => {
      this.advance();
      this.queue.push({ remaining: work, firstAt, onFirst, done: resolve, fired: false });
      this.settle();
    });
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const reply = this.reply(req);
    // As a server does: the text ends before the first stop string, which is not sent.
    const cut = Math.min(...(req.stop ?? []).map((s) => reply.text.indexOf(s)).filter((i) => i >= 0), reply.text.length);
    const r = { ...reply, text: reply.text.slice(0, cut) };
    const tokens = Math.max(1, Math.min(r.tokens, req.maxTokens));
    const t0 = performance.now();
    await this.run(this.model.prefill + tokens, tokens, () => req.observe?.latency("first-token", performance.now() - t0));
    if (req.signal?.aborted) return { text: "", reasoning: "", finishReason: "abort" };
    const toks: TokenLogprob[] | undefined = req.logprobs ? words(r.text).map((token) => ({ token, logprob: -1 })) : undefined;
    yield { channel: "content", text: r.text, ...(toks ? { tokens: toks } : {}) };
    return { text: r.text, reasoning: "", ...(toks ? { tokens: toks } : {}), finishReason: tokens >= req.maxTokens ? "length" : "stop" };
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const t0 = performance.now();
    await this.run(this.model.prefill, 0);
    req.observe?.latency("answer", performance.now() - t0);
    req.signal?.throwIfAborted();
    // A deterministic, candidate-dependent log-probability, so the evaluators have a pick.
    const candidates = req.candidates.map((c) => ({ tokens: words(c).map((token, i) => ({ token, logprob: -1 - ((c.length + i) % 7) / 10 })) }));
    return {
      candidates: req.includePrefix ? candidates.map((c) => ({ ...c, prefixTokens: [] })) : candidates,
      evaluatedTokens: candidates.reduce((n, c) => n + c.tokens.length, 0),
    };
  }

  async countTokens(text: string): Promise<number> {
    return Math.ceil(text.length / 4);
  }

  async probe(): Promise<Capabilities> {
    return { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["batching server double"] };
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
  }
}

function words(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}
