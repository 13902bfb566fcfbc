// 4. Start-up. `concord --help` (spawned as a user runs it: node bin/concord.js) from the
// build in dist/ and from the TypeScript sources, and the time to the first frame of the
// interface (`concord` with no arguments, in a pseudo-terminal made by script(1)), before any
// model is loaded: models load lazily, after the first frame.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import stripAnsi from "strip-ansi";
import { check, fmt, median, ms, table, type Bench } from "./lib.js";
import { STORIES_MODEL } from "./scoring.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "concord.js");

/** `npm run build`: the TypeScript build, then its bundle (bin/concord.js runs the bundle only when it is the newer). */
export function build(): { ok: boolean; ms: number; output: string } {
  const t0 = performance.now();
  const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    encoding: "utf8",
  });
  const bundle = spawnSync(process.execPath, [join(root, "scripts", "bundle.mjs")], { cwd: root, encoding: "utf8" });
  return {
    ok: tsc.status === 0 && bundle.status === 0,
    ms: performance.now() - t0,
    output: (tsc.stdout + tsc.stderr + bundle.stdout + bundle.stderr).trim(),
  };
}

/** How Concord is started: built, as `concord` runs (bin/concord.js), or from its sources as `npm run dev` runs them. */
function entry(fromSource: boolean): string[] {
  return fromSource ? ["--import", "tsx", join(root, "src", "cli.tsx")] : [BIN];
}

/** Wall time of `concord --help`, and whether it printed the usage; `codeCache` is the built program's CONCORD_CODE_CACHE. */
export function helpTime(fromSource: boolean, codeCache?: string): { ms: number; ok: boolean } {
  const env = { ...process.env, NODE_ENV: "production", ...(codeCache ? { CONCORD_CODE_CACHE: codeCache } : {}) };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...entry(fromSource), "--help"], { cwd: root, encoding: "utf8", env });
  return { ms: performance.now() - t0, ok: r.status === 0 && /Usage: concord/.test(r.stdout) };
}

export interface FrameOptions {
  timeoutMs?: number;
  node?: string;
  /** The built program's code cache folder (CONCORD_CODE_CACHE); `off` for none. */
  codeCache?: string;
  /** How long the program runs on after its first frame before it is stopped (to write its code cache). */
  holdMs?: number;
}

/** Time from spawn to the first frame of the interface in a pseudo-terminal; NaN if none came. */
export function firstFrameTime(fromSource: boolean, options: FrameOptions = {}): Promise<{ ms: number; screen: string }> {
  const { timeoutMs = 20_000, node = process.execPath, codeCache, holdMs = 0 } = options;
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-start-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TERM: "xterm-256color",
    CONCORD_MODEL: STORIES_MODEL,
    CONCORD_SESSIONS_DIR: join(dir, "sessions"),
    CONCORD_CONFIG_DIR: join(dir, "config"),
    ...(codeCache ? { CONCORD_CODE_CACHE: codeCache } : {}),
  };
  env.NODE_ENV = "production";
  const cmd = `stty cols 100 rows 30; exec '${node}' ${entry(fromSource)
    .map((a) => `'${a}'`)
    .join(" ")}`;
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: root, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let done = false;
    let framed = false;
    const finish = (value: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
      resolvePromise({ ms: value, screen: stripAnsi(out) });
    };
    const timer = setTimeout(() => finish(NaN), timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      // The tab bar is the first line of every frame.
      if (!framed && /Concord\s+1 Problems/.test(stripAnsi(out))) {
        framed = true;
        const at = performance.now() - t0;
        if (holdMs > 0) setTimeout(() => finish(at), holdMs);
        else finish(at);
      }
    });
    child.on("exit", () => setTimeout(() => finish(NaN), 50));
  });
}

export const startup: Bench = {
  name: "startup",
  title: "Start-up",
  async run({ quick, log }) {
    const runs = quick ? 1 : 11;
    const notes: string[] = [];
    let built = existsSync(join(root, "dist", "cli.js"));
    if (!quick) {
      log?.("startup: npm run build");
      const b = build();
      built = existsSync(join(root, "dist", "cli.js"));
      if (!b.ok)
        notes.push(`\`npm run build\` reported errors (${b.output.split("\n").length} lines; first: ${b.output.split("\n")[0]}); dist/ was used as emitted.`);
    }
    const rows: Array<[string, number, number]> = [];
    const measure = async (label: string, f: () => Promise<number> | number) => {
      const xs: number[] = [];
      // The first run warms the file-system cache; one that draws nothing is not repeated.
      if (!Number.isFinite(await f())) return NaN;
      for (let i = 0; i < runs; i++) xs.push(await f());
      rows.push([label, median(xs), Math.min(...xs)]);
      log?.(`startup: ${label} ${fmt(median(xs))} ms`);
      return median(xs);
    };
    // The built program keeps its compiled code (src/app/launch-bundle.ts): in a folder of the
    // benchmark's own, so that "warm" means after one start of that kind, and "first" means none.
    const codeCache = mkdtempSync(join(tmpdir(), "concord-bench-code-"));
    const helpOk = helpTime(false, codeCache).ok || helpTime(true).ok;
    if (!helpOk) notes.push("`concord --help` did not print its usage.");
    const builtHelp = built ? await measure("`concord --help`, built (dist/)", () => helpTime(false, codeCache).ms) : NaN;
    const srcHelp = await measure("`concord --help`, from source (tsx)", () => helpTime(true).ms);
    let builtFrame = NaN;
    const otherNodes: Array<[string, number]> = [];
    let srcFrame = NaN;
    const hasScript = spawnSync("script", ["--version"]).status === 0;
    if (!hasScript) notes.push("script(1) is not installed: the first-frame times were not measured.");
    else {
      srcFrame = await measure("`concord` to first frame, from source (tsx)", async () => (await firstFrameTime(true)).ms);
      if (!Number.isFinite(srcFrame)) {
        const probe = await firstFrameTime(true);
        notes.push(`\`concord\` (from source) drew no frame within 20 s; its output ended: ${JSON.stringify(probe.screen.trim().slice(-200))}`);
      }
      if (built) {
        await measure(
          "`concord` to first frame, built, first start of a build (no code cache)",
          async () => (await firstFrameTime(false, { codeCache: "off" })).ms,
        );
        // One start that runs on long enough to write its code cache, then the starts that use it.
        await firstFrameTime(false, { codeCache, holdMs: 3000 });
        builtFrame = await measure("`concord` to first frame, built (dist/)", async () => (await firstFrameTime(false, { codeCache })).ms);
        if (!Number.isFinite(builtFrame)) notes.push("`concord` from dist/ drew no frame within 20 s (is dist/ up to date? `npm run build`).");
        // The Node lines users run (22, 24); CONCORD_BENCH_NODES names their binaries
        // (comma-separated), as CI installs them from the registry.
        for (const node of (process.env.CONCORD_BENCH_NODES ?? "").split(",").filter(Boolean)) {
          const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim();
          if (!version) {
            notes.push(`${node} (CONCORD_BENCH_NODES) did not run.`);
            continue;
          }
          await firstFrameTime(false, { node, codeCache, holdMs: 3000 });
          const label = `\`concord\` to first frame, built, Node ${version}`;
          const t = await measure(label, async () => (await firstFrameTime(false, { node, codeCache })).ms);
          if (Number.isFinite(t)) otherNodes.push([`${label} (ms)`, t]);
        }
      }
    }
    rmSync(codeCache, { recursive: true, force: true });
    if (!built) notes.push("No dist/cli.js: built times were not measured.");
    const checks = [];
    if (Number.isFinite(builtFrame))
      checks.push(check(`\`concord\` to first frame, built, Node ${process.version} (ms)`, builtFrame, "< 300", builtFrame < 300));
    for (const [label, t] of otherNodes) checks.push(check(label, t, "< 300", t < 300));
    if (Number.isFinite(builtHelp))
      checks.push(check("`concord --help` built: from source / built", srcHelp / builtHelp, "> 1 (the build pays off)", srcHelp > builtHelp));
    return {
      body: [
        `Spawned as a user runs them: built, \`node bin/concord.js\` (the bundle in dist/bundle/ that \`npm run build\` makes); from source, \`node --import tsx src/cli.tsx\` (as \`npm run dev\`), medians of ${runs} after one warm-up run. The first frame is the tab bar appearing in a 100x30 pseudo-terminal (script(1)); ` +
          `CONCORD_MODEL points at stories260K but no model is loaded before the first frame. ` +
          `The built program keeps the code each kind of start compiled (its code cache, written once per build and Node version): "built" rows are the starts after the first, as users start it; "first start of a build" compiles everything, as the first start after an install or upgrade does.`,
        table(
          ["command", "median", "best"],
          rows.map(([l, m, b]) => [l, ms(m), ms(b)]),
        ),
        ...(Number.isFinite(builtHelp)
          ? [
              `From source / built: \`--help\` ${fmt(srcHelp / builtHelp)}x` +
                (Number.isFinite(builtFrame) ? `, first frame ${fmt(srcFrame / builtFrame)}x.` : "."),
            ]
          : []),
      ],
      checks,
      notes,
    };
  },
};
