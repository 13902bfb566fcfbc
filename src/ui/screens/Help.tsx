// The `?` overlay, generated from the binding table: what it lists is what the keys do.
// Descriptions wrap inside their column, so nothing is cut off at 80 columns.
import { Box, Text } from "ink";
import { useUi } from "../context.js";
import { helpRows, type Screen } from "../keys.js";
import { fitWidth, padTo } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { R, wrapSegments } from "../widgets/text.js";

interface HelpLine {
  keys: string;
  text: string;
  active: boolean;
  /** A section heading: drawn across the column, from its left edge. */
  heading?: boolean;
  /** Keys written into the text, across the whole column (a crowded help). */
  inline?: boolean;
}

type Row = ReturnType<typeof helpRows>[number];

/** Opposite moves (up/down, first/last) share a line when they apply on the same screens. */
const PAIRS: Array<[string, string]> = [
  ["move up", "move down"],
  ["first item", "last item"],
  ["page up", "page down"],
  ["chain back", "chain forward"],
  ["run relay", "saved relays"],
  ["targets panel", "importance"],
];

function pairRows(rows: Row[]): Row[] {
  const out: Row[] = [];
  for (const r of rows) {
    const pair = PAIRS.find(([, second]) => second === r.description);
    const first = pair && out.find((x) => x.description === pair[0] && x.scope === r.scope);
    if (first) {
      first.keys = `${first.keys}  ${r.keys}`;
      first.description = `${first.description} / ${r.description}`;
    } else out.push({ ...r });
  }
  return out;
}

export function HelpOverlay({ screen }: { screen: Screen }) {
  const { bindings, width, height } = useUi();
  const t = useTheme();
  const rows = pairRows(helpRows(bindings));
  const isHere = (r: (typeof rows)[number]) => r.scope === "everywhere" || r.scope.split(", ").includes(screen);
  const all = [...rows.filter(isHere), ...rows.filter((r) => !isHere(r))];
  const perCol = Math.max(1, height - 1);
  // Keys as "u/backspace": the narrow form leaves the descriptions room at 80 columns.
  // Page keys are written short (pgup, pgdn) so a pair of them fits the key column.
  const keysOf = (r: (typeof rows)[number]) =>
    r.keys
      .replace(/ \/ /g, "/")
      .replace(/  /g, " ")
      .replace(/\bpageup\b/g, "pgup")
      .replace(/\bpagedown\b/g, "pgdn");
  const keyWidth = Math.min(14, Math.max(...rows.map((r) => keysOf(r).length)) + 1);
  // Two columns when the terminal is wide enough to read them, three on very wide ones.
  const ncols = width >= 150 ? 3 : width >= 70 ? 2 : 1;
  const colWidth = Math.floor((width - 2 * (ncols - 1)) / ncols);
  const descWidth = Math.max(8, colWidth - keyWidth);
  const entry = (r: (typeof rows)[number]): HelpLine[] => {
    const active = isHere(r);
    const wrapped = wrapSegments([{ text: r.description }], descWidth).map((l) => l.map((s) => s.text).join(""));
    return wrapped.map((text, i) => ({ keys: i === 0 ? keysOf(r) : "", text, active }));
  };
  const here = all.filter(isHere).map((r) => ({ lines: entry(r), elsewhere: false }));
  // Keys of other screens are grouped by the screens they belong to, each group under its name;
  // when those headings would push keys off the screen, under one "other screens" heading.
  const others = all.filter((r) => !isHere(r)).sort((a, b) => a.where.localeCompare(b.where));
  // Whole entries go into columns top to bottom; what still does not fit is counted. A heading
  // always sits on top of its keys: a column that starts among them repeats it, so none of them
  // reads as a key of this screen.
  const heading = (where: string): HelpLine => ({ keys: "", text: `── on ${where} `, active: false, heading: true });
  type Entry = { lines: HelpLine[]; elsewhere: boolean; where?: string };
  /** Entries into at most `ncols` columns of `perCol` lines, top to bottom; what does not fit is counted. */
  const columns = (entries: Entry[]) => {
    const cols: Array<{ lines: HelpLine[]; headed?: string }> = [{ lines: [] }];
    let hidden = 0;
    for (const e of entries) {
      let col = cols[cols.length - 1]!;
      const need = e.lines.length + (e.elsewhere && col.headed !== e.where ? 1 : 0);
      if (col.lines.length + need > perCol) {
        if (cols.length >= ncols) {
          hidden++;
          continue;
        }
        col = { lines: [] };
        cols.push(col);
      }
      if (e.elsewhere && col.headed !== e.where) {
        col.lines.push(heading(e.where!));
        col.headed = e.where;
      }
      col.lines.push(...e.lines);
    }
    return { cols, hidden };
  };
  const layout = (grouped: boolean) =>
    columns([...here, ...others.map((r) => ({ lines: entry(r), elsewhere: true, where: grouped ? r.where : "other screens" }))]);
  const groupedLayout = layout(true);
  const plain = groupedLayout.hidden > 0 ? layout(false) : groupedLayout;
  // Still too many: other screens' one-line keys share a line two by two where both fit.
  if (plain.hidden > 0) {
    // Each as "keys description" across the whole column, two to a line where they fit.
    const dense: HelpLine[][] = [];
    const inline: HelpLine[] = [];
    for (const r of others) {
      const text = `${keysOf(r)} ${r.description}`;
      const room = inline.find((l) => l.text.length + 3 + text.length <= colWidth);
      if (text.length > colWidth) dense.push(entry(r));
      else if (room) room.text = `${room.text} · ${text}`;
      else {
        const line: HelpLine = { keys: "", text, active: false, inline: true };
        inline.push(line);
        dense.push([line]);
      }
    }
    const packed = columns([...here, ...dense.map((lines) => ({ lines, elsewhere: true, where: "other screens" }))]);
    if (packed.hidden < plain.hidden) Object.assign(plain, packed);
  }
  const { cols, hidden } = plain;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="title">Keys</R>
        <R role="muted">{` on ${screen} (? or Esc closes)${hidden > 0 ? ` +${hidden} more: enlarge the terminal` : ""}`}</R>
      </Text>
      <Box flexDirection="row">
        {cols.map(({ lines: col }, ci) => (
          <Box key={ci} flexDirection="column" width={colWidth} flexShrink={0} marginRight={ci < cols.length - 1 ? 2 : 0}>
            {col.map((l, li) =>
              l.heading ? (
                <Text key={li} wrap="truncate-end">
                  <R role="border">{fitWidth(l.text.padEnd(colWidth, "─"), colWidth)}</R>
                </Text>
              ) : l.inline ? (
                <Text key={li} wrap="truncate-end">
                  <Text {...t.roles.muted}>{fitWidth(l.text, colWidth)}</Text>
                </Text>
              ) : (
                <Text key={li} wrap="truncate-end">
                  <Text {...(l.active ? t.roles.key : t.roles.muted)}>{padTo(fitWidth(l.keys, keyWidth - 1), keyWidth)}</Text>
                  <Text {...(l.active ? t.roles.text : t.roles.muted)}>{fitWidth(l.text, descWidth)}</Text>
                </Text>
              ),
            )}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
