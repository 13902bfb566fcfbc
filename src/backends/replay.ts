// Serves a recording back as a backend: the same requests get the same streams, with the
// original timing (or faster), so a demo recorded once with expensive models runs anywhere.
//
// How a completion request finds its recorded exchange, in this order:
//   1. exact: same prompt and every sampling setting (the cache's request identity);
//   2. near: same prompt, sampling settings ignored (e.g. a different maxTokens or seed);
//   3. thinking: exchanges imported from a trace, whose question prompt is unknown, match a chat
//      request whose assistant prefix holds the same thinking text so far (whitespace collapsed,
//      opening markup such as <think> ignored; for a raw prompt, its text ending with it).
// At each level the first exchange not yet served wins, so repeated identical requests get the
// recorded answers in their recorded order; each recorded stream is served once. Exchanges the
// consumer had stopped early (or aborted) are never served. Scores are deterministic, so they
// are looked up per candidate (same prefix, same candidate text) and may be served again.
// A request with no match throws BackendError("not in the recording: ..."). FallbackBackend uses
// that to leave the recording at the first miss and continue with a live model.
import { readFile } from "node:fs/promises";
import { UserError } from "../errors.js";
import { completionIdentity, promptKey, scoreIdentity, sha256, stableHash } from "./cache.js";
import { BoundedMap } from "../core/bounded-map.js";
import {
  ABANDONED,
  exchangeSchema,
  headerSchema,
  type Exchange,
  type ProbeExchange,
  type RecordingHeader,
  type ScoreExchange,
  type StreamExchange,
} from "./recorder.js";
import {
  BackendError,
  type Backend,
  type Capabilities,
  type CompletionRequest,
  type CompletionResult,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  type ScoredText,
  type StreamChunk,
  type TokenLogprob,
} from "./types.js";

export interface Recording {
  file: string;
  header: RecordingHeader;
  exchanges: Exchange[];
}

function issueText(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parse and validate a recording's text. Errors are one line naming the file and line. */
export function parseRecording(text: string, file: string): Recording {
  const lines = text.split("\n");
  const endsClean = text.endsWith("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0 || lines[0].trim() === "") {
    throw new UserError(`${file}:1: empty recording (expected a {"schema":1,"kind":"concord-recording"} header line)`);
  }
  const parseLine = (i: number): unknown => {
    try {
      return JSON.parse(lines[i]);
    } catch {
      const truncated = i === lines.length - 1 && !endsClean;
      throw new UserError(`${file}:${i + 1}: ${truncated ? "truncated line (the recording was cut off while being written)" : "not valid JSON"}`);
    }
  };
  const head = headerSchema.safeParse(parseLine(0));
  if (!head.success) {
    throw new UserError(`${file}:1: not a Concord recording header (expected {"schema":1,"kind":"concord-recording"}): ${issueText(head.error)}`);
  }
  const exchanges: Exchange[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const ex = exchangeSchema.safeParse(parseLine(i));
    if (!ex.success) throw new UserError(`${file}:${i + 1}: not a recorded exchange: ${issueText(ex.error)}`);
    exchanges.push(ex.data);
  }
  return { file, header: head.data, exchanges };
}

export async function loadRecording(file: string): Promise<Recording> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`${file}: cannot read the recording (${code === "ENOENT" ? "no such file" : (code ?? "read error")})`);
  }
  return parseRecording(text, file);
}

/** The thinking text so far in a prompt, normalised for comparison. */
export function thinkingOf(prompt: Prompt): string {
  const text = prompt.kind === "chat" ? (prompt.assistantPrefix ?? "") : prompt.text;
  return normaliseThinking(text);
}

/** Opening markup a thinking prefill may start with: <think>, special tokens such as
 * <|begin_of_thought|>, and the harmony header (<|start|>assistant<|channel|>analysis<|message|>). */
const THINKING_OPENER = /^(?:\s+|<think>|<\|[A-Za-z_]+\|>|assistant(?=<\|)|analysis(?=<\|message\|>))*/;

export function normaliseThinking(text: string): string {
  return recentlyNormalised.getOrMake(text, () => text.replace(THINKING_OPENER, "").replace(/\s+/g, " ").trim());
}

/** How an imported exchange's place is stored: sha256 and length of the normalised thinking. */
export function thinkingAnchor(thinking: string): { sha256: string; chars: number } {
  const norm = normaliseThinking(thinking);
  return recentAnchors.getOrMake(norm, () => ({ sha256: sha256(norm), chars: norm.length }));
}

/**
 * The last few normalised chains and their anchors. The requests of one step (every candidate of
 * every generator, every score) carry the same chain, often as the same text: normalising and
 * hashing it once per request made replaying a long trace quadratic in its length many times over.
 */
const recentlyNormalised = new BoundedMap<string, string>(16);
const recentAnchors = new BoundedMap<string, { sha256: string; chars: number }>(16);

/**
 * Whether a recorded place (an anchor) is this prompt's thinking. Made once per request and asked
 * of every recorded exchange: the prompt is normalised once and each length hashed once (a long
 * chain was otherwise normalised and hashed again for every exchange of the recording).
 */
function thinkingMatcher(prompt: Prompt): { chars: number; matches: (anchor: { sha256: string; chars: number }) => boolean } {
  const t = thinkingOf(prompt);
  const hashes = new Map<number, string>();
  const hashOfEnd = (chars: number): string => {
    let h = hashes.get(chars);
    if (h === undefined) hashes.set(chars, (h = sha256(t.slice(t.length - chars))));
    return h;
  };
  if (prompt.kind === "chat") return { chars: t.length, matches: (a) => t.length === a.chars && hashOfEnd(a.chars) === a.sha256 };
  // A raw prompt holds the question too, so only its end can be compared; an empty thinking
  // says nothing about a raw prompt.
  return { chars: t.length, matches: (a) => a.chars > 0 && t.length >= a.chars && hashOfEnd(a.chars) === a.sha256 };
}

/** A value made on first use, then kept. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

function exactKey(req: CompletionRequest | NonNullable<StreamExchange["request"]>): string {
  return stableHash(completionIdentity(req as CompletionRequest));
}

function clip(text: string, n: number): string {
  // Only the start is shown: a patient note or a long chain is not flattened whole for it.
  const flat = (text.length > n * 8 ? text.slice(0, n * 8) : text)
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length <= n ? flat : `${flat.slice(0, n - 1)}…`;
}

/** A short description of a prompt for error messages. */
export function describePrompt(prompt: Prompt): string {
  if (prompt.kind === "raw") return `raw prompt ending "${clip(prompt.text.slice(-60), 40)}"`;
  const user = [...prompt.messages].reverse().find((m) => m.role === "user");
  const parts = [`chat "${clip(user?.content ?? "", 40)}"`];
  if (prompt.assistantPrefix) parts.push(`thinking ending "${clip(prompt.assistantPrefix.slice(-60), 40)}"`);
  return parts.join(", ");
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export type ReplaySpeed = "original" | "instant" | number;

export interface ReplayOptions {
  /** "original": recorded timing; a number: that many times faster; "instant": no waiting. */
  speed?: ReplaySpeed;
  /** Serve only exchanges recorded from this backend name. */
  backend?: string;
  /** Serve only exchanges tagged with this problem. */
  problem?: string | number;
  /** Name this backend reports (default: the backend filter, else "replay"). */
  name?: string;
  /** A request asked again once its recorded answers were all served (a person stepping back
   * through a replay) gets them again, in order; otherwise one more is a miss. */
  again?: boolean;
}

interface ScoreEntry {
  candidate: string;
  includePrefix: boolean;
  prefixKey?: string;
  thinking?: { sha256: string; chars: number };
  scored: ScoredText;
  error?: string;
}

export class ReplayBackend implements Backend {
  readonly name: string;
  private readonly factor: number;
  private readonly streams: StreamExchange[];
  private readonly streamKeys: Array<{ exact?: string; prompt?: string; thinking?: { sha256: string; chars: number }; cutShort?: boolean }>;
  private readonly served: boolean[];
  private readonly scores: ScoreExchange[];
  private readonly scoreKeys: string[];
  /** Which kinds of key the recording holds (an imported trace holds none): no other is made. */
  private readonly holds: { exact: boolean; prompt: boolean; wholeScores: boolean };
  private readonly scoreEntries: ScoreEntry[];
  private readonly probes: ProbeExchange[];
  private readonly again: boolean;

  constructor(
    readonly recording: Recording,
    options: ReplayOptions = {},
  ) {
    this.name = options.name ?? options.backend ?? "replay";
    this.again = options.again ?? false;
    const speed = options.speed ?? "original";
    if (typeof speed === "number" && !(speed > 0)) throw new UserError(`replay speed must be a positive number, got ${speed}`);
    this.factor = speed === "original" ? 1 : speed === "instant" ? Infinity : speed;
    const problem = options.problem === undefined ? undefined : String(options.problem);
    const mine = recording.exchanges.filter(
      (e) => (options.backend === undefined || e.backend === options.backend) && (problem === undefined || e.type === "probe" || e.problem === problem),
    );
    // A stream the consumer cut short (an ensemble candidate stops at its first sentence) is
    // served only to the very same request: a deterministic consumer stops at the same place.
    // Reading past its recorded end is a miss. An aborted stream is never served.
    this.streams = mine.filter(
      (e): e is StreamExchange =>
        e.type === "stream" &&
        e.result?.finishReason !== "abort" &&
        (e.result !== undefined || e.error !== undefined) &&
        (e.error !== ABANDONED || e.request !== undefined),
    );
    this.streamKeys = this.streams.map((e) =>
      e.error === ABANDONED
        ? { exact: exactKey(e.request!), cutShort: true }
        : e.request
          ? { exact: exactKey(e.request), prompt: promptKey(e.request.prompt) }
          : { thinking: e.thinking },
    );
    this.served = this.streams.map(() => false);
    this.scores = mine.filter((e): e is ScoreExchange => e.type === "score");
    this.scoreKeys = this.scores.map((e) => (e.request.prefix ? stableHash(scoreIdentity(e.request as ScoreRequest)) : ""));
    this.holds = {
      exact: this.streamKeys.some((k) => k.exact !== undefined),
      prompt: this.streamKeys.some((k) => k.prompt !== undefined),
      wholeScores: this.scoreKeys.some((k) => k !== ""),
    };
    this.scoreEntries = [];
    for (const e of this.scores) {
      const where = e.request.prefix ? { prefixKey: promptKey(e.request.prefix) } : { thinking: e.thinking };
      e.request.candidates.forEach((candidate, i) => {
        const scored = e.result?.candidates[i];
        if (scored) this.scoreEntries.push({ candidate, includePrefix: e.request.includePrefix ?? false, ...where, scored });
      });
    }
    this.probes = mine.filter((e): e is ProbeExchange => e.type === "probe");
  }

  /** Index of the exchange that would serve this request, or -1. Consumes nothing. */
  private find(req: CompletionRequest, open: (i: number) => boolean = (i) => !this.served[i]): number {
    const { exact, prompt, thinking } = this.lookupOf(req);
    let i = this.holds.exact ? this.streamKeys.findIndex((k, j) => open(j) && k.exact === exact()) : -1;
    if (i < 0 && this.holds.prompt) i = this.streamKeys.findIndex((k, j) => open(j) && k.prompt === prompt());
    if (i < 0)
      i = this.streamKeys.findIndex((k, j) => open(j) && k.thinking !== undefined && k.thinking.chars <= thinking().chars && thinking().matches(k.thinking));
    return i;
  }

  /** A request's keys, each made once however often it is looked for (each reads the whole prompt). */
  private readonly lookups = new WeakMap<
    CompletionRequest,
    { exact: () => string; prompt: () => string; thinking: () => ReturnType<typeof thinkingMatcher> }
  >();
  private lookupOf(req: CompletionRequest) {
    let found = this.lookups.get(req);
    if (!found) {
      found = { exact: once(() => exactKey(req)), prompt: once(() => promptKey(req.prompt)), thinking: once(() => thinkingMatcher(req.prompt)) };
      this.lookups.set(req, found);
    }
    return found;
  }

  /** Like find; a request asked again once every recorded answer to it was served (an undo or a
   * regenerate in a replay) gets those answers again, in their recorded order. */
  private findAgain(req: CompletionRequest): number {
    const i = this.find(req);
    if (i >= 0 || !this.again || this.find(req, () => true) < 0) return i;
    for (let j = 0; j < this.served.length; j++) if (this.served[j] && this.find(req, (x) => x === j) === j) this.served[j] = false;
    return this.find(req);
  }

  /** Whether a completion request would be served from the recording. */
  canServe(req: CompletionRequest): boolean {
    return this.find(req) >= 0;
  }

  /** Recorded streams not yet served. */
  get remaining(): number {
    return this.served.filter((s) => !s).length;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const i = this.findAgain(req);
    if (i < 0) throw new BackendError(`not in the recording: ${describePrompt(req.prompt)}`, this.name);
    this.served[i] = true;
    const ex = this.streams[i];
    const start = performance.now();
    let text = "";
    let reasoning = "";
    const tokens: TokenLogprob[] = [];
    const partial = (): CompletionResult => ({ text, reasoning, ...(tokens.length ? { tokens } : {}), finishReason: "abort" });
    for (const c of ex.chunks) {
      if (Number.isFinite(this.factor)) await abortableSleep(c.t / this.factor - (performance.now() - start), req.signal);
      if (req.signal?.aborted) return partial();
      const chunk: StreamChunk = { channel: c.channel ?? "content", text: c.text, ...(c.tokens ? { tokens: c.tokens } : {}) };
      if (chunk.channel === "content") text += chunk.text;
      else reasoning += chunk.text;
      if (c.tokens) tokens.push(...c.tokens);
      yield chunk;
    }
    if (ex.error === ABANDONED) throw new BackendError(`not in the recording: the recorded stream ends here (${describePrompt(req.prompt)})`, this.name);
    if (ex.error !== undefined) throw new BackendError(ex.error, this.name);
    return ex.result!;
  }

  private scoreFor(req: ScoreRequest, candidate: string): ScoredText | undefined {
    const include = req.includePrefix ?? false;
    const usable = (e: ScoreEntry) => e.candidate === candidate && (!include || e.scored.prefixTokens !== undefined);
    let thinking: ReturnType<typeof thinkingMatcher> | undefined;
    let pk: string | undefined;
    const hit =
      this.scoreEntries.find((e) => usable(e) && e.prefixKey !== undefined && e.prefixKey === (pk ??= this.prefixKeyOf(req.prefix))) ??
      this.scoreEntries.find((e) => usable(e) && e.thinking !== undefined && (thinking ??= thinkingMatcher(req.prefix)).matches(e.thinking));
    if (!hit) return undefined;
    return include ? hit.scored : { tokens: hit.scored.tokens };
  }

  private readonly prefixKeys = new WeakMap<Prompt, string>();
  /** A score prefix's key, made once for all its candidates. */
  private prefixKeyOf(prefix: Prompt): string {
    let key = this.prefixKeys.get(prefix);
    if (key === undefined) this.prefixKeys.set(prefix, (key = promptKey(prefix)));
    return key;
  }

  /** Whether every candidate of a score request has a recorded score. */
  canScore(req: ScoreRequest): boolean {
    return req.candidates.every((c) => this.scoreFor(req, c) !== undefined);
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    req.signal?.throwIfAborted();
    // The very same request recorded whole: serve it as it was (its evaluated-token count too).
    const key = this.holds.wholeScores ? stableHash(scoreIdentity(req)) : undefined;
    const whole = key === undefined ? undefined : this.scores.find((e, i) => this.scoreKeys[i] === key && (e.result !== undefined || e.error !== undefined));
    if (whole?.result) return whole.result;
    if (whole?.error !== undefined) throw new BackendError(whole.error, this.name);
    const candidates: ScoredText[] = [];
    for (const c of req.candidates) {
      const scored = this.scoreFor(req, c);
      if (!scored) throw new BackendError(`not in the recording: score of "${clip(c, 40)}" after ${describePrompt(req.prefix)}`, this.name);
      candidates.push(scored);
    }
    // Put together from single recorded scores: count what each one evaluated.
    const evaluatedTokens = candidates.reduce((n, s) => n + s.tokens.length, 0) + (candidates[0]?.prefixTokens?.length ?? 0);
    return { candidates, evaluatedTokens };
  }

  /** The recorded probe; without one, what this recording can serve. */
  async probe(signal?: AbortSignal): Promise<Capabilities> {
    signal?.throwIfAborted();
    const recorded = this.probes.find((p) => p.result);
    if (recorded?.result) return recorded.result;
    return {
      streaming: this.streams.length > 0,
      tokenLogprobs: this.streams.some((e) => e.chunks.some((c) => c.tokens !== undefined)),
      promptScoring: this.scoreEntries.length > 0,
      prefill: this.streams.some((e) => e.thinking !== undefined || (e.request?.prompt.kind === "chat" && e.request.prompt.assistantPrefix !== undefined)),
      reasoningField: null,
      notes: [`replayed from ${this.recording.file}; no probe was recorded, so this lists what the recording holds`],
    };
  }

  async close(): Promise<void> {}
}

export interface FallbackOptions {
  /** Told once, when the first request misses the recording. */
  onLive?: (reason: string) => void;
}

/**
 * Serves from a replay while the requests match the recording, and from a live backend from the
 * first miss on: once the chain leaves the recorded path (a different pick, an edited sentence),
 * later requests cannot match either, so it stays live for good.
 */
export class FallbackBackend implements Backend {
  readonly name: string;
  readonly countTokens?: (text: string) => Promise<number>;
  private live = false;

  constructor(
    private readonly replay: ReplayBackend,
    private readonly liveBackend: Backend,
    private readonly options: FallbackOptions = {},
  ) {
    this.name = liveBackend.name;
    if (liveBackend.countTokens) this.countTokens = (text) => liveBackend.countTokens!(text);
  }

  /** True once requests go to the live backend. */
  get isLive(): boolean {
    return this.live;
  }

  private goLive(reason: string): void {
    if (this.live) return;
    this.live = true;
    this.options.onLive?.(reason);
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    if (!this.live && this.replay.canServe(req)) return yield* this.replay.stream(req);
    this.goLive(`not in the recording: ${describePrompt(req.prompt)}`);
    return yield* this.liveBackend.stream(req);
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    if (!this.live && this.replay.canScore(req)) return this.replay.score(req);
    this.goLive(`score not in the recording: ${describePrompt(req.prefix)}`);
    return this.liveBackend.score(req);
  }

  probe(signal?: AbortSignal): Promise<Capabilities> {
    return this.liveBackend.probe(signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.replay.close(), this.liveBackend.close()]);
  }
}
