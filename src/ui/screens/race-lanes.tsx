// The Race's lanes and the text beneath them: one row per candidate (streaming, finished,
// cancelled or failed), and the selected candidate read whole.
import React from "react";
import { Text } from "ink";
import type { ChainSentence } from "../../core/chain.js";
import type { Lane } from "../../state/store.js";
import { authorStyle, nllStyle, useTheme, type Theme } from "../theme.js";
import { fitWidth, padTo, sanitize, tailWidth } from "../sanitize.js";
import type { Segment } from "../widgets/text.js";

const HUMAN_DECISIONS = new Set(["human-pick", "human-edit", "human-written"]);
export const MARK_PICK = "★";
export const MARK_HUMAN = "✎";
export const MARK_SELECTED = "▸";
export const MARK_CANCELLED = "[cancelled]";

/** Decimals enough to tell the candidates apart: the fewest (1 to 4) at which values that
 * differ also read differently. */
export function pplDigits(values: Array<number | undefined>): number {
  const xs = [...new Set(values.filter((x): x is number => x !== undefined && Number.isFinite(x) && x < 1000))];
  for (let d = 1; d < 4; d++) if (new Set(xs.map((x) => x.toFixed(d))).size === xs.length) return d;
  return 4;
}

/** Width of the score column: every evaluator's perplexity (and their mean), or "not scored". */
export function scoreColumnWidth(evaluators: number, digits: number, unscored: boolean): number {
  const w = 4 + digits;
  return Math.max(evaluators > 1 ? evaluators * (w + 1) + 2 + w : 1 + w, unscored ? 10 : 0);
}

export function fmtPpl(x: number | undefined, digits = 1): string {
  const w = 4 + digits;
  if (x === undefined || !Number.isFinite(x)) return "-".padStart(Math.ceil(w / 2)).padEnd(w);
  return x >= 1000 ? x.toExponential(0).padStart(w) : x.toFixed(x >= 100 ? Math.max(0, digits - 2) : digits).padStart(w);
}

export function chainSegments(sentences: ChainSentence[], theme: Theme, known: string[]): Segment[] {
  const segs: Segment[] = [];
  sentences.forEach((s, i) => {
    let text = sanitize(s.text);
    const sep = i > 0 && !/^\s/.test(text) ? " " : "";
    if (HUMAN_DECISIONS.has(s.decision)) {
      // The mark goes after the separating space, right before the sentence it marks.
      const lead = /^\s*/.exec(text)![0];
      segs.push({ text: sep + lead + MARK_HUMAN, role: "human" });
      text = text.slice(lead.length);
      segs.push({ text, style: authorStyle(theme, s.author, known) });
      return;
    }
    segs.push({ text: sep + text, style: authorStyle(theme, s.author, known) });
  });
  return segs;
}

/** "org/Model-32B#1" shows as "Model-32B#1": the organisation says little and costs columns. */
export function shortId(id: string): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

/** What a lane shows: its answer text, or while a thinking model has written only reasoning so far, that. */
function laneText(lane: Lane): { text: string; thinking: boolean } {
  const content = sanitize(lane.text, { multiline: false });
  if (content.trim() || !lane.reasoning) return { text: content, thinking: false };
  return { text: sanitize(lane.reasoning, { multiline: false }), thinking: true };
}

interface LaneRowProps {
  lane: Lane;
  width: number;
  idWidth: number;
  selected: boolean;
  pick: boolean;
  accepted: boolean;
  evaluators: string[];
  digits: number;
  /** Columns of the score column, the same for every lane. */
  scoreWidth: number;
}

// Memoized: with 8 lanes streaming, a frame should only redraw the lanes whose text changed.
export const LaneRow = React.memo(function LaneRow({ lane, width, idWidth, selected, pick, accepted, evaluators, digits, scoreWidth }: LaneRowProps) {
  const t = useTheme();
  const scoreCells = evaluators.map((e) => fmtPpl(lane.scores[e]?.perplexity, digits));
  const scored = (evaluators.length > 1 ? scoreCells.join(" ") + " μ" : " ") + fmtPpl(lane.mean, digits);
  // A candidate without a score says so in the score column, as wide as a score would be.
  const scoreText = (lane.unscored && lane.mean === undefined ? "not scored" : scored).padStart(scoreWidth);
  const id = shortId(lane.id);
  const textWidth = Math.max(4, width - 4 - idWidth - 1 - scoreText.length - 1);
  const { text, thinking } = laneText(lane);
  const lead = thinking ? "thinking: " : "";
  let shown: string;
  if (lane.error) shown = fitWidth(`[${sanitize(lane.error, { multiline: false })}]`, textWidth);
  else if (lane.cancelled) shown = fitWidth(lead + text, Math.max(1, textWidth - MARK_CANCELLED.length - 1)) + " " + MARK_CANCELLED;
  else if (lane.done) shown = fitWidth(text, textWidth);
  else shown = lead + tailWidth(text, textWidth - 1 - lead.length) + "…";
  const role = selected ? "selection" : lane.error ? "error" : lane.done && !lane.cancelled && !thinking ? "text" : "muted";
  return (
    <Text wrap="truncate-end">
      <Text {...t.roles.accent}>{selected ? MARK_SELECTED : " "}</Text>
      <Text {...t.roles.pick}>{pick ? MARK_PICK : " "}</Text>
      <Text {...t.roles.success}>{accepted ? "✓" : " "}</Text>
      <Text> </Text>
      <Text {...authorStyle(t, lane.generator)}>{padTo(fitWidth(id, idWidth), idWidth)}</Text>
      <Text> </Text>
      <Text {...t.roles[role]}>{padTo(shown, textWidth)}</Text>
      <Text> </Text>
      <Text {...(pick ? t.roles.pick : t.roles.muted)}>{scoreText}</Text>
    </Text>
  );
});

/** The selected candidate read whole, labelled: its text (or its reasoning so far), or its error. */
export function selectedSegments(lane: Lane | undefined, pick: string | undefined): { label: string; segs: Segment[] } {
  if (!lane) return { label: "selected: -", segs: [] };
  const state = lane.error ? "failed" : lane.cancelled ? "cancelled" : lane.done ? (lane.id === pick ? "the pick" : "not the pick") : "streaming";
  const label = `selected ${shortId(lane.id)} (${state}): `;
  if (lane.error) return { label, segs: [{ text: sanitize(lane.error, { multiline: false }), role: "error" }] };
  if (lane.unscored) {
    const why = sanitize(lane.unscored, { multiline: false });
    return {
      label,
      segs: [
        { text: sanitize(lane.candidate?.text || lane.text, { multiline: false }), role: "text" },
        { text: `  (not scored: ${why})`, role: "muted" },
      ],
    };
  }
  const { text, thinking } = laneText({ ...lane, text: lane.candidate?.text || lane.text });
  return { label, segs: [{ text: thinking ? `thinking: ${text}` : text, role: thinking ? "muted" : "text" }] };
}

/** Per-token NLL of the selected candidate under the first evaluator that gave tokens. */
export function whySegments(lane: Lane | undefined, theme: Theme): { title: string; segs: Segment[] } {
  const c = lane?.candidate;
  const scored = c?.scores.find((s) => s.tokens?.length);
  if (!c || !scored?.tokens) {
    const gen = c?.tokens;
    if (gen?.length)
      return {
        title: `why: per-token NLL under the generator ${c!.generator}`,
        segs: gen.map((tk) => ({ text: sanitize(tk.token), style: nllStyle(theme, -tk.logprob) })),
      };
    return { title: "why: no per-token scores for this candidate yet", segs: [] };
  }
  return {
    title: `why: per-token NLL under ${scored.evaluator} (mean ${scored.meanNll.toFixed(2)} nats, ppl ${scored.perplexity.toFixed(1)})`,
    segs: scored.tokens.map((tk) => ({ text: sanitize(tk.token), style: nllStyle(theme, -tk.logprob) })),
  };
}
