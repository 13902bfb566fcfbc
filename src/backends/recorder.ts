// Records every exchange with a backend to a JSONL recording, so a run made once with expensive
// models can be replayed anywhere. Also defines the recording format that replay reads.
//
// Format (schema 1): the first line is a header `{"schema":1,"kind":"concord-recording",...}`;
// every further line is one exchange (a completion stream, a score request, or a probe).
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { oneLine } from "../errors.js";
import { appendVerified, ensureDir } from "../fsutil/write.js";
import type { Backend, Capabilities, CompletionRequest, CompletionResult, ScoreRequest, ScoreResult, StreamChunk } from "./types.js";

export const RECORDING_SCHEMA = 1;

/** Error text of a stream the consumer stopped before it ended (replay never serves these). */
export const ABANDONED = "stream closed by the consumer before the end";

const tokenSchema = z.object({ token: z.string(), logprob: z.number(), top: z.array(z.object({ token: z.string(), logprob: z.number() })).optional() });
const messageSchema = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() });
export const promptSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("chat"),
    messages: z.array(messageSchema),
    assistantPrefix: z.string().optional(),
    exact: z.object({ vars: z.record(z.string(), z.string()), markers: z.array(z.string()) }).optional(),
  }),
  z.object({ kind: z.literal("raw"), text: z.string() }),
]);

export const headerSchema = z.looseObject({
  schema: z.literal(RECORDING_SCHEMA),
  kind: z.literal("concord-recording"),
  created: z.string().optional(),
  source: z.string().optional(),
  note: z.string().optional(),
});

const chunkSchema = z.object({
  /** Milliseconds since the request was made. */
  t: z.number().nonnegative(),
  /** Absent means "content" (keeps long recordings small). */
  channel: z.enum(["content", "reasoning"]).optional(),
  text: z.string(),
  tokens: z.array(tokenSchema).optional(),
});

const completionRequestSchema = z.object({
  prompt: promptSchema,
  maxTokens: z.number(),
  temperature: z.number().optional(),
  topK: z.number().optional(),
  topP: z.number().optional(),
  seed: z.number().optional(),
  stop: z.array(z.string()).optional(),
  logprobs: z.boolean().optional(),
  topLogprobs: z.number().int().min(0).optional(),
});

const completionResultSchema = z.object({
  text: z.string(),
  reasoning: z.string(),
  tokens: z.array(tokenSchema).optional(),
  finishReason: z.enum(["stop", "length", "abort"]),
});

const scoreRequestSchema = z.object({
  prefix: promptSchema,
  candidates: z.array(z.string()),
  includePrefix: z.boolean().optional(),
});

const scoreResultSchema = z.object({
  candidates: z.array(z.object({ tokens: z.array(tokenSchema), prefixTokens: z.array(tokenSchema).optional() })),
  evaluatedTokens: z.number(),
});

const capabilitiesSchema = z.object({
  streaming: z.boolean(),
  tokenLogprobs: z.boolean(),
  promptScoring: z.boolean(),
  prefill: z.boolean(),
  reasoningField: z.enum(["reasoning", "reasoning_content", "thinking", "inline"]).nullable(),
  notes: z.array(z.string()),
});

const common = {
  /** Name of the backend that answered. */
  backend: z.string(),
  /** Which problem the exchange belongs to, when the recording holds several. */
  problem: z.string().optional(),
  at: z.string().optional(),
  /** Error message when the request failed (one line, never a secret). */
  error: z.string().optional(),
  /** Step of the chain the exchange belongs to, when known (imported traces). */
  step: z.number().int().nonnegative().optional(),
};

/** Where an imported exchange sits: the thinking text so far, which is all a trace knows of the
 * prompt (whitespace collapsed and opening markup removed, see replay's normaliseThinking), kept
 * as its sha256 and length rather than repeated on every line. */
const thinkingSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), chars: z.number().int().nonnegative() });

export const streamExchangeSchema = z
  .object({
    type: z.literal("stream"),
    ...common,
    /** The request as sent (signal left out); absent in imported exchanges, which have `thinking`. */
    request: completionRequestSchema.optional(),
    thinking: thinkingSchema.optional(),
    chunks: z.array(chunkSchema),
    result: completionResultSchema.optional(),
  })
  .refine((e) => (e.request === undefined) !== (e.thinking === undefined), { message: "needs either request or thinking", path: ["request"] });

export const scoreExchangeSchema = z
  .object({
    type: z.literal("score"),
    ...common,
    /** `prefix` is absent in imported exchanges, which have `thinking`. */
    request: scoreRequestSchema.extend({ prefix: promptSchema.optional() }),
    thinking: thinkingSchema.optional(),
    result: scoreResultSchema.optional(),
    /** Facts kept from an imported trace (e.g. the original perplexity and how it was computed). */
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((e) => (e.request.prefix === undefined) !== (e.thinking === undefined), { message: "needs either prefix or thinking", path: ["request", "prefix"] });

export const probeExchangeSchema = z.object({
  type: z.literal("probe"),
  ...common,
  result: capabilitiesSchema.optional(),
});

export const exchangeSchema = z.discriminatedUnion("type", [streamExchangeSchema, scoreExchangeSchema, probeExchangeSchema]);

export type RecordingHeader = z.infer<typeof headerSchema>;
export type RecordedChunk = z.infer<typeof chunkSchema>;
export type StreamExchange = z.infer<typeof streamExchangeSchema>;
export type ScoreExchange = z.infer<typeof scoreExchangeSchema>;
export type ProbeExchange = z.infer<typeof probeExchangeSchema>;
export type Exchange = z.infer<typeof exchangeSchema>;

/** Environment values that look like credentials (by variable name), longest first. */
function secretValues(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (!value || value.length < 8) continue;
    if (/(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i.test(name)) out.push([name, value]);
  }
  return out.sort((a, b) => b[1].length - a[1].length);
}

/** Requests carry no keys by design; this is the second lock, for text that echoes one back
 * (an error message from a server, say). */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [name, value] of secretValues()) {
    if (out.includes(value)) out = out.split(value).join(`[redacted ${name}]`);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value && out.includes(escaped)) out = out.split(escaped).join(`[redacted ${name}]`);
  }
  return out;
}

export interface RecorderHeaderFields {
  source?: string;
  note?: string;
  [field: string]: unknown;
}

// A line torn by an earlier crash stays alone on its line, so replay skips only that one.
const APPEND = { what: "recording", separateTornLine: true, kept: "every exchange recorded before it is kept" } as const;

/** Appends exchanges to a recording file, one whole line per write, in call order. */
export class Recorder {
  private queue: Promise<void> = Promise.resolve();
  private ready?: Promise<void>;
  private failure?: Error;

  constructor(
    readonly path: string,
    private readonly header: RecorderHeaderFields = {},
  ) {}

  private ensureHeader(): Promise<void> {
    this.ready ??= (async () => {
      const { start } = await readStart(this.path);
      if (start.trim() === "") {
        await ensureDir(dirname(this.path), "recording");
        const header = { created: new Date().toISOString(), ...this.header, schema: RECORDING_SCHEMA, kind: "concord-recording" };
        await appendVerified(this.path, `${redactSecrets(JSON.stringify(header))}\n`, APPEND);
        return;
      }
      // Appending to an older recording: it must be one of ours, or lines would be mixed in.
      const nl = start.indexOf("\n");
      let parsed: unknown;
      try {
        parsed = JSON.parse(nl < 0 ? start : start.slice(0, nl));
      } catch {
        parsed = undefined;
      }
      if (!headerSchema.safeParse(parsed).success) {
        throw new Error(`${this.path}:1: not a Concord recording (expected a {"schema":1} header line)`);
      }
    })();
    return this.ready;
  }

  /** Queue one exchange. Each line lands whole or not at all (a failed append is cut back), and
   * the first failure stops the recording: later lines are not written after a gap. */
  append(exchange: Exchange): Promise<void> {
    const line = `${redactSecrets(JSON.stringify(exchange))}\n`;
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      try {
        await this.ensureHeader();
        await appendVerified(this.path, line, APPEND);
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
    });
    return this.queue;
  }

  /** Wait for every queued line; throws the first write failure, if any. */
  async flush(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
  }
}

/** The first 64 KiB of a file (enough to see its header line). */
async function readStart(path: string): Promise<{ start: string }> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return { start: "" };
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { start: "" };
    const buf = Buffer.alloc(Math.min(size, 65536));
    await handle.read(buf, 0, buf.length, 0);
    return { start: buf.toString("utf8") };
  } finally {
    await handle.close();
  }
}

function withoutSignal<T extends { signal?: AbortSignal }>(req: T): Omit<T, "signal"> {
  const { signal: _signal, ...rest } = req;
  return rest;
}

export interface RecordingOptions {
  /** Problem tag written on every exchange. */
  problem?: string;
}

/** Wraps a backend; every request and what came back is appended to the recorder. */
export class RecordingBackend implements Backend {
  readonly name: string;
  readonly countTokens?: (text: string) => Promise<number>;
  problem?: string;

  constructor(
    private readonly inner: Backend,
    private readonly recorder: Recorder,
    options: RecordingOptions = {},
  ) {
    this.name = inner.name;
    this.problem = options.problem;
    if (inner.countTokens) this.countTokens = (text) => inner.countTokens!(text);
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const start = performance.now();
    const at = new Date().toISOString();
    const chunks: RecordedChunk[] = [];
    let result: CompletionResult | undefined;
    let error: string | undefined;
    const gen = this.inner.stream(req);
    try {
      for (;;) {
        const next = await gen.next();
        if (next.done) {
          result = next.value;
          return result;
        }
        const c = next.value;
        chunks.push({
          t: Math.round(performance.now() - start),
          ...(c.channel === "reasoning" ? { channel: "reasoning" as const } : {}),
          text: c.text,
          ...(c.tokens ? { tokens: c.tokens } : {}),
        });
        yield c;
      }
    } catch (err) {
      error = oneLine(err);
      throw err;
    } finally {
      if (!result && !error) {
        error = ABANDONED;
        await gen.return(undefined as never).catch(() => undefined);
      }
      await this.recorder.append({
        type: "stream",
        backend: this.name,
        ...(this.problem !== undefined ? { problem: this.problem } : {}),
        at,
        request: withoutSignal(req),
        chunks,
        ...(result ? { result } : {}),
        ...(error ? { error } : {}),
      });
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const at = new Date().toISOString();
    const base = {
      type: "score" as const,
      backend: this.name,
      ...(this.problem !== undefined ? { problem: this.problem } : {}),
      at,
      request: withoutSignal(req),
    };
    try {
      const result = await this.inner.score(req);
      await this.recorder.append({ ...base, result });
      return result;
    } catch (err) {
      await this.recorder.append({ ...base, error: oneLine(err) });
      throw err;
    }
  }

  async probe(signal?: AbortSignal): Promise<Capabilities> {
    const at = new Date().toISOString();
    try {
      const result = await this.inner.probe(signal);
      await this.recorder.append({ type: "probe", backend: this.name, at, result });
      return result;
    } catch (err) {
      await this.recorder.append({ type: "probe", backend: this.name, at, error: oneLine(err) });
      throw err;
    }
  }

  /** Closes the wrapped backend; a recording that could not be written is reported here. */
  async close(): Promise<void> {
    let failure: unknown;
    await this.recorder.flush().catch((err: unknown) => {
      failure = err;
    });
    await this.inner.close();
    if (failure) throw failure;
  }
}
