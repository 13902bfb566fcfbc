// The race: engine events queued and applied in batches, the person's decisions, auto-run.
// Engine events arrive in bursts (many candidates streaming at once); they are applied together
// at most every `flushMs`, so the screen redraws a few dozen times a second however fast the
// tokens come.
import type { StateCreator } from "zustand/vanilla";
import type { EngineEvent } from "../../engine/events.js";
import { count } from "../../core/words.js";
import type { ChainSentence } from "../../core/chain.js";
import { latestRace, nodeOf } from "../../core/tree.js";
import { applyEvents, copyChain } from "../apply-events.js";
import { act, info } from "../notices.js";
import { lanesOfRace, treeAfterEvents } from "../tree-events.js";
import type { AutoMode, ChainDriver, ConcordState, Lane, RaceActions, SliceDeps } from "../types.js";
import { callEngine, refreshTargets } from "./engine-port.js";

/** Events after which the session is worth saving. */
const KEEP = new Set<EngineEvent["type"]>(["sentence-accepted", "sentence-undone", "chain-finished", "target-answer", "consistency"]);

export interface EventQueue {
  flushes: number;
}

export function raceSlice(deps: SliceDeps, queueStats: EventQueue): StateCreator<ConcordState, [], [], RaceActions> {
  const flushMs = deps.opts.flushMs ?? 40;
  return (set, get) => {
    // The queue is a buffer between the engine and the state, not state itself.
    let queue: EngineEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const say = (n: Parameters<ConcordState["notify"]>[0]) => get().notify(n, "race");
    const call = (what: string, fn: (b: ChainDriver) => unknown) => callEngine(get, what, fn);

    /** A human decision: once it is in, go on to the next step (unless auto-run drives). */
    const decide = (what: string, fn: (b: ChainDriver) => unknown) => {
      const before = get().stepsSeen;
      void call(what, fn).then(() => {
        get().flush();
        const s = get();
        if (deps.opts.autoAdvance === false || s.chain.finished || s.auto.mode !== "off") return;
        if (s.stepsSeen === before && !s.race.generating) get().startStep();
      });
    };
    const selectedLane = (): Lane | undefined => get().race.lanes[get().selected];
    /** Forget the auto-run in progress: a later outcome of it changes nothing. */
    const stopAuto = () => set((s) => ({ autoDrive: { seq: s.autoDrive.seq + 1, live: false, pauseWanted: false } }));
    const finishedNotice = () => info`the chain is finished (${act("undo")} undoes the last sentence)`;
    /** In a replay, a decision takes the recorded one. */
    const followRecord = () => {
      const replayer = get().replayer!;
      if (get().chain.sentences.length >= replayer.total) return say(info`the end of the recording: ${act("go-live")} continues live`);
      decide("follow the record", () => replayer.follow());
    };
    /** A decision needs a step the engine still holds open. */
    const stepOpen = (): boolean => {
      const { race, chain } = get();
      if (race.awaiting || race.generating) return true;
      say(chain.finished ? finishedNotice() : info`no step is open: ${act("next-step")} starts the next one`);
      return false;
    };
    const notFinished = () => say(info`that candidate is not finished yet`);
    const empty = () => say(info`an empty sentence was not accepted`);
    /** In a recording, a decision of one's own leaves it: the next steps were never recorded. */
    const leavesRecording = () => {
      if (get().handle?.recording) set({ leftRecordingAt: get().chain.sentences.length + 1 });
    };
    /** A replay takes only the recorded decisions; going live is how to decide otherwise. */
    const inReplay = () => {
      if (!get().replayer) return false;
      say(info`a replay follows the record: ${act("go-live")} continues live from this sentence`);
      return true;
    };

    /** Show the latest race kept at the current node, as a step waiting for a decision. Returns
     * false when none is kept there (a sentence written by hand, or a race never run). */
    const showKept = (selectId?: string): boolean => {
      const { tree } = get();
      const race = latestRace(tree, tree.current);
      if (!race) return false;
      const lanes = lanesOfRace(race);
      const at = selectId ? lanes.findIndex((l) => l.id === selectId) : -1;
      const view = {
        step: nodeOf(tree, tree.current).depth,
        lanes,
        awaiting: true,
        generating: false,
        kept: true,
        ...(race.evaluatorPick ? { pick: race.evaluatorPick } : {}),
      };
      set({ race: view, selected: Math.max(0, at) });
      return true;
    };
    /** The sentence a candidate of the kept race on view makes. */
    const keptSentence = (c: NonNullable<Lane["candidate"]>, editedText?: string): ChainSentence => {
      const { race } = get();
      return {
        text: editedText ?? c.text,
        author: c.generator,
        decision: editedText !== undefined ? "human-edit" : c.id === race.pick ? "evaluator" : "human-pick",
        candidates: race.lanes.flatMap((l) => (l.candidate ? [l.candidate] : [])),
        acceptedId: c.id,
        at: deps.now().toISOString(),
        ...(race.pick ? { evaluatorPick: race.pick } : {}),
      };
    };
    /** Take a candidate of a kept race: the engine appends it, nothing is generated again. */
    const takeKept = (lane: Lane, editedText?: string) => {
      const c = lane.candidate;
      if (!c) return notFinished();
      if (!get().handle?.builder.adopt) return say(info`this race cannot take a kept candidate: ${act("regenerate")} races again`);
      const sentence = keptSentence(c, editedText);
      const what = sentence.decision === "evaluator" ? "accept" : sentence.decision === "human-edit" ? "edit" : "override";
      decide(what, (b) => b.adopt!(sentence, c.endOfThought));
    };

    return {
      select: (delta) =>
        set((s) => {
          const n = s.race.lanes.length;
          if (!n) return {};
          return { selected: (((s.selected + delta) % n) + n) % n };
        }),
      selectId: (id) =>
        set((s) => {
          const i = s.race.lanes.findIndex((l) => l.id === id);
          return i >= 0 ? { selected: i } : {};
        }),
      scrollChain: (lines, maxBack) =>
        set((s) => {
          const back = lines === 0 ? 0 : Math.min(Math.max(0, maxBack), Math.max(0, (s.chainScroll ?? 0) - lines));
          return { chainScroll: back === 0 ? undefined : back };
        }),
      startStep: () => {
        refreshTargets(get);
        const { chain, replayer } = get();
        if (chain.finished) return say(finishedNotice());
        if (replayer && chain.sentences.length >= replayer.total)
          return say(info`the end of the recording (${count(replayer.total, "sentence")}): ${act("go-live")} continues live`);
        void call("step", (b) => b.startStep());
      },
      acceptPick: () => {
        if (get().replayer) return followRecord();
        if (!stepOpen()) return;
        const { race } = get();
        if (!race.pick) return say(info`no pick yet: wait for the scores, or choose one (${act("choose")})`);
        const pick = race.lanes.find((l) => l.id === race.pick);
        if (race.kept && pick) return takeKept(pick);
        decide("accept", (b) => b.accept(race.pick!));
      },
      choose: () => {
        if (get().replayer) return followRecord();
        if (!stepOpen()) return;
        const lane = selectedLane();
        if (!lane?.done || lane.cancelled) return notFinished();
        const override = lane.id !== get().race.pick;
        if (get().race.kept) takeKept(lane);
        else decide(override ? "override" : "accept", (b) => b.accept(lane.id));
        if (override) leavesRecording();
      },
      edit: (text) => {
        if (inReplay() || !stepOpen()) return;
        const lane = selectedLane();
        if (!lane?.done || lane.cancelled) return notFinished();
        if (!text.trim()) return empty();
        if (get().race.kept) takeKept(lane, text);
        else decide("edit", (b) => b.acceptEdited(lane.id, text));
        leavesRecording();
      },
      write: (text) => {
        if (inReplay()) return;
        if (!text.trim()) return empty();
        decide("write", (b) => b.write(text));
        leavesRecording();
      },
      regenerate: () => void call("regenerate", (b) => b.regenerate()),
      undo: () => {
        if (!get().chain.sentences.length) return say(info`nothing to undo`);
        // A replay serves its recorded step again; elsewhere the race of the undone sentence is
        // kept in the tree and shown again, so another candidate can be taken without a new race.
        if (get().replayer) return decide("undo", (b) => b.undo());
        const undone = get().chain.sentences.at(-1);
        void call("undo", (b) => b.undo()).then(() => {
          get().flush();
          const s = get();
          if (s.race.generating) return;
          if (showKept(undone?.acceptedId)) {
            say(
              info`undone: ${count(s.chain.sentences.length, "sentence")} left · its race is kept: ${act("choose")} takes another candidate, ${act("regenerate")} races again`,
            );
          } else if (deps.opts.autoAdvance !== false && !s.chain.finished) get().startStep();
        });
      },
      autoRun: (n) => {
        const id = get().autoDrive.seq + 1;
        const modeOf = (left: number | "end"): AutoMode => (left === "end" ? { mode: "end" } : { mode: "steps", remaining: left });
        set({ autoDrive: { seq: id, live: true, pauseWanted: false }, auto: modeOf(n), paused: false });
        say(n === "end" ? info`auto-run to the end` : info`auto-run ${count(n, "step")}`);
        // A step waiting for a human would block the run. When the evaluator has picked, that pick
        // is the run's first step (nothing is drawn twice, and a replay can go on); otherwise the
        // step's candidates are dropped and redrawn.
        get().flush();
        const { race, replayer } = get();
        const current = () => get().autoDrive.seq === id;
        void call("auto-run", async (b) => {
          let left = n;
          let accepted = false;
          if (race.awaiting && race.pick && !replayer) {
            try {
              // A kept race's pick is taken as it stands; an open step's through the engine.
              const kept = race.kept ? race.lanes.find((l) => l.id === race.pick)?.candidate : undefined;
              if (kept && b.adopt) await b.adopt(keptSentence(kept), kept.endOfThought);
              else await b.accept(race.pick);
              accepted = true;
            } catch {
              // the step moved on meanwhile (a regenerate just typed): start from a fresh one
            }
          }
          if (accepted && n !== "end") {
            if (n <= 1) return "count";
            left = n - 1;
          }
          if (!accepted) await b.cancel();
          // The step just cancelled reported "cancelled", which ends an auto-run: this one starts now.
          get().flush();
          if (!current()) return "superseded";
          if (get().autoDrive.pauseWanted) return "paused";
          set({ auto: modeOf(left) });
          return b.runSteps(left);
        }).then((outcome) => {
          if (!current()) return;
          get().flush();
          set((s) => ({ autoDrive: { ...s.autoDrive, live: false, pauseWanted: false }, auto: { mode: "off" }, paused: false }));
          const s = get();
          if ((outcome === "count" || outcome === "paused") && !s.chain.finished && !s.race.generating) get().startStep();
        });
      },
      pause: () => {
        if (!get().autoDrive.live) return say(info`no auto-run to pause (${act("run-n")} or ${act("run-end")} starts one)`);
        set((s) => ({ autoDrive: { ...s.autoDrive, pauseWanted: true }, paused: true }));
        say(info`pausing after this step`);
        void call("pause", (b) => b.pause());
      },
      cancel: () => {
        stopAuto();
        set((s) => ({ auto: { mode: "off" }, paused: false, race: { ...s.race, generating: false } }));
        say(info`cancelled`);
        void call("cancel", (b) => b.cancel());
        try {
          void get().handle?.targets?.cancel?.();
        } catch {
          // cancelling targets is best effort; the builder's cancel already stopped the race
        }
      },
      dispatch: (event) => {
        if (event.type === "step-start") set((s) => ({ stepsSeen: s.stepsSeen + 1 }));
        queue.push(event);
        if (!timer) timer = setTimeout(() => get().flush(), flushMs);
      },
      flush: () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (!queue.length) return;
        const batch = queue;
        queue = [];
        queueStats.flushes++;
        const { handle, replayer } = get();
        const builder = handle?.builder;
        const changes = applyEvents(get(), batch, builder ? () => copyChain(builder.getChain()) : undefined);
        const tree = treeAfterEvents(get().tree, batch, get().race);
        if (tree !== get().tree) changes.tree = tree;
        if (changes.auto?.mode === "off") changes.paused = false;
        const quiet = handle?.ignoreError?.bind(handle);
        if (quiet && changes.race?.lanes.some((l) => l.error && quiet(l.error))) {
          changes.race = { ...changes.race, lanes: changes.race.lanes.map((l) => (l.error && quiet(l.error) ? { ...l, error: undefined } : l)) };
        }
        if (replayer && batch.some((e) => e.type === "awaiting-decision")) {
          // Say what the record did here, and show its choice selected.
          const rec = replayer.recorded();
          const lanes = changes.race?.lanes ?? get().race.lanes;
          const at = rec?.acceptedId ? lanes.findIndex((l) => l.id === rec.acceptedId) : -1;
          if (at >= 0) changes.selected = at;
          const n = (changes.chain ?? get().chain).sentences.length + 1;
          const what = rec ? (rec.decision === "human-written" ? "a sentence written by hand" : `${rec.acceptedId ?? rec.author} (${rec.decision})`) : "";
          changes.notices = {
            ...(changes.notices ?? get().notices),
            race: info`replay ${n}/${replayer.total}: the record took ${what} · ${act("accept-pick")}/${act("choose")} follows · ${act("go-live")} continues live here`,
          };
        }
        const leftAt = get().leftRecordingAt;
        // Undone back into the recording: its recorded steps are served again.
        if (leftAt !== undefined && (changes.chain ?? get().chain).sentences.length < leftAt) changes.leftRecordingAt = undefined;
        else if (leftAt !== undefined && batch.some((e) => e.type === "awaiting-decision" || e.type === "sentence-accepted")) {
          changes.notices = {
            ...(changes.notices ?? get().notices),
            race:
              get().handle?.recording && deps.opts.createLiveRace
                ? info`this chain has left the recording: its next steps were never recorded · ${act("go-live")} continues live, ${act("undo")} goes back`
                : info`this chain has left the recording: its next steps were never recorded · ${act("undo")} goes back`,
          };
        }
        set(changes);
        // A replay never writes: the file replayed keeps its whole chain.
        if (!replayer && batch.some((e) => KEEP.has(e.type))) get().persist();
      },
    };
  };
}
