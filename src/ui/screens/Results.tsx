// Results: the results folders (./results/* and those named with --results), the selected
// folder's conditions x metrics table (paper and strict readings) and, for the selected
// condition, the pairwise consistency heatmap. Read through src/results, like `concord report`.
import React, { useEffect, useMemo, useState } from "react";
import { Box, Text } from "ink";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { oneLine } from "../../errors.js";
import { readResults, formatIssue } from "../../results/store.js";
import { buildReport, fmt3, fmtMeanStd, type ConditionSummary, type ResultsReport } from "../../results/report.js";
import { variantLabel } from "../../results/labels.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { fitWidth, padTo, sanitize } from "../sanitize.js";
import { useTheme, type Role } from "../theme.js";
import { count } from "../words.js";
import { R } from "../widgets/text.js";
import { Table, type Cell } from "../widgets/table.js";

/** Folders under `root` holding a results.jsonl (the root itself too), then the extra ones. */
export async function findResultsFolders(root: string, extra: string[] = []): Promise<string[]> {
  const found: string[] = [];
  const hasJsonl = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).includes("results.jsonl");
  if (await hasJsonl(root)) found.push(root);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory() && (await hasJsonl(join(root, e.name)))) found.push(join(root, e.name));
  }
  for (const d of extra) if (!found.some((f) => resolve(f) === resolve(d))) found.push(d);
  return found;
}

/** Heatmap cell role for a pairwise consistency value. */
export function heatRole(v: number | null): Role {
  if (v === null) return "muted";
  return v >= 0.75 ? "agree" : v >= 0.5 ? "warning" : "disagree";
}

function meanAccuracy(c: ConditionSummary): string {
  if (!c.accuracy.length) return "—";
  return fmt3(c.accuracy.reduce((a, b) => a + b.accuracy, 0) / c.accuracy.length);
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
            {cell(sanitize(x.label, { multiline: false }))}
          </Text>
        ))}
      </Text>
      {c.targets.map((a, i) => (
        <Text key={a.id} wrap="truncate-end">
          <Text {...t.roles.muted}>{padTo(fitWidth(sanitize(a.label, { multiline: false }), labelW - 1), labelW)}</Text>
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

export function ResultsScreen({ dirs, root = "results" }: { dirs?: string[]; root?: string }) {
  const { width, height, prompt, bindings, store } = useUi();
  const t = useTheme();
  const [folders, setFolders] = useState<string[] | null>(null);
  const [extra, setExtra] = useState<string[]>(dirs ?? []);
  const [fi, setFi] = useState(0);
  const [focus, setFocus] = useState<0 | 1>(0);
  const [report, setReport] = useState<ResultsReport | null>(null);
  const [issues, setIssues] = useState<string[]>([]);
  const [error, setError] = useState("");
  const [sel, setSel] = useState(0);

  useEffect(() => {
    let live = true;
    findResultsFolders(root, extra).then((f) => live && setFolders(f));
    return () => {
      live = false;
    };
  }, [root, extra]);

  const dir = folders?.[fi];
  useEffect(() => {
    if (!dir) return;
    let live = true;
    setReport(null);
    setError("");
    setSel(0);
    readResults(dir)
      .then((r) => {
        if (!live) return;
        setReport(buildReport(r.records));
        setIssues(r.issues.map(formatIssue));
        if (r.issues.length) store.getState().setStatus(`${dir}: ${r.issues.length} bad line${r.issues.length > 1 ? "s" : ""} skipped (first: ${formatIssue(r.issues[0])})`);
      })
      .catch((e) => live && (setError(oneLine(e)), setReport(null)));
    return () => {
      live = false;
    };
  }, [dir, store]);

  const conds = report?.conditions ?? [];
  useActions((action) => {
    switch (action) {
      case "open":
        if (focus === 0 && folders?.length) setFocus(1);
        else
          prompt({
            label: "results folder",
            initial: dir ?? "results",
            onSubmit: (v) => {
              const d = v.trim();
              if (!d) return;
              setExtra((x) => (x.includes(d) ? x : [...x, d]));
              setFolders((f) => {
                const list = f && !f.includes(d) ? [...f, d] : (f ?? [d]);
                setFi(list.indexOf(d));
                return list;
              });
            },
          });
        return true;
      case "focus-next":
        setFocus((f) => (f === 0 ? 1 : 0));
        return true;
      case "up":
      case "down": {
        const d = action === "up" ? -1 : 1;
        if (focus === 0) setFi((i) => Math.max(0, Math.min((folders?.length ?? 1) - 1, i + d)));
        else setSel((i) => Math.max(0, Math.min(conds.length - 1, i + d)));
        return true;
      }
      default:
        return false;
    }
  });

  const c = conds[sel];
  const folderRows = Math.min(3, Math.max(1, folders?.length ?? 1));
  const heatRows = c ? c.targets.length + 3 : 0;
  const tableRows = Math.max(1, height - folderRows - heatRows - 4);
  const start = Math.max(0, Math.min(conds.length - tableRows, sel - Math.floor(tableRows / 2)));
  const fStart = Math.max(0, Math.min((folders?.length ?? 0) - folderRows, fi - 1));
  const labelW = Math.max(10, width - 70);
  const rows = useMemo(
    () =>
      conds.slice(start, start + tableRows).map((x, i): Cell[] => {
        const role: Role = i + start === sel ? (focus === 1 ? "selection" : "accent") : "text";
        const s = x.strict.split;
        return [
          { text: x.label, role },
          { text: variantLabel(x.variant), role },
          { text: String(x.items), role },
          { text: fmtMeanStd(x.paper.consistency), role },
          { text: fmtMeanStd(x.strict.consistency), role },
          { text: meanAccuracy(x), role },
          { text: s ? `${fmt3(s.consistentCorrect)} ${fmt3(s.consistentWrong)} ${fmt3(s.inconsistent)}` : "—", role },
        ];
      }),
    [conds, start, tableRows, sel, focus],
  );

  let body: React.ReactNode;
  if (!dir) body = <R role="muted">{folders === null ? "looking for results…" : `No results folders in ./${root}. ${keyFor(bindings, "open")}: open one by path (or start with --results <dir>).`}</R>;
  else if (error) body = <R role="error">{fitWidth(error, width)}</R>;
  else if (!report) body = <R role="muted">reading…</R>;
  else if (!conds.length) body = <R role="muted">{`${dir}: no result records`}</R>;
  else
    body = (
      <Box flexDirection="column">
        <Table
          columns={[
            { header: "condition", width: labelW },
            { header: "variant", width: 8 },
            { header: "items", width: 5, align: "right" },
            { header: "paper", width: 13 },
            { header: "strict", width: 13 },
            { header: "acc", width: 5, align: "right" },
            { header: "CC    CW    IN", width: 17 },
          ]}
          rows={rows}
        />
        {c ? (
          <Box flexDirection="column" marginTop={1}>
            <Text wrap="truncate-end">
              <R role="muted">{fitWidth(`pairwise consistency, strict: ${c.label} · ${variantLabel(c.variant)}   `, width - 30)}</R>
              <Text {...t.roles.agree}>{" ≥.75 "}</Text>
              <Text {...t.roles.warning}>{" ≥.50 "}</Text>
              <Text {...t.roles.disagree}>{" <.50 "}</Text>
            </Text>
            <Heatmap c={c} width={width} />
          </Box>
        ) : null}
      </Box>
    );

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{`── results folders ${folders?.length ?? 0} `}</R>
        <R role="muted">{`${keyFor(bindings, "focus-next")}: folders/conditions · ${keyFor(bindings, "open")}: open${issues.length ? ` · ${count(issues.length, "bad line")}` : ""}`}</R>
      </Text>
      <Box flexDirection="column" height={folderRows}>
        {(folders ?? []).slice(fStart, fStart + folderRows).map((f, i) => (
          <Text key={f} wrap="truncate-end" {...(i + fStart === fi ? (focus === 0 ? t.roles.selection : t.roles.accent) : t.roles.text)}>
            {padTo(fitWidth(sanitize(f, { multiline: false }), width), Math.min(width, 60))}
          </Text>
        ))}
      </Box>
      <R role="border">{fitWidth(`── ${dir ? sanitize(dir, { multiline: false }) : "no folder"}: ${conds.length} conditions`, width)}</R>
      {body}
    </Box>
  );
}
