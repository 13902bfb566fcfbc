// The race: the chain so far coloured by author, one lane per candidate streaming in, the
// evaluators' perplexities and the pick, and (on demand) why the selected candidate scored so.
import React from "react";
import { Box, Text } from "ink";
import { useConcord, type Lane } from "../../state/store.js";
import type { ChainSentence } from "../../core/chain.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { authorStyle, nllStyle, useTheme, type Theme } from "../theme.js";
import { fitWidth, padTo, sanitize, tailWidth } from "../sanitize.js";
import { Lines, R, wrapSegments, type Segment } from "../widgets/text.js";
import { TargetsPanel, targetsPanelRows } from "./Targets.js";
import { count } from "../words.js";

const HUMAN_DECISIONS = new Set(["human-pick", "human-edit", "human-written"]);
export const MARK_PICK = "★";
export const MARK_HUMAN = "✎";
export const MARK_SELECTED = "▸";

function fmtPpl(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "  -  ";
  return x >= 1000 ? x.toExponential(0).padStart(5) : x.toFixed(x >= 100 ? 0 : 1).padStart(5);
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

// Memoized: with 8 lanes streaming, a frame should only redraw the lanes whose text changed.
const LaneRow = React.memo(function LaneRow({ lane, width, idWidth, selected, pick, accepted, evaluators }: { lane: Lane; width: number; idWidth: number; selected: boolean; pick: boolean; accepted: boolean; evaluators: string[] }) {
  const t = useTheme();
  const scoreCells = evaluators.map((e) => fmtPpl(lane.scores[e]?.perplexity));
  const scoreText = (evaluators.length > 1 ? scoreCells.join(" ") + " μ" : " ") + fmtPpl(lane.mean);
  const id = shortId(lane.id);
  const textWidth = Math.max(4, width - 4 - idWidth - 1 - scoreText.length - 1);
  const clean = sanitize(lane.text, { multiline: false });
  const shown = lane.error ? fitWidth(`[${sanitize(lane.error, { multiline: false })}]`, textWidth) : lane.done ? fitWidth(clean, textWidth) : tailWidth(clean, textWidth - 1) + "…";
  return (
    <Text wrap="truncate-end">
      <Text {...t.roles.accent}>{selected ? MARK_SELECTED : " "}</Text>
      <Text {...t.roles.pick}>{pick ? MARK_PICK : " "}</Text>
      <Text {...t.roles.success}>{accepted ? "✓" : " "}</Text>
      <Text> </Text>
      <Text {...authorStyle(t, lane.generator)}>{padTo(fitWidth(id, idWidth), idWidth)}</Text>
      <Text> </Text>
      <Text {...(selected ? t.roles.selection : lane.error ? t.roles.error : lane.done ? t.roles.text : t.roles.muted)}>{padTo(shown, textWidth)}</Text>
      <Text> </Text>
      <Text {...(pick ? t.roles.pick : t.roles.muted)}>{scoreText}</Text>
    </Text>
  );
});

// The chain changes once per accepted sentence, not per token: keep its wrapped lines until then.
let chainCache: { sentences: ChainSentence[]; theme: Theme; known: string; width: number; lines: ReturnType<typeof wrapSegments> } | undefined;
function wrappedChain(sentences: ChainSentence[], theme: Theme, known: string[], width: number): ReturnType<typeof wrapSegments> {
  const key = known.join("\u0000");
  if (chainCache && chainCache.sentences === sentences && chainCache.theme === theme && chainCache.known === key && chainCache.width === width) return chainCache.lines;
  const lines = wrapSegments(chainSegments(sentences, theme, known), width);
  chainCache = { sentences, theme, known: key, width, lines };
  return lines;
}

/** Per-token NLL of the selected candidate under the first evaluator that gave tokens. */
function whySegments(lane: Lane | undefined, theme: Theme): { title: string; segs: Segment[] } {
  const c = lane?.candidate;
  const scored = c?.scores.find((s) => s.tokens?.length);
  if (!c || !scored?.tokens) {
    const gen = c?.tokens;
    if (gen?.length)
      return { title: `why: per-token NLL under the generator ${c!.generator}`, segs: gen.map((tk) => ({ text: sanitize(tk.token), style: nllStyle(theme, -tk.logprob) })) };
    return { title: "why: no per-token scores for this candidate yet", segs: [] };
  }
  return {
    title: `why: per-token NLL under ${scored.evaluator} (mean ${scored.meanNll.toFixed(2)} nats, ppl ${scored.perplexity.toFixed(1)})`,
    segs: scored.tokens.map((tk) => ({ text: sanitize(tk.token), style: nllStyle(theme, -tk.logprob) })),
  };
}

export function RaceScreen() {
  const { store, bindings, width, height, prompt } = useUi();
  const theme = useTheme();
  const s = useConcord(store, (st) => st);
  const lanes = s.race.lanes;
  const selectedLane = lanes[s.selected];

  useActions((action) => {
    switch (action) {
      case "up":
        s.select(-1);
        return true;
      case "down":
        s.select(1);
        return true;
      case "accept-pick":
        s.acceptPick();
        return true;
      case "choose":
        s.choose();
        return true;
      case "edit":
        if (!selectedLane?.done) {
          s.setStatus("that candidate is not finished yet");
          return true;
        }
        prompt({ label: `edit ${selectedLane.id}`, initial: sanitize(selectedLane.candidate?.text ?? selectedLane.text, { multiline: false }).trim(), onSubmit: (v) => s.edit(v) });
        return true;
      case "write":
        prompt({ label: "your sentence", onSubmit: (v) => s.write(v) });
        return true;
      case "regenerate":
        s.regenerate();
        return true;
      case "undo":
        s.undo();
        return true;
      case "run-n":
        prompt({
          label: "auto-run how many steps",
          initial: "5",
          onSubmit: (v) => {
            const n = Number.parseInt(v, 10);
            if (Number.isFinite(n) && n > 0) s.autoRun(n);
            else s.setStatus(`not a number of steps: ${sanitize(v, { multiline: false })}`);
          },
        });
        return true;
      case "run-end":
        s.autoRun("end");
        return true;
      case "pause":
        s.pause();
        return true;
      case "cancel":
        s.cancel();
        return true;
      case "why":
        s.toggleWhy();
        return true;
      case "toggle-targets":
        s.toggleTargets();
        return true;
      case "next-step":
        s.startStep();
        return true;
      case "reveal":
        s.toggleReveal();
        return true;
      case "export":
        void s.exportSession();
        return true;
      case "go-live":
        void s.goLive();
        return true;
      default:
        return false;
    }
  });

  if (!s.problem) {
    return (
      <Box flexDirection="column">
        <R role="muted">{s.loading ? "loading..." : `No problem open. Press ${keyFor(bindings, "screen-problems")} for Problems.`}</R>
      </Box>
    );
  }

  const beside = s.showTargets && width >= 110;
  const below = s.showTargets && !beside;
  const panelWidth = beside ? Math.min(44, Math.floor(width * 0.36)) : width;
  const mainWidth = beside ? width - panelWidth - 1 : width;
  const evaluators = s.roles.evaluators;
  const known = [...s.roles.generators];
  const belowRows = below ? targetsPanelRows(s.roles.targets.length, "compact") : 0;
  const laneRows = Math.max(1, lanes.length);
  const idWidth = Math.min(16, Math.max(6, ...lanes.map((l) => shortId(l.id).length)));
  const detailRows = s.showWhy ? 4 : 2;
  const fixed = 2 /* problem + question */ + 1 /* chain heading */ + 1 /* lanes heading */ + laneRows + detailRows + belowRows;
  const chainRows = Math.max(2, height - fixed);

  const question = s.problem.messages.filter((m) => m.role === "user").at(-1)?.content ?? "";
  const chainLines = wrappedChain(s.chain.sentences, theme, known, mainWidth);
  const why = s.showWhy ? whySegments(selectedLane, theme) : undefined;
  const detail = why
    ? wrapSegments(why.segs, mainWidth)
    : wrapSegments([{ text: sanitize(selectedLane?.candidate?.text ?? selectedLane?.text ?? "", { multiline: false }), role: "text" }], mainWidth);
  const auto = s.auto.mode === "steps" ? `auto ${s.auto.remaining} left` : s.auto.mode === "end" ? "auto to end" : s.paused ? "paused" : "";
  const ref = s.revealReference ? `ref ${sanitize(s.problem.reference.value, { multiline: false })}` : `${keyFor(bindings, "reveal")}: reference`;

  const main = (
    <Box flexDirection="column" width={mainWidth}>
      <Text wrap="truncate-end">
        <R role="title">{fitWidth(`${s.problem.source}/${s.problem.id}`, 30)}</R>
        <R role="muted">{`  gen ${s.roles.generators.join(",") || "-"} · eval ${evaluators.join(",") || "-"}  `}</R>
        <R role={s.revealReference ? "warning" : "muted"}>{ref}</R>
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">{fitWidth(sanitize(question, { multiline: false }), mainWidth)}</R>
      </Text>
      <Text wrap="truncate-end">
        <R role="border">{`── chain: ${count(s.chain.sentences.length, "sentence")}${s.chain.finished ? " · finished" : ""} `}</R>
        <R role="muted">{`${MARK_HUMAN} human choice`}</R>
      </Text>
      <Box height={chainRows} flexDirection="column">
        {s.chain.sentences.length ? <Lines lines={chainLines} rows={chainRows} /> : <R role="muted">(empty: the first sentence is being raced)</R>}
      </Box>
      <Text wrap="truncate-end">
        <R role="border">{`── step ${s.race.step + 1} `}</R>
        <R role={s.race.generating ? "warning" : s.race.awaiting ? "accent" : "muted"}>
          {s.loading ? "loading models" : s.race.generating ? "generating" : s.race.awaiting ? "your call" : s.chain.finished ? "done" : "idle"}
        </R>
        <R role="muted">{`  ppl ${evaluators.length > 1 ? evaluators.join(" ") + " μ" : "(" + (evaluators[0] ?? "-") + ")"}  ${MARK_PICK} pick`}</R>
        {auto ? <R role="accent">{`  ${auto}`}</R> : null}
        {s.replay ? <R role="warning">{`  replay ${s.chain.sentences.length}/${s.replay.total} · ${keyFor(bindings, "go-live")}: live`}</R> : null}
      </Text>
      <Box flexDirection="column" height={laneRows}>
        {lanes.length === 0 ? (
          <R role="muted">{s.chain.finished ? "the chain is finished" : `no candidates (${keyFor(bindings, "next-step")} starts a step)`}</R>
        ) : (
          lanes.map((l, i) => (
            <LaneRow key={l.id} lane={l} width={mainWidth} idWidth={idWidth} selected={i === s.selected} pick={l.id === s.race.pick} accepted={l.id === s.race.acceptedId} evaluators={evaluators} />
          ))
        )}
      </Box>
      {why ? (
        <Box flexDirection="column" height={detailRows}>
          <R role="muted">{fitWidth(why.title, mainWidth)}</R>
          <Lines lines={detail} rows={detailRows - 1} from="start" />
        </Box>
      ) : (
        <Box flexDirection="column" height={detailRows}>
          <Lines lines={detail} rows={detailRows} from="start" />
        </Box>
      )}
    </Box>
  );

  if (beside) {
    return (
      <Box flexDirection="row" height={height}>
        {main}
        <Box marginLeft={1} width={panelWidth} flexDirection="column">
          <TargetsPanel width={panelWidth} mode="full" />
        </Box>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      {main}
      {below ? <TargetsPanel width={width} mode="compact" /> : null}
    </Box>
  );
}
