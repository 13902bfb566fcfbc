// The backend for any OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, hosted
// APIs). Servers differ in exactly what Concord needs (scoring, prefill, reasoning fields), so
// each feature picks its wire method from the probed record, else the server's flavor
// (openai/flavors.ts); HTTP and its failures live in openai/transport.ts, streaming in
// openai/stream.ts, scoring in openai/scoring.ts, the probe in openai/probe.ts.
import type { Flavor, ModelProfile, PrefillMethod, ProbeRecord } from "../config/profile.js";
import {
  BackendError,
  type Backend,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type LoadObserver,
  type ScoreRequest,
  type ScoreResult,
  type StreamChunk,
} from "./types.js";
import { detectFlavor, FLAVOR_TRAITS, flavorOfHost, servedIdentity } from "./openai/flavors.js";
import { probeServer } from "./openai/probe.js";
import { scoreOn, serverTokenCount } from "./openai/scoring.js";
import { streamCompletion, type StreamContext } from "./openai/stream.js";
import { Transport } from "./openai/transport.js";
import { PrefixOrder } from "./openai/prefix.js";
import { BoundedMap } from "../core/bounded-map.js";
import type { BodyLimits } from "./openai/bounded.js";

export interface OpenAIBackendOptions {
  /** Where the key variable named by the profile is read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Per request: time to the response headers, and for streams the longest silence between chunks. */
  timeoutMs?: number;
  /** Longest one stream may run, whatever the server sends (default 30 min). */
  maxStreamMs?: number;
  /** Retries on 408/409/429/5xx and refused connections, before any text arrived. */
  maxRetries?: number;
  /** Longest Retry-After the backend will wait; a longer one fails at once (retryable). */
  maxRetryDelayMs?: number;
  /** The probe record to plan with (default: profile.capabilities). */
  capabilities?: ProbeRecord;
  /** Largest streamed line and event, and JSON body, read from the server. */
  limits?: Partial<BodyLimits>;
}

export class OpenAIBackend implements Backend, StreamContext {
  readonly name: string;
  readonly transport: Transport;
  readonly maxStreamMs: number;
  private caps: ProbeRecord | undefined;
  private flavorPromise: Promise<Flavor> | undefined;
  private modelPromise: Promise<string> | undefined;
  private servedPromise: Promise<string | undefined> | undefined;
  private prefillOverride: PrefillMethod | undefined;
  private readonly prefixes = new PrefixOrder();
  /** Set by the last stream(): where its thinking text came from. */
  lastReasoningSource: ProbeRecord["reasoningField"] = null;

  constructor(
    readonly profile: ModelProfile,
    opts: OpenAIBackendOptions = {},
  ) {
    this.name = profile.name;
    this.transport = new Transport(profile, {
      env: opts.env ?? process.env,
      timeoutMs: opts.timeoutMs ?? 120_000,
      maxRetries: opts.maxRetries ?? 3,
      maxRetryDelayMs: opts.maxRetryDelayMs ?? 60_000,
      limits: opts.limits,
    });
    this.maxStreamMs = opts.maxStreamMs ?? 30 * 60_000;
    this.caps = opts.capabilities ?? profile.capabilities;
  }

  get baseURL(): string {
    return this.transport.baseURL;
  }

  get serverRoot(): string {
    return this.transport.serverRoot;
  }

  /** Remove the key (and any bearer token) from text that came from a server. */
  redact(text: string): string {
    return this.transport.redact(text);
  }

  /** The server kind: the profile's, the probe's, the host's, else asked of the server itself. */
  flavor(signal?: AbortSignal): Promise<Flavor> {
    const known = this.profile.flavor ?? this.caps?.flavor ?? flavorOfHost(this.baseURL);
    if (known) return Promise.resolve(known);
    this.flavorPromise ??= detectFlavor(this.transport, signal);
    return this.flavorPromise;
  }

  /** The model id to send; "auto" takes the server's first listed model. */
  resolveModel(signal?: AbortSignal): Promise<string> {
    if (this.profile.model !== "auto") return Promise.resolve(this.profile.model);
    this.modelPromise ??= this.transport.call("listing models", signal, async (c) => {
      const page = await c.models.list({ signal, timeout: this.transport.timeoutMs });
      const first = page.data[0]?.id;
      if (!first) throw new BackendError(`model "${this.name}": the server lists no models (model "auto")`, this.name);
      return first;
    });
    return this.modelPromise;
  }

  /**
   * What the server says it serves under this profile's model name (its /v1/models entry), for
   * cache keys: another model behind the same URL and name is another identity. Undefined when
   * the server lists nothing; a server that cannot be reached fails.
   */
  servedModel(signal?: AbortSignal): Promise<string | undefined> {
    this.servedPromise ??= this.transport
      .call("listing models", signal, (c) => c.get(this.baseURL + "/models", { signal, timeout: this.transport.timeoutMs }) as Promise<Record<string, unknown>>)
      .then((list) => servedIdentity(list, this.profile.model))
      .catch((err) => {
        this.servedPromise = undefined;
        if (err instanceof BackendError && (err.kind === "not-found" || err.kind === "refused" || err.kind === "auth")) return undefined;
        throw err;
      });
    return this.servedPromise;
  }

  prefillMethod(flavor: Flavor): PrefillMethod {
    return this.prefillOverride ?? this.caps?.prefillMethod ?? FLAVOR_TRAITS[flavor].prefill[0];
  }

  switchPrefill(method: PrefillMethod): void {
    this.prefillOverride = method;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    // The samples of one step share their whole prompt: the first computes it, the rest reuse it.
    const computed = await this.prefixes.enter(PrefixOrder.key(["stream", req.prompt]), req.signal);
    const observe: LoadObserver = {
      latency: (kind, ms) => {
        if (kind === "first-token") computed();
        req.observe?.latency(kind, ms);
      },
      overloaded: (ra) => req.observe?.overloaded(ra),
    };
    try {
      return yield* streamCompletion(this, { ...req, observe });
    } finally {
      computed();
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const flavor = await this.flavor(req.signal);
    const method = this.caps?.scoringMethod ?? FLAVOR_TRAITS[flavor].scoring;
    const model = method === "none" ? "" : await this.resolveModel(req.signal);
    const scoringNote = this.caps?.notes.find((n) => n.startsWith("scoring:"))?.slice(9);
    // An evaluator scores every candidate of a step after the same long prefix.
    const computed = await this.prefixes.enter(PrefixOrder.key(["score", req.prefix]), req.signal);
    try {
      return await scoreOn({ name: this.name, profile: this.profile, transport: this.transport, scoringNote }, req, flavor, method, model);
    } finally {
      computed();
    }
  }

  /** Token counts already asked for (an experiment counts each problem's prompt for every answer to it). */
  private readonly counted = new BoundedMap<string, Promise<number>>(1024);

  countTokens(text: string): Promise<number> {
    let n = this.counted.get(text);
    if (!n) {
      n = this.askTokenCount(text);
      // A failed question is asked again next time, not remembered (the map keeps the latest 1,024).
      n.catch(() => this.counted.delete(text));
      this.counted.set(text, n);
    }
    return n;
  }

  private async askTokenCount(text: string): Promise<number> {
    const flavor = await this.flavor();
    const body = FLAVOR_TRAITS[flavor].tokenizeBody;
    const n = body ? await serverTokenCount(this.transport, flavor, body(text, await this.resolveModel())) : undefined;
    if (typeof n === "number") return n;
    throw new BackendError(`model "${this.name}" (${flavor}): this server has no tokenizer endpoint`, this.name, undefined, false, "refused");
  }

  async probe(signal?: AbortSignal): Promise<ProbeRecord> {
    this.prefillOverride = undefined;
    // The server may now serve another model, with another tokenizer.
    this.counted.clear();

    const backend = this;
    return probeServer(
      {
        transport: this.transport,
        fromProfile: !!this.profile.flavor,
        flavor: (s) => this.flavor(s),
        servedModel: (s) => this.servedModel(s),
        stream: (r) => this.stream(r),
        score: (r) => this.score(r),
        countTokens: (t) => this.countTokens(t),
        prefillInUse: (f) => this.prefillMethod(f),
        use: (caps) => {
          this.caps = caps;
          this.prefillOverride = undefined;
        },
        get lastReasoningSource() {
          return backend.lastReasoningSource;
        },
      },
      signal,
    );
  }

  async close(): Promise<void> {
    // The client holds no open connection between requests.
  }
}

export function createOpenAIBackend(profile: ModelProfile, opts?: OpenAIBackendOptions): OpenAIBackend {
  return new OpenAIBackend(profile, opts);
}

export type { ChatMessage };
