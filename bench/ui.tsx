// 3. The interface under load: 8 candidate streams at 300 tokens/s each, through the real
// ChainBuilder, the real store (batched engine events) and the real Ink App on the Race
// screen, rendered to a TTY-like stream. Measured: frames per second (and the most in any
// one second: Ink caps it), frames that clear the whole screen (flicker), keypress-to-frame
// latency of moving the selection, and CPU time beyond the engine and the model doubles,
// from process.cpuUsage() of the same run without the store and the interface. Rendered with
// the interface's own RENDER_OPTIONS, in a process with NODE_ENV=production as bin/concord.js.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { interactiveEnv } from "./lib.js";
import { render } from "ink";
import stripAnsi from "strip-ansi";
import { ChainBuilder } from "../src/engine/ensemble.js";
import type { ModelHandle } from "../src/engine/models.js";
import { createConcordStore, type ConcordStore } from "../src/state/store.js";
import { App } from "../src/ui/App.js";
import { RENDER_OPTIONS } from "../src/app/interactive.js";
import { MARK_PICK, MARK_SELECTED } from "../src/ui/screens/Race.js";
import { loadTheme } from "../src/ui/theme.js";
import { problem } from "./overlap.js";
import { PacedBackend, wordTokens } from "./paced-backend.js";
import { BenchStdin, BenchStdout, clearsScreen, isFrame } from "./terminal.js";
import { check, fmt, ms, percentile, sleep, table, type Bench } from "./lib.js";

/** How Ink renders: as Concord does (RENDER_OPTIONS of src/app/interactive.tsx), or with Ink's defaults (30 frames/s cap), as Concord did before. */
export type RenderSetting = "concord" | "ink-default";

export interface UiLoadParams {
  streams: number;
  tokensPerSecond: number;
  /** How long every stream runs (s). */
  seconds: number;
  /** Time between two keypresses (ms). */
  keyEveryMs: number;
  columns?: number;
  rows?: number;
  /** Default "concord". */
  render?: RenderSetting;
  /**
   * Hold every stream's last token until this many keypresses have been timed (at most
   * `holdMs`, default 30 s), so that a slow machine still gets keypresses in while streaming.
   */
  minKeys?: number;
  holdMs?: number;
  /** Every generator streams on the reasoning channel, as a thinking model (QwQ, DAPO, Qwen3) does. */
  reasoning?: boolean;
}

export interface CpuFigure {
  /** CPU milliseconds per wall second (100 = one core fully busy for 10 %). */
  cpuMsPerSec: number;
  wallMs: number;
}

export interface UiLoadResult {
  engine: CpuFigure;
  store: CpuFigure;
  ui: CpuFigure;
  frames: number;
  fps: number;
  maxFramesInOneSecond: number;
  screenClears: number;
  keyLatencies: number[];
  keysPressed: number;
  keysLost: number;
  /** Ink's own time per frame (layout + output), ms. */
  inkRenderTimes: number[];
  /** Event-loop delay while streaming with the interface (p50, p99, max; ms). */
  loopDelay: { p50: number; p99: number; max: number };
  lanesSeen: number;
  tokensDelivered: number;
  /** Tokens in every stream's text together: what full delivery is. */
  tokensExpected: number;
  /** The first frame that shows the evaluator's pick once the step awaits a decision ("" if none came). */
  finalFrame: string;
  nodeEnv: string | null;
  maxFps: number;
}

function words(n: number): string {
  const w = ["the", "little", "robot", "counts", "every", "apple", "twice", "before", "it", "adds"];
  let s = "";
  for (let i = 0; i < n; i++) s += (i === 0 ? "" : " ") + w[i % w.length];
  // The full stop and the word after it end the candidate (Concord stops at the first sentence).
  return " " + s + ". Next";
}

function race(p: UiLoadParams, holdLast?: () => Promise<void>) {
  const text = words(Math.round(p.tokensPerSecond * p.seconds));
  const gens: ModelHandle[] = Array.from({ length: p.streams }, (_, i) => ({
    name: `g${i + 1}`,
    backend: new PacedBackend({ name: `g${i + 1}`, tokensPerSecond: p.tokensPerSecond, text, holdLast, channel: p.reasoning ? "reasoning" : "content" }),
    thinkingFormat: "think-tags",
  }));
  const judge: ModelHandle = { name: "judge", backend: new PacedBackend({ name: "judge", tokensPerSecond: 1000, text: "" }), thinkingFormat: "think-tags" };
  const builder = new ChainBuilder({ problem, generators: gens, evaluators: [judge], k: 1, sampling: { maxTokens: 1_000_000 } });
  const tokens = () => gens.reduce((s, g) => s + (g.backend as PacedBackend).tokensSent, 0);
  return { builder, gens, judge, tokens, expected: p.streams * wordTokens(text).length };
}

/** CPU per wall second between two marks. */
function cpuSince(c0: NodeJS.CpuUsage, t0: number): CpuFigure {
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  return { cpuMsPerSec: ((c.user + c.system) / 1000 / wallMs) * 1000, wallMs };
}

async function engineOnly(p: UiLoadParams): Promise<CpuFigure> {
  const { builder } = race(p);
  const done = new Promise<void>((resolve) => builder.on((e) => e.type === "awaiting-decision" && resolve()));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  void builder.startStep();
  await done;
  const fig = cpuSince(c0, t0);
  await builder.cancel();
  return fig;
}

function waitForAwaiting(store: ConcordStore): Promise<void> {
  return new Promise((resolve) => {
    const off = store.subscribe((s) => {
      if (s.race.awaiting) {
        off();
        resolve();
      }
    });
  });
}

async function storeOnly(p: UiLoadParams): Promise<CpuFigure> {
  const { builder } = race(p);
  const store = createConcordStore({ autoAdvance: false, createRace: () => ({ builder, roles: { generators: [], evaluators: ["judge"], targets: [] } }) });
  const done = waitForAwaiting(store);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await store.getState().openProblem(problem);
  await done;
  const fig = cpuSince(c0, t0);
  await store.getState().dispose();
  return fig;
}

const SELECTED = /▸.{0,3}?(\S+#\d+)/;
/** A lane row that starts with the pick mark (the header's "★ pick" legend does not). */
const PICKED_LANE = new RegExp(`^[${MARK_SELECTED} ]${MARK_PICK}`, "m");

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function renderOptions(setting: RenderSetting = "concord"): { exitOnCtrlC: boolean; maxFps?: number } {
  return setting === "concord" ? { ...RENDER_OPTIONS } : { exitOnCtrlC: false };
}

async function withInterface(p: UiLoadParams): Promise<Omit<UiLoadResult, "engine" | "store" | "nodeEnv" | "maxFps">> {
  const keysWanted = p.minKeys ?? 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holdTimer = setTimeout(() => release(), p.holdMs ?? 30_000);
  if (!keysWanted) release();
  const r = race(p, keysWanted ? () => released : undefined);
  const store = createConcordStore({
    autoAdvance: false,
    createRace: () => ({ builder: r.builder, roles: { generators: r.gens.map((g) => g.name), evaluators: ["judge"], targets: [] } }),
  });
  const stdout = new BenchStdout(p.columns ?? 100, p.rows ?? 40);
  const stdin = new BenchStdin();
  const theme = loadTheme({ theme: "dark", env: {} });
  const inkRenderTimes: number[] = [];
  // Keypress bookkeeping: a key is answered by the first frame that shows its selection.
  const pending: Array<{ at: number; id: string }> = [];
  const latencies: number[] = [];
  let lost = 0;
  let pressed = 0;
  let lanesSeen = 0;
  let firstFrame!: () => void;
  const drawn = new Promise<void>((resolve) => (firstFrame = resolve));
  // The latest frame that marks a lane as the evaluator's pick: only the finished race has one.
  let picked: { at: number; text: string } | undefined;
  let onPicked: (() => void) | undefined;
  stdout.onWrite = (w) => {
    if (!isFrame(w.data)) return;
    firstFrame();
    const text = stripAnsi(w.data);
    if (PICKED_LANE.test(text)) {
      picked = { at: w.at, text };
      onPicked?.();
    }
    if (!pending.length) return;
    const m = SELECTED.exec(text);
    if (!m) return;
    const i = pending.findIndex((k) => k.id === m[1]);
    if (i < 0) return;
    latencies.push(w.at - pending[i]!.at);
    // Keys before it were overtaken by it: their frame never came on its own.
    lost += i;
    pending.splice(0, i + 1);
    if (latencies.length >= keysWanted) release();
  };
  const ink = render(<App store={store} theme={theme} />, {
    ...renderOptions(p.render),
    onRender: (m) => inkRenderTimes.push(m.renderTime),
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new BenchStdout(80, 24) as unknown as NodeJS.WriteStream,
    patchConsole: false,
  });
  try {
    // The clock starts once the interface is on screen, however slowly this process started.
    if (!(await within(drawn, 60_000))) throw new Error("the interface drew no frame within 60 s");
    const writesBefore = stdout.writes.length;
    const done = waitForAwaiting(store);
    let streaming = true;
    void done.then(() => (streaming = false));
    const loop = monitorEventLoopDelay({ resolution: 2 });
    loop.enable();
    const rendersBefore = inkRenderTimes.length;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await store.getState().openProblem(problem);
    // Let every lane appear before steering among them.
    while (streaming && store.getState().race.lanes.length < p.streams) await Promise.race([sleep(10), done]);
    while (streaming) {
      const lanes = store.getState().race.lanes;
      lanesSeen = Math.max(lanesSeen, lanes.length);
      if (lanes.length) {
        stdin.press("j");
        pressed++;
        const s = store.getState();
        const id = s.race.lanes[s.selected]?.id;
        if (id) pending.push({ at: performance.now(), id });
      }
      await Promise.race([sleep(p.keyEveryMs), done]);
    }
    const ui = cpuSince(c0, t0);
    loop.disable();
    lanesSeen = Math.max(lanesSeen, store.getState().race.lanes.length);
    // Frames are counted up to the one that shows the finished race, however late it comes.
    if (!picked) await within(new Promise<void>((resolve) => (onPicked = resolve)), 30_000);
    const final = picked;
    const t1 = final?.at ?? performance.now();
    await sleep(100);
    lost += pending.length;
    const window = stdout.writes.slice(writesBefore).filter((w) => w.at >= t0 && w.at <= t1);
    const frames = window.filter((w) => isFrame(w.data));
    let maxInSecond = 0;
    for (let i = 0, j = 0; i < frames.length; i++) {
      while (frames[i]!.at - frames[j]!.at >= 1000) j++;
      maxInSecond = Math.max(maxInSecond, i - j + 1);
    }
    return {
      ui,
      frames: frames.length,
      fps: frames.length / ((t1 - t0) / 1000),
      maxFramesInOneSecond: maxInSecond,
      screenClears: window.filter((w) => clearsScreen(w.data)).length,
      keyLatencies: latencies,
      keysPressed: pressed,
      keysLost: lost,
      inkRenderTimes: inkRenderTimes.slice(rendersBefore),
      loopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      lanesSeen,
      tokensDelivered: r.tokens(),
      tokensExpected: r.expected,
      finalFrame: final?.text ?? "",
    };
  } finally {
    clearTimeout(holdTimer);
    release();
    ink.unmount();
    await store.getState().dispose();
  }
}

export async function measureUiLoad(p: UiLoadParams): Promise<UiLoadResult> {
  const engine = await engineOnly(p);
  const store = await storeOnly(p);
  const rest = await withInterface(p);
  return { engine, store, ...rest, nodeEnv: process.env.NODE_ENV ?? null, maxFps: renderOptions(p.render).maxFps ?? 30 };
}

/**
 * measureUiLoad in a fresh process, so that React's build (chosen from NODE_ENV when React is
 * first imported) is the one asked for: "production" as bin/concord.js sets it, undefined for
 * none (React's development build).
 */
export function measureUiLoadIn(nodeEnv: string | undefined, p: UiLoadParams): UiLoadResult {
  const env = interactiveEnv();
  if (nodeEnv === undefined) delete env.NODE_ENV;
  else env.NODE_ENV = nodeEnv;
  const child = join(dirname(fileURLToPath(import.meta.url)), "ui-child.tsx");
  const r = spawnSync(process.execPath, ["--import", "tsx", child, JSON.stringify(p)], { encoding: "utf8", env, timeout: 300_000 });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`interface benchmark process failed (${r.status}): ${r.stderr.trim().split("\n").slice(-2).join(" / ")}`);
  return JSON.parse(line) as UiLoadResult;
}

export const ui: Bench = {
  name: "ui",
  title: "Interface under load",
  async run({ quick, log }) {
    const p: UiLoadParams = quick
      ? { streams: 2, tokensPerSecond: 100, seconds: 0.6, keyEveryMs: 100, minKeys: 2 }
      : { streams: 8, tokensPerSecond: 300, seconds: 6, keyEveryMs: 150 };
    log?.(`ui: ${p.streams} streams x ${p.tokensPerSecond} tokens/s for ${p.seconds} s`);
    // As Concord runs: NODE_ENV=production (bin/concord.js) and RENDER_OPTIONS (src/app/interactive.tsx).
    const now = measureUiLoadIn("production", { ...p, render: "concord" });
    // Before: NODE_ENV unset (React's development build) and Ink's default frame cap.
    const before = measureUiLoadIn(undefined, { ...p, render: "ink-default" });
    const uiCpu = (x: UiLoadResult) => x.ui.cpuMsPerSec - x.engine.cpuMsPerSec;
    const rows = (x: UiLoadResult) => {
      const storeCpu = x.store.cpuMsPerSec - x.engine.cpuMsPerSec;
      return [
        fmt(x.fps, 1),
        String(x.maxFramesInOneSecond),
        String(x.screenClears),
        ms(percentile(x.keyLatencies, 50)),
        ms(percentile(x.keyLatencies, 95)),
        `${x.keyLatencies.length} / ${x.keysLost}`,
        `${ms(percentile(x.inkRenderTimes, 50))} / ${ms(percentile(x.inkRenderTimes, 95))}`,
        `${ms(x.loopDelay.p50)} / ${ms(x.loopDelay.p99)} / ${ms(x.loopDelay.max)}`,
        String(x.lanesSeen),
        `${fmt(x.tokensDelivered, 0)} / ${fmt(x.tokensExpected, 0)}`,
        fmt(x.engine.cpuMsPerSec, 0),
        fmt(x.store.cpuMsPerSec, 0),
        fmt(x.ui.cpuMsPerSec, 0),
        // Two runs of the same engine differ by some ms/s: a negative difference is that noise.
        `${fmt(uiCpu(x), 0)} (${fmt(uiCpu(x) / 10, 1)} % of a core; store alone ${storeCpu < 0 ? "~0, within run-to-run noise" : fmt(storeCpu, 0)})`,
      ];
    };
    const labels = [
      "frames per second (mean over the stream)",
      "most frames in any one second",
      "frames that clear the whole screen (flicker)",
      "keypress -> frame p50",
      "keypress -> frame p95",
      "keypresses measured / overtaken by the next",
      "Ink layout + output per frame p50 / p95",
      "event-loop delay p50 / p99 / max",
      "lanes on screen",
      "tokens delivered / in the streams",
      "CPU: engine + doubles only (ms/s)",
      "CPU: + store, no rendering (ms/s)",
      "CPU: + store + Ink interface (ms/s)",
      "CPU of store + interface beyond the engine (ms/s)",
    ];
    const a = rows(now);
    const b = rows(before);
    const p95 = percentile(now.keyLatencies, 95);
    const p95before = percentile(before.keyLatencies, 95);
    const cap = now.maxFps;
    const notes: string[] = [];
    if (!(p95 < 50))
      notes.push(
        `Where the keypress time goes: Ink draws at most one frame per ${Math.ceil(1000 / cap)} ms (maxFps ${cap}); the frame itself (React render of the Race screen + Ink layout/output, p95 ${ms(percentile(now.inkRenderTimes, 95))} for Ink's part alone) ` +
          `runs on an event loop that the engine's per-token work also occupies (delay p99 ${ms(now.loopDelay.p99)}, max ${ms(now.loopDelay.max)}); with the machine's load above its core count, the process also waits for a CPU.`,
      );
    return {
      body: [
        `${p.streams} candidate lanes streaming ${p.tokensPerSecond} tokens/s each for ${p.seconds} s through ChainBuilder -> store (batched) -> Ink App (Race screen) on a ${p.columns ?? 100}x${p.rows ?? 40} TTY stream; a \`j\` keypress every ${p.keyEveryMs} ms, timed to the first frame that shows the new selection. ` +
          `Generators are in-process paced test doubles, so CPU figures are the process's own, per wall second (1000 = one core). ` +
          `Each column is a fresh process. "Concord" renders as \`concord\` does: NODE_ENV=production (set by bin/concord.js) and Ink's options from \`RENDER_OPTIONS\` in src/app/interactive.tsx (maxFps ${cap}). ` +
          `"Before" is the earlier setting, for comparison: NODE_ENV unset (React's development build) and Ink's default cap of ${before.maxFps} frames/s.`,
        table(
          ["figure", `Concord (production, maxFps ${cap})`, `before (development, maxFps ${before.maxFps})`],
          labels.map((l, i) => [l, a[i]!, b[i]!]),
        ),
        `Keypress -> frame p95, before / Concord: ${fmt(p95before / p95)}x. Interface CPU beyond the engine, before / Concord: ${fmt(uiCpu(before) / Math.max(1, uiCpu(now)))}x.`,
      ],
      checks: [
        check("keypress -> frame p95 (ms)", p95, "< 50", p95 < 50),
        check("most frames in one second", now.maxFramesInOneSecond, `<= ${cap + 1} (Ink cap ${cap})`, now.maxFramesInOneSecond <= cap + 1),
        check("full-screen clears while streaming", now.screenClears, "0", now.screenClears === 0),
        check("lanes on screen", now.lanesSeen, `= ${p.streams}`, now.lanesSeen === p.streams),
        check("tokens delivered", now.tokensDelivered, `= ${now.tokensExpected}`, now.tokensDelivered === now.tokensExpected),
      ],
      notes,
    };
  },
};
