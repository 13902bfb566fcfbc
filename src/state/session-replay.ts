// Replaying a saved session: the race steps through the saved chain sentence by sentence,
// showing each step's recorded candidates, scores and pick, and every decision follows the
// record. No model is called. The targets' saved answers come back at the chain length they
// were given for. Continuing live from any sentence is the store's job (goLive).
import type { Chain, ChainSentence } from "../core/chain.js";
import type { ConsistencySnapshot, EngineEvent, EngineListener, TargetAnswer } from "../engine/events.js";
import type { ChainDriver } from "./store.js";
import { count } from "../core/words.js";

/** Why a replay refuses a decision of its own. */
const FOLLOWS_THE_RECORD = "a replay follows the record: L continues live from this sentence";

export class SessionReplay implements ChainDriver {
  private readonly listeners = new Set<EngineListener>();
  private readonly answers: TargetAnswer[];
  private readonly consistency: ConsistencySnapshot[];
  /** Sentences replayed so far. */
  private at = 0;
  private open = false;
  private pauseRequested = false;

  constructor(
    readonly saved: Chain,
    targets: { answers: TargetAnswer[]; consistency: ConsistencySnapshot[] } = { answers: [], consistency: [] },
  ) {
    this.answers = targets.answers;
    this.consistency = targets.consistency;
  }

  get total(): number {
    return this.saved.sentences.length;
  }

  /** The recorded sentence the open (or next) step ends with. */
  recorded(): ChainSentence | undefined {
    return this.saved.sentences[this.at];
  }

  on(listener: EngineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(ev: EngineEvent): void {
    for (const l of [...this.listeners]) l(ev);
  }

  getChain(): Chain {
    const done = this.at >= this.total;
    return { sentences: this.saved.sentences.slice(0, this.at), finished: done && this.saved.finished };
  }

  /** Show the recorded step: its candidates as they were scored, the evaluator's pick. */
  startStep(): void {
    if (this.open || this.at >= this.total) return;
    this.open = true;
    this.showStep(true);
  }

  private showStep(awaiting: boolean): void {
    const step = this.at;
    const s = this.saved.sentences[step];
    this.emit({ type: "step-start", step });
    for (const c of s.candidates) {
      this.emit({ type: "candidate-done", step, candidate: c });
      if (c.meanPerplexity !== undefined) this.emit({ type: "candidate-scored", step, candidate: c });
    }
    const pick = s.candidates.find((c) => c.id === s.evaluatorPick);
    if (pick) this.emit({ type: "pick", step, candidateId: pick.id, meanPerplexity: pick.meanPerplexity ?? Number.NaN });
    if (awaiting) this.emit({ type: "awaiting-decision", step });
  }

  /** Take the recorded decision of this step (whatever candidate is selected). */
  follow(): void {
    if (this.at >= this.total) throw new Error(`the end of the recording (${count(this.total, "sentence")}): L continues live`);
    const sentence = this.saved.sentences[this.at];
    this.open = false;
    this.at++;
    this.emit({ type: "sentence-accepted", step: this.at - 1, sentence });
    if (this.at === this.total && this.saved.finished) this.emit({ type: "chain-finished", reason: "end-of-thought" });
    this.showTargets();
  }

  /** The saved answers (latest per target) and consistency for the chain as it now stands. */
  private showTargets(): void {
    const latest = new Map<string, TargetAnswer>();
    for (const a of this.answers) if (a.chainLength === this.at) latest.set(a.target, a);
    for (const a of latest.values()) this.emit({ type: "target-answer", answer: a });
    const snap = this.consistency.filter((c) => c.chainLength === this.at).at(-1);
    if (snap) this.emit({ type: "consistency", snapshot: snap });
  }

  accept(): void {
    this.follow();
  }

  acceptEdited(): void {
    throw new Error(FOLLOWS_THE_RECORD);
  }

  write(): void {
    throw new Error(FOLLOWS_THE_RECORD);
  }

  undo(): void {
    if (this.open) this.cancel();
    if (this.at === 0) return;
    this.at--;
    this.emit({ type: "sentence-undone", step: this.at });
  }

  regenerate(): void {
    if (this.open) this.cancel();
    this.startStep();
  }

  /** Follow the record n steps (or to its end); a pause stops between steps. */
  async runSteps(n: number | "end"): Promise<"count" | "end-of-thought" | "budget" | "paused"> {
    if (this.open) this.cancel();
    this.pauseRequested = false;
    for (let done = 0; n === "end" || done < n; done++) {
      if (this.at >= this.total) return this.saved.finished ? "end-of-thought" : "budget";
      if (this.pauseRequested) return "paused";
      this.showStep(false);
      this.follow();
      // One step per turn of the event loop: the screen follows and a pause can come in.
      await new Promise((r) => setTimeout(r, 0));
    }
    return "count";
  }

  pause(): void {
    this.pauseRequested = true;
  }

  cancel(): void {
    this.pauseRequested = true;
    if (!this.open) return;
    this.open = false;
    this.emit({ type: "step-cancelled", step: this.at });
  }
}
