// Runs the built program, one CommonJS file (scripts/bundle.mjs), with V8's code cache: the
// compiled code of a start is kept on disk, and later starts skip parsing and compiling the
// functions that start used. Node 20 keeps no compiled code for programs itself, and on Node 22
// and 24 this also covers the functions compiled while running, not only the first pass. Without
// a usable cache (none yet, another Node, another build, a damaged file) the program compiles as
// it would anyway, and the cache is written again.
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import vm from "node:vm";
import { concordCacheDir } from "../fsutil/cache-home.js";
import { writeFileVerifiedSync } from "../fsutil/write.js";
import { commandName, opensInterface } from "./command-line.js";

/**
 * Where compiled code is kept: `$CONCORD_CODE_CACHE` (a folder; `off` keeps none), else
 * `$XDG_CACHE_HOME/concord/code`, else `~/.cache/concord/code`.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.CONCORD_CODE_CACHE;
  if (chosen === "off") return undefined;
  if (chosen) return chosen;
  return concordCacheDir("code", env);
}

/**
 * Which start this is, for its own cache file: the interface, help, and each command run different
 * code, and a cache holds the functions its start compiled.
 */
export function codeCacheKind(args: readonly string[]): string {
  if (opensInterface(args)) return "main";
  if (args.some((a) => a === "--help" || a === "-h" || a === "--version" || a === "-V")) return "help";
  const name = commandName(args);
  return name !== undefined && /^[a-z][a-z-]{0,23}$/.test(name) ? name : "other";
}

/** A cache file's name up to the build's size and time: one start of one Node. */
function cachePrefix(kind: string): string {
  return `${kind}@${process.version}-${process.arch}-`;
}

export interface LaunchOptions {
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** How long after the start the cache is written (or at exit, if that comes first). Default 2 s. */
  writeAfterMs?: number;
}

/**
 * Run `bundleFile` as a CommonJS module whose wrapper also receives `__concordImport`, the
 * import() of this module: code compiled from a vm.Script cannot call import() itself without an
 * experimental flag, so the build routes its one external dynamic import (node-llama-cpp) here.
 */
export function launchBundle(bundleFile: string, options: LaunchOptions = {}): void {
  const env = options.env ?? process.env;
  // The build writes ASCII only (esbuild escapes the rest), so latin1 reads it without decoding.
  const source = `(function (exports, require, module, __filename, __dirname, __concordImport) {${readFileSync(bundleFile, "latin1")}\n})`;
  const dir = codeCacheDir(env);
  let cache: { dir: string; prefix: string; name: string } | undefined;
  let cachedData: Buffer | undefined;
  if (dir) {
    try {
      const { size, mtimeMs } = statSync(bundleFile);
      const prefix = cachePrefix(codeCacheKind(options.args ?? process.argv.slice(2)));
      cache = { dir, prefix, name: `${prefix}${size}-${Math.trunc(mtimeMs)}.v8` };
      cachedData = readFileSync(join(dir, cache.name));
    } catch {
      // No cache yet (or no folder): this start compiles and writes one.
    }
  }
  const script = new vm.Script(source, { filename: bundleFile, cachedData });
  if (cache && (!cachedData || script.cachedDataRejected)) keepCompiledCode(script, cache, options.writeAfterMs ?? 2000);
  const module = { exports: {} };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(bundleFile), module, bundleFile, dirname(bundleFile), (specifier: string) => import(specifier));
}

/**
 * Write the script's compiled code once the start has compiled what it needs (after a while, or
 * at exit), with the verified write every file of Concord's goes through (a reader never sees half
 * of one), and remove the same start's caches of older builds. A failure only means the next
 * start compiles.
 */
function keepCompiledCode(script: vm.Script, cache: { dir: string; prefix: string; name: string }, afterMs: number): void {
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    process.off("exit", write);
    try {
      mkdirSync(cache.dir, { recursive: true, mode: 0o700 });
      writeFileVerifiedSync(join(cache.dir, cache.name), script.createCachedData(), { mode: 0o600 });
      for (const name of readdirSync(cache.dir)) {
        if (name.startsWith(cache.prefix) && name.endsWith(".v8") && name !== cache.name) rmSync(join(cache.dir, name), { force: true });
      }
    } catch {
      // Read-only or full disk: nothing is kept, nothing is lost.
    }
  };
  setTimeout(write, afterMs).unref();
  process.on("exit", write);
}
