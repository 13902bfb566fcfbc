// Turns a model profile into the backend a user gets: the model file resolved (downloaded with
// progress when it is an hf: URI or URL), loaded with the profile's options, answers to
// deterministic requests kept in the response cache, and every exchange written to a recording
// when one is asked for.
import { realpath, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { ModelProfile } from "../config/profile.js";
import { oneLine, UserError } from "../errors.js";
import { CachedBackend, stableStringify } from "../backends/cache.js";
import type { DownloadProgress } from "../backends/download.js";
import type { LocalGpu, LocalModelPool } from "../backends/local/pool.js";
import { RecordingBackend, type Recorder } from "../backends/recorder.js";
import type { Backend } from "../backends/types.js";
import { concordCacheDir } from "../fsutil/cache-home.js";

/** Told about a download while it runs, and when it ends. */
export interface DownloadListener {
  onProgress(p: DownloadProgress): void;
  end(ok: boolean): void;
}

export interface BackendOptions {
  env?: NodeJS.ProcessEnv;
  /** Response cache for deterministic requests: on unless false or env CONCORD_NO_CACHE=1. */
  cache?: boolean;
  /** Every exchange is appended to this recording. */
  recorder?: Recorder;
  /** Progress of a model download (hf: URI or URL). */
  download?: DownloadListener;
}

/** `$CONCORD_CACHE_DIR`, else `$XDG_CACHE_HOME/concord/responses`, else `~/.cache/concord/responses`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONCORD_CACHE_DIR) return resolve(env.CONCORD_CACHE_DIR);
  return concordCacheDir("responses", env);
}

/** CONCORD_NO_CACHE set to anything but "", "0" or "false". */
function cacheDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CONCORD_NO_CACHE;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

/**
 * What the profile name does not say about the model, for cache keys: the file (path, size and
 * modification time, so a replaced file is a different model) and KV precision for a local
 * model; server, model id and extra request fields for a server.
 */
export async function modelIdentity(profile: ModelProfile, modelPath?: string): Promise<string> {
  if (profile.backend === "local") {
    const path = await realpath(modelPath ?? profile.path ?? profile.model);
    const st = await stat(path);
    // text: how generated tokens become text; a change there (BOS no longer shown) must not be served old answers.
    return stableStringify({ backend: "local", path, size: st.size, mtimeMs: Math.round(st.mtimeMs), kvCache: profile.kvCache ?? "f32", text: 2 });
  }
  return stableStringify({
    backend: profile.backend,
    baseURL: profile.baseURL,
    model: profile.model,
    extra: profile.extra,
    flavor: profile.flavor,
    thinkingFormat: profile.thinkingFormat,
    recording: profile.recording,
  });
}

// One download per spec at a time: two profiles on the same hf: file must not write one .partial.
const resolving = new Map<string, Promise<string>>();

async function resolveModel(spec: string, opts: BackendOptions): Promise<string> {
  let p = resolving.get(spec);
  if (!p) {
    p = (async () => {
      const { resolveModelSpec } = await import("../backends/models.js");
      const listener = opts.download;
      try {
        const path = await resolveModelSpec(spec, { env: opts.env, onProgress: listener ? (x) => listener.onProgress(x) : undefined });
        listener?.end(true);
        return path;
      } catch (err) {
        listener?.end(false);
        throw err;
      }
    })();
    resolving.set(spec, p);
    p.finally(() => resolving.delete(spec)).catch(() => undefined);
  }
  return p;
}

// Threads and GPU belong to the llama.cpp runtime, so profiles that set them get a pool of their own.
const pools = new Map<string, LocalModelPool>();

async function poolFor(profile: ModelProfile): Promise<LocalModelPool | undefined> {
  if (profile.threads === undefined && profile.gpu === undefined) return undefined;
  const key = `${profile.threads ?? ""}|${String(profile.gpu ?? "")}`;
  let pool = pools.get(key);
  if (!pool) {
    const { LocalModelPool } = await import("../backends/local/pool.js");
    pool = new LocalModelPool({ threads: profile.threads, gpu: profile.gpu as LocalGpu | undefined });
    pools.set(key, pool);
  }
  return pool;
}

/** The bare backend of a profile (no cache, no recording). Local models are loaded now, so a
 * missing file or a model too big for memory is one line naming the profile, before any work. */
async function innerBackend(
  profile: ModelProfile,
  opts: BackendOptions,
): Promise<{ backend: Backend; modelPath?: string; served?: (signal?: AbortSignal) => Promise<string | undefined> }> {
  switch (profile.backend) {
    case "local": {
      const spec = profile.path ?? profile.model;
      const modelPath = await resolveModel(spec, opts);
      const { LocalBackend } = await import("../backends/local.js");
      const backend = new LocalBackend({
        name: profile.name,
        modelPath,
        contextSize: profile.contextSize,
        sequences: profile.sequences,
        kvCache: profile.kvCache,
        reasoningEffort: profile.reasoningEffort,
        pool: await poolFor(profile),
      });
      try {
        await backend.load();
      } catch (err) {
        await backend.close().catch(() => undefined);
        const msg = oneLine(err);
        const hint = /model budget/.test(msg) ? " (profile fields: contextSize, sequences, kvCache: f16)" : "";
        throw new UserError(`model "${profile.name}": ${msg}${hint}`);
      }
      return { backend, modelPath };
    }
    case "openai": {
      const { OpenAIBackend } = await import("../backends/openai.js");
      const backend = new OpenAIBackend(profile, { env: opts.env });
      return { backend, served: (signal) => backend.servedModel(signal) };
    }
    case "replay": {
      const { ReplayBackend, loadRecording } = await import("../backends/replay.js");
      const rec = await loadRecording(profile.recording!);
      // A recording of several models: serve only the exchanges of the one this profile names
      // (by its model, else its name); a recording of one model serves it under any name.
      const names = new Set(rec.exchanges.map((e) => e.backend));
      const only = [profile.model, profile.name].find((n) => names.has(n));
      if (!only && names.size > 1) {
        throw new UserError(
          `model "${profile.name}": ${profile.recording} holds several models (${[...names].slice(0, 6).join(", ")}); set the profile's model to one of them`,
        );
      }
      return { backend: new ReplayBackend(rec, { name: profile.name, backend: only, speed: "instant" }) };
    }
  }
}

/** A backend for one profile: cached (deterministic requests) and recorded as asked. */
export async function backendFor(profile: ModelProfile, opts: BackendOptions = {}): Promise<Backend> {
  const env = opts.env ?? process.env;
  const { backend: inner, modelPath, served } = await innerBackend(profile, opts);
  let backend: Backend = inner;
  // A replay already answers from a file: caching it would only copy the file.
  if (profile.backend !== "replay" && opts.cache !== false && !cacheDisabled(env)) {
    backend = new CachedBackend(inner, { dir: cacheDir(env), model: await modelIdentity(profile, modelPath), served });
  }
  // The recording wraps the cache, so answers served from the cache are recorded too.
  if (opts.recorder) backend = new RecordingBackend(backend, opts.recorder);
  return backend;
}
