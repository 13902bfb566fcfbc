// HTTP to one OpenAI-compatible server (or several replicas of it), through the `openai`
// client: retries with backoff (honouring Retry-After), bounded bodies, and errors classified
// by what the server said, each turned into a one-line BackendError naming the model and never
// carrying the key. Replicas: each request goes to the one with the fewest requests in flight;
// one that fails (refused, reset, silent, 5xx) is set aside for a while, doubling each time,
// and the request moves to another at once.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { urlCredential, type ModelProfile } from "../../config/profile.js";
import { oneLine } from "../../errors.js";
import { BackendError, type BackendErrorKind, type LoadObserver } from "../types.js";
import { replicaURLs } from "./replicas.js";
import { BodyLimitError, boundedBody, DEFAULT_BODY_LIMITS, notTheAPI, type BodyLimits } from "./bounded.js";

export type Json = Record<string, unknown>;

export interface TransportOptions {
  env: NodeJS.ProcessEnv;
  /** Time to the response headers, and for streams the longest silence between chunks. */
  timeoutMs: number;
  maxRetries: number;
  /** Longest Retry-After honoured; a longer one fails at once (retryable). */
  maxRetryDelayMs: number;
  limits?: Partial<BodyLimits>;
}

/** Server answers that mean "this feature is not here" rather than "try again". */
export const REFUSAL = /only no echo|not supported|unsupported|unrecognized request argument|incompatible with|does not support/i;
/** A prompt longer than the model's context, in the words of llama-server, vLLM, SGLang and OpenAI. */
const CONTEXT_OVERFLOW =
  /exceed_context_size|exceeds? the (available )?context|context length|maximum context|context window|too many tokens|prompt is too long|longer than the model/i;

const NOT_THE_API = "x-concord-not-the-api";

/**
 * Servers found not answering at all (a hung process with open connections): after one request
 * timed out, the next ones first ask /health with a short timeout instead of each waiting in full.
 */
const unresponsive = new Map<string, number>();
const HEALTH_TIMEOUT_MS = 3000;

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** One server of a model: its address, requests in flight, and when it may be tried again. */
export interface Replica {
  baseURL: string;
  serverRoot: string;
  client?: OpenAI;
  inFlight: number;
  /** Failures in a row; the time set aside doubles with each. */
  failures: number;
  asideUntil: number;
}

/** A request's hold on the replica it went to, until its stream ends. */
export interface ReplicaLease {
  baseURL: string;
  release(): void;
  /** The replica went silent mid-stream: set it aside and ask /health before trusting it again. */
  markUnresponsive(): void;
}

export { replicaURLs } from "./replicas.js";

const ASIDE_MS = 1000;
const ASIDE_MAX_MS = 60_000;

export class Transport {
  readonly name: string;
  /** The first replica's base URL (named in messages and cache identities). */
  readonly baseURL: string;
  /** The base URL without its trailing /v1: where /tokenize, /health, /props live. */
  readonly serverRoot: string;
  readonly replicas: Replica[];
  /** Error bodies by response headers object: the client drops bodies that are not `{error: ...}` (vLLM's). */
  private readonly errorBodies = new WeakMap<object, string>();
  private readonly limits: BodyLimits;

  constructor(
    readonly profile: ModelProfile,
    readonly opts: TransportOptions,
  ) {
    this.name = profile.name;
    const urls = replicaURLs(profile);
    for (const url of urls) {
      // A key or password in the address would be sent, logged and shown: refused outright.
      const secret = urlCredential(url);
      if (secret)
        throw new BackendError(
          `model "${this.name}": baseURL ${secret} (not repeated here); put the key in an environment variable and set apiKeyEnv to its name`,
          this.name,
        );
    }
    this.replicas = urls.map((baseURL) => ({ baseURL, serverRoot: baseURL.replace(/\/v1$/, ""), inFlight: 0, failures: 0, asideUntil: -Infinity }));
    this.baseURL = this.replicas[0]!.baseURL;
    this.serverRoot = this.replicas[0]!.serverRoot;
    this.limits = { ...DEFAULT_BODY_LIMITS, ...opts.limits };
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  private get apiKey(): string | undefined {
    const name = this.profile.apiKeyEnv;
    return name ? this.opts.env[name] || undefined : undefined;
  }

  /** The first replica's client. */
  client(): OpenAI {
    return this.clientFor(this.replicas[0]!);
  }

  /** The replica with the fewest requests in flight among those not set aside (else the one back soonest). */
  pick(now = performance.now()): Replica {
    let best: Replica | undefined;
    for (const r of this.replicas) if (r.asideUntil <= now && (!best || r.inFlight < best.inFlight)) best = r;
    return best ?? this.replicas.reduce((a, b) => (b.asideUntil < a.asideUntil ? b : a));
  }

  private setAside(r: Replica): void {
    if (this.replicas.length < 2) return;
    r.asideUntil = performance.now() + Math.min(ASIDE_MAX_MS, ASIDE_MS * 2 ** r.failures);
    r.failures++;
  }

  private clientFor(replica: Replica): OpenAI {
    if (replica.client) return replica.client;
    const name = this.profile.apiKeyEnv;
    if (name && !this.opts.env[name])
      throw new BackendError(`model "${this.name}": environment variable ${name} (its API key) is not set`, this.name, undefined, false, "auth");
    const bodies = this.errorBodies;
    const limits = this.limits;
    replica.client = new OpenAI({
      baseURL: replica.baseURL,
      // Local servers want some bearer token or none; "sk-no-key" is what llama.cpp's docs use.
      apiKey: this.apiKey ?? "sk-no-key",
      maxRetries: 0, // retried here, so waits honour Retry-After and stay abortable
      timeout: this.opts.timeoutMs,
      logLevel: "off",
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(url, init);
        const wrong = notTheAPI(res);
        if (wrong) {
          await res.body?.cancel().catch(() => undefined);
          // Becomes an APIError with this message; the marker header makes it final, not retried.
          return new Response(JSON.stringify({ error: { message: wrong, type: "not_the_api" } }), {
            status: 502,
            headers: { "content-type": "application/json", [NOT_THE_API]: "1" },
          });
        }
        if (!res.ok) {
          try {
            bodies.set(res.headers, (await res.clone().text()).slice(0, 4096));
          } catch {
            // body unreadable: the status alone will do
          }
          return res;
        }
        if (!res.body) return res;
        const sse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
        return new Response(boundedBody(res.body, sse, limits), { status: res.status, statusText: res.statusText, headers: res.headers });
      },
    });
    return replica.client;
  }

  /** Remove the key (and any bearer token) from text that came from a server. */
  redact(text: string): string {
    let out = text;
    const key = this.apiKey;
    if (key && key.length >= 4) out = out.split(key).join("[redacted]");
    return out.replace(/(Bearer\s+)[^\s"',;)]+/gi, "$1[redacted]");
  }

  private serverError(err: APIError): { message: string; type: string } {
    const raw = err.headers ? this.errorBodies.get(err.headers) : undefined;
    let msg: string | undefined;
    let type = "";
    if (raw) {
      try {
        const j = JSON.parse(raw) as Json;
        const e = j.error as Json | string | undefined;
        if (e && typeof e === "object" && typeof e.type === "string") type = e.type;
        if (typeof j.type === "string") type ||= j.type;
        msg =
          typeof e === "string"
            ? e
            : e && typeof e.message === "string"
              ? e.message
              : typeof j.message === "string"
                ? j.message
                : typeof j.detail === "string"
                  ? j.detail
                  : raw;
      } catch {
        msg = /^\s*</.test(raw) ? "an HTML error page" : raw;
      }
    }
    const inner = err.error as Json | undefined;
    msg ??= inner?.message as string | undefined;
    if (!type && typeof inner?.type === "string") type = inner.type;
    msg ??= err.message;
    return { message: oneLine(this.redact(String(msg))).slice(0, 300), type };
  }

  /** What the refusal meant, from the server's own words. */
  private classify(err: APIError): BackendErrorKind {
    const { message, type } = this.serverError(err);
    const s = err.status;
    if (err.headers?.get(NOT_THE_API)) return "not-api";
    if (CONTEXT_OVERFLOW.test(type) || CONTEXT_OVERFLOW.test(message)) return "context-overflow";
    if (s === 401 || s === 403) return "auth";
    if (REFUSAL.test(message)) return "refused";
    if (s === 404) return "not-found";
    if (s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 409 && s !== 429) return "refused";
    return "server";
  }

  toBackendError(err: unknown, what: string, replica?: Replica): BackendError {
    if (err instanceof BackendError) return err;
    const who = `model "${this.name}"`;
    if (err instanceof APIUserAbortError) return new BackendError(`${who}: ${what} aborted`, this.name);
    if (err instanceof APIConnectionTimeoutError) {
      unresponsive.set(replica?.serverRoot ?? this.serverRoot, Date.now());
      return new BackendError(
        `${who}: no answer from ${replica?.baseURL ?? this.baseURL} within ${secs(this.opts.timeoutMs)} (${what})`,
        this.name,
        undefined,
        true,
        "timeout",
      );
    }
    const limit = findCause(err, BodyLimitError);
    if (limit) return new BackendError(`${who}: ${limit.message} (${what}); not read further`, this.name, undefined, false, "too-large");
    if (err instanceof APIConnectionError) {
      const cause = (err as { cause?: { cause?: { code?: string }; message?: string } }).cause;
      const detail = cause?.cause?.code ?? cause?.message ?? "connection failed";
      return new BackendError(
        `${who}: cannot reach ${replica?.baseURL ?? this.baseURL} (${this.redact(oneLine(detail))}) during ${what}`,
        this.name,
        undefined,
        true,
        "unreachable",
      );
    }
    if (err instanceof APIError) {
      const status = err.status;
      const kind = this.classify(err);
      let hint = "";
      if (kind === "auth")
        hint = this.profile.apiKeyEnv ? `; check the key in $${this.profile.apiKeyEnv}` : "; the server wants an API key: set apiKeyEnv in the profile";
      if (kind === "context-overflow") hint = "; the prompt is longer than the model's context";
      const retryable = kind === "server" && (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500);
      const head = kind === "not-api" ? "" : status ? `HTTP ${status} from server: ` : "error in stream: ";
      return new BackendError(
        `${who}: ${head}${this.serverError(err).message} (${what})${hint}`,
        this.name,
        kind === "not-api" ? undefined : status,
        retryable,
        kind,
      );
    }
    if (err instanceof SyntaxError)
      return new BackendError(
        `${who}: malformed data from server during ${what}: ${this.redact(oneLine(err)).slice(0, 200)}`,
        this.name,
        undefined,
        true,
        "server",
      );
    const msg = this.redact(oneLine(err)).slice(0, 300);
    return new BackendError(`${who}: ${what} failed: ${msg}`, this.name, undefined, true);
  }

  private retryDelay(err: unknown, attempt: number): number | "give-up" {
    if (err instanceof APIUserAbortError || err instanceof APIConnectionTimeoutError) return "give-up";
    if (findCause(err, BodyLimitError)) return "give-up";
    if (err instanceof APIConnectionError) return Math.min(500 * 2 ** attempt, 8000);
    if (!(err instanceof APIError) || err.status === undefined) return "give-up";
    const s = err.status;
    if (!(s === 408 || s === 409 || s === 429 || s >= 500)) return "give-up";
    if (this.classify(err) !== "server") return "give-up";
    const wait = retryAfterMs(err.headers);
    if (wait !== undefined) return wait;
    return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
  }

  /** After a timeout: is the server answering at all? Fails at once when it is not. */
  private async checkAlive(what: string, signal?: AbortSignal, replica: Replica = this.replicas[0]!): Promise<void> {
    const root = replica.serverRoot;
    if (!unresponsive.has(root)) return;
    const wait = Math.min(HEALTH_TIMEOUT_MS, Math.max(200, this.opts.timeoutMs / 4));
    const probe = AbortSignal.timeout(wait);
    try {
      const res = await fetch(root + "/health", { signal: signal ? AbortSignal.any([signal, probe]) : probe });
      await res.body?.cancel().catch(() => undefined);
      unresponsive.delete(root);
    } catch (err) {
      if (signal?.aborted) throw new BackendError(`model "${this.name}": ${what} aborted`, this.name);
      if (!probe.aborted) {
        unresponsive.delete(root); // refused or reset: the usual path reports it
        return;
      }
      throw new BackendError(
        `model "${this.name}": ${replica.baseURL} is not answering (it did not answer within ${secs(this.opts.timeoutMs)} before, nor /health within ${secs(wait)} now) (${what})`,
        this.name,
        undefined,
        true,
        "timeout",
      );
    }
  }

  /** Mark the server as not answering (a stream that went silent). */
  markUnresponsive(replica: Replica = this.replicas[0]!): void {
    unresponsive.set(replica.serverRoot, Date.now());
    this.setAside(replica);
  }

  /**
   * Run one HTTP call with retries; `fn` gets the client. `observe` hears of load refusals
   * (429/503) and, with `timed`, how long the answer took.
   */
  async call<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (client: OpenAI, replica: Replica) => Promise<T>,
    observe?: LoadObserver,
    timed?: boolean,
  ): Promise<T> {
    return (await this.callHeld(what, signal, fn, observe, timed, false)).value;
  }

  /**
   * As call(), for a stream: the replica stays counted as busy until the lease is released
   * (when the stream ends), so the next request goes elsewhere.
   */
  async open<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (client: OpenAI, replica: Replica) => Promise<T>,
    observe?: LoadObserver,
  ): Promise<{ value: T; lease: ReplicaLease }> {
    const held = await this.callHeld(what, signal, fn, observe, false, true);
    return { value: held.value, lease: held.lease! };
  }

  private async callHeld<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (client: OpenAI, replica: Replica) => Promise<T>,
    observe: LoadObserver | undefined,
    timed: boolean | undefined,
    hold: boolean,
    maxRetries = this.opts.maxRetries,
  ): Promise<{ value: T; lease?: ReplicaLease }> {
    // Moving to another replica after one failed is not a retry of the same server: it does
    // not wait and does not count, once per replica.
    let failovers = 0;
    for (let attempt = 0; ; attempt++) {
      const replica = this.pick();
      const client = this.clientFor(replica);
      replica.inFlight++;
      let held = false;
      const started = performance.now();
      try {
        await this.checkAlive(what, signal, replica);
        const value = await fn(client, replica);
        if (timed) observe?.latency("answer", performance.now() - started);
        replica.failures = 0;
        if (!hold) return { value };
        held = true;
        let released = false;
        const lease: ReplicaLease = {
          baseURL: replica.baseURL,
          release: () => {
            if (released) return;
            released = true;
            replica.inFlight--;
          },
          markUnresponsive: () => this.markUnresponsive(replica),
        };
        return { value, lease };
      } catch (err) {
        if (signal?.aborted) throw new BackendError(`model "${this.name}": ${what} aborted`, this.name);
        if (observe && err instanceof APIError && (err.status === 429 || err.status === 503)) observe.overloaded(retryAfterMs(err.headers));
        const down = replicaDown(err);
        if (down) this.setAside(replica);
        if (down && failovers < this.replicas.length - 1 && this.pick() !== replica) {
          failovers++;
          attempt--;
          continue;
        }
        const delay = err instanceof BackendError ? "give-up" : this.retryDelay(err, attempt);
        if (delay === "give-up" || attempt >= maxRetries) throw this.toBackendError(err, what, replica);
        if (delay > this.opts.maxRetryDelayMs) {
          const be = this.toBackendError(err, what, replica);
          throw new BackendError(`${be.message}; the server asks to wait ${Math.round(delay / 1000)} s`, this.name, be.status, true, be.kind);
        }
        try {
          await sleep(delay, signal);
        } catch {
          throw new BackendError(`model "${this.name}": ${what} aborted`, this.name);
        }
      } finally {
        if (!held) replica.inFlight--;
      }
    }
  }

  /** POST JSON to a path under /v1/ (the base URL) or under the server root. */
  post<T = Json>(
    path: string,
    body: Json,
    what: string,
    signal?: AbortSignal,
    opts: { retries?: boolean; timeoutMs?: number; observe?: LoadObserver } = {},
  ): Promise<T> {
    const run = (c: OpenAI, r: Replica) => {
      const url = path.startsWith("/v1/") ? r.baseURL + path.slice(3) : r.serverRoot + path;
      return c.post<T>(url, { body, signal, timeout: opts.timeoutMs ?? this.opts.timeoutMs }) as Promise<T>;
    };
    if (opts.retries === false) return this.callHeld(what, signal, run, opts.observe, true, false, 0).then((r) => r.value);
    return this.call(what, signal, run, opts.observe, true);
  }

  /** GET a path once, quickly; undefined when it is not there or not JSON. */
  async tryGet(path: string, signal?: AbortSignal): Promise<Json | undefined> {
    const url = path.startsWith("/v1/") ? this.baseURL + path.slice(3) : this.serverRoot + path;
    try {
      const r = (await this.client().get(url, { signal, timeout: Math.min(this.opts.timeoutMs, 5000), maxRetries: 0 })) as unknown;
      return r && typeof r === "object" ? (r as Json) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The wait a refusal asks for (retry-after-ms, or Retry-After in seconds or as a date). */
export function retryAfterMs(h: Headers | undefined): number | undefined {
  const ms = h?.get("retry-after-ms");
  if (ms && !Number.isNaN(parseFloat(ms))) return parseFloat(ms);
  const ra = h?.get("retry-after");
  if (ra) {
    const secs = parseFloat(ra);
    const wait = !Number.isNaN(secs) ? secs * 1000 : Date.parse(ra) - Date.now();
    if (!Number.isNaN(wait)) return Math.max(0, wait);
  }
  return undefined;
}

/** A failure that says this server is down or broken rather than busy or refusing the request. */
function replicaDown(err: unknown): boolean {
  if (err instanceof BackendError) return err.kind === "timeout" || err.kind === "unreachable";
  if (err instanceof APIConnectionError) return true; // refused, reset, timed out
  return err instanceof APIError && err.status !== undefined && err.status >= 500 && err.status !== 503;
}

function secs(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function findCause<T extends Error>(err: unknown, type: new (...a: never[]) => T): T | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof type) return e;
  return undefined;
}
