// The store the interface renders. Engine events arrive here in bursts (many candidates
// streaming at once); they are queued and applied together at most every `flushMs`, so the
// screen redraws a few dozen times a second however fast the tokens come. Intents (accept,
// override, edit, ...) are actions here that drive the engine; components never touch it.
import { createStore, type StoreApi } from "zustand/vanilla";
import { useStore } from "zustand";
import type { Candidate, Chain } from "../core/chain.js";
import type { Problem } from "../core/types.js";
import type { ConsistencySnapshot, EngineEvent, EngineListener, TargetAnswer } from "../engine/events.js";
import type { CutName, RelayResult, RelayRun } from "../engine/relay.js";
import type { Screen } from "../ui/keys.js";
import { oneLine } from "../errors.js";
import { count } from "../ui/words.js";
import { SessionReplay } from "./session-replay.js";

/** What the store needs from the engine's ChainBuilder (src/engine/ensemble.ts). */
export interface ChainDriver {
  on(listener: EngineListener): (() => void) | void;
  startStep(): unknown;
  accept(candidateId: string): unknown;
  acceptEdited(candidateId: string, text: string): unknown;
  write(text: string): unknown;
  undo(): unknown;
  regenerate(): unknown;
  runSteps(n: number | "end"): unknown;
  pause(): unknown;
  cancel(): unknown;
  getChain(): Chain;
}

/** Anything else that emits engine events (the TargetPanel). */
export interface EventSource {
  on(listener: EngineListener): (() => void) | void;
  cancel?(): unknown;
  close?(): unknown;
  /** Ask again for this chain (the TargetPanel's update): after a resume, or when a cancel left the answers behind. */
  update?(chain: Chain, opts?: { force?: boolean }): unknown;
}

export interface Roles {
  generators: string[];
  evaluators: string[];
  targets: string[];
  /** Role name -> model (profile/backend) it runs on, for the record. */
  models?: Record<string, string>;
}

/** A race ready to run: made by the launcher from a problem (and a chain when resuming). */
export interface RaceHandle {
  builder: ChainDriver;
  targets?: EventSource;
  roles: Roles;
  /** Release models and timers of this race. */
  close?(): unknown;
  /** Errors that are expected here (a replayed trace scored only its winners): kept off the status line and the lanes. */
  ignoreError?(message: string): boolean;
}

/** How the store runs a relay (src/engine/relay.ts) on a problem; made by the launcher. */
export interface RelayPort {
  /** Who would take part, for the screen before anything runs. */
  describe(): { initiator?: string; continuers: string[] };
  run(problem: Problem, request: { cuts: Array<CutName | number>; signal: AbortSignal; onEvent: EngineListener }): Promise<RelayResult>;
}

export interface RelayView {
  status: "idle" | "running" | "done" | "failed" | "cancelled";
  /** The latest progress line of a run. */
  progress: string;
  /** "source/id" of the problem the result is for. */
  problemKey?: string;
  result?: RelayResult;
  error?: string;
}

export type RaceFactory = (problem: Problem, chain?: Chain) => Promise<RaceHandle> | RaceHandle;

export interface Lane {
  id: string;
  generator: string;
  sampleIndex: number;
  /** Content streamed so far (untrusted: sanitize before rendering). */
  text: string;
  reasoning: string;
  done: boolean;
  candidate?: Candidate;
  /** evaluator -> score */
  scores: Record<string, { meanNll: number; perplexity: number }>;
  mean?: number;
  error?: string;
}

export interface RaceView {
  step: number;
  lanes: Lane[];
  pick?: string;
  awaiting: boolean;
  generating: boolean;
  /** Id accepted at the end of this step, shown until the next step starts. */
  acceptedId?: string;
}

export interface TargetsView {
  /** Latest answer per target. */
  answers: Record<string, TargetAnswer>;
  /** Targets asked and not answered yet -> chain length asked for. */
  pending: Record<string, number>;
  /** Every answer, in arrival order (saved with the session). */
  log: TargetAnswer[];
  /** The answers given for the chain as it stands (for it or a shorter part of it): an undo drops
   * those of the sentences removed, so the panel never shows answers for a chain that is gone. */
  valid: TargetAnswer[];
  /** Consistency per chain length, only for lengths of the chain as it stands. */
  history: ConsistencySnapshot[];
}

export interface SessionInfo {
  id: string;
  file?: string;
  createdAt: string;
  savedAt?: string;
  saveError?: string;
}

export type AutoMode = { mode: "off" } | { mode: "steps"; remaining: number } | { mode: "end" };

/** What gets written when the session is saved (sessions.ts turns it into the file). */
export interface SessionSnapshot {
  info: SessionInfo;
  problem: Problem;
  roles: Roles;
  chain: Chain;
  targets: { answers: TargetAnswer[]; consistency: ConsistencySnapshot[] };
}

export interface ConcordData {
  screen: Screen;
  overlay: "help" | null;
  showTargets: boolean;
  showWhy: boolean;
  revealReference: boolean;
  problem?: Problem;
  roles: Roles;
  chain: Chain;
  race: RaceView;
  selected: number;
  targets: TargetsView;
  auto: AutoMode;
  paused: boolean;
  status: string;
  errors: string[];
  session?: SessionInfo;
  /** A race is being prepared (models loading). */
  loading: boolean;
  relay: RelayView;
  /** A saved session is being replayed (its chain has `total` sentences); nothing is saved. */
  replay?: { total: number };
}

export interface ConcordActions {
  setScreen(screen: Screen): void;
  toggleHelp(): void;
  toggleTargets(): void;
  toggleWhy(): void;
  toggleReveal(): void;
  setStatus(text: string): void;
  select(delta: number): void;
  selectId(id: string): void;
  /** Open a race on a problem (and resume a chain/targets/session when given). With `replay`,
   * the saved chain is stepped through as recorded, without models. */
  openProblem(problem: Problem, resume?: Partial<Pick<SessionSnapshot, "chain" | "targets" | "roles">> & { info?: SessionInfo; replay?: boolean }): Promise<void>;
  /** In a replay: continue live (with the configured models) from the sentence reached, as a new session. */
  goLive(): Promise<void>;
  startStep(): void;
  acceptPick(): void;
  /** Accept the selected candidate; an override when it is not the evaluator's pick. */
  choose(): void;
  edit(text: string): void;
  write(text: string): void;
  regenerate(): void;
  undo(): void;
  autoRun(n: number | "end"): void;
  pause(): void;
  cancel(): void;
  /** Queue one engine event (applied at the next flush). */
  dispatch(event: EngineEvent): void;
  /** Apply everything queued now. */
  flush(): void;
  /** Write the chain (plain text) and the session (Markdown) through the `export` option. */
  exportSession(): Promise<void>;
  /** Run the relay on the current problem: early/mid/late cuts, or from one sentence by hand. */
  runRelay(cut?: number): void;
  cancelRelay(): void;
  /** Who takes part in a relay, or undefined when relays cannot run here. */
  relayInfo(): { initiator?: string; continuers: string[] } | undefined;
  /** Stop timers, unsubscribe, close the race. */
  dispose(): Promise<void>;
}

export type ConcordState = ConcordData & ConcordActions;
export type ConcordStore = StoreApi<ConcordState> & {
  /** How many times queued events were applied (each is at most one redraw). */
  readonly flushCount: () => number;
  readonly handle: () => RaceHandle | undefined;
};

export interface StoreOptions {
  createRace?: RaceFactory;
  /** Called after every change worth keeping (accepted/undone sentence, target answer). */
  save?: (snapshot: SessionSnapshot) => void | Promise<void>;
  /** Longest time an event waits in the queue (ms). Default 40. */
  flushMs?: number;
  /** After a human decision, start the next step unless an auto-run is going. Default true. */
  autoAdvance?: boolean;
  initial?: Partial<ConcordData>;
  now?: () => Date;
  relay?: RelayPort;
  /** Writes the chain and session exports; returns the paths written, for the status line. */
  export?: (snapshot: SessionSnapshot) => string[] | Promise<string[]>;
}

const EMPTY_RACE: RaceView = { step: 0, lanes: [], awaiting: false, generating: false };
const EMPTY_TARGETS: TargetsView = { answers: {}, pending: {}, log: [], valid: [], history: [] };

/** Latest answer per target: the one for the longest chain, the later one on a tie. */
function latestAnswers(valid: TargetAnswer[]): Record<string, TargetAnswer> {
  const out: Record<string, TargetAnswer> = {};
  for (const a of valid) if (!out[a.target] || out[a.target].chainLength <= a.chainLength) out[a.target] = a;
  return out;
}

/** The targets view of a chain of `length` sentences: what belongs to a longer chain is dropped. */
export function targetsUpTo(t: TargetsView, length: number, keepLength = true): TargetsView {
  const fits = (l: number) => (keepLength ? l <= length : l < length);
  const valid = t.valid.filter((a) => fits(a.chainLength));
  const pending = Object.fromEntries(Object.entries(t.pending).filter(([, l]) => l <= length));
  return { ...t, valid, answers: latestAnswers(valid), pending, history: t.history.filter((h) => fits(h.chainLength)) };
}
const MAX_ERRORS = 20;

function emptyData(): ConcordData {
  return {
    screen: "race",
    overlay: null,
    showTargets: true,
    showWhy: false,
    revealReference: false,
    roles: { generators: [], evaluators: [], targets: [] },
    chain: { sentences: [], finished: false },
    race: EMPTY_RACE,
    selected: 0,
    targets: EMPTY_TARGETS,
    auto: { mode: "off" },
    paused: false,
    status: "",
    errors: [],
    loading: false,
    relay: { status: "idle", progress: "" },
  };
}

function laneFor(lanes: Lane[], id: string, generator: string): [Lane[], number] {
  const i = lanes.findIndex((l) => l.id === id);
  if (i >= 0) return [lanes, i];
  const hash = id.lastIndexOf("#");
  const sampleIndex = hash >= 0 ? Number(id.slice(hash + 1)) || 0 : 0;
  const lane: Lane = { id, generator, sampleIndex, text: "", reasoning: "", done: false, scores: {} };
  return [[...lanes, lane], lanes.length];
}

/** Apply a batch of events to the data (pure; returns the changed fields). `chainFrom` gives
 * the engine's own chain when a sentence was accepted or undone. */
export function applyEvents(s: ConcordData, events: EngineEvent[], chainFrom?: () => Chain): Partial<ConcordData> {
  let race = s.race;
  let targets = s.targets;
  let chain = s.chain;
  let auto = s.auto;
  let status = s.status;
  let errors = s.errors;
  let selected = s.selected;
  // The chain length as the events in this batch leave it (the engine's may be further on).
  let length = s.chain.sentences.length;
  let lanesCopied = false;
  let chainChanged = false;
  const lanes = () => {
    if (!lanesCopied) {
      race = { ...race, lanes: [...race.lanes] };
      lanesCopied = true;
    }
    return race.lanes;
  };
  for (const ev of events) {
    switch (ev.type) {
      case "step-start":
        race = { step: ev.step, lanes: [], awaiting: false, generating: true };
        lanesCopied = true;
        selected = 0;
        status = `step ${ev.step + 1}: generating`;
        break;
      case "candidate-token": {
        if (ev.step !== race.step && race.lanes.length) break; // a late token of a step already left
        const [ls, i] = laneFor(lanes(), ev.candidateId, ev.generator);
        const l = ls[i];
        ls[i] = ev.channel === "reasoning" ? { ...l, reasoning: l.reasoning + ev.text } : { ...l, text: l.text + ev.text };
        race.lanes = ls;
        break;
      }
      case "candidate-done": {
        const c = ev.candidate;
        const [ls, i] = laneFor(lanes(), c.id, c.generator);
        const scores = { ...ls[i].scores };
        for (const sc of c.scores) scores[sc.evaluator] = { meanNll: sc.meanNll, perplexity: sc.perplexity };
        ls[i] = { ...ls[i], done: true, candidate: c, text: c.text || c.raw || ls[i].text, scores, mean: c.meanPerplexity ?? ls[i].mean, error: c.error };
        race.lanes = ls;
        break;
      }
      case "candidate-scored": {
        const c = ev.candidate;
        const [ls, i] = laneFor(lanes(), c.id, c.generator);
        const scores = { ...ls[i].scores };
        for (const sc of c.scores) scores[sc.evaluator] = { meanNll: sc.meanNll, perplexity: sc.perplexity };
        ls[i] = { ...ls[i], candidate: { ...(ls[i].candidate ?? c), scores: c.scores, meanPerplexity: c.meanPerplexity }, scores, mean: c.meanPerplexity };
        race.lanes = ls;
        break;
      }
      case "score": {
        const [ls, i] = laneFor(lanes(), ev.candidateId, ev.candidateId.split("#")[0]);
        ls[i] = { ...ls[i], scores: { ...ls[i].scores, [ev.evaluator]: { meanNll: ev.meanNll, perplexity: ev.perplexity } } };
        race.lanes = ls;
        break;
      }
      case "pick": {
        race = { ...race, pick: ev.candidateId };
        const ls = lanes();
        const i = ls.findIndex((l) => l.id === ev.candidateId);
        if (i >= 0) ls[i] = { ...ls[i], mean: ev.meanPerplexity };
        if (i >= 0) selected = i;
        break;
      }
      case "awaiting-decision": {
        race = { ...race, awaiting: true, generating: false };
        // Every candidate failed (e.g. the prompt does not fit the model): say why, once.
        const failed = race.lanes.length > 0 && race.lanes.every((l) => l.error);
        status = failed
          ? `error: step ${ev.step + 1}: no candidate could be made: ${oneLine(race.lanes[0].error!)}`
          : `step ${ev.step + 1}: choose a candidate`;
        break;
      }
      case "sentence-accepted":
        race = { ...race, awaiting: false, generating: false, acceptedId: ev.sentence.acceptedId };
        chain = chainFrom ? chainFrom() : { ...chain, sentences: [...chain.sentences, ev.sentence] };
        chainChanged = true;
        length = ev.step + 1;
        // Answers at this length were for another sentence here (one since undone).
        targets = targetsUpTo(targets, length, false);
        if (auto.mode === "steps") auto = auto.remaining <= 1 ? { mode: "off" } : { mode: "steps", remaining: auto.remaining - 1 };
        status = `sentence ${length} accepted (${ev.sentence.decision})`;
        break;
      case "sentence-undone":
        race = { ...EMPTY_RACE, step: ev.step };
        lanesCopied = true;
        chain = chainFrom ? chainFrom() : { ...chain, sentences: chain.sentences.slice(0, -1), finished: false };
        chainChanged = true;
        length = ev.step;
        targets = targetsUpTo(targets, length);
        status = `undone: ${count(length, "sentence")} left`;
        break;
      case "chain-finished":
        chain = chainFrom ? chainFrom() : { ...chain, finished: ev.reason === "end-of-thought" || chain.finished };
        chainChanged = true;
        race = { ...race, generating: false, awaiting: false };
        auto = { mode: "off" };
        status = `chain ${ev.reason === "stopped" ? "stopped" : "finished"} (${ev.reason})`;
        break;
      case "target-start":
        targets = { ...targets, pending: { ...targets.pending, [ev.target]: ev.chainLength } };
        break;
      case "target-answer": {
        const a = ev.answer;
        const pending = { ...targets.pending };
        if (pending[a.target] !== undefined && pending[a.target] <= a.chainLength) delete pending[a.target];
        // Kept in the log either way; shown only while its chain is (part of) the one on screen.
        const valid = a.chainLength <= length ? [...targets.valid, a] : targets.valid;
        targets = { ...targets, valid, answers: latestAnswers(valid), pending, log: [...targets.log, a] };
        break;
      }
      case "consistency":
        if (ev.snapshot.chainLength > length) break;
        targets = { ...targets, history: [...targets.history.filter((h) => h.chainLength !== ev.snapshot.chainLength), ev.snapshot] };
        break;
      case "progress":
        status = `${ev.label} ${ev.done}/${ev.total}`;
        break;
      case "cancelled": {
        // A cancelled step is over in the engine: its candidates stay in view, but none can be chosen.
        // Targets cancel a round whenever a newer sentence supersedes it: that must not stop an auto-run.
        const round = /^targets at (\d+)/.exec(ev.what);
        if (round) {
          const at = Number(round[1]);
          targets = { ...targets, pending: Object.fromEntries(Object.entries(targets.pending).filter(([, l]) => l !== at)) };
          break;
        }
        if (!ev.what.startsWith("step")) break;
        race = { ...race, generating: false, awaiting: false };
        auto = { mode: "off" };
        status = `cancelled ${ev.what} (s starts a new one)`;
        break;
      }
      case "error":
        errors = [...errors, `${ev.source}: ${oneLine(ev.message)}`].slice(-MAX_ERRORS);
        status = `error: ${ev.source}: ${oneLine(ev.message)}`;
        break;
    }
  }
  if (selected >= race.lanes.length) selected = Math.max(0, race.lanes.length - 1);
  const out: Partial<ConcordData> = { race, targets, auto, status, errors, selected };
  if (chainChanged) out.chain = chain;
  return out;
}

function copyChain(c: Chain): Chain {
  return { sentences: [...c.sentences], finished: c.finished };
}

export function createConcordStore(opts: StoreOptions = {}): ConcordStore {
  const flushMs = opts.flushMs ?? 40;
  const now = opts.now ?? (() => new Date());
  let queue: EngineEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushes = 0;
  let handle: RaceHandle | undefined;
  let unsubs: Array<() => void> = [];
  let stepsSeen = 0;
  let disposed = false;
  let relayCtrl: AbortController | undefined;
  /** Counts openProblem calls: only the latest one's race is kept. */
  let opening = 0;
  // The auto-run in progress, if any. It is the store's, not the view's `auto`: the step that
  // G or n cancels to start the run reports "cancelled", and pause must still reach the run.
  let autoSeq = 0;
  let autoLive = false;
  let pauseWanted = false;
  /** Set while a saved session is replayed. */
  let replayer: SessionReplay | undefined;

  const store = createStore<ConcordState>()((set, get) => {
    const fail = (what: string, err: unknown) => {
      const msg = `${what}: ${oneLine(err)}`;
      set((s) => ({ status: `error: ${msg}`, errors: [...s.errors, msg].slice(-MAX_ERRORS) }));
    };
    /** Call the engine; rejections become a status line, never an unhandled rejection. */
    const call = (what: string, fn: (b: ChainDriver) => unknown): Promise<unknown> => {
      if (!handle) {
        set({ status: "no race is open: pick a problem first (1)" });
        return Promise.resolve();
      }
      try {
        const r = fn(handle.builder);
        return Promise.resolve(r).catch((err) => {
          if ((err as { name?: string })?.name === "AbortError") return;
          fail(what, err);
        });
      } catch (err) {
        fail(what, err);
        return Promise.resolve();
      }
    };
    /** A human decision: once it is in, go on to the next step (unless auto-run drives). */
    const decide = (what: string, fn: (b: ChainDriver) => unknown) => {
      const before = stepsSeen;
      void call(what, fn).then(() => {
        get().flush();
        const s = get();
        if (opts.autoAdvance === false || s.chain.finished || s.auto.mode !== "off") return;
        if (stepsSeen === before && !s.race.generating) get().startStep();
      });
    };
    const selectedLane = (): Lane | undefined => get().race.lanes[get().selected];
    /** Forget the auto-run in progress: a later outcome of it changes nothing. */
    const stopAuto = () => {
      autoSeq++;
      autoLive = false;
      pauseWanted = false;
    };
    /** Ask the targets again when the view is behind the chain and nothing is being asked. */
    const refreshTargets = () => {
      const src = handle?.targets;
      if (!src?.update || replayer) return;
      get().flush(); // a round may have started already: its events are only queued
      const { chain, targets } = get();
      const length = chain.sentences.length;
      if (length === 0 || targets.history.some((h) => h.chainLength === length) || Object.values(targets.pending).includes(length)) return;
      try {
        void Promise.resolve(src.update(handle!.builder.getChain(), { force: true })).catch((err) => {
          if ((err as { name?: string })?.name !== "AbortError") fail("targets", err);
        });
      } catch (err) {
        fail("targets", err);
      }
    };
    /** In a replay, a decision takes the recorded one. */
    const followRecord = () => {
      if (get().chain.sentences.length >= (replayer?.total ?? 0)) return set({ status: `the end of the recording: L continues live` });
      decide("follow the record", () => replayer!.follow());
    };
    /** A decision needs a step the engine still holds open. */
    const stepOpen = (): boolean => {
      const { race, chain } = get();
      if (race.awaiting || race.generating) return true;
      set({ status: chain.finished ? "the chain is finished (u to undo the last sentence)" : "no step is open: s starts the next one" });
      return false;
    };

    return {
      ...emptyData(),
      ...opts.initial,
      setScreen: (screen) => set({ screen, overlay: null }),
      toggleHelp: () => set((s) => ({ overlay: s.overlay === "help" ? null : "help" })),
      toggleTargets: () => set((s) => ({ showTargets: !s.showTargets })),
      toggleWhy: () => set((s) => ({ showWhy: !s.showWhy })),
      toggleReveal: () => set((s) => ({ revealReference: !s.revealReference })),
      setStatus: (status) => set({ status }),
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
      openProblem: async (problem, resume) => {
        const replaying = resume?.replay && resume.chain ? new SessionReplay(resume.chain, resume.targets) : undefined;
        if (!replaying && !opts.createRace) {
          set({ status: "no models are configured: see Models & settings (5)" });
          return;
        }
        get().flush();
        // A relay of the previous problem is of no use any more.
        relayCtrl?.abort();
        relayCtrl = undefined;
        await closeHandle();
        stopAuto();
        replayer = undefined;
        const info: SessionInfo = resume?.info ?? { id: sessionId(problem, now()), createdAt: now().toISOString() };
        const startChain = replaying ? replaying.getChain() : resume?.chain ? copyChain(resume.chain) : { sentences: [], finished: false };
        set({
          ...emptyData(),
          screen: "race",
          showTargets: get().showTargets,
          problem,
          loading: true,
          status: replaying ? `replaying ${problem.source}/${problem.id}...` : `loading models for ${problem.source}/${problem.id}...`,
          chain: startChain,
          // A replay brings the saved answers back as its chain reaches their lengths.
          targets:
            resume?.targets && !replaying
              ? targetsUpTo(
                  { answers: {}, pending: {}, log: [...resume.targets.answers], valid: [...resume.targets.answers], history: [...resume.targets.consistency] },
                  startChain.sentences.length,
                )
              : EMPTY_TARGETS,
          session: info,
          replay: replaying ? { total: replaying.total } : undefined,
        });
        const mine = ++opening;
        let made: RaceHandle;
        try {
          made = replaying
            ? { builder: replaying, roles: resume?.roles ?? { generators: [], evaluators: [], targets: [] } }
            : await opts.createRace!(problem, resume?.chain);
        } catch (err) {
          if (mine !== opening) return;
          set({ loading: false });
          fail("could not start the race", err);
          return;
        }
        // Another problem was opened meanwhile (or the interface closed): this race is not shown,
        // and two races must never feed the same lanes.
        if (mine !== opening || disposed) {
          await closeRace(made);
          return;
        }
        await closeHandle();
        handle = made;
        const quiet = handle.ignoreError?.bind(handle);
        const listener: EngineListener = (ev) => {
          if (ev.type === "error" && quiet?.(ev.message)) return;
          get().dispatch(ev);
        };
        for (const src of [handle.builder, handle.targets]) {
          const off = src?.on(listener);
          if (typeof off === "function") unsubs.push(off);
        }
        replayer = replaying;
        const chain = copyChain(handle.builder.getChain());
        const status = replaying
          ? `replay of ${count(replaying.total, "sentence")}: a or enter follows the record, G replays to the end, L continues live`
          : resume?.chain
            ? `resumed (live): ${count(chain.sentences.length, "sentence")}`
            : "ready";
        set({ roles: handle.roles, loading: false, chain, status });
        // A resumed chain was last asked about (if at all) before it was saved: ask again.
        if (!replaying && resume?.chain) refreshTargets();
        if (!chain.finished) get().startStep();
      },
      goLive: async () => {
        const { problem, chain, targets, replay } = get();
        if (!replay || !problem) return set({ status: "not a replay: the race is already live" });
        if (!opts.createRace) return set({ status: "no models are configured: see Models & settings (5)" });
        get().flush();
        // A new session: the replayed file keeps its whole chain.
        await get().openProblem(problem, {
          chain: copyChain(chain),
          targets: { answers: targets.valid, consistency: targets.history },
        });
      },
      startStep: () => {
        refreshTargets();
        if (get().chain.finished) {
          set({ status: "the chain is finished (u to undo the last sentence)" });
          return;
        }
        if (replayer && get().chain.sentences.length >= replayer.total) {
          set({ status: `the end of the recording (${count(replayer.total, "sentence")}): L continues live` });
          return;
        }
        void call("step", (b) => b.startStep());
      },
      acceptPick: () => {
        if (replayer) return followRecord();
        if (!stepOpen()) return;
        const { race } = get();
        if (!race.pick) return set({ status: "no pick yet: wait for the scores, or choose one (enter)" });
        decide("accept", (b) => b.accept(race.pick!));
      },
      choose: () => {
        if (replayer) return followRecord();
        if (!stepOpen()) return;
        const lane = selectedLane();
        if (!lane?.done) return set({ status: "that candidate is not finished yet" });
        decide(lane.id === get().race.pick ? "accept" : "override", (b) => b.accept(lane.id));
      },
      edit: (text) => {
        if (!stepOpen()) return;
        const lane = selectedLane();
        if (!lane?.done) return set({ status: "that candidate is not finished yet" });
        if (!text.trim()) return set({ status: "an empty sentence was not accepted" });
        decide("edit", (b) => b.acceptEdited(lane.id, text));
      },
      write: (text) => {
        if (!text.trim()) return set({ status: "an empty sentence was not accepted" });
        decide("write", (b) => b.write(text));
      },
      regenerate: () => void call("regenerate", (b) => b.regenerate()),
      undo: () => {
        if (!get().chain.sentences.length) return set({ status: "nothing to undo" });
        decide("undo", (b) => b.undo());
      },
      autoRun: (n) => {
        const id = ++autoSeq;
        autoLive = true;
        pauseWanted = false;
        const modeOf = (left: number | "end"): AutoMode => (left === "end" ? { mode: "end" } : { mode: "steps", remaining: left });
        set({ auto: modeOf(n), paused: false, status: n === "end" ? "auto-run to the end" : `auto-run ${count(n, "step")}` });
        // A step waiting for a human would block the run. When the evaluator has picked, that pick
        // is the run's first step (nothing is drawn twice, and a replay can go on); otherwise the
        // step's candidates are dropped and redrawn.
        get().flush();
        const { race } = get();
        void call("auto-run", async (b) => {
          let left = n;
          let accepted = false;
          if (race.awaiting && race.pick && !replayer) {
            try {
              await b.accept(race.pick);
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
          if (id !== autoSeq) return "superseded";
          if (pauseWanted) return "paused";
          set({ auto: modeOf(left) });
          return b.runSteps(left);
        }).then((outcome) => {
          if (id !== autoSeq) return;
          autoLive = false;
          pauseWanted = false;
          get().flush();
          set({ auto: { mode: "off" }, paused: false });
          const s = get();
          if ((outcome === "count" || outcome === "paused") && !s.chain.finished && !s.race.generating) get().startStep();
        });
      },
      pause: () => {
        if (!autoLive) return set({ status: "no auto-run to pause (n or G starts one)" });
        pauseWanted = true;
        set({ paused: true, status: "pausing after this step" });
        void call("pause", (b) => b.pause());
      },
      cancel: () => {
        stopAuto();
        set((s) => ({ auto: { mode: "off" }, paused: false, status: "cancelled", race: { ...s.race, generating: false } }));
        void call("cancel", (b) => b.cancel());
        try {
          void handle?.targets?.cancel?.();
        } catch {
          // cancelling targets is best effort; the builder's cancel already stopped the race
        }
      },
      exportSession: async () => {
        if (!opts.export) return set({ status: "export is not available here" });
        get().flush();
        const snap = snapshotOf(get());
        if (!snap) return set({ status: "nothing to export: open a problem first (1)" });
        try {
          const [first = "", ...rest] = await opts.export(snap);
          // Files beside each other are named once: "x/id.txt and .md" fits the one status line.
          const stem = first.replace(/\.[^./\\]+$/, "");
          const more = rest.map((p) => (p.startsWith(stem + ".") ? p.slice(stem.length) : p));
          set({ status: `exported ${[first, ...more].join(" and ")}` });
        } catch (err) {
          fail("export", err);
        }
      },
      runRelay: (cut) => {
        const { problem, relay } = get();
        if (!opts.relay) return set({ status: "no relay models are configured: see Models & settings (5)" });
        if (!problem) return set({ status: "no problem is open: pick one first (1)" });
        if (relay.status === "running") return set({ status: "the relay is already running (Esc cancels)" });
        const key = `${problem.source}/${problem.id}`;
        const keep = relay.problemKey === key ? relay.result : undefined;
        const ctrl = new AbortController();
        relayCtrl = ctrl;
        set({ relay: { ...relay, status: "running", progress: "starting", problemKey: key, result: keep, error: undefined }, status: "relay running (Esc cancels)" });
        const cuts: Array<CutName | number> = cut === undefined ? ["early", "mid", "late"] : [cut];
        const onEvent: EngineListener = (ev) => {
          if (relayCtrl !== ctrl) return;
          if (ev.type === "progress") set((s) => ({ relay: { ...s.relay, progress: ev.label } }));
          if (ev.type === "error") set({ status: `error: ${ev.source}: ${oneLine(ev.message)}` });
        };
        opts.relay.run(problem, { cuts, signal: ctrl.signal, onEvent }).then(
          (result) => {
            if (relayCtrl !== ctrl) return;
            relayCtrl = undefined;
            set((s) => ({
              relay: { status: "done", progress: "", problemKey: key, result: mergeRelay(s.relay.problemKey === key ? s.relay.result : undefined, result) },
              status: `relay done: ${result.runs.length} continuation${result.runs.length === 1 ? "" : "s"}`,
            }));
          },
          (err) => {
            if (relayCtrl !== ctrl) return;
            relayCtrl = undefined;
            const cancelled = ctrl.signal.aborted;
            const msg = oneLine(err);
            set((s) => ({
              relay: { ...s.relay, status: cancelled ? "cancelled" : "failed", progress: "", error: cancelled ? undefined : msg },
              status: cancelled ? "relay cancelled" : `error: relay: ${msg}`,
            }));
          },
        );
      },
      relayInfo: () => opts.relay?.describe(),
      cancelRelay: () => {
        const ctrl = relayCtrl;
        if (!ctrl) return set({ status: "nothing is running" });
        ctrl.abort();
        relayCtrl = undefined;
        set((s) => ({ relay: { ...s.relay, status: "cancelled", progress: "" }, status: "relay cancelled" }));
      },
      dispatch: (event) => {
        if (event.type === "step-start") stepsSeen++;
        queue.push(event);
        if (!timer) timer = setTimeout(() => get().flush(), flushMs);
      },
      flush: () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (!queue.length) return;
        const batch = queue;
        queue = [];
        flushes++;
        const builder = handle?.builder;
        const changes = applyEvents(get(), batch, builder ? () => copyChain(builder.getChain()) : undefined);
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
          changes.status = `replay ${n}/${replayer.total}: the record took ${what} · a/enter follows · L continues live here`;
        }
        set(changes);
        // A replay never writes: the file replayed keeps its whole chain.
        if (!replayer && batch.some((e) => KEEP.has(e.type))) save();
      },
      dispose: async () => {
        disposed = true;
        opening++;
        relayCtrl?.abort();
        get().flush();
        await closeHandle();
      },
    };
  });

  const KEEP = new Set<EngineEvent["type"]>(["sentence-accepted", "sentence-undone", "chain-finished", "target-answer", "consistency"]);

  function snapshotOf(s: ConcordData): SessionSnapshot | undefined {
    if (!s.problem || !s.session) return undefined;
    return {
      info: s.session,
      problem: s.problem,
      roles: s.roles,
      chain: s.chain,
      targets: { answers: s.targets.log, consistency: s.targets.history },
    };
  }

  function save() {
    const snapshot = snapshotOf(store.getState());
    if (!opts.save || !snapshot) return;
    Promise.resolve()
      .then(() => opts.save!(snapshot))
      .then(
        () => store.setState((st) => ({ session: st.session && { ...st.session, savedAt: now().toISOString(), saveError: undefined } })),
        (err) => store.setState((st) => ({ session: st.session && { ...st.session, saveError: oneLine(err) }, status: `not saved: ${oneLine(err)}` })),
      );
  }

  async function closeHandle() {
    for (const u of unsubs) u();
    unsubs = [];
    const h = handle;
    handle = undefined;
    if (h) await closeRace(h);
  }

  async function closeRace(h: RaceHandle) {
    try {
      await h.builder.cancel();
    } catch {
      // already stopped
    }
    try {
      await h.close?.();
    } catch {
      // closing models is best effort on the way out
    }
  }

  return Object.assign(store, { flushCount: () => flushes, handle: () => handle });
}

/** A later run (one hand cut) joins the earlier result: its runs replace those of the same cut. */
export function mergeRelay(before: RelayResult | undefined, after: RelayResult): RelayResult {
  if (!before) return after;
  const same = (a: RelayRun, b: RelayRun) => a.cutSentence === b.cutSentence && a.continuer === b.continuer;
  const runs = [...before.runs.filter((r) => !after.runs.some((n) => same(r, n))), ...after.runs];
  return { ...after, cutPoints: before.cutPoints, runs };
}

/** A session id: problem and start time, safe as a file name. */
export function sessionId(problem: Problem, at: Date): string {
  const stamp = at.toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
  return `${problem.source}-${problem.id}-${stamp}`.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120);
}

/** React hook over a vanilla store. */
export function useConcord<T>(store: ConcordStore, selector: (s: ConcordState) => T): T {
  return useStore(store, selector);
}
