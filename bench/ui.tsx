// 3. The interface under load: 8 candidate streams at 300 tokens/s each, through the real
// ChainBuilder, the real store (batched engine events) and the real Ink App on the Race
// screen, rendered to a TTY-like stream. Measured: frames per second (and the most in any
// one second: Ink caps it), frames that clear the whole screen (flicker), keypress-to-frame
// latency of moving the selection, and CPU time beyond the engine and the model doubles,
// from process.cpuUsage() of the same run without the store and the interface.
import React from "react";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { render } from "ink";
import stripAnsi from "strip-ansi";
import { ChainBuilder } from "../src/engine/ensemble.js";
import type { ModelHandle } from "../src/engine/models.js";
import { createConcordStore, type ConcordStore } from "../src/state/store.js";
import { App } from "../src/ui/App.js";
import { loadTheme } from "../src/ui/theme.js";
import { problem } from "./overlap.js";
import { PacedBackend } from "./paced-backend.js";
import { BenchStdin, BenchStdout, clearsScreen, isFrame } from "./terminal.js";
import { check, fmt, ms, percentile, sleep, table, type Bench } from "./lib.js";

export interface UiLoadParams {
  streams: number;
  tokensPerSecond: number;
  /** How long every stream runs (s). */
  seconds: number;
  /** Time between two keypresses (ms). */
  keyEveryMs: number;
  columns?: number;
  rows?: number;
  /** Ink's frame cap; undefined = Ink's default (30), as src/ui/launch.tsx renders. */
  maxFps?: number;
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
  keysLost: number;
  /** Ink's own time per frame (layout + output), ms. */
  inkRenderTimes: number[];
  /** Event-loop delay while streaming with the interface (p50, p99, max; ms). */
  loopDelay: { p50: number; p99: number; max: number };
  lanesSeen: number;
  tokensDelivered: number;
}

function words(n: number): string {
  const w = ["the", "little", "robot", "counts", "every", "apple", "twice", "before", "it", "adds"];
  let s = "";
  for (let i = 0; i < n; i++) s += (i === 0 ? "" : " ") + w[i % w.length];
  // The full stop and the word after it end the candidate (Concord stops at the first sentence).
  return " " + s + ". Next";
}

function race(p: UiLoadParams) {
  const text = words(Math.round(p.tokensPerSecond * p.seconds));
  const gens: ModelHandle[] = Array.from({ length: p.streams }, (_, i) => ({
    name: `g${i + 1}`,
    backend: new PacedBackend({ name: `g${i + 1}`, tokensPerSecond: p.tokensPerSecond, text }),
    thinkingFormat: "think-tags",
  }));
  const judge: ModelHandle = { name: "judge", backend: new PacedBackend({ name: "judge", tokensPerSecond: 1000, text: "" }), thinkingFormat: "think-tags" };
  const builder = new ChainBuilder({ problem, generators: gens, evaluators: [judge], k: 1, sampling: { maxTokens: 1_000_000 } });
  const tokens = () => gens.reduce((s, g) => s + (g.backend as PacedBackend).tokensSent, 0);
  return { builder, gens, judge, tokens };
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

async function withInterface(p: UiLoadParams): Promise<Omit<UiLoadResult, "engine" | "store">> {
  const r = race(p);
  const store = createConcordStore({
    autoAdvance: false,
    createRace: () => ({ builder: r.builder, roles: { generators: r.gens.map((g) => g.name), evaluators: ["judge"], targets: [] } }),
  });
  const stdout = new BenchStdout(p.columns ?? 100, p.rows ?? 40);
  const stdin = new BenchStdin();
  const theme = loadTheme({ theme: "dark", env: {} });
  const inkRenderTimes: number[] = [];
  const ink = render(<App store={store} theme={theme} />, {
    onRender: (m) => inkRenderTimes.push(m.renderTime),
    ...(p.maxFps ? { maxFps: p.maxFps } : {}),
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new BenchStdout(80, 24) as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  // Keypress bookkeeping: a key is answered by the first frame that shows its selection.
  const pending: Array<{ at: number; id: string }> = [];
  const latencies: number[] = [];
  let lost = 0;
  let lanesSeen = 0;
  stdout.onWrite = (w) => {
    if (!pending.length || !isFrame(w.data)) return;
    const m = SELECTED.exec(stripAnsi(w.data));
    if (!m) return;
    const i = pending.findIndex((k) => k.id === m[1]);
    if (i < 0) return;
    latencies.push(w.at - pending[i]!.at);
    // Keys before it were overtaken by it: their frame never came on its own.
    lost += i;
    pending.splice(0, i + 1);
  };
  try {
    await sleep(50);
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
    await sleep(200);
    while (streaming) {
      const lanes = store.getState().race.lanes;
      lanesSeen = Math.max(lanesSeen, lanes.length);
      if (lanes.length) {
        stdin.press("j");
        const s = store.getState();
        const id = s.race.lanes[s.selected]?.id;
        if (id) pending.push({ at: performance.now(), id });
      }
      await Promise.race([sleep(p.keyEveryMs), done]);
    }
    const ui = cpuSince(c0, t0);
    const t1 = performance.now();
    loop.disable();
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
      keysLost: lost,
      inkRenderTimes: inkRenderTimes.slice(rendersBefore),
      loopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      lanesSeen,
      tokensDelivered: r.tokens(),
    };
  } finally {
    ink.unmount();
    await store.getState().dispose();
  }
}

export async function measureUiLoad(p: UiLoadParams): Promise<UiLoadResult> {
  const engine = await engineOnly(p);
  const store = await storeOnly(p);
  const rest = await withInterface(p);
  return { engine, store, ...rest };
}

/** measureUiLoad in a fresh process with NODE_ENV set as given (undefined: unset, as `concord` runs). */
export function measureUiLoadIn(nodeEnv: string | undefined, p: UiLoadParams): UiLoadResult {
  const env = { ...process.env };
  if (nodeEnv === undefined) delete env.NODE_ENV;
  else env.NODE_ENV = nodeEnv;
  const child = join(dirname(fileURLToPath(import.meta.url)), "ui-child.tsx");
  const r = spawnSync(process.execPath, ["--import", "tsx", child, JSON.stringify(p)], { encoding: "utf8", env, timeout: 300_000 });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`interface benchmark process failed (${r.status}): ${r.stderr.trim().split("\n").slice(-2).join(" / ")}`);
  return JSON.parse(line) as UiLoadResult;
}

export const ui: Bench = {
  name: "ui",
  title: "3. Interface under load",
  async run({ quick, log }) {
    const p: UiLoadParams = quick
      ? { streams: 2, tokensPerSecond: 100, seconds: 0.6, keyEveryMs: 100 }
      : { streams: 8, tokensPerSecond: 300, seconds: 6, keyEveryMs: 150 };
    log?.(`ui: ${p.streams} streams x ${p.tokensPerSecond} tokens/s for ${p.seconds} s`);
    // As `concord` runs today (NODE_ENV unset: React's development build), and in production.
    const r = measureUiLoadIn(undefined, p);
    const prod = measureUiLoadIn("production", p);
    const prodUi = prod.ui.cpuMsPerSec - prod.engine.cpuMsPerSec;
    // The same with Ink's frame cap raised: the store's batching (40 ms) still limits token frames.
    const fast = measureUiLoadIn("production", { ...p, maxFps: 120 });
    const rows = (x: UiLoadResult) => {
      const uiCpu = x.ui.cpuMsPerSec - x.engine.cpuMsPerSec;
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
        fmt(x.engine.cpuMsPerSec, 0),
        fmt(x.store.cpuMsPerSec, 0),
        fmt(x.ui.cpuMsPerSec, 0),
        `${fmt(uiCpu, 0)} (${fmt(uiCpu / 10, 1)} % of a core; store alone ${fmt(storeCpu, 0)})`,
      ];
    };
    const labels = [
      "frames per second (mean over the stream)",
      "most frames in any one second (Ink cap: 30)",
      "frames that clear the whole screen (flicker)",
      "keypress -> frame p50",
      "keypress -> frame p95",
      "keypresses measured / overtaken by the next",
      "Ink layout + output per frame p50 / p95",
      "event-loop delay p50 / p99 / max",
      "lanes on screen",
      "CPU: engine + doubles only (ms/s)",
      "CPU: + store, no rendering (ms/s)",
      "CPU: + store + Ink interface (ms/s)",
      "CPU of store + interface beyond the engine (ms/s)",
    ];
    const dev = rows(r);
    const pro = rows(prod);
    const fst = rows(fast);
    const p95 = percentile(r.keyLatencies, 95);
    const p95prod = percentile(prod.keyLatencies, 95);
    return {
      body: [
        `${p.streams} candidate lanes streaming ${p.tokensPerSecond} tokens/s each for ${p.seconds} s (${fmt(r.tokensDelivered, 0)} tokens delivered as engine events) through ChainBuilder -> store (batched) -> Ink App (Race screen) on a ${p.columns ?? 100}x${p.rows ?? 40} TTY stream; a \`j\` keypress every ${p.keyEveryMs} ms, timed to the first frame that shows the new selection. ` +
          `Generators are in-process paced test doubles, so CPU figures are the process's own, per wall second (1000 = one core). ` +
          `Each column is a fresh process: as \`concord\` runs today (NODE_ENV unset, so React's development build, Ink's default cap of 30 frames/s), with NODE_ENV=production, and with production plus \`render(..., {maxFps: 120})\`.`,
        table(["figure", "as run today", "NODE_ENV=production", "production, Ink maxFps 120"], labels.map((l, i) => [l, dev[i]!, pro[i]!, fst[i]!])),
        `Interface CPU, development / production build: ${fmt((r.ui.cpuMsPerSec - r.engine.cpuMsPerSec) / Math.max(1, prodUi))}x.`,
      ],
      checks: [
        check("keypress -> frame p95 (ms)", p95, "< 50", p95 < 50),
        check("keypress -> frame p95 (ms), NODE_ENV=production", p95prod, "< 50", p95prod < 50),
        check("keypress -> frame p95 (ms), production + maxFps 120", percentile(fast.keyLatencies, 95), "< 50", percentile(fast.keyLatencies, 95) < 50),
        check("most frames in one second", r.maxFramesInOneSecond, "<= 31 (capped)", r.maxFramesInOneSecond <= 31),
        check("full-screen clears while streaming", r.screenClears, "0", r.screenClears === 0),
        check("lanes on screen", r.lanesSeen, `= ${p.streams}`, r.lanesSeen === p.streams),
      ],
      notes:
        p95 < 50
          ? []
          : [
              `Where the keypress time goes: Ink draws at most one frame per ${Math.ceil(1000 / 30)} ms (its default maxFps 30) and a key that lands just after a token frame waits for the next slot; ` +
                `then the frame itself (React render of the Race screen + Ink layout/output, p95 ${ms(percentile(r.inkRenderTimes, 95))} for Ink's part alone), on an event loop that the engine's per-token work also occupies (delay p99 ${ms(r.loopDelay.p99)}).`,
            ],
    };
  },
};
