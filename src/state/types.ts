// What the store holds and the ports it drives. The engine, the launcher and the screens meet
// here; nothing in this file does anything.
import type { StoreApi } from "zustand/vanilla";
import type { Candidate, Chain, ChainSentence } from "../core/chain.js";
import type { Tree } from "../core/tree.js";
import type { Problem } from "../core/types.js";
import type { ConsistencySnapshot, EngineEvent, EngineListener, TargetAnswer } from "../engine/events.js";
import type { CutName, RelayResult } from "../engine/relay.js";
import type { Screen } from "./intents.js";
import type { Notice } from "./notices.js";
import type { SessionReplay } from "./session-replay.js";

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
  /** Go to another place in the session tree: the step in progress is cancelled and the chain
   * becomes this one (no event: the store moves itself). Drivers without it stay on one branch. */
  setChain?(chain: Chain): unknown;
  /** Append a sentence decided outside a step (a candidate of a race kept in the tree); emits
   * sentence-accepted like any decision. */
  adopt?(sentence: ChainSentence, endOfThought: boolean): unknown;
  /** A candidate of the step awaiting a decision, up to a token, another token there, continued
   * by a generator: it joins the race. Drivers without it cannot branch at a token. */
  branchAt?(opts: { from: string; position: number; token: string; generator: string }): unknown;
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
  /** Errors that are expected here (a replayed trace scored only its winners): kept off the notices and the lanes. */
  ignoreError?(message: string): boolean;
  /** The race replays a recording: a decision other than the recorded one leaves it. */
  recording?: boolean;
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

/** `prefer`: a resumed session's own models, used when every one of them is available. */
export type RaceFactory = (problem: Problem, chain?: Chain, prefer?: Roles) => Promise<RaceHandle> | RaceHandle;

export interface Lane {
  id: string;
  generator: string;
  sampleIndex: number;
  /** Content streamed so far (untrusted: sanitize before rendering). */
  text: string;
  /** The reasoning channel streamed so far (thinking-format generators over HTTP). */
  reasoning: string;
  done: boolean;
  /** Stopped by a cancel before it was finished: the partial text stays. */
  cancelled?: boolean;
  candidate?: Candidate;
  /** evaluator -> score */
  scores: Record<string, { meanNll: number; perplexity: number }>;
  mean?: number;
  error?: string;
  /** Why a candidate written whole has no score (the text is still the candidate). */
  unscored?: string;
}

export interface RaceView {
  step: number;
  lanes: Lane[];
  pick?: string;
  awaiting: boolean;
  generating: boolean;
  /** Id accepted at the end of this step, shown until the next step starts. */
  acceptedId?: string;
  /** The lanes are a race kept in the session tree (after an undo, or a move in the tree): no
   * step runs, and a decision takes one of them without generating again. */
  kept?: boolean;
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

/** The auto-run in progress, as the store drives it. It is not the view's `auto`: the step that
 * G or n cancels to start the run reports "cancelled", and pause must still reach the run. */
export interface AutoRun {
  /** Counts runs started: a later outcome of an older run changes nothing. */
  seq: number;
  live: boolean;
  pauseWanted: boolean;
}

/** What gets written when the session is saved (sessions.ts turns it into the file). */
export interface SessionSnapshot {
  info: SessionInfo;
  problem: Problem;
  roles: Roles;
  chain: Chain;
  targets: { answers: TargetAnswer[]; consistency: ConsistencySnapshot[] };
  /** Every race run in this session; the chain is the path to its current node. */
  tree?: Tree;
}

export type ResumeRequest = Partial<Pick<SessionSnapshot, "chain" | "targets" | "roles" | "tree">> & { info?: SessionInfo; replay?: boolean };

export interface ConcordData {
  screen: Screen;
  overlay: "help" | null;
  showTargets: boolean;
  showWhy: boolean;
  revealReference: boolean;
  problem?: Problem;
  roles: Roles;
  chain: Chain;
  /** Every race of the session; `chain` is the path to its current node. */
  tree: Tree;
  race: RaceView;
  selected: number;
  /** Lines the chain is scrolled back from its newest; undefined follows the newest lines. */
  chainScroll?: number;
  targets: TargetsView;
  auto: AutoMode;
  autoDrive: AutoRun;
  paused: boolean;
  /** The latest notice of each screen: one screen's notice is never shown on another. */
  notices: Partial<Record<Screen, Notice>>;
  errors: string[];
  session?: SessionInfo;
  /** A race is being prepared (models loading). */
  loading: boolean;
  relay: RelayView;
  /** A saved session is being replayed (its chain has `total` sentences); nothing is saved. */
  replay?: { total: number };
  /** The race the engine runs now. */
  handle?: RaceHandle;
  /** Set while a saved session is replayed. */
  replayer?: SessionReplay;
  /** Races run on the configured models (after going live from a recording). */
  live: boolean;
  /** A resumed session runs on other models than it was saved with: what differs, in words. */
  modelsChanged?: string;
  /** The chain left the recording it replays when it reached this length (a decision of one's own). */
  leftRecordingAt?: number;
  /** Steps started so far (a decision that started none leads to the next). */
  stepsSeen: number;
  /** Counts openProblem calls: only the latest one's race is kept. */
  opening: number;
  disposed: boolean;
  /** The relay run in progress. */
  relayRun?: AbortController;
  /** The tree view: the node under its cursor, and a branch marked to compare with. */
  treeView: TreeViewState;
  /** The token view: which candidate, the position under the cursor, the alternative chosen there. */
  tokensView?: TokensViewState;
}

export interface TokensViewState {
  candidateId: string;
  position: number;
  /** Index into the position's other tokens. */
  choice: number;
  /** Who continues a branch taken here (the candidate's own generator when unset). */
  generator?: string;
}

export type TokenMove = "prev" | "next" | "page-prev" | "page-next" | "alt-prev" | "alt-next";

export interface TreeViewState {
  cursor?: string;
  /** The branch (its leaf) marked for comparison. */
  marked?: string;
  /** Two branches side by side. */
  compare?: [string, string];
}

export type TreeMove = "parent" | "child" | "next-sibling" | "prev-sibling" | "next-branch" | "prev-branch";

export interface TreeActions {
  /** Show the tree, its cursor where the person is. */
  openTree(): void;
  moveTreeCursor(move: TreeMove): void;
  /** Show the selected candidate's tokens and the alternatives at each position. */
  openTokens(): void;
  /** The why key: per-token shading on; pressed again, the token alternatives where there are any, else shading off. */
  why(): void;
  moveTokenCursor(move: TokenMove): void;
  /** Branch at the token under the cursor with the alternative chosen there. */
  branchAtToken(): Promise<void>;
  /** Mark the branch under the cursor; with one marked already, compare the two. */
  markBranch(): void;
  closeCompare(): void;
  /** Go to a node: the chain becomes the path to it, and its kept race is shown to choose from
   * (a different candidate starts a branch there). */
  goToNode(id: string): Promise<void>;
}

export interface NoticeActions {
  /** Show a notice on a screen (default: the one on view). */
  notify(notice: Notice, screen?: Screen): void;
  /** A plain line on the screen on view ("error: ..." lines are errors). Names no key. */
  setStatus(text: string): void;
  /** Keep an error (the last few) and show it. */
  fail(what: string, err: unknown, screen?: Screen): void;
}

export interface ViewActions {
  setScreen(screen: Screen): void;
  toggleHelp(): void;
  toggleTargets(): void;
  toggleWhy(): void;
  toggleReveal(): void;
}

export interface RaceActions {
  select(delta: number): void;
  selectId(id: string): void;
  /** Scroll the chain by lines (negative: back, at most `maxBack` lines); 0 returns to the newest lines. */
  scrollChain(lines: number, maxBack: number): void;
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
}

export interface SessionActions {
  /** Open a race on a problem (and resume a chain/targets/session when given). With `replay`,
   * the saved chain is stepped through as recorded, without models. */
  openProblem(problem: Problem, resume?: ResumeRequest): Promise<void>;
  /** In a replay: continue live (with the configured models) from the sentence reached, as a new session. */
  goLive(): Promise<void>;
  /** Write the chain (plain text) and the session (Markdown) through the `export` option. */
  exportSession(): Promise<void>;
  /** Save the session now (after every change worth keeping; never in a replay). */
  persist(): void;
  /** Stop timers, unsubscribe, close the race. */
  dispose(): Promise<void>;
}

export interface RelayActions {
  /** Run the relay on the current problem: early/mid/late cuts, or from one sentence by hand. */
  runRelay(cut?: number): void;
  cancelRelay(): void;
  /** Who takes part in a relay, or undefined when relays cannot run here. */
  relayInfo(): { initiator?: string; continuers: string[] } | undefined;
}

export type ConcordActions = NoticeActions & ViewActions & RaceActions & SessionActions & RelayActions & TreeActions;
export type ConcordState = ConcordData & ConcordActions;
export type ConcordStore = StoreApi<ConcordState> & {
  /** How many times queued events were applied (each is at most one redraw). */
  readonly flushCount: () => number;
  readonly handle: () => RaceHandle | undefined;
};

export interface StoreOptions {
  createRace?: RaceFactory;
  /** Races on the configured models, when `createRace` replays a recording: going live uses these. */
  createLiveRace?: RaceFactory;
  /** Called after every change worth keeping (accepted/undone sentence, target answer). */
  save?: (snapshot: SessionSnapshot) => void | Promise<void>;
  /** Longest time an event waits in the queue (ms). Default 40. */
  flushMs?: number;
  /** After a human decision, start the next step unless an auto-run is going. Default true. */
  autoAdvance?: boolean;
  initial?: Partial<ConcordData>;
  now?: () => Date;
  relay?: RelayPort;
  /** Writes the chain and session exports; returns the paths written, for the notice. */
  export?: (snapshot: SessionSnapshot) => string[] | Promise<string[]>;
}

/** What a slice gets besides zustand's set/get: the options, and the store's helpers. */
export interface SliceDeps {
  opts: StoreOptions;
  now: () => Date;
}
