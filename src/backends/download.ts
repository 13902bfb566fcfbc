// Model files: a local path is used as is; `hf:` URIs and https URLs are downloaded once into
// the models folder of the user's cache. Downloads resume (HTTP Range on a `.partial` file),
// are checked against a sha256 when the spec or the server gives one, and are renamed into
// place only when complete, so a half-written file is never taken for a model.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { UserError, oneLine } from "../errors.js";
import { concordCacheDir } from "../fsutil/cache-home.js";

export type Env = Record<string, string | undefined>;

export type ParsedModelSpec =
  | { kind: "path"; path: string; sha256?: string }
  | { kind: "hf"; owner: string; repo: string; revision: string; file?: string; quant?: string; sha256?: string }
  | { kind: "url"; url: string; sha256?: string };

const SHA256 = /^[0-9a-f]{64}$/i;

/**
 * Reads a model spec:
 *  - `hf:owner/repo/path/file.gguf` (optionally `hf:owner/repo@revision/...`): one file;
 *  - `hf:owner/repo:Q4_K_M`: the repo's GGUF whose name carries that quantisation;
 *  - `https://...` (or `http://`): a direct URL;
 *  - anything else: a local path (`~/` expanded).
 * A `#sha256=<64 hex>` suffix gives the expected checksum.
 */
export function parseModelSpec(spec: string): ParsedModelSpec {
  let s = spec.trim();
  let sha256: string | undefined;
  const hash = /#sha256=([^#]*)$/i.exec(s);
  if (hash) {
    if (!SHA256.test(hash[1]!)) throw new UserError(`model spec ${spec}: sha256 must be 64 hex digits`);
    sha256 = hash[1]!.toLowerCase();
    s = s.slice(0, hash.index);
  }
  if (s === "") throw new UserError("empty model spec");
  if (/^hf:/i.test(s)) {
    const body = s.slice(3).replace(/^\/+/, "");
    const m = /^([^/\s:@]+)\/([^/\s:@]+)(?:@([^/\s:]+))?(?:\/(.+)|:([^/\s]+))?$/.exec(body);
    if (!m) throw new UserError(`model spec ${spec}: expected hf:owner/repo/file.gguf or hf:owner/repo:QUANT`);
    const file = m[4];
    if (file !== undefined && (file.split("/").includes("..") || !/\.gguf$/i.test(file))) {
      throw new UserError(`model spec ${spec}: the file must be a .gguf path inside the repository`);
    }
    return { kind: "hf", owner: m[1]!, repo: m[2]!, revision: m[3] ?? "main", file, quant: m[5], sha256 };
  }
  if (/^https?:\/\//i.test(s)) {
    try {
      new URL(s);
    } catch {
      throw new UserError(`model spec ${spec}: not a valid URL`);
    }
    return { kind: "url", url: s, sha256 };
  }
  const path = s.startsWith("~/") ? join(homedir(), s.slice(2)) : s;
  return { kind: "path", path: resolve(path), sha256 };
}

/** `$CONCORD_MODELS_DIR`, else `$XDG_CACHE_HOME/concord/models`, else `~/.cache/concord/models`. */
export function modelsDir(env: Env = process.env): string {
  if (env.CONCORD_MODELS_DIR) return resolve(env.CONCORD_MODELS_DIR);
  return concordCacheDir("models", env);
}

/** `$CONCORD_HF_ENDPOINT`, else `$HF_ENDPOINT`, else https://huggingface.co. */
export function hfEndpoint(env: Env = process.env): string {
  return (env.CONCORD_HF_ENDPOINT || env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

export interface DownloadProgress {
  file: string;
  downloadedBytes: number;
  /** Unknown when the server sends no length. */
  totalBytes?: number;
}

export interface DownloadOptions {
  /** Expected sha256 (hex); a mismatch deletes the download and fails. */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Extra attempts after a dropped connection, each resuming where the last stopped (default 3). */
  retries?: number;
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes taken from an earlier partial download. */
  resumedFrom: number;
}

/** What to do comes first: a terminal or status line that cuts the message keeps the advice. */
const LOCAL_HINT = "use a GGUF you have: set CONCORD_MODEL=<file.gguf> or pass --model <file.gguf>";

function networkError(url: string, err: unknown): UserError {
  const cause = (err as { cause?: unknown })?.cause;
  return new UserError(`offline? ${LOCAL_HINT} (cannot download ${url}: ${oneLine(cause ?? err)})`);
}

/** A sha256 the server states for the body: HF's X-Linked-Etag (LFS files) or a sha256 ETag. */
function headerSha256(headers: Headers): string | undefined {
  for (const name of ["x-linked-etag", "etag"]) {
    const v = headers.get(name)?.replace(/^W\//, "").replace(/"/g, "").trim();
    if (v && SHA256.test(v)) return v.toLowerCase();
  }
  return undefined;
}

/** fetch that follows redirects by hand, so headers of the first answer (HF's checksum) are kept. */
async function fetchFollowing(url: string, init: RequestInit): Promise<{ res: Response; sha256?: string; finalUrl: string }> {
  let current = url;
  let sha256: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(current, { ...init, redirect: "manual" });
    sha256 ??= headerSha256(res.headers);
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    return { res, sha256, finalUrl: current };
  }
  throw new UserError(`cannot download ${url}: too many redirects`);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * Download `url` to `dest`: through `dest.partial`, resuming it when it exists, verified
 * against a sha256 (given, or stated by the server), then renamed into place.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const partial = `${dest}.partial`;
  await mkdir(dirname(dest), { recursive: true });
  const retries = Math.max(0, options.retries ?? 3);
  const file = basename(dest);
  let resumedFrom = -1;
  let expected = options.sha256?.toLowerCase();
  for (let attempt = 0; ; attempt++) {
    let have = await fileSize(partial);
    const headers: Record<string, string> = { ...options.headers };
    if (have > 0) headers.Range = `bytes=${have}-`;
    let res: Response;
    let stated: string | undefined;
    try {
      ({ res, sha256: stated } = await fetchFollowing(url, { headers, signal: options.signal }));
    } catch (err) {
      if (options.signal?.aborted) throw err;
      if (err instanceof UserError) throw err;
      if (attempt < retries) continue;
      throw networkError(url, err);
    }
    if (res.status === 416) {
      // The partial file does not fit what the server has now: start over.
      await res.body?.cancel();
      await unlink(partial).catch(() => undefined);
      if (attempt < retries) continue;
      throw new UserError(`cannot download ${url}: the server refused to resume (HTTP 416)`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new UserError(`model not found (HTTP 404): check the model name and file, or ${LOCAL_HINT} (cannot download ${url})`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new UserError(
        `access denied (HTTP ${res.status}): accept the model's licence and set a token in HF_TOKEN, or ${LOCAL_HINT} (cannot download ${url})`,
      );
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      if (res.status >= 500 && attempt < retries) continue;
      throw new UserError(`cannot download ${url}: HTTP ${res.status}`);
    }
    if (!expected && stated) expected = stated;
    let total: number | undefined;
    if (res.status === 206) {
      const range = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get("content-range") ?? "");
      if (!range || Number(range[1]) !== have) {
        await res.body.cancel();
        await unlink(partial).catch(() => undefined);
        if (attempt < retries) continue;
        throw new UserError(`cannot download ${url}: the server resumed at the wrong offset`);
      }
      if (range[2] !== "*") total = Number(range[2]);
    } else {
      // A full answer: whatever was there is replaced.
      have = 0;
      const len = res.headers.get("content-length");
      if (len !== null) total = Number(len);
    }
    if (resumedFrom < 0) resumedFrom = have;
    const fh = await open(partial, have > 0 ? "a" : "w");
    let done = have;
    let dropped: unknown;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        done += chunk.length;
        options.onProgress?.({ file, downloadedBytes: done, totalBytes: total });
      }
    } catch (err) {
      dropped = err;
    } finally {
      await fh.close();
    }
    if (options.signal?.aborted) throw options.signal.reason;
    if (dropped !== undefined || (total !== undefined && done < total)) {
      if (attempt < retries) continue;
      throw new UserError(`download of ${url} was interrupted at ${done}${total ? ` of ${total}` : ""} bytes; run again to resume`);
    }
    const actual = await sha256OfFile(partial);
    if (expected && actual !== expected) {
      await unlink(partial).catch(() => undefined);
      throw new UserError(`downloaded ${file} does not match its sha256 (expected ${expected}, got ${actual}); the download was deleted`);
    }
    await rename(partial, dest);
    return { path: dest, bytes: done, sha256: actual, resumedFrom: Math.max(0, resumedFrom) };
  }
}

export interface ResolveModelOptions {
  env?: Env;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  retries?: number;
}

function hfHeaders(env: Env): Record<string, string> {
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function quantMatches(name: string, quant: string): boolean {
  const parts = name
    .replace(/\.gguf$/i, "")
    .toLowerCase()
    .split(/[-._]/);
  const q = quant.toLowerCase();
  return (
    name
      .toLowerCase()
      .replace(/\.gguf$/i, "")
      .endsWith(q) || parts.includes(q)
  );
}

/** The GGUF file of an HF repo carrying `quant` (a local copy first, then the repo listing). */
async function resolveHfQuant(spec: Extract<ParsedModelSpec, { kind: "hf" }>, dir: string, env: Env, signal?: AbortSignal): Promise<string> {
  const quant = spec.quant;
  const pick = (names: string[]) => {
    const ggufs = names.filter((n) => /\.gguf$/i.test(n) && !/mmproj/i.test(n));
    const hits = quant ? ggufs.filter((n) => quantMatches(basename(n), quant)) : ggufs;
    return hits.sort()[0];
  };
  const local = await readdir(dir).catch(() => [] as string[]);
  const cached = pick(local);
  if (cached) return cached;
  const url = `${hfEndpoint(env)}/api/models/${spec.owner}/${spec.repo}/revision/${spec.revision}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: hfHeaders(env), signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw networkError(url, err);
  }
  if (res.status === 404) throw new UserError(`Hugging Face repository ${spec.owner}/${spec.repo} not found (HTTP 404)`);
  if (!res.ok) throw new UserError(`cannot list ${spec.owner}/${spec.repo}: HTTP ${res.status}`);
  const body = (await res.json()) as { siblings?: { rfilename?: string }[] };
  const names = (body.siblings ?? []).map((s) => s.rfilename ?? "").filter(Boolean);
  const file = pick(names);
  if (!file) {
    throw new UserError(
      `${spec.owner}/${spec.repo} has no GGUF file${quant ? ` for ${quant}` : ""}; GGUF files there: ${names.filter((n) => n.endsWith(".gguf")).join(", ") || "none"}`,
    );
  }
  return file;
}

/**
 * A local GGUF path for a model spec: a path is checked and returned; `hf:` and URLs are
 * downloaded into `modelsDir(env)` unless already there (then no network is used).
 */
export async function resolveModelFile(spec: string, options: ResolveModelOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const parsed = parseModelSpec(spec);
  if (parsed.kind === "path") {
    const size = await fileSize(parsed.path);
    if (size === 0) throw new UserError(`model file not found or empty: ${parsed.path}`);
    return parsed.path;
  }
  const root = modelsDir(env);
  if (parsed.kind === "url") {
    const u = new URL(parsed.url);
    const name = basename(decodeURIComponent(u.pathname)) || "model.gguf";
    const short = createHash("sha256").update(parsed.url).digest("hex").slice(0, 12);
    const dest = join(root, "url", `${short}-${name.replace(/[^\w.-]/g, "_")}`);
    if ((await fileSize(dest)) > 0) return dest;
    await downloadFile(parsed.url, dest, { sha256: parsed.sha256, onProgress: options.onProgress, signal: options.signal, retries: options.retries });
    return dest;
  }
  const dir = join(root, "hf", parsed.owner, parsed.repo);
  const file = parsed.file ?? (await resolveHfQuant(parsed, dir, env, options.signal));
  const dest = join(dir, ...file.split("/"));
  if ((await fileSize(dest)) > 0) return dest;
  const url = `${hfEndpoint(env)}/${parsed.owner}/${parsed.repo}/resolve/${encodeURIComponent(parsed.revision)}/${file
    .split("/")
    .map(encodeURIComponent)
    .join("/")}`;
  await downloadFile(url, dest, {
    sha256: parsed.sha256,
    onProgress: options.onProgress,
    signal: options.signal,
    retries: options.retries,
    headers: hfHeaders(env),
  });
  return dest;
}
