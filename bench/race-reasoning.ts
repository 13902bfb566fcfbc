// 10. The Race with nine thinking-model lanes: nine generators stream on the reasoning channel
// (as QwQ, DAPO or Qwen3 behind a server with a reasoning field do) into the real store and Ink
// App; a `j` keypress every 150 ms is timed to the first frame that shows the new selection.
// Each lane's reasoning is drawn as it streams, so this is the Race at its busiest.
import { measureUiLoadIn, type UiLoadParams } from "./ui.js";
import { check, fmt, ms, percentile, table, type Bench } from "./lib.js";

export const raceReasoning: Bench = {
  name: "race-reasoning",
  title: "The Race with 9 reasoning lanes streaming",
  async run({ quick, log }) {
    const p: UiLoadParams = quick
      ? { streams: 9, tokensPerSecond: 100, seconds: 0.6, keyEveryMs: 100, minKeys: 2, reasoning: true }
      : { streams: 9, tokensPerSecond: 300, seconds: 6, keyEveryMs: 150, reasoning: true };
    log?.(`race-reasoning: ${p.streams} reasoning streams x ${p.tokensPerSecond} tokens/s for ${p.seconds} s`);
    const r = measureUiLoadIn("production", { ...p, render: "concord" });
    const p95 = percentile(r.keyLatencies, 95);
    return {
      body: [
        `${p.streams} generators streaming ${p.tokensPerSecond} tokens/s each on the reasoning channel for ${p.seconds} s (in-process paced doubles) through ChainBuilder -> store -> Ink App (Race screen, 100x40), rendered as \`concord\` renders (NODE_ENV=production, RENDER_OPTIONS).`,
        table(
          ["figure", "value"],
          [
            ["keypress -> frame p50 / p95", `${ms(percentile(r.keyLatencies, 50))} / ${ms(p95)}`],
            ["keypresses measured / overtaken by the next", `${r.keyLatencies.length} / ${r.keysLost}`],
            ["frames per second (mean) / most in one second", `${fmt(r.fps, 1)} / ${r.maxFramesInOneSecond}`],
            ["Ink layout + output per frame p50 / p95", `${ms(percentile(r.inkRenderTimes, 50))} / ${ms(percentile(r.inkRenderTimes, 95))}`],
            ["event-loop delay p50 / p99 / max", `${ms(r.loopDelay.p50)} / ${ms(r.loopDelay.p99)} / ${ms(r.loopDelay.max)}`],
            ["CPU: engine only / with the interface (ms per s)", `${fmt(r.engine.cpuMsPerSec, 0)} / ${fmt(r.ui.cpuMsPerSec, 0)}`],
            ["lanes / tokens delivered", `${r.lanesSeen} / ${fmt(r.tokensDelivered, 0)} of ${fmt(r.tokensExpected, 0)}`],
          ],
        ),
      ],
      checks: [
        check("keypress -> frame p95 with 9 reasoning lanes (ms)", p95, "< 50", p95 < 50),
        check("lanes", r.lanesSeen, `= ${p.streams}`, r.lanesSeen === p.streams),
        check("tokens delivered", r.tokensDelivered, `= ${r.tokensExpected}`, r.tokensDelivered === r.tokensExpected),
      ],
      notes: [],
    };
  },
};
