// The list of every screen: draws only the window around the cursor, one row per item, the
// selected row highlighted (strongly when the list has the focus), and "↑ N more" / "↓ N more"
// in the first or last row when items are out of view.
import React from "react";
import { Box, Text } from "ink";
import { useTheme } from "../theme.js";
import { fitWidth, padTo } from "../sanitize.js";
import { listWindow, type ListView } from "../hooks/use-list.js";

export interface ListProps<T> {
  list: ListView<T>;
  /** Rows available, including the "more" markers. */
  rows: number;
  width: number;
  focused?: boolean;
  /** One line for an item (sanitized by the caller); only called for the rows drawn. */
  label: (item: T, index: number) => string;
  /** Shown when the list is empty. */
  empty?: string;
}

export function List<T>({ list, rows, width, focused = true, label, empty = "none" }: ListProps<T>) {
  const t = useTheme();
  const { shown, cursor } = list;
  const r = Math.max(1, rows);
  if (shown.length === 0)
    return (
      <Text wrap="truncate-end" {...t.roles.muted}>
        {fitWidth(empty, width)}
      </Text>
    );
  // The markers take a row each, so the window has fewer rows for items.
  let start = 0;
  let end = shown.length;
  if (shown.length > r && r < 3) ({ start, end } = listWindow(shown.length, cursor, r));
  else if (shown.length > r) {
    const inner = r - 2;
    start = Math.max(0, Math.min(shown.length - inner, cursor - Math.floor(inner / 2)));
    end = start + inner;
    // At either end the marker's row holds an item instead.
    if (start <= 1) ((start = 0), (end = r - 1));
    else if (end >= shown.length - 1) ((end = shown.length), (start = shown.length - (r - 1)));
  }
  const above = start;
  const below = shown.length - end;
  const rowsOut: React.ReactNode[] = [];
  if (above > 0)
    rowsOut.push(
      <Text key="above" wrap="truncate-end" {...t.roles.muted}>
        {fitWidth(`↑ ${above} more`, width)}
      </Text>,
    );
  // The rows around the selected one are a text block each: one node for Ink instead of one per row.
  const block = (from: number, to: number) =>
    from < to ? (
      <Text key={`rows-${from}`} wrap="truncate-end" {...t.roles.text}>
        {Array.from({ length: to - from }, (_, k) => fitWidth(label(shown[from + k], from + k), width) || " ").join("\n")}
      </Text>
    ) : null;
  const sel = Math.min(Math.max(cursor, start), end);
  rowsOut.push(block(start, sel));
  if (cursor >= start && cursor < end)
    rowsOut.push(
      <Text key={cursor} wrap="truncate-end" {...(focused ? t.roles.selection : t.roles.accent)}>
        {/* The selected row is padded: its highlight spans the column. */}
        {padTo(fitWidth(label(shown[cursor], cursor), width), width)}
      </Text>,
    );
  rowsOut.push(block(cursor >= start && cursor < end ? cursor + 1 : sel, end));
  if (below > 0)
    rowsOut.push(
      <Text key="below" wrap="truncate-end" {...t.roles.muted}>
        {fitWidth(`↓ ${below} more`, width)}
      </Text>,
    );
  return <Box flexDirection="column">{rowsOut}</Box>;
}
