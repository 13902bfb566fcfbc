// The relay: one model's chain cut and continued by others, run on the problem that is open.
import type { StateCreator } from "zustand/vanilla";
import type { EngineListener } from "../../engine/events.js";
import type { CutName, RelayResult, RelayRun } from "../../engine/relay.js";
import { oneLine } from "../../errors.js";
import { act, failure, info } from "../notices.js";
import type { ConcordState, RelayActions, SliceDeps } from "../types.js";

/** A later run (one hand cut) joins the earlier result: its runs replace those of the same cut. */
export function mergeRelay(before: RelayResult | undefined, after: RelayResult): RelayResult {
  if (!before) return after;
  const same = (a: RelayRun, b: RelayRun) => a.cutSentence === b.cutSentence && a.continuer === b.continuer;
  const runs = [...before.runs.filter((r) => !after.runs.some((n) => same(r, n))), ...after.runs];
  return { ...after, cutPoints: before.cutPoints, runs };
}

export function relaySlice(deps: SliceDeps): StateCreator<ConcordState, [], [], RelayActions> {
  const port = deps.opts.relay;
  return (set, get) => {
    const say = (n: Parameters<ConcordState["notify"]>[0]) => get().notify(n, "relay");
    return {
      runRelay: (cut) => {
        const { problem, relay } = get();
        if (!port) return say(info`no relay models are configured: see Models & settings (${act("screen-settings")})`);
        if (!problem) return say(info`no problem is open: pick one first (${act("screen-problems")})`);
        if (relay.status === "running") return say(info`the relay is already running (${act("cancel")} cancels)`);
        const key = `${problem.source}/${problem.id}`;
        const keep = relay.problemKey === key ? relay.result : undefined;
        const ctrl = new AbortController();
        set({ relayRun: ctrl, relay: { ...relay, status: "running", progress: "starting", problemKey: key, result: keep, error: undefined } });
        say(info`relay running (${act("cancel")} cancels)`);
        const cuts: Array<CutName | number> = cut === undefined ? ["early", "mid", "late"] : [cut];
        const mine = () => get().relayRun === ctrl;
        const onEvent: EngineListener = (ev) => {
          if (!mine()) return;
          if (ev.type === "progress") set((s) => ({ relay: { ...s.relay, progress: ev.label } }));
          if (ev.type === "error") say(failure`${ev.source}: ${oneLine(ev.message)}`);
        };
        port.run(problem, { cuts, signal: ctrl.signal, onEvent }).then(
          (result) => {
            if (!mine()) return;
            set((s) => ({
              relayRun: undefined,
              relay: { status: "done", progress: "", problemKey: key, result: mergeRelay(s.relay.problemKey === key ? s.relay.result : undefined, result) },
            }));
            say(info`relay done: ${result.runs.length} continuation${result.runs.length === 1 ? "" : "s"}`);
          },
          (err) => {
            if (!mine()) return;
            const cancelled = ctrl.signal.aborted;
            const msg = oneLine(err);
            set((s) => ({
              relayRun: undefined,
              relay: { ...s.relay, status: cancelled ? "cancelled" : "failed", progress: "", error: cancelled ? undefined : msg },
            }));
            say(cancelled ? info`relay cancelled` : failure`relay: ${msg}`);
          },
        );
      },
      relayInfo: () => port?.describe(),
      cancelRelay: () => {
        const ctrl = get().relayRun;
        if (!ctrl) return say(info`nothing is running`);
        ctrl.abort();
        set((s) => ({ relayRun: undefined, relay: { ...s.relay, status: "cancelled", progress: "" } }));
        say(info`relay cancelled`);
      },
    };
  };
}
