// Results: the results folders (./results/* and those named with --results), the selected
// folder's conditions x metrics table (paper and strict readings), for the selected condition
// its full label and pairwise consistency heatmap, and, on Enter, its items: what each target
// answered. Read through the results port, like `concord report`.
import React, { useMemo } from "react";
import { Box, Text } from "ink";
import { fmt3, fmtMeanStd, type ConditionSummary } from "../../results/report.js";
import { variantLabel } from "../../results/labels.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { displayWidth, fitWidth, padTo, sanitize } from "../sanitize.js";
import { useTheme, type Role } from "../theme.js";
import { count } from "../../core/words.js";
import { Lines, R, wrapSegments } from "../widgets/text.js";
import { Table, type Cell } from "../widgets/table.js";
import { PlainTable, type PlainColumn } from "../widgets/plain-table.js";
import { List } from "../widgets/list.js";
import { useList, type ListView } from "../hooks/use-list.js";
import { useRemembered } from "../hooks/view-memory.js";
import { useResultsFolder, useResultsFolders } from "../hooks/use-results.js";
import type { ResultItem } from "../ports.js";

/** Heatmap cell role for a pairwise consistency value. */
export function heatRole(v: number | null): Role {
  if (v === null) return "muted";
  return v >= 0.75 ? "agree" : v >= 0.5 ? "warning" : "disagree";
}

function meanAccuracy(c: ConditionSummary): string {
  if (!c.accuracy.length) return "—";
  return fmt3(c.accuracy.reduce((a, b) => a + b.accuracy, 0) / c.accuracy.length);
}

const line = (s: string) => sanitize(s, { multiline: false });

interface MetricColumn extends PlainColumn {
  value: (c: ConditionSummary) => string;
}

/** The metric columns, most wanted first: the narrower the terminal, the fewer are shown. */
const METRICS: MetricColumn[] = [
  { header: "strict", width: 13, value: (c) => fmtMeanStd(c.strict.consistency) },
  { header: "items", width: 5, align: "right", value: (c) => String(c.items) },
  { header: "acc", width: 5, align: "right", value: meanAccuracy },
  { header: "variant", width: 10, value: (c) => variantLabel(c.variant) },
  { header: "paper", width: 13, value: (c) => fmtMeanStd(c.paper.consistency) },
  {
    header: "CC    CW    IN",
    width: 17,
    value: (c) =>
      c.strict.split ? `${fmt3(c.strict.split.consistentCorrect)} ${fmt3(c.strict.split.consistentWrong)} ${fmt3(c.strict.split.inconsistent)}` : "—",
  },
];

const DISPLAY = ["variant", "items", "paper", "strict", "acc", "CC    CW    IN"];

/** The label column and the metrics that fit `width` (ink-table pads each cell by one column a side). */
export function tableColumns(conds: ConditionSummary[], width: number): { label: number; metrics: MetricColumn[] } {
  const longest = Math.max(9, ...conds.map((c) => displayWidth(line(c.label))));
  // The label whole when it can be (up to 32 columns): a cut label cannot be told from its neighbours.
  const minLabel = Math.min(longest, 32, Math.max(12, width - 40));
  let used = 3 + minLabel + 2;
  const metrics: MetricColumn[] = [];
  for (const m of METRICS) {
    if (used + m.width + 2 > width) break;
    metrics.push(m);
    used += m.width + 2;
  }
  const order = DISPLAY.map((h) => metrics.find((m) => m.header === h)).filter((m): m is MetricColumn => !!m);
  return { label: Math.min(longest, minLabel + (width - used)), metrics: order };
}

function Heatmap({ c, width }: { c: ConditionSummary; width: number }) {
  const t = useTheme();
  const n = c.targets.length;
  const labelW = Math.min(14, Math.max(6, ...c.targets.map((x) => x.label.length)) + 1);
  const cellW = Math.max(5, Math.min(7, Math.floor((width - labelW) / Math.max(1, n))));
  const cell = (s: string) => padTo(fitWidth(s, cellW - 1), cellW - 1) + " ";
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text {...t.roles.muted}>{padTo("", labelW)}</Text>
        {c.targets.map((x) => (
          <Text key={x.id} {...t.roles.muted}>
            {cell(line(x.label))}
          </Text>
        ))}
      </Text>
      {c.targets.map((a, i) => (
        <Text key={a.id} wrap="truncate-end">
          <Text {...t.roles.muted}>{padTo(fitWidth(line(a.label), labelW - 1), labelW)}</Text>
          {c.strict.matrix[i].map((v, j) => (
            <React.Fragment key={j}>
              <Text {...t.roles[i === j ? "muted" : heatRole(v)]}>{padTo(i === j ? "  —" : v === null ? "  -" : ` ${v.toFixed(2)}`, cellW - 1)}</Text>
              <Text> </Text>
            </React.Fragment>
          ))}
        </Text>
      ))}
    </Box>
  );
}

function Items({ c, list, width }: { c: ConditionSummary; list: ListView<ResultItem>; width: number }) {
  const items = list.shown;
  const itemW = Math.min(24, Math.max(10, ...items.map((x) => displayWidth(line(x.item)))));
  const n = c.targets.length;
  const cellW = Math.max(6, Math.floor((width - itemW - 1) / Math.max(1, n)) - 1);
  const { start, end } = list.window;
  const tableRows = list.shown.slice(start, end).map((x, i): Cell[] => [
    { text: x.item, role: start + i === list.cursor ? "selection" : "text" },
    ...c.targets.map((tg): Cell => {
      const a = x.answers.find((y) => y.target === tg.id);
      if (!a) return { text: "·", role: "muted" };
      return { text: `${a.correct ? "✓" : "✗"} ${a.answer ?? "(none)"}`, role: a.correct ? "correct" : "wrong" };
    }),
  ]);
  return (
    <Table
      columns={[{ header: `item ${list.cursor + 1}/${items.length}`, width: itemW }, ...c.targets.map((x) => ({ header: x.label, width: cellW }))]}
      rows={tableRows}
    />
  );
}

export function ResultsScreen() {
  const { width, height, prompt, bindings } = useUi();
  const t = useTheme();
  const { folders, add } = useResultsFolders();
  const [focus, setFocus] = useRemembered<0 | 1 | 2>("results:focus", 0);
  const folderRows = Math.min(3, Math.max(1, folders?.length ?? 1));
  const folderList = useList({ items: folders ?? [], rows: folderRows, memory: "results:folders" });
  const dir = folderList.selected;
  const { folder, error } = useResultsFolder(dir);
  const conds = folder?.report.conditions ?? [];
  // Below the folders: the folder line, then the table, the selected label and the heatmap.
  const bodyRows = Math.max(2, height - folderRows - 2);
  const c0 = conds[0];
  const heatRows = c0 ? c0.targets.length + 2 : 0;
  const showHeat = heatRows > 0 && bodyRows - heatRows - 2 >= 4;
  const tableRows = Math.max(1, bodyRows - 1 - 1 - (showHeat ? heatRows : 0));
  const condList = useList({ items: conds, rows: tableRows, memory: `results:${dir ?? ""}` });
  const c = condList.selected;
  const drill = focus === 2 && !!c && !!folder;
  const items = useMemo(() => (drill ? folder.items(c.key) : []), [drill, folder, c]);
  const itemList = useList({ items, rows: Math.max(1, bodyRows - 2), memory: `results:items:${dir ?? ""}:${c?.key ?? ""}` });

  useActions((action) => {
    if ((focus === 0 ? folderList : focus === 1 ? condList : itemList).act(action)) return true;
    switch (action) {
      case "open":
        if (focus === 0 && folders?.length) setFocus(1);
        else if (focus === 1 && c) setFocus(2);
        else if (focus === 2) setFocus(1);
        else
          prompt({
            label: "results folder",
            initial: dir ?? "results",
            onSubmit: (v) => {
              const d = v.trim();
              if (d) add(d);
            },
          });
        return true;
      case "cancel":
        if (focus === 2) setFocus(1);
        return true;
      case "focus-next":
        setFocus((f) => (f === 0 ? 1 : 0));
        return true;
      default:
        return false;
    }
  });

  const cols = tableColumns(conds, width);
  let body: React.ReactNode;
  if (!dir)
    body = (
      <R role="muted">
        {fitWidth(
          folders === null ? "looking for results…" : `No results folders. ${keyFor(bindings, "open")}: open one by path (or start with --results <dir>).`,
          width,
        )}
      </R>
    );
  else if (error) body = <Lines lines={wrapSegments([{ text: sanitize(error), role: "error" }], width)} rows={bodyRows} from="start" />;
  else if (!folder) body = <R role="muted">reading…</R>;
  else if (!conds.length) body = <R role="muted">{fitWidth(`${line(dir)}: no result records`, width)}</R>;
  else if (drill)
    body = (
      <Box flexDirection="column">
        <R role="muted">{fitWidth(`${line(c.label)} · ${variantLabel(c.variant)}: answers by item (${keyFor(bindings, "cancel")} goes back)`, width)}</R>
        <Items c={c} list={itemList} width={width} />
      </Box>
    );
  else {
    const { start, end } = condList.window;
    const rows = conds.slice(start, end).map((x) => [x.label, ...cols.metrics.map((m) => m.value(x))]);
    body = (
      <Box flexDirection="column">
        <PlainTable
          columns={[{ header: "condition", width: cols.label }, ...cols.metrics]}
          rows={rows}
          marker={focus === 1 ? condList.cursor - start : undefined}
        />
        {c ? (
          <Text wrap="truncate-end">
            <R role="accent">{fitWidth(`pairwise consistency, strict: ${line(c.label)} · ${variantLabel(c.variant)}`, Math.max(10, width - 32))}</R>
            <R role="muted">{`  ${keyFor(bindings, "open")}: items`}</R>
            {showHeat ? <Text {...t.roles.agree}>{" ≥.75 "}</Text> : null}
            {showHeat ? <Text {...t.roles.warning}>{" ≥.50 "}</Text> : null}
            {showHeat ? <Text {...t.roles.disagree}>{" <.50 "}</Text> : null}
          </Text>
        ) : null}
        {c && showHeat ? <Heatmap c={c} width={width} /> : null}
      </Box>
    );
  }

  return (
    <Box flexDirection="column" height={height} overflowY="hidden">
      <Text wrap="truncate-end">
        <R role="border">{`── results folders ${folders?.length ?? 0} `}</R>
        <R role="muted">
          {fitWidth(
            `${keyFor(bindings, "focus-next")}: folders/conditions · ${keyFor(bindings, "open")}: open${folder?.issues.length ? ` · ${count(folder.issues.length, "bad line")}` : ""}`,
            Math.max(0, width - 24),
          )}
        </R>
      </Text>
      <Box flexDirection="column" height={folderRows}>
        <List list={folderList} rows={folderRows} width={Math.min(width, 60)} focused={focus === 0} label={(f) => line(f)} empty="none" />
      </Box>
      <R role="border">
        {fitWidth(
          `── ${dir ? line(dir) : "no folder"}: ${count(conds.length, "condition")}${conds.length ? ` · ${condList.cursor + 1}/${conds.length}` : ""}`,
          width,
        )}
      </R>
      {body}
    </Box>
  );
}
