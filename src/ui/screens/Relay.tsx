// Relay: an initiator writes the chain (shaded by its own per-token log-probability), the chain is
// cut early / mid / late or after any sentence by hand, and each continuer's completion from that
// cut stands side by side with its answer, its step scores and the first sentence where it departs.
import { useEffect, useMemo, useState } from "react";
import { Box, Text } from "ink";
import type { TokenLogprob } from "../../core/types.js";
import { runComparison, type CutName, type RelayComparison, type RelayResult, type RelayRun } from "../../engine/relay.js";
import { useConcord } from "../../state/store.js";
import { useActions, usePorts, useUi } from "../context.js";
import { useList } from "../hooks/use-list.js";
import { useRemembered } from "../hooks/view-memory.js";
import { List } from "../widgets/list.js";
import { oneLine } from "../../errors.js";
import type { RelayRecord } from "../../results/relay-store.js";
import { caseRelayResult, failingCases, type RelayCase } from "../../state/relay-cases.js";
import { importanceColumn, useSavedImportance } from "../hooks/use-saved-importance.js";
import { keyFor } from "../keys.js";
import { fitWidth, sanitize } from "../sanitize.js";
import { nllStyle, useTheme, type Theme } from "../theme.js";
import { Lines, R, wrapSegments, type Segment } from "../widgets/text.js";
import { count } from "../../core/words.js";

const COMPARISON_TEXT: Record<RelayComparison, string> = { agrees: " same", differs: " differs", "no-answer": " no answer from either" };
const COMPARISON_ROLE: Record<RelayComparison, "agree" | "disagree" | "muted"> = { agrees: "agree", differs: "disagree", "no-answer": "muted" };

const NAMED: CutName[] = ["early", "mid", "late"];
const score = (x: number | null | undefined) => (x === null || x === undefined ? " - " : x.toFixed(2).replace(/^0/, ""));

/** The initiator's tokens grouped by the sentence they start in (null when they do not spell the chain). */
export function tokensBySentence(cot: string, sentences: string[], tokens: TokenLogprob[]): TokenLogprob[][] | null {
  if (!tokens.length || tokens.map((t) => t.token).join("") !== cot.slice(0, tokens.map((t) => t.token).join("").length)) return null;
  const starts: number[] = [];
  let from = 0;
  for (const s of sentences) {
    const at = cot.indexOf(s, from);
    if (at < 0) return null;
    starts.push(at);
    from = at + s.length;
  }
  const out: TokenLogprob[][] = sentences.map(() => []);
  let pos = 0;
  let si = 0;
  for (const t of tokens) {
    // A token that starts with the space between two sentences belongs to the second.
    const at = pos + (t.token.length - t.token.trimStart().length);
    while (si + 1 < starts.length && at >= starts[si + 1]) si++;
    out[si].push(t);
    pos += t.token.length;
  }
  return out;
}

/** Why the step-score column is empty, or undefined when it holds scores. */
export function stepScoreGap(r: RelayResult): string | undefined {
  const all = [r.initiator.stepScores ?? [], ...r.runs.map((x) => x.stepScores ?? [])].flat();
  if (all.some((x) => typeof x === "number")) return undefined;
  if (!r.scorer) return "step scores: none, no evaluator is set to judge steps (Models, 5)";
  return `step scores: none, ${r.scorer} gave no score (its error is in the status line)`;
}

function cutLabel(r: RelayResult, i: number): string {
  const names = NAMED.filter((n) => r.cutPoints[n] === i);
  return names.length ? names.join("/") : "by hand";
}

/** One sentence as numbered, wrapped lines: "  5 .50 text…". */
function sentenceLines(n: number, stepScore: string, body: Segment[], width: number, gutterRole: Segment["role"] = "muted"): Segment[][] {
  const gutter = `${String(n).padStart(3)} ${stepScore.padStart(3)} `;
  // (With the importance column on, stepScore holds two figures: importance, then step score.)
  const lines = wrapSegments(body, Math.max(4, width - gutter.length));
  return lines.map((l, i) => [{ text: i === 0 ? gutter : " ".repeat(gutter.length), role: gutterRole }, ...l]);
}

function initiatorLines(r: RelayResult, cut: number, width: number, theme: Theme, importance?: Array<number | null>): { lines: Segment[][]; cutLine: number } {
  const init = r.initiator;
  const grouped = tokensBySentence(init.cot, init.sentences, init.tokens);
  const lines: Segment[][] = [];
  let cutLine = 0;
  init.sentences.forEach((s, i) => {
    const after = i > cut;
    const body: Segment[] = grouped
      ? grouped[i].map((t) => ({ text: sanitize(t.token, { multiline: false }), style: after ? theme.roles.muted : nllStyle(theme, -t.logprob) }))
      : [{ text: sanitize(s, { multiline: false }), role: after ? "muted" : "text" }];
    if (body.length) body[0] = { ...body[0], text: body[0].text.trimStart() };
    const imp = importance ? `${score(importance[i])} ` : "";
    lines.push(...sentenceLines(i + 1, imp + score(init.stepScores?.[i]), body, width));
    if (i === cut) {
      cutLine = lines.length;
      lines.push([{ text: fitWidth(`────┤ cut after ${i + 1}: ${cutLabel(r, i)} ├${"─".repeat(width)}`, width), role: "accent" }]);
    }
  });
  return { lines, cutLine };
}

function continuerLines(run: RelayRun, width: number): Segment[][] {
  const lines: Segment[][] = [];
  lines.push([{ text: fitWidth(`(sentences 1-${run.handover} from the initiator)`, width), role: "muted" }]);
  run.sentences.slice(run.handover).forEach((s, j) => {
    const i = run.handover + j;
    const departs = run.departure?.sentence === i;
    const body: Segment[] = [{ text: sanitize(s, { multiline: false }).trim(), role: departs ? "wrong" : "text" }];
    lines.push(...sentenceLines(i + 1, score(run.stepScores?.[i]), body, width, departs ? "wrong" : "muted"));
    if (departs)
      lines.push([{ text: fitWidth(`    ◆ departs here: answer "${sanitize(run.departure!.answer, { multiline: false })}"`, width), role: "wrong" }]);
  });
  return lines;
}

/** Where the Relay screen is: the live relay on the open problem, or a relay results folder. */
type RelayMode = { kind: "live" } | { kind: "folders" } | { kind: "cases"; dir: string } | { kind: "case"; dir: string; index: number };

/** The relay folders (those found and those named at start) and the records of the open one. */
function useRelayFolder(mode: RelayMode): { folders: string[] | null; records: RelayRecord[] | null; error: string } {
  const { results } = usePorts();
  const { store } = useUi();
  const [folders, setFolders] = useState<string[] | null>(null);
  const [read, setRead] = useState<{ dir?: string; records: RelayRecord[] | null; error: string }>({ records: null, error: "" });
  const dir = mode.kind === "cases" || mode.kind === "case" ? mode.dir : undefined;
  const wantFolders = mode.kind !== "live";
  useEffect(() => {
    if (!wantFolders) return;
    let live = true;
    if (!results?.relayFolders) return setFolders([]);
    void results.relayFolders([]).then(
      (f) => live && setFolders(f),
      () => live && setFolders([]),
    );
    return () => {
      live = false;
    };
  }, [results, wantFolders]);
  useEffect(() => {
    if (!dir || !results?.readRelay) return;
    let live = true;
    setRead({ dir, records: null, error: "" });
    void results.readRelay(dir).then(
      (r) => {
        if (!live) return;
        setRead({ dir, records: r.records, error: "" });
        if (r.issues.length) store.getState().setStatus(`${count(r.issues.length, "bad line")} skipped (first: ${r.issues[0]})`);
      },
      (e) => live && setRead({ dir, records: null, error: oneLine(e) }),
    );
    return () => {
      live = false;
    };
  }, [dir, results, store]);
  return { folders, records: read.dir === dir ? read.records : null, error: read.dir === dir ? read.error : "" };
}

/** One line per failing case: broken (initiator right) marked first. */
export function caseLabel(c: RelayCase): string {
  const init = c.initiatorRecord ? `initiator "${c.initiatorRecord.answer}"` : "initiator -";
  return `${c.broken ? "broken" : "wrong "} ${c.problemId}  ${c.initiator} -> ${c.continuer}  ${c.stage}${c.sample ? ` #${c.sample + 1}` : ""}  answer "${c.hybrid.answer}" (${init})`;
}

export function RelayScreen() {
  const { store, width, height, bindings } = useUi();
  const theme = useTheme();
  const problem = useConcord(store, (s) => s.problem);
  const relay = useConcord(store, (s) => s.relay);
  const [cutAt, setCutAt] = useState<number | null>(null);
  const [mode, setMode] = useRemembered<RelayMode>("relay:mode", { kind: "live" });
  const [showImportance, setShowImportance] = useRemembered("relay:importance", false);
  const saved = useRelayFolder(mode);
  const cases = useMemo(() => (saved.records ? failingCases(saved.records) : []), [saved.records]);
  const listRows = Math.max(1, height - 3);
  const folderList = useList({ items: saved.folders ?? [], rows: listRows, memory: "relay:folders" });
  const caseList = useList({ items: cases, rows: listRows, memory: `relay:cases:${mode.kind === "cases" || mode.kind === "case" ? mode.dir : ""}` });
  const openCase = mode.kind === "case" ? cases[mode.index] : undefined;
  const key = problem ? `${problem.source}/${problem.id}` : undefined;
  const r =
    mode.kind === "case"
      ? openCase && saved.records
        ? caseRelayResult(saved.records, openCase)
        : undefined
      : relay.problemKey === key
        ? relay.result
        : undefined;
  const n = r?.initiator.sentences.length ?? 0;
  const maxCut = Math.max(0, n - 2);
  const cut = r ? Math.max(0, Math.min(maxCut, cutAt ?? (openCase ? (openCase.hybrid.cutSentence ?? r.cutPoints.mid) : r.cutPoints.mid))) : 0;
  const runsHere = r ? r.runs.filter((x) => x.cutSentence === cut) : [];
  const chainProblem = openCase ? { source: openCase.dataset, id: openCase.problemId } : problem ? { source: problem.source, id: problem.id } : undefined;
  const importanceHere = useSavedImportance(showImportance, r ? chainProblem : undefined, r?.initiator.sentences);

  useActions((action) => {
    const st = store.getState();
    if (action === "why") {
      setShowImportance(!showImportance);
      return true;
    }
    if (action === "relay-results") {
      setMode(mode.kind === "live" ? { kind: "folders" } : { kind: "live" });
      setCutAt(null);
      return true;
    }
    if (mode.kind === "folders" || mode.kind === "cases") {
      const list = mode.kind === "folders" ? folderList : caseList;
      if (list.act(action)) return true;
      if (action === "run-relay") {
        if (mode.kind === "folders" && folderList.selected) setMode({ kind: "cases", dir: folderList.selected });
        else if (mode.kind === "cases" && caseList.selected) {
          setMode({ kind: "case", dir: mode.dir, index: cases.indexOf(caseList.selected) });
          setCutAt(null);
        }
        return true;
      }
      if (action === "cancel") {
        setMode(mode.kind === "cases" ? { kind: "folders" } : { kind: "live" });
        return true;
      }
      return false;
    }
    if (mode.kind === "case" && action === "cancel") {
      setMode({ kind: "cases", dir: mode.dir });
      setCutAt(null);
      return true;
    }
    if (mode.kind === "case" && action === "run-relay") {
      st.setStatus(`a saved case: ${keyFor(bindings, "cancel")} goes back to the list`);
      return true;
    }
    switch (action) {
      case "cut-prev":
      case "up":
        if (r) setCutAt(Math.max(0, cut - 1));
        return true;
      case "cut-next":
      case "down":
        if (r) setCutAt(Math.min(maxCut, cut + 1));
        return true;
      case "focus-next": {
        if (!r) return true;
        const named = [...new Set(NAMED.map((c) => r.cutPoints[c]))].sort((a, b) => a - b);
        setCutAt(named.find((x) => x > cut) ?? named[0]);
        return true;
      }
      case "run-relay":
        if (!r) st.runRelay();
        else if (runsHere.length)
          st.setStatus(
            `already continued from sentence ${cut + 1}; move the cut (${keyFor(bindings, "cut-prev")}/${keyFor(bindings, "cut-next")}) to try another`,
          );
        else st.runRelay(cut);
        return true;
      case "cancel":
        st.cancelRelay();
        return true;
      default:
        return false;
    }
  });

  const hint = (text: string) => <R role="muted">{fitWidth(text, width)}</R>;
  if (mode.kind === "folders" || mode.kind === "cases") {
    const folders = mode.kind === "folders";
    const title = folders ? `Relay results folders ${saved.folders?.length ?? 0}` : `Failing cases ${cases.length} · ${mode.dir}`;
    const empty = folders
      ? saved.folders === null
        ? "looking for relay results…"
        : "No relay results folders (a folder with relay.jsonl, under ./results or named with --results)."
      : saved.error
        ? saved.error
        : saved.records === null
          ? "reading…"
          : "No failing cases: every hybrid chain answered right.";
    return (
      <Box flexDirection="column" height={height}>
        <Text wrap="truncate-end">
          <R role="title">Relay </R>
          <R role="muted">{fitWidth(sanitize(title, { multiline: false }), Math.max(10, width - 6))}</R>
        </Text>
        {folders ? (
          <List list={folderList} rows={listRows} width={width} label={(d) => sanitize(d, { multiline: false })} empty={empty} />
        ) : (
          <List list={caseList} rows={listRows} width={width} label={(c) => sanitize(caseLabel(c), { multiline: false })} empty={empty} />
        )}
        {hint(
          `${keyFor(bindings, "run-relay")}: open · ${keyFor(bindings, "cancel")}: back · ${keyFor(bindings, "relay-results")}: live relay · broken = initiator right, hybrid wrong (listed first)`,
        )}
      </Box>
    );
  }
  if (mode.kind === "case" && !r)
    return (
      <Box flexDirection="column" height={height}>
        <R role="title">Relay</R>
        {hint(saved.error || (saved.records === null ? "reading…" : `no such case: ${keyFor(bindings, "cancel")} goes back`))}
      </Box>
    );
  if (mode.kind === "live" && !problem)
    return (
      <R role="muted">
        {fitWidth(
          `No problem open. Pick one on the Problems screen (${keyFor(bindings, "screen-problems")}), or ${keyFor(bindings, "relay-results")} for relay results folders.`,
          width,
        )}
      </R>
    );
  const running = mode.kind === "live" && relay.status === "running" && relay.problemKey === key;
  const caseHead =
    openCase && mode.kind === "case"
      ? `case ${mode.index + 1}/${cases.length}: ${openCase.dataset}/${openCase.problemId} ${openCase.initiator} -> ${openCase.continuer} ${openCase.stage}${openCase.sample ? ` #${openCase.sample + 1}` : ""}${openCase.broken ? " (broken: the initiator was right)" : ""}`
      : undefined;
  const head = caseHead ? (
    <Text wrap="truncate-end">
      <R role="title">Relay </R>
      <R role="warning">{fitWidth(sanitize(caseHead, { multiline: false }), Math.max(10, width - 6))}</R>
    </Text>
  ) : (
    <Text wrap="truncate-end">
      <R role="title">Relay </R>
      <R role="muted">{fitWidth(problem ? `${problem.source}/${problem.id}` : "", 28)}</R>
      {running ? <R role="warning">{`  running: ${sanitize(relay.progress, { multiline: false })} (${keyFor(bindings, "cancel")} cancels)`}</R> : null}
      {relay.status === "failed" && relay.problemKey === key ? <R role="error">{`  failed: ${sanitize(relay.error ?? "", { multiline: false })}`}</R> : null}
      {relay.status === "cancelled" && relay.problemKey === key ? <R role="muted">{"  cancelled"}</R> : null}
    </Text>
  );

  if (!r) {
    const who = store.getState().relayInfo();
    return (
      <Box flexDirection="column" height={height}>
        {head}
        {who ? (
          <R role="text">
            {fitWidth(
              `initiator ${who.initiator ?? "-"} writes a chain; continuers ${who.continuers.join(", ") || "-"} finish it from early, mid and late cuts.`,
              width,
            )}
          </R>
        ) : (
          <R role="muted">{fitWidth("No relay models: recordings replay races only. Configure an initiator and continuers (5).", width)}</R>
        )}
        {who && !running ? <R role="accent">{`${keyFor(bindings, "run-relay")}: run the relay on this problem`}</R> : null}
      </Box>
    );
  }

  const init = r.initiator;
  const leftW = Math.max(24, Math.floor(width * 0.45));
  const rightW = width - leftW - 1;
  // head, initiator line, column headings and the legend take four rows.
  const bodyRows = Math.max(2, height - 4);
  const impColumn = importanceColumn(importanceHere?.result, n);
  const left = initiatorLines(r, cut, leftW, theme, impColumn);
  const leftFrom = Math.max(0, Math.min(left.lines.length - bodyRows, left.cutLine - Math.floor(bodyRows / 2)));
  // As many continuers side by side as can be read (28 columns each); the others are counted.
  const fitCols = Math.max(1, Math.floor((rightW + 1) / 29));
  const shownRuns = runsHere.slice(0, fitCols);
  const moreRuns = runsHere.length - shownRuns.length;
  const conts = shownRuns.length;
  const colW = conts ? Math.floor((rightW - (conts - 1)) / conts) : rightW;
  const mark = (ok: boolean) => (ok ? "✓" : "✗");

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        {head}
        {moreRuns > 0 ? <R role="warning">{`  +${moreRuns} more continuer${moreRuns > 1 ? "s" : ""} (widen the terminal)`}</R> : null}
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">{`initiator ${init.model}: ${count(n, "sentence")}, answer `}</R>
        <R
          role={init.answer.grade.correct ? "correct" : "wrong"}
        >{`"${fitWidth(sanitize(init.answer.grade.answer, { multiline: false }), 20)}" ${mark(init.answer.grade.correct)}`}</R>
        <R role="accent">{`  cut after sentence ${cut + 1} (${cutLabel(r, cut)})`}</R>
        {r.scorer && !stepScoreGap(r) ? <R role="muted">{` · step scores: ${r.scorer}`}</R> : null}
        {showImportance && !impColumn ? (
          <R role="warning">{importanceHere ? " · no saved importance for this chain (concord importance)" : " · reading importance…"}</R>
        ) : null}
      </Text>
      <Box flexDirection="row" height={bodyRows + 1} overflow="hidden">
        <Box flexDirection="column" width={leftW} marginRight={1}>
          <R role="border">
            {fitWidth(
              impColumn
                ? `── ${init.model} (importance: answer shift, ${count(importanceHere?.result?.targets.length ?? 0, "target")})`
                : `── ${init.model} (shading: -log p)`,
              leftW,
            )}
          </R>
          <Lines lines={left.lines.slice(leftFrom, leftFrom + bodyRows)} />
        </Box>
        {conts === 0 ? (
          <Box flexDirection="column" width={rightW}>
            <R role="border">{fitWidth("── continuers", rightW)}</R>
            <R role="muted">
              {fitWidth(running ? "continuing…" : `no continuation from sentence ${cut + 1} yet: ${keyFor(bindings, "run-relay")} runs it`, rightW)}
            </R>
          </Box>
        ) : (
          shownRuns.map((run, i) => (
            <Box key={run.continuer + i} flexDirection="column" width={colW} marginRight={i < conts - 1 ? 1 : 0}>
              <Text wrap="truncate-end">
                <R role="border">{"── "}</R>
                <R role="title">{fitWidth(run.continuer, Math.max(6, colW - 18))}</R>
                <R
                  role={run.answer.grade.correct ? "correct" : "wrong"}
                >{` "${fitWidth(sanitize(run.answer.grade.answer, { multiline: false }), 8)}" ${mark(run.answer.grade.correct)}`}</R>
                <R role={COMPARISON_ROLE[runComparison(run, r!.initiator)]}>{COMPARISON_TEXT[runComparison(run, r!.initiator)]}</R>
              </Text>
              <Lines lines={continuerLines(run, colW)} rows={bodyRows} from="start" />
            </Box>
          ))
        )}
      </Box>
      <Text wrap="truncate-end">
        {stepScoreGap(r) ? <R role="warning">{fitWidth(`${stepScoreGap(r)} · `, width)}</R> : null}
        <R role="muted">
          {fitWidth(
            `${keyFor(bindings, "cut-prev")}/${keyFor(bindings, "cut-next")} move the cut · ${keyFor(bindings, "focus-next")} next named cut · ${mode.kind === "case" ? `${keyFor(bindings, "cancel")} back to the cases` : `${keyFor(bindings, "run-relay")} continue from it · ${keyFor(bindings, "relay-results")} results folders`} · ${keyFor(bindings, "why")} importance · gutter: sentence, ${impColumn ? "importance, " : ""}step score · ◆ first departing sentence`,
            width,
          )}
        </R>
      </Text>
    </Box>
  );
}
