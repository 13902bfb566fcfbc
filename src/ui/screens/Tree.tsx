// The session tree: an outline of every sentence ever accepted (one indent below each fork),
// who chose it, its perplexity and the targets' consistency there; a cursor that moves to
// parent, child, siblings and branches; and two branches compared side by side.
import { memo, useMemo } from "react";
import { Box, Text } from "ink";
import { useConcord, type ConcordState } from "../../state/store.js";
import { branchOf, compareBranches, locate, nodeOf, outline, type OutlineRow, type Tree } from "../../core/tree.js";
import { count } from "../../core/words.js";
import { useActions, useUi } from "../context.js";
import { keyFor, type Action } from "../keys.js";
import { displayWidth, fitWidth, sanitize } from "../sanitize.js";
import { R } from "../widgets/text.js";
import { sparkline } from "../widgets/table.js";
import { MARK_HUMAN, fmtPpl } from "./race-lanes.js";

const sel = {
  tree: (s: ConcordState) => s.tree,
  view: (s: ConcordState) => s.treeView,
  replay: (s: ConcordState) => !!s.replay,
};

/** Outline rows and where each node is in them, once per tree (cursor moves reuse them). */
let outlineCache: { tree: Tree; rows: OutlineRow[]; index: Map<string, number> } | undefined;
function outlineOf(tree: Tree) {
  if (outlineCache?.tree === tree) return outlineCache;
  const rows = outline(tree);
  outlineCache = { tree, rows, index: new Map(rows.map((r, i) => [r.id, i])) };
  return outlineCache;
}

const line = (s: string) => sanitize(s, { multiline: false }).trim();
const fmtCons = (c: number | undefined) => (c === undefined ? "  -  " : c.toFixed(2).padStart(5));

/** One outline row: cursor, indent, fork mark, id, who chose it, perplexity, consistency, sentence.
 * Rows keep their props while the cursor moves elsewhere, so a keypress redraws two of them. */
const OutlineLine = memo(function OutlineLine({ row, cursor, marked, width }: { row: OutlineRow; cursor: boolean; marked: boolean; width: number }) {
  const e = row.edge;
  const indent = "  ".repeat(Math.min(row.indent, 12));
  const mark = row.current ? "●" : row.fork ? "⑂" : row.onPath ? "│" : "·";
  const id = row.id.padEnd(6);
  if (!e) {
    const text = fitWidth(`${cursor ? "▸" : " "}${mark} ${id} (the problem: no sentence yet)`, width);
    return <Text wrap="truncate-end">{cursor ? <R role="selection">{text}</R> : <R role="muted">{text}</R>}</Text>;
  }
  const human = e.decision !== "evaluator";
  const who = fitWidth(`${e.author}${human ? MARK_HUMAN : ""}`, 10).padEnd(10);
  const head = `${cursor ? "▸" : marked ? "◆" : " "}${indent}${mark} ${id} `;
  const figures = ` ${fmtPpl(row.perplexity, 2)} ${fmtCons(row.consistency)} `;
  const room = Math.max(0, width - displayWidth(head) - 10 - displayWidth(figures));
  const text = fitWidth(line(e.text), room);
  if (cursor)
    return (
      <Text wrap="truncate-end">
        <R role="selection">{fitWidth(head + who + figures + text, width)}</R>
      </Text>
    );
  return (
    <Text wrap="truncate-end">
      <R role={row.current ? "accent" : row.onPath ? "text" : "muted"}>{head}</R>
      <R role={human ? "human" : "muted"}>{who}</R>
      <R role="muted">{figures}</R>
      <R role={row.onPath ? "text" : "muted"}>{text}</R>
    </Text>
  );
});

function Outline({ tree, cursor, marked, width, height }: { tree: Tree; cursor: string; marked?: string; width: number; height: number }) {
  const { bindings } = useUi();
  const key = (a: Action) => keyFor(bindings, a);
  const { rows, index } = outlineOf(tree);
  const at = index.get(cursor) ?? 0;
  const loc = locate(tree, cursor);
  const here = locate(tree);
  const node = nodeOf(tree, cursor);
  const detailRows = 2;
  const listRows = Math.max(1, height - 2 - detailRows);
  // The window keeps the cursor a third of the way down when it can.
  const first = Math.max(0, Math.min(at - Math.floor(listRows / 3), rows.length - listRows));
  const shown = rows.slice(first, first + listRows);
  const markedLeaves = marked ? new Set([marked]) : new Set<string>();
  const answers = node.answers.map((a) => `${a.target} ${line(a.grade.answer) || "(none)"} ${a.grade.correct ? "✓" : "✗"}`).join(" · ");
  const latest = node.races.at(-1);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{`── tree: ${count(tree.nodes.size - 1, "sentence")} in ${count(here.branches, "branch", "branches")} · you are at ${tree.current} (branch ${here.branch}, sentence ${here.depth}) `}</R>
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">
          {fitWidth(
            `  ${"node".padEnd(6)} ${"chosen by".padEnd(10)} ${"ppl".padStart(6)} ${" cons"}  sentence   (${first + 1}-${first + shown.length} of ${rows.length})`,
            width,
          )}
        </R>
      </Text>
      <Box flexDirection="column" height={listRows} flexShrink={0}>
        {shown.map((r) => (
          <OutlineLine key={r.id} row={r} cursor={r.id === cursor} marked={markedLeaves.has(r.id)} width={width} />
        ))}
      </Box>
      <Text wrap="truncate-end">
        <R role="accent">
          {fitWidth(`${cursor} · sentence ${loc.depth} · branch ${loc.branch}/${loc.branches} · sibling ${loc.sibling}/${loc.siblings} · `, width)}
        </R>
        <R role="muted">
          {fitWidth(
            `${count(node.races.length, "race")} kept here${latest ? ` (${count(latest.candidates.length, "candidate")})` : ""} · ${count(node.children.length, "branch", "branches")} from here${answers ? ` · ${answers}` : ""}`,
            width,
          )}
        </R>
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">
          {fitWidth(
            `${key("open")}: go there · ${key("tree-parent")}/${key("tree-child")} parent/child · ${key("up")}/${key("down")} siblings · ${key("page-up")}/${key("page-down")} branches · ${key("tree-compare")} ${marked ? `compare with ${marked}` : "mark to compare"} · ${key("tree")} back`,
            width,
          )}
        </R>
      </Text>
    </Box>
  );
}

/** Two branches from where they part: sentences, consistency, and each target's final answer. */
function Compare({ tree, pair, width, height }: { tree: Tree; pair: [string, string]; width: number; height: number }) {
  const { bindings } = useUi();
  const cmp = compareBranches(tree, pair[0], pair[1]);
  const colWidth = Math.max(10, Math.floor((width - 3) / 2));
  const bodyRows = Math.max(1, height - 5);
  const column = (i: 0 | 1) => {
    const side = cmp.sides[i]!;
    const answers = side.answers.map((a) => `${a.target} ${line(a.grade.answer) || "(none)"} ${a.grade.correct ? "✓" : "✗"}`).join(" · ") || "no answers";
    const lines = side.sentences.map((s, k) => `${String(cmp.shared + k + 1).padStart(3)} ${fmtCons(side.consistency[k])} ${line(s)}`);
    const shown = lines.length > bodyRows ? [...lines.slice(0, bodyRows - 1), `… ${count(lines.length - bodyRows + 1, "more sentence")}`] : lines;
    return (
      <Box flexDirection="column" width={colWidth} flexShrink={0}>
        <Text wrap="truncate-end">
          <R role="accent">{fitWidth(`branch ${side.id} · ${count(side.sentences.length, "sentence")} after`, colWidth)}</R>
        </Text>
        <Text wrap="truncate-end">
          <R role="muted">{fitWidth(`cons ${sparkline(side.consistency) || "-"} · final: ${answers}`, colWidth)}</R>
        </Text>
        <Box flexDirection="column" height={bodyRows} flexShrink={0}>
          {shown.length ? (
            shown.map((l, k) => (
              <Text key={k} wrap="truncate-end">
                {fitWidth(l, colWidth)}
              </Text>
            ))
          ) : (
            <R role="muted">(nothing after the fork)</R>
          )}
        </Box>
      </Box>
    );
  };
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{fitWidth(`── compare ${pair[0]} | ${pair[1]}: they part after sentence ${cmp.shared} (at ${cmp.divergence}) `, width)}</R>
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">{fitWidth("  #  cons  sentence", colWidth)}</R>
      </Text>
      <Box flexDirection="row">
        {column(0)}
        <Box width={3} flexShrink={0}>
          <R role="border"> │ </R>
        </Box>
        {column(1)}
      </Box>
      <Text wrap="truncate-end">
        <R role="muted">{fitWidth(`${keyFor(bindings, "tree")}: back to the tree`, width)}</R>
      </Text>
    </Box>
  );
}

export function TreeScreen() {
  const { store, width, height } = useUi();
  const tree = useConcord(store, sel.tree);
  const view = useConcord(store, sel.view);
  const cursor = view.cursor && tree.nodes.has(view.cursor) ? view.cursor : tree.current;
  const pair = useMemo(() => (view.compare && view.compare.every((id) => tree.nodes.has(id)) ? view.compare : undefined), [view.compare, tree]);
  useActions((action) => {
    const s = store.getState();
    switch (action) {
      case "tree":
        if (s.treeView.compare) s.closeCompare();
        else s.setScreen("race");
        return true;
      case "tree-parent":
        s.moveTreeCursor("parent");
        return true;
      case "tree-child":
        s.moveTreeCursor("child");
        return true;
      case "down":
        s.moveTreeCursor("next-sibling");
        return true;
      case "up":
        s.moveTreeCursor("prev-sibling");
        return true;
      case "page-down":
        s.moveTreeCursor("next-branch");
        return true;
      case "page-up":
        s.moveTreeCursor("prev-branch");
        return true;
      case "open":
        void s.goToNode(cursor);
        return true;
      case "tree-compare":
        s.markBranch();
        return true;
      default:
        return false;
    }
  });
  if (pair) return <Compare tree={tree} pair={pair} width={width} height={height} />;
  return <Outline tree={tree} cursor={cursor} marked={view.marked ? branchOf(tree, view.marked) : undefined} width={width} height={height} />;
}

/** Where the person is in the tree, for the Race's chain heading: empty while there is one branch
 * and no race kept off it. */
export function TreeLocationMark() {
  const { store, bindings } = useUi();
  const tree = useConcord(store, sel.tree);
  const here = useMemo(() => locate(tree), [tree]);
  if (here.branches < 2 && here.siblings < 2) return null;
  return <R role="accent">{`  ⑂ ${tree.current} · branch ${here.branch}/${here.branches} · ${keyFor(bindings, "tree")}: tree`}</R>;
}
