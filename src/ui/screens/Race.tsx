// The race: the chain so far coloured by author, one lane per candidate streaming in, the
// evaluators' perplexities and the pick, and (on demand) why the selected candidate scored so.
// Each part selects only what it draws from the store.
import { Box, Text } from "ink";
import { useConcord, type ConcordState } from "../../state/store.js";
import { info } from "../../state/notices.js";
import type { ChainSentence } from "../../core/chain.js";
import { useMemo } from "react";
import { useActions, useUi } from "../context.js";
import { useRemembered } from "../hooks/view-memory.js";
import { importanceColumn, useSavedImportance } from "../hooks/use-saved-importance.js";
import { keyFor, type Action } from "../keys.js";
import { useTheme, type Theme } from "../theme.js";
import { fitWidth, sanitize } from "../sanitize.js";
import { Lines, R, wrapSegments } from "../widgets/text.js";
import { TargetsPanel, targetsPanelRows } from "./Targets.js";
import { TreeLocationMark } from "./Tree.js";
import { count } from "../../core/words.js";
import { LaneRow, MARK_HUMAN, MARK_PICK, chainSegments, pplDigits, scoreColumnWidth, selectedSegments, shortId, whySegments } from "./race-lanes.js";

export { MARK_CANCELLED, MARK_HUMAN, MARK_PICK, MARK_SELECTED, chainSegments, fmtPpl, pplDigits, shortId } from "./race-lanes.js";

// The chain changes once per accepted sentence, not per token: keep its wrapped lines until then.
let chainCache: { sentences: ChainSentence[]; theme: Theme; known: string; width: number; lines: ReturnType<typeof wrapSegments>; ends: number[] } | undefined;
function wrappedChain(sentences: ChainSentence[], theme: Theme, known: string[], width: number) {
  const key = known.join("\u0000");
  if (chainCache && chainCache.sentences === sentences && chainCache.theme === theme && chainCache.known === key && chainCache.width === width)
    return chainCache;
  const segs = chainSegments(sentences, theme, known);
  const lines = wrapSegments(segs, width);
  // Where each sentence ends, in characters of the chain's text, to count those scrolled past.
  const ends: number[] = [];
  let at = 0;
  let seg = 0;
  for (let i = 0; i < sentences.length; i++) {
    at += segs[seg++]?.text.length ?? 0;
    // A person's sentence is two segments: its mark, then its text.
    if (segs[seg - 1]?.text.endsWith(MARK_HUMAN)) at += segs[seg++]?.text.length ?? 0;
    ends.push(at);
  }
  chainCache = { sentences, theme, known: key, width, lines, ends };
  return chainCache;
}

/**
 * The chain one sentence per line behind a gutter of its importance (the targets' mean answer
 * shift when the sentence is kept, from `concord importance`'s saved samples): flowing text has
 * no place for a column.
 */
function chainWithImportance(sentences: ChainSentence[], theme: Theme, known: string[], width: number, column: Array<number | null>) {
  const lines: ReturnType<typeof wrapSegments> = [];
  const ends: number[] = [];
  let at = 0;
  sentences.forEach((s, i) => {
    const v = column[i];
    const gutter = `${v === null || v === undefined ? "   -" : v.toFixed(2).replace(/^0/, " ")} `;
    const body = chainSegments([{ ...s, text: s.text.trimStart() }], theme, known);
    wrapSegments(body, Math.max(4, width - gutter.length)).forEach((l, j) => {
      const line = [{ text: j === 0 ? gutter : " ".repeat(gutter.length), role: "muted" as const }, ...l];
      at += line.reduce((n, sg) => n + sg.text.length, 0);
      lines.push(line);
    });
    ends.push(at);
  });
  return { lines, ends };
}

/** Actions of the Race screen: every key reaches the store as an intent. */
function useRaceActions() {
  const { store, prompt } = useUi();
  return (action: Action, pageRows: number, maxBack: number): boolean => {
    const s = store.getState();
    const lane = s.race.lanes[s.selected];
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
        if (!lane?.done || lane.cancelled) {
          s.notify(info`that candidate is not finished yet`, "race");
          return true;
        }
        prompt({
          label: `edit ${lane.id}`,
          initial: sanitize(lane.candidate?.text ?? lane.text, { multiline: false }).trim(),
          onSubmit: (v) => store.getState().edit(v),
        });
        return true;
      case "write":
        prompt({ label: "your sentence", onSubmit: (v) => store.getState().write(v) });
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
            if (Number.isFinite(n) && n > 0) store.getState().autoRun(n);
            else store.getState().notify(info`not a number of steps: ${sanitize(v, { multiline: false })}`, "race");
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
        s.why();
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
      case "tree":
        s.openTree();
        return true;
      case "page-up":
        s.scrollChain(-pageRows, maxBack);
        return true;
      case "page-down":
        s.scrollChain(pageRows, maxBack);
        return true;
      default:
        return false;
    }
  };
}

const sel = {
  problem: (s: ConcordState) => s.problem,
  loading: (s: ConcordState) => s.loading,
  race: (s: ConcordState) => s.race,
  selected: (s: ConcordState) => s.selected,
  chain: (s: ConcordState) => s.chain,
  roles: (s: ConcordState) => s.roles,
  showTargets: (s: ConcordState) => s.showTargets,
  showWhy: (s: ConcordState) => s.showWhy,
  reveal: (s: ConcordState) => s.revealReference,
  auto: (s: ConcordState) => s.auto,
  paused: (s: ConcordState) => s.paused,
  replay: (s: ConcordState) => s.replay,
  chainScroll: (s: ConcordState) => s.chainScroll ?? 0,
  modelsChanged: (s: ConcordState) => s.modelsChanged,
};

export function RaceScreen() {
  const { store, bindings, width, height } = useUi();
  const theme = useTheme();
  const problem = useConcord(store, sel.problem);
  const loading = useConcord(store, sel.loading);
  const race = useConcord(store, sel.race);
  const selected = useConcord(store, sel.selected);
  const chain = useConcord(store, sel.chain);
  const roles = useConcord(store, sel.roles);
  const showTargets = useConcord(store, sel.showTargets);
  const showWhy = useConcord(store, sel.showWhy);
  const reveal = useConcord(store, sel.reveal);
  const auto = useConcord(store, sel.auto);
  const paused = useConcord(store, sel.paused);
  const replay = useConcord(store, sel.replay);
  const chainScroll = useConcord(store, sel.chainScroll);
  const modelsChanged = useConcord(store, sel.modelsChanged);
  const handle = useRaceActions();
  const [showImportance, setShowImportance] = useRemembered("race:importance", false);
  const chainTexts = useMemo(() => chain.sentences.map((x) => x.text), [chain.sentences]);
  const importanceHere = useSavedImportance(showImportance, problem, chainTexts);
  const column = importanceColumn(importanceHere?.result, chain.sentences.length);
  const lanes = race.lanes;
  const selectedLane = lanes[selected];
  const key = (a: Action) => keyFor(bindings, a);

  // Rows: problem + question, chain heading, chain, step heading, lanes, the selected text, targets.
  const beside = showTargets && width >= 110;
  const below = showTargets && !beside;
  const panelWidth = beside ? Math.min(44, Math.floor(width * 0.36)) : width;
  const mainWidth = beside ? width - panelWidth - 1 : width;
  const belowRows = below ? targetsPanelRows(roles.targets.length, "compact") : 0;
  const detailRows = showWhy ? 4 : 3;
  // What differs from a resumed session's models is read whole: a second line when it needs one.
  const changedLines = modelsChanged
    ? wrapSegments([{ text: sanitize(modelsChanged, { multiline: false }), role: "warning" }], mainWidth).slice(0, height >= 20 ? 2 : 1)
    : [];
  const extraRows = Math.max(0, changedLines.length - 1);
  const room = Math.max(2, height - (2 + 1 + 1 + detailRows + belowRows + extraRows));
  // Lanes fold ("+N more") before the chain shrinks below two rows; the targets never go.
  const laneRows = Math.max(1, Math.min(lanes.length || 1, room - 2));
  const chainRows = Math.max(1, room - laneRows);
  const chained = column
    ? chainWithImportance(chain.sentences, theme, [...roles.generators], mainWidth, column)
    : wrappedChain(chain.sentences, theme, [...roles.generators], mainWidth);
  const maxBack = Math.max(0, chained.lines.length - chainRows);
  const back = Math.min(chainScroll, maxBack);
  useActions((action) => {
    if (action !== "importance") return handle(action, Math.max(1, chainRows - 1), maxBack);
    setShowImportance((on) => !on);
    return true;
  });

  if (!problem) {
    return (
      <Box flexDirection="column">
        <R role="muted">{loading ? "loading..." : `No problem open. Press ${key("screen-problems")} for Problems.`}</R>
      </Box>
    );
  }

  const evaluators = roles.evaluators;
  const idWidth = Math.min(16, Math.max(6, ...lanes.map((l) => shortId(l.id).length)));
  const digits = Math.max(pplDigits(lanes.map((l) => l.mean)), ...evaluators.map((e) => pplDigits(lanes.map((l) => l.scores[e]?.perplexity))));
  const scoreWidth = scoreColumnWidth(
    evaluators.length,
    digits,
    lanes.some((l) => l.unscored && l.mean === undefined),
  );
  const question = problem.messages.filter((m) => m.role === "user").at(-1)?.content ?? "";

  // The chain's window: the newest lines, or `back` lines earlier; a marker counts what is above.
  const end = chained.lines.length - back;
  let start = Math.max(0, end - chainRows);
  let marker = "";
  if (start > 0) {
    start++;
    const hiddenChars = chained.lines.slice(0, start).reduce((n, l) => n + l.reduce((m, sg) => m + sg.text.length, 0), 0);
    const earlier = chained.ends.filter((e) => e <= hiddenChars).length;
    marker = `↑ ${count(earlier, "earlier sentence")} · ${key("page-up")}/${key("page-down")} scroll`;
  }
  const shownChain = chained.lines.slice(start, end);

  // The lanes' window keeps the selected one in view.
  const fold = lanes.length > laneRows;
  const laneSlots = fold ? Math.max(1, laneRows - 1) : laneRows;
  const first = fold ? Math.min(Math.max(0, selected - laneSlots + 1), lanes.length - laneSlots) : 0;
  const shownLanes = lanes.slice(first, first + laneSlots);

  const why = showWhy ? whySegments(selectedLane, theme) : undefined;
  const picked = selectedSegments(selectedLane, race.pick);
  const detail = why ? wrapSegments(why.segs, mainWidth) : wrapSegments([{ text: picked.label, role: "accent" }, ...picked.segs], mainWidth);
  const autoText = auto.mode === "steps" ? `auto ${auto.remaining} left` : auto.mode === "end" ? "auto to end" : paused ? "paused" : "";
  const ref = reveal ? `ref ${sanitize(problem.reference.value, { multiline: false })}` : `${key("reveal")}: reference`;

  const main = (
    <Box flexDirection="column" width={mainWidth} flexShrink={0}>
      <Text wrap="truncate-end">
        <R role="title">{fitWidth(`${problem.source}/${problem.id}`, 30)}</R>
        <R role="muted">{`  gen ${roles.generators.join(",") || "-"} · eval ${evaluators.join(",") || "-"}  `}</R>
        <R role={reveal ? "warning" : "muted"}>{ref}</R>
      </Text>
      {changedLines.length ? (
        <Lines lines={changedLines} />
      ) : (
        <Text wrap="truncate-end">
          <R role="muted">{fitWidth(sanitize(question, { multiline: false }), mainWidth)}</R>
        </Text>
      )}
      <Text wrap="truncate-end">
        <R role="border">{`── chain: ${count(chain.sentences.length, "sentence")}${chain.finished ? " · finished" : ""} `}</R>
        <R role="muted">{`${MARK_HUMAN} human choice`}</R>
        {showImportance ? (
          <R role={column ? "muted" : "warning"}>
            {column
              ? ` · importance: answer shift, ${count(importanceHere?.result?.targets.length ?? 0, "target")}`
              : importanceHere
                ? ` · no saved importance for this chain (concord importance)`
                : " · reading importance…"}
          </R>
        ) : null}
        <TreeLocationMark />
      </Text>
      <Box height={chainRows} flexDirection="column" flexShrink={0}>
        {marker ? <R role="muted">{fitWidth(marker, mainWidth)}</R> : null}
        {chain.sentences.length ? <Lines lines={shownChain} /> : <R role="muted">(empty: the first sentence is being raced)</R>}
      </Box>
      <Text wrap="truncate-end">
        <R role="border">{`── step ${race.step + 1} `}</R>
        <R role={race.generating ? "warning" : race.awaiting ? "accent" : "muted"}>
          {loading ? "loading models" : race.generating ? "generating" : race.awaiting ? "your call" : chain.finished ? "done" : "idle"}
        </R>
        <R role="muted">{`  ppl ${evaluators.length > 1 ? evaluators.join(" ") + " μ" : "(" + (evaluators[0] ?? "-") + ")"}  ${MARK_PICK} pick`}</R>
        {autoText ? <R role="accent">{`  ${autoText}`}</R> : null}
        {replay ? <R role="warning">{`  replay ${chain.sentences.length}/${replay.total} · ${key("go-live")}: live`}</R> : null}
      </Text>
      <Box flexDirection="column" height={laneRows} flexShrink={0}>
        {lanes.length === 0 ? (
          <R role="muted">{chain.finished ? "the chain is finished" : `no candidates (${key("next-step")} starts a step)`}</R>
        ) : (
          shownLanes.map((l) => (
            <LaneRow
              key={l.id}
              lane={l}
              width={mainWidth}
              idWidth={idWidth}
              selected={l === selectedLane}
              pick={l.id === race.pick}
              accepted={l.id === race.acceptedId}
              evaluators={evaluators}
              digits={digits}
              scoreWidth={scoreWidth}
            />
          ))
        )}
        {fold ? <R role="muted">{`+${lanes.length - shownLanes.length} more (${key("up")}/${key("down")})`}</R> : null}
      </Box>
      <Box flexDirection="column" height={detailRows} flexShrink={0}>
        {why ? <R role="muted">{fitWidth(why.title, mainWidth)}</R> : null}
        <Lines lines={detail} rows={why ? detailRows - 1 : detailRows} from="start" />
      </Box>
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
      {below ? (
        <Box height={belowRows} flexDirection="column" flexShrink={0}>
          <TargetsPanel width={width} mode="compact" />
        </Box>
      ) : null}
    </Box>
  );
}
