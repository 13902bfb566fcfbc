// Results: an experiment folder's conditions x metrics table and, for the selected condition,
// the pairwise consistency heatmap. Read through src/results, like `concord report`.
import React, { useEffect, useState } from "react";
import { Box, Text } from "ink";
import { oneLine } from "../../errors.js";
import { readResults, formatIssue } from "../../results/store.js";
import { buildReport, fmtMeanStd, type ResultsReport } from "../../results/report.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { fitWidth, padTo } from "../sanitize.js";
import { nllStyle, useTheme } from "../theme.js";
import { R } from "../widgets/text.js";
import { Table, type Cell } from "../widgets/table.js";

export function ResultsScreen({ initialDir }: { initialDir?: string }) {
  const { width, height, prompt, bindings } = useUi();
  const t = useTheme();
  const [dir, setDir] = useState(initialDir);
  const [report, setReport] = useState<ResultsReport | null>(null);
  const [issues, setIssues] = useState<string[]>([]);
  const [error, setError] = useState("");
  const [sel, setSel] = useState(0);

  useEffect(() => {
    if (!dir) return;
    let live = true;
    readResults(dir)
      .then((r) => {
        if (!live) return;
        setReport(buildReport(r.records));
        setIssues(r.issues.map(formatIssue));
        setError("");
      })
      .catch((e) => live && (setError(oneLine(e)), setReport(null)));
    return () => {
      live = false;
    };
  }, [dir]);

  useActions((action) => {
    if (action === "open") {
      prompt({ label: "results folder", initial: dir ?? "results", onSubmit: (v) => setDir(v.trim()) });
      return true;
    }
    if (action === "up" || action === "down") {
      const n = report?.conditions.length ?? 0;
      setSel((i) => Math.max(0, Math.min(n - 1, i + (action === "up" ? -1 : 1))));
      return true;
    }
    return false;
  });

  if (!dir || (!report && !error)) return <R role="muted">{dir ? "reading…" : `No results folder. ${keyFor(bindings, "open")}: open one.`}</R>;
  if (error) return <R role="error">{error}</R>;
  const conds = report!.conditions;
  const c = conds[sel];
  const labelW = Math.max(12, width - 40);
  const heatRows = c ? c.targets.length + 2 : 0;
  const tableRows = Math.max(2, height - heatRows - 3);
  const start = Math.max(0, Math.min(conds.length - tableRows, sel - Math.floor(tableRows / 2)));
  return (
    <Box flexDirection="column" height={height}>
      <R role="title">{fitWidth(`${dir}: ${conds.length} conditions${issues.length ? `, ${issues.length} bad lines (first: ${issues[0]})` : ""}`, width)}</R>
      <Table
        columns={[
          { header: "condition", width: labelW },
          { header: "items", width: 5, align: "right" },
          { header: "consistency", width: 13, align: "right" },
          { header: "acc", width: 5, align: "right" },
          { header: "CW", width: 5, align: "right" },
        ]}
        rows={conds.slice(start, start + tableRows).map((x, i): Cell[] => {
          const role = i + start === sel ? "selection" : "text";
          const acc = x.accuracy.length ? x.accuracy.reduce((a, b) => a + b.accuracy, 0) / x.accuracy.length : NaN;
          const cw = x.strict.split?.consistentWrong;
          return [
            { text: `${x.label} ${x.variant}`, role },
            { text: String(x.items), role },
            { text: fmtMeanStd(x.strict.consistency), role },
            { text: Number.isFinite(acc) ? acc.toFixed(2) : "-", role },
            { text: typeof cw === "number" ? cw.toFixed(2) : "-", role },
          ];
        })}
      />
      {c ? (
        <Box flexDirection="column" marginTop={1}>
          <R role="muted">{fitWidth(`pairwise consistency (strict): ${c.label} ${c.variant}`, width)}</R>
          {c.targets.map((a, i) => (
            <Text key={a.id} wrap="truncate-end">
              <Text {...t.roles.muted}>{padTo(fitWidth(a.label, 14), 15)}</Text>
              {c.strict.matrix[i].map((v, j) => (
                <Text key={j} {...(v === null ? t.roles.muted : nllStyle(t, (1 - v) * 8))}>
                  {v === null ? "  -  " : ` ${v.toFixed(2).slice(1)} `}
                </Text>
              ))}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}
