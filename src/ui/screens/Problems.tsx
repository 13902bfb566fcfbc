// Problems: datasets on the left, the problems of one (filterable) in the middle, a preview on
// the right with the reference answer hidden until asked. Saved sessions are one more "dataset".
// Each dataset keeps its own selection and filter while the interface runs.
import React from "react";
import { Box, Text } from "ink";
import type { Problem } from "../../core/types.js";
import { problemQuestion, problemTitle } from "../../core/problem-text.js";
import { oneLine } from "../../errors.js";
import { useActions, usePorts, useUi } from "../context.js";
import { count as counted } from "../../core/words.js";
import { keyFor } from "../keys.js";
import { fitWidth, padTo, sanitize } from "../sanitize.js";
import { Lines, R, wrapSegments } from "../widgets/text.js";
import { List } from "../widgets/list.js";
import { useList } from "../hooks/use-list.js";
import { useRemembered } from "../hooks/view-memory.js";
import { problemMatches, sessionMatches, SESSIONS_ENTRY, useDataset, useDatasetNames } from "../hooks/use-dataset.js";
import type { SessionEntry } from "../ports.js";

export { SESSIONS_ENTRY };

const line = (s: string) => sanitize(s, { multiline: false });
const problemLabel = (p: Problem) => `${p.id}  ${line(problemTitle(p))}`;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** When a session was last changed, short: "Dec 6 14:05" this year, "2025-12-06" before. */
export function sessionWhen(iso: string | undefined, now = new Date()): string {
  const d = iso ? new Date(iso) : undefined;
  if (!d || Number.isNaN(d.getTime())) return "?";
  if (d.getFullYear() !== now.getFullYear()) return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${MONTHS[d.getMonth()]} ${d.getDate()} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A role's models in a few characters: the first, and how many more. */
const few = (names: readonly string[] | undefined) => (!names?.length ? "-" : names.length === 1 ? names[0]! : `${names[0]}+${names.length - 1}`);

/** Date, problem, length and generators: enough to tell a problem's sessions apart. */
export const sessionLabel = (s: SessionEntry, now = new Date()) =>
  s.error
    ? `! ${sessionWhen(s.updatedAt, now)} ${s.id}`
    : `${sessionWhen(s.updatedAt, now)} ${s.problem ?? s.id} · ${s.sentences ?? "?"} sent. · ${line(few(s.roles?.generators))}`;

export function ProblemsScreen() {
  const { store, bindings, width, height, prompt } = useUi();
  const { sessions: sessionsPort, recording } = usePorts();
  const rows = Math.max(3, height - 1);
  // The reference shows for the problem it was asked for, never for the next one selected.
  const [revealed, setRevealed] = useRemembered<string | null>("problems:revealed", null);
  const [focus, setFocus] = useRemembered<0 | 1>("problems:focus", 0);
  const names = useDatasetNames();
  const datasets = useList({ items: names.names, rows, memory: "problems:datasets" });
  const dataset = datasets.selected;
  const data = useDataset(dataset);
  const isSessions = dataset === SESSIONS_ENTRY;
  const problems = useList({ items: data.problems, rows, memory: `problems:${dataset ?? ""}`, matches: problemMatches });
  const sessions = useList({ items: data.sessions, rows, memory: `problems:${SESSIONS_ENTRY}`, matches: sessionMatches });
  const list = isSessions ? sessions : problems;
  const error = names.error || data.error;

  const open = async () => {
    if (isSessions) {
      const entry = sessions.selected;
      if (!entry || !sessionsPort) return;
      if (entry.error) return store.getState().setStatus(entry.error);
      try {
        const s = await sessionsPort.load(entry.file);
        await store.getState().openProblem(s.problem, { ...s, info: { id: s.id, file: entry.file, createdAt: s.createdAt } });
      } catch (e) {
        store.getState().setStatus(oneLine(e));
      }
      return;
    }
    const p = problems.selected;
    if (!p) return;
    // A problem held in a trace recording replays its own recorded exchanges.
    if (recording && typeof p.meta.traceTag === "string") {
      try {
        return await store.getState().openProblem(await recording.open(p));
      } catch (e) {
        return store.getState().setStatus(oneLine(e));
      }
    }
    await store.getState().openProblem(p);
  };

  useActions((action) => {
    if ((focus === 0 ? datasets : list).act(action)) return true;
    switch (action) {
      case "focus-next":
        setFocus((f) => (f === 0 ? 1 : 0));
        return true;
      case "open":
        if (focus === 0) setFocus(1);
        else void open();
        return true;
      case "filter":
        // The old filter is offered selected: typing replaces it, Enter keeps it, an empty line clears it.
        prompt({ label: "filter", initial: list.filter, onSubmit: (v) => (list.setFilter(v.trim()), setFocus(1)) });
        return true;
      case "reveal": {
        const p = isSessions ? undefined : problems.selected;
        if (p) setRevealed((r) => (r === `${p.source}/${p.id}` ? null : `${p.source}/${p.id}`));
        return true;
      }
      default:
        return false;
    }
  });

  const dsWidth = Math.min(22, Math.max(12, Math.floor(width * 0.2)));
  // A session's row (date, problem, length, models) needs more room than a problem's title.
  const listWidth = isSessions ? Math.min(60, Math.max(18, Math.floor(width * 0.45))) : Math.min(40, Math.max(18, Math.floor(width * 0.32)));
  const previewWidth = Math.max(10, width - dsWidth - listWidth - 2);

  let preview: React.ReactNode;
  if (error) preview = <Lines lines={wrapSegments([{ text: sanitize(error), role: "error" }], previewWidth)} rows={rows} from="start" />;
  else if (isSessions) {
    const s = sessions.selected;
    preview = s ? (
      <Box flexDirection="column">
        <R role="title">{fitWidth(line(s.id), previewWidth)}</R>
        {s.error ? <Lines lines={wrapSegments([{ text: sanitize(s.error), role: "error" }], previewWidth)} rows={rows - 1} from="start" /> : null}
        {!s.error ? (
          <R role="text">{fitWidth(`${line(s.problem ?? "")} · ${counted(s.sentences ?? 0, "sentence")}${s.finished ? " · finished" : ""}`, previewWidth)}</R>
        ) : null}
        {!s.error ? <R role="text">{fitWidth(`generators ${line(s.roles?.generators.join(", ") || "-")}`, previewWidth)}</R> : null}
        {!s.error ? <R role="text">{fitWidth(`evaluators ${line(s.roles?.evaluators.join(", ") || "-")}`, previewWidth)}</R> : null}
        {!s.error ? <R role="text">{fitWidth(`targets ${line(s.roles?.targets.join(", ") || "-")}`, previewWidth)}</R> : null}
        {!s.error ? <R role="muted">{fitWidth(`updated ${sessionWhen(s.updatedAt)} (${s.updatedAt ?? "?"})`, previewWidth)}</R> : null}
        {!s.error ? <R role="muted">{fitWidth(`${keyFor(bindings, "open")}: resume`, previewWidth)}</R> : null}
      </Box>
    ) : (
      <R role="muted">{data.loaded ? (sessions.filter ? "nothing matches the filter" : "no saved sessions yet") : "…"}</R>
    );
  } else {
    const p = problems.selected;
    const reveal = !!p && revealed === `${p.source}/${p.id}`;
    if (!p) preview = <R role="muted">{data.loaded ? (problems.filter ? "nothing matches the filter" : "no problems") : "…"}</R>;
    else {
      const question = line(problemQuestion(p));
      const full = p.messages
        .filter((m) => m.role !== "system")
        .map((m) => sanitize(m.content))
        .join("\n");
      // The question on top; the whole prompt under it when it holds more (a patient note).
      const body = full.trim() === question.trim() ? "" : full;
      const refLine = reveal ? `reference (${p.reference.kind}): ${line(p.reference.value)}` : `reference hidden (${keyFor(bindings, "reveal")} shows it)`;
      const questionLines = wrapSegments([{ text: question, role: "accent" }], previewWidth).slice(0, Math.max(1, Math.floor((rows - 3) / 3)));
      preview = (
        <Box flexDirection="column">
          <R role="title">{fitWidth(`${p.source}/${p.id} · ${line(problemTitle(p))}`, previewWidth)}</R>
          <Lines lines={questionLines} />
          <Lines lines={wrapSegments([{ text: body, role: "text" }], previewWidth)} rows={Math.max(0, rows - 3 - questionLines.length)} from="start" />
          <R role={reveal ? "warning" : "muted"}>{fitWidth(refLine, previewWidth)}</R>
          <R role="muted">
            {fitWidth(
              `${keyFor(bindings, "open")}: ${typeof p.meta.traceTag === "string" ? "replay its recorded race" : "race on this problem"}`,
              previewWidth,
            )}
          </R>
        </Box>
      );
    }
  }

  const n = list.shown.length;
  const heading = `── ${isSessions ? "sessions" : "problems"} ${n ? `${list.cursor + 1}/${n}` : "0"}${data.loading ? "… loading" : ""}${list.filter ? ` /${line(list.filter)}` : ""}`;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{padTo(fitWidth("── datasets", dsWidth), dsWidth + 1)}</R>
        <R role="border">{padTo(fitWidth(heading, listWidth), listWidth + 1)}</R>
        <R role="border">{fitWidth("── preview", previewWidth)}</R>
      </Text>
      <Box flexDirection="row" height={rows} overflowY="hidden">
        <Box flexDirection="column" width={dsWidth} marginRight={1}>
          <List list={datasets} rows={rows} width={dsWidth} focused={focus === 0} label={(d) => line(d)} />
        </Box>
        <Box flexDirection="column" width={listWidth} marginRight={1}>
          {isSessions ? (
            <List list={sessions} rows={rows} width={listWidth} focused={focus === 1} label={(e) => sessionLabel(e)} empty={data.loaded ? "none" : "…"} />
          ) : (
            <List list={problems} rows={rows} width={listWidth} focused={focus === 1} label={problemLabel} empty={data.loaded ? "none" : "…"} />
          )}
        </Box>
        <Box flexDirection="column" width={previewWidth}>
          {preview}
        </Box>
      </Box>
    </Box>
  );
}
