// Problems: datasets on the left, the problems of one (filterable) in the middle, a preview on
// the right with the reference answer hidden until asked. Saved sessions are one more "dataset".
import React, { useEffect, useMemo, useState } from "react";
import { Box, Text } from "ink";
import type { Problem } from "../../core/types.js";
import type { ProblemCatalog } from "../../state/catalog.js";
import { listSessions, loadSession, type SessionEntry } from "../../state/sessions.js";
import { oneLine } from "../../errors.js";
import { useActions, useUi } from "../context.js";
import { count as counted } from "../words.js";
import { keyFor } from "../keys.js";
import { fitWidth, padTo, sanitize } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { Lines, R, wrapSegments } from "../widgets/text.js";

export const SESSIONS_ENTRY = "saved sessions";

function windowAround<T>(items: T[], index: number, rows: number): { items: T[]; offset: number } {
  if (items.length <= rows) return { items, offset: 0 };
  const offset = Math.max(0, Math.min(items.length - rows, index - Math.floor(rows / 2)));
  return { items: items.slice(offset, offset + rows), offset };
}

export function ProblemsScreen({ catalog, sessionsDir }: { catalog?: ProblemCatalog; sessionsDir?: string }) {
  const { store, bindings, width, height, prompt } = useUi();
  const t = useTheme();
  // The reference shows for the problem it was asked for, never for the next one selected.
  const [revealed, setRevealed] = useState<string | null>(null);
  const [datasets, setDatasets] = useState<string[]>([]);
  const [di, setDi] = useState(0);
  const [pi, setPi] = useState(0);
  const [focus, setFocus] = useState<0 | 1>(0);
  const [filter, setFilter] = useState("");
  const [problems, setProblems] = useState<Problem[]>([]);
  const [sessions, setSessions] = useState<SessionEntry[]>([]);
  const [error, setError] = useState("");
  const [loaded, setLoaded] = useState(false);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    let live = true;
    (async () => {
      const names = catalog ? await catalog.datasets() : [];
      if (live) setDatasets(sessionsDir ? [...names, SESSIONS_ENTRY] : names);
    })().catch((e) => live && setError(oneLine(e)));
    return () => {
      live = false;
    };
  }, [catalog, sessionsDir]);

  const dataset = datasets[di];
  useEffect(() => {
    let live = true;
    setError("");
    setLoaded(false);
    setLoading(false);
    setProblems([]);
    if (!dataset) return;
    if (dataset !== SESSIONS_ENTRY && catalog?.watch) {
      // Streamed: the list and its count grow while the file is read.
      let reported = false;
      const off = catalog.watch(dataset, (st) => {
        if (!live) return;
        setProblems(st.problems);
        setLoading(st.loading);
        if (st.error) setError(st.error);
        if (!st.loading) {
          setLoaded(true);
          if (st.badRows && !reported) {
            reported = true;
            store.getState().setStatus(`${dataset}: ${st.badRows} bad row${st.badRows > 1 ? "s" : ""} skipped (first: ${st.firstBad ?? "?"})`);
          }
        }
      });
      return () => {
        live = false;
        off();
      };
    }
    (async () => {
      if (dataset === SESSIONS_ENTRY) {
        const list = await listSessions(sessionsDir!);
        if (live) setSessions(list);
      } else if (catalog) {
        const list = await catalog.problems(dataset);
        if (live) setProblems(list);
      }
      if (live) setLoaded(true);
    })().catch((e) => live && setError(oneLine(e)));
    return () => {
      live = false;
    };
  }, [dataset, catalog, sessionsDir, store]);

  const isSessions = dataset === SESSIONS_ENTRY;
  const needle = filter.toLowerCase();
  const shownProblems = useMemo(
    () => (needle ? problems.filter((p) => p.id.toLowerCase().includes(needle) || p.messages.some((m) => m.content.toLowerCase().includes(needle))) : problems),
    [problems, needle],
  );
  const shownSessions = useMemo(
    () => (needle ? sessions.filter((s) => `${s.id} ${s.problem ?? ""}`.toLowerCase().includes(needle)) : sessions),
    [sessions, needle],
  );
  const count = isSessions ? shownSessions.length : shownProblems.length;
  const cur = Math.min(pi, Math.max(0, count - 1));

  const open = async () => {
    if (isSessions) {
      const entry = shownSessions[cur];
      if (!entry) return;
      if (entry.error) return store.getState().setStatus(entry.error);
      try {
        const s = await loadSession(entry.file);
        await store.getState().openProblem(s.problem, { chain: s.chain, targets: s.targets, roles: s.roles, info: { id: s.id, file: entry.file, createdAt: s.createdAt } });
      } catch (e) {
        store.getState().setStatus(oneLine(e));
      }
      return;
    }
    const p = shownProblems[cur];
    if (p) await store.getState().openProblem(p);
  };

  useActions((action) => {
    switch (action) {
      case "up":
      case "down": {
        const d = action === "up" ? -1 : 1;
        if (focus === 0) {
          setDi((i) => Math.max(0, Math.min(datasets.length - 1, i + d)));
          setPi(0);
        } else setPi((i) => Math.max(0, Math.min(count - 1, i + d)));
        return true;
      }
      case "focus-next":
        setFocus((f) => (f === 0 ? 1 : 0));
        return true;
      case "open":
        if (focus === 0) setFocus(1);
        else void open();
        return true;
      case "filter":
        prompt({ label: "filter", initial: filter, onSubmit: (v) => (setFilter(v), setPi(0), setFocus(1)) });
        return true;
      case "reveal": {
        const p = isSessions ? undefined : shownProblems[cur];
        if (p) setRevealed((r) => (r === `${p.source}/${p.id}` ? null : `${p.source}/${p.id}`));
        return true;
      }
      default:
        return false;
    }
  });

  const rows = Math.max(3, height - 2);
  const dsWidth = Math.min(22, Math.max(12, Math.floor(width * 0.2)));
  const listWidth = Math.min(34, Math.max(18, Math.floor(width * 0.3)));
  const previewWidth = Math.max(10, width - dsWidth - listWidth - 2);
  const ds = windowAround(datasets, di, rows);
  const listLabels = isSessions
    ? shownSessions.map((s) => `${s.error ? "! " : ""}${s.problem ?? s.id} (${s.sentences ?? "?"})`)
    : shownProblems.map((p) => `${p.id}  ${sanitize(p.messages.at(-1)?.content ?? "", { multiline: false })}`);
  const list = windowAround(listLabels, cur, rows);

  let preview: React.ReactNode;
  if (error) preview = <R role="error">{error}</R>;
  else if (isSessions) {
    const s = shownSessions[cur];
    preview = s ? (
      <Box flexDirection="column">
        <R role="title">{fitWidth(s.id, previewWidth)}</R>
        {s.error ? <Lines lines={wrapSegments([{ text: sanitize(s.error), role: "error" }], previewWidth)} rows={rows - 1} from="start" /> : null}
        {!s.error ? <R role="text">{`${s.problem} · ${counted(s.sentences ?? 0, "sentence")}${s.finished ? " · finished" : ""}`}</R> : null}
        {!s.error ? <R role="muted">{`updated ${s.updatedAt ?? "?"}`}</R> : null}
        {!s.error ? <R role="muted">{`${keyFor(bindings, "open")}: resume`}</R> : null}
      </Box>
    ) : (
      <R role="muted">{loaded ? "no saved sessions yet" : "…"}</R>
    );
  } else {
    const p = shownProblems[cur];
    const reveal = !!p && revealed === `${p.source}/${p.id}`;
    if (!p) preview = <R role="muted">{loaded ? (filter ? "nothing matches the filter" : "no problems") : "…"}</R>;
    else {
      const body = p.messages
        .filter((m) => m.role !== "system")
        .map((m) => sanitize(m.content))
        .join("\n");
      const refLine = reveal ? `reference (${p.reference.kind}): ${sanitize(p.reference.value, { multiline: false })}` : `reference hidden (${keyFor(bindings, "reveal")} shows it)`;
      preview = (
        <Box flexDirection="column">
          <R role="title">{fitWidth(`${p.source}/${p.id}`, previewWidth)}</R>
          <Lines lines={wrapSegments([{ text: body, role: "text" }], previewWidth)} rows={Math.max(1, rows - 3)} from="start" />
          <R role={reveal ? "warning" : "muted"}>{fitWidth(refLine, previewWidth)}</R>
          <R role="muted">{fitWidth(`${keyFor(bindings, "open")}: race on this problem`, previewWidth)}</R>
        </Box>
      );
    }
  }

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{padTo("── datasets", dsWidth + 1)}</R>
        <R role="border">{padTo(`── ${isSessions ? "sessions" : "problems"} ${count}${loading ? "… loading" : ""}${filter ? ` /${sanitize(filter, { multiline: false })}` : ""}`, listWidth + 1)}</R>
        <R role="border">── preview</R>
      </Text>
      <Box flexDirection="row">
        <Box flexDirection="column" width={dsWidth} marginRight={1}>
          {ds.items.length === 0 ? <R role="muted">none</R> : null}
          {ds.items.map((d, i) => {
            const sel = i + ds.offset === di;
            return (
              <Text key={d} wrap="truncate-end" {...(sel ? (focus === 0 ? t.roles.selection : t.roles.accent) : t.roles.text)}>
                {padTo(fitWidth(d, dsWidth), dsWidth)}
              </Text>
            );
          })}
        </Box>
        <Box flexDirection="column" width={listWidth} marginRight={1}>
          {list.items.map((label, i) => {
            const sel = i + list.offset === cur;
            return (
              <Text key={i} wrap="truncate-end" {...(sel ? (focus === 1 ? t.roles.selection : t.roles.accent) : t.roles.text)}>
                {padTo(fitWidth(label, listWidth), listWidth)}
              </Text>
            );
          })}
        </Box>
        <Box flexDirection="column" width={previewWidth}>
          {preview}
        </Box>
      </Box>
    </Box>
  );
}
