// The targets panel: each target's answer for the current chain, whether it is right, who
// agrees with whom, and how consistency moved as the chain grew.
import React from "react";
import { Box, Text } from "ink";
import { historyOf, useConcord, type TargetsView } from "../../state/store.js";
import type { ConsistencySnapshot } from "../../engine/events.js";
import { useUi } from "../context.js";
import { fitWidth, sanitize } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { R } from "../widgets/text.js";
import { Table, sparkline, type Cell } from "../widgets/table.js";

export function targetsPanelRows(targets: number, mode: "compact" | "full"): number {
  return mode === "compact" ? 3 : 1 + (targets + 1) + (targets + 1) + 3;
}

const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));

/** Agreement of a pair from a snapshot (keys are "a|b" with a < b). */
export function agreement(snap: ConsistencySnapshot | undefined, a: string, b: string): boolean | undefined {
  if (!snap) return undefined;
  const key = a < b ? `${a}|${b}` : `${b}|${a}`;
  return snap.pairs[key];
}

/** The panel's heading, figures and sparkline. Consistency needs a pair of targets: with fewer
 * there is none ("-"), not a zero. A view behind the chain says so. */
export function targetsSummary(t: TargetsView, targets: readonly string[], chainLength: number, width: number, replay = false) {
  // Points beyond the chain belong to sentences since undone; points of other targets to another panel.
  const history = historyOf(t.history, targets)
    .filter((h) => h.chainLength <= chainLength)
    .sort((a, b) => a.chainLength - b.chainLength);
  const snap = history.at(-1);
  const paired = (h: ConsistencySnapshot) => Object.keys(h.pairs).length > 0;
  const asking = Object.values(t.pending).some((l) => l === chainLength);
  const state = asking
    ? " · asking"
    : snap && snap.chainLength !== chainLength
      ? replay
        ? " · none recorded here"
        : " · stale (s asks again)"
      : !snap && chainLength > 0
        ? replay
          ? " · none recorded"
          : " · not asked"
        : "";
  const head = `── targets (${targets.length}) · chain ${snap?.chainLength ?? "-"}/${chainLength}${state}`;
  const pairs = snap && paired(snap);
  const numbers = snap
    ? pairs
      ? `cons ${f2(snap.consistency)} acc ${f2(snap.accuracy)} · CC ${f2(snap.split.consistentCorrect)} CW ${f2(snap.split.consistentWrong)} I ${f2(snap.split.inconsistent)}`
      : `cons - acc ${f2(snap.accuracy)} · CC - CW - I -${targets.length < 2 ? " (one target: no pairs)" : " (no two targets gave an answer)"}`
    : "no consistency yet";
  const spark = sparkline(
    history
      .filter(paired)
      .slice(-Math.max(4, width - 24))
      .map((h) => h.consistency),
  );
  return { head, numbers, spark, snap };
}

export function TargetsPanel({ width, mode }: { width: number; mode: "compact" | "full" }) {
  const { store } = useUi();
  const t = useTheme();
  const targetsState = useConcord(store, (s) => s.targets);
  const roleTargets = useConcord(store, (s) => s.roles.targets);
  const chainLength = useConcord(store, (s) => s.chain.sentences.length);
  const names = [...new Set([...roleTargets, ...Object.keys(targetsState.answers)])];
  const replay = useConcord(store, (s) => s.replay !== undefined);
  const { head, numbers, spark, snap } = targetsSummary(targetsState, names, chainLength, width, replay);

  if (names.length === 0) {
    return (
      <Box flexDirection="column">
        <R role="border">── targets</R>
        <R role="muted">no targets assigned</R>
      </Box>
    );
  }

  const answerCell = (name: string): { text: string; mark: Cell } => {
    const a = targetsState.answers[name];
    const pending = targetsState.pending[name] !== undefined;
    if (!a) return { text: pending ? "…" : "-", mark: { text: pending ? "…" : " ", role: "pending" } };
    const stale = a.chainLength !== chainLength;
    const text = sanitize(a.grade.answer || "(none)", { multiline: false });
    return { text: stale || pending ? `${text}*` : text, mark: a.grade.correct ? { text: "✓", role: "correct" } : { text: "✗", role: "wrong" } };
  };

  if (mode === "compact") {
    return (
      <Box flexDirection="column">
        <Text wrap="truncate-end">
          <R role="border">{head} </R>
          <R role="accent">{numbers}</R>
          <R role="muted"> {spark}</R>
        </Text>
        <Text wrap="truncate-end">
          {names.map((n) => {
            const c = answerCell(n);
            return (
              <React.Fragment key={n}>
                <Text {...t.roles.muted}>{fitWidth(n, 12)} </Text>
                <Text {...t.roles.text}>{fitWidth(c.text, 10)}</Text>
                <Text {...t.roles[c.mark.role ?? "text"]}>{c.mark.text}</Text>
                <Text> </Text>
              </React.Fragment>
            );
          })}
        </Text>
        <Text wrap="truncate-end">
          {names.flatMap((a, i) =>
            names.slice(i + 1).map((b) => {
              const ag = agreement(snap, a, b);
              return (
                <React.Fragment key={`${a}|${b}`}>
                  <Text
                    {...t.roles[ag === undefined ? "pending" : ag ? "agree" : "disagree"]}
                  >{`${i + 1}${ag === undefined ? "?" : ag ? "=" : "≠"}${names.indexOf(b) + 1}`}</Text>
                  <Text> </Text>
                </React.Fragment>
              );
            }),
          )}
        </Text>
      </Box>
    );
  }

  const nameWidth = Math.max(6, Math.min(16, width - 18));
  const matrixColumns = [{ header: "", width: 3 }, ...names.map((_, i) => ({ header: String(i + 1), width: 2, align: "center" as const }))];
  const matrixRows = names.map((a, i) => [
    { text: String(i + 1), role: "muted" as const },
    ...names.map((b, j): Cell => {
      if (i === j) return { text: "·", role: "muted" };
      const ag = agreement(snap, a, b);
      return ag === undefined ? { text: "?", role: "pending" } : ag ? { text: "=", role: "agree" } : { text: "≠", role: "disagree" };
    }),
  ]);
  return (
    <Box flexDirection="column">
      <R role="border">{fitWidth(head, width)}</R>
      <Table
        columns={[
          { header: "#", width: 2 },
          { header: "target", width: nameWidth },
          { header: "answer", width: Math.max(4, width - nameWidth - 8) },
          { header: "", width: 1 },
        ]}
        rows={names.map((n, i) => {
          const c = answerCell(n);
          return [{ text: String(i + 1), role: "muted" }, { text: n, role: "text" }, { text: c.text }, c.mark];
        })}
      />
      <Table columns={matrixColumns} rows={matrixRows} />
      <R role="accent">{fitWidth(numbers, width)}</R>
      <Text wrap="truncate-end">
        <R role="muted">consistency </R>
        <R role="accent">{spark || "-"}</R>
      </Text>
    </Box>
  );
}
