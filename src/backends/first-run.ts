// Which models the interface opens when nothing is configured. CONCORD_MODEL / --model win; else
// the default set, downloaded once (with progress) when it is not in the models folder yet; and
// when it cannot be downloaded (no network, a failed download), the demo model Concord writes
// itself, with one line saying so. The program always opens.
import { oneLine } from "../errors.js";
import { DEMO_MODEL_NAME, DEMO_MODEL_NOTE, ensureDemoModel } from "./demo-model.js";
import { hfEndpoint, resolveModelFile, type DownloadProgress, type Env } from "./download.js";
import { resolveDefaultModelSpecs, type DefaultModelSpecs } from "./models.js";

export interface StartupModels {
  specs: DefaultModelSpecs;
  /** One line for the screen when the demo model stands in for the defaults. */
  notice?: string;
}

export interface StartupOptions {
  env?: Env;
  /** Download progress (the defaults' first download). */
  onProgress?: (p: DownloadProgress) => void;
  /** Told when one download ends (ok or not), e.g. to end a progress bar's line. */
  onDownloadEnd?: (ok: boolean) => void;
  /** How long to wait for the model host to answer before using the demo model. Default 5 s. */
  probeTimeoutMs?: number;
}

/** Every role on the demo model. */
export async function demoModelSpecs(env: Env = process.env): Promise<DefaultModelSpecs> {
  const spec = await ensureDemoModel(env);
  const n = [DEMO_MODEL_NAME];
  return {
    source: "demo",
    models: [{ name: DEMO_MODEL_NAME, spec }],
    roles: { generators: n, evaluators: n, targets: n, sanitizer: n, initiator: n, continuers: n, prm: [] },
  };
}

/** The local file of a model spec when it is already in the models folder; never downloads. */
export async function cachedModelFile(spec: string, env: Env = process.env): Promise<string | undefined> {
  // An aborted signal stops the resolver at its first network request, so only a file already
  // there (or a local path) comes back.
  try {
    return await resolveModelFile(spec, { env, signal: AbortSignal.abort(), retries: 0 });
  } catch {
    return undefined;
  }
}

/** Whether the model host answers at all (any HTTP status) within the timeout. */
export async function modelHostReachable(env: Env = process.env, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(hfEndpoint(env), { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

export async function startupModels(opts: StartupOptions = {}): Promise<StartupModels> {
  const env = opts.env ?? process.env;
  const specs = resolveDefaultModelSpecs(env);
  if (specs.source === "CONCORD_MODEL") return { specs };
  const missing: string[] = [];
  for (const m of specs.models) if (!(await cachedModelFile(m.spec, env))) missing.push(m.spec);
  if (!missing.length) return { specs };
  // The advice leads; why the demo model stands in is short, and any detail goes last.
  const demo = async (why: string, detail = ""): Promise<StartupModels> => ({
    specs: await demoModelSpecs(env),
    notice: `${why}: ${DEMO_MODEL_NOTE}${detail ? ` (${detail})` : ""}`,
  });
  if (!(await modelHostReachable(env, opts.probeTimeoutMs))) return demo("no network");
  for (const spec of missing) {
    try {
      await resolveModelFile(spec, { env, onProgress: opts.onProgress });
      opts.onDownloadEnd?.(true);
    } catch (err) {
      opts.onDownloadEnd?.(false);
      return demo("download failed", oneLine(err).slice(0, 200));
    }
  }
  return { specs };
}
