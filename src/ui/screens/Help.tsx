// The `?` overlay, generated from the binding table: what it lists is what the keys do.
import React from "react";
import { Box, Text } from "ink";
import { useUi } from "../context.js";
import { helpRows, type Screen } from "../keys.js";
import { fitWidth, padTo } from "../sanitize.js";
import { useTheme } from "../theme.js";
import { R } from "../widgets/text.js";

export function HelpOverlay({ screen }: { screen: Screen }) {
  const { bindings, width, height } = useUi();
  const t = useTheme();
  const rows = helpRows(bindings);
  const here = rows.filter((r) => r.scope === "everywhere" || r.scope.split(", ").includes(screen));
  const others = rows.filter((r) => !here.includes(r));
  const keyWidth = Math.min(18, Math.max(...rows.map((r) => r.keys.length)) + 1);
  const all = [...here, ...others];
  // As many columns as the height needs; what still does not fit is counted, never overlapped.
  const perCol = Math.max(1, height - 1);
  const ncols = Math.max(1, Math.min(3, Math.ceil(all.length / perCol)));
  const cols = Array.from({ length: ncols }, (_, i) => all.slice(i * perCol, (i + 1) * perCol));
  const hidden = all.length - cols.reduce((n, c) => n + c.length, 0);
  const colWidth = Math.floor((width - 2 * (ncols - 1)) / ncols);
  const two = ncols > 1;
  return (
    <Box flexDirection="column" height={height}>
      <Text>
        <R role="title">Keys</R>
        <R role="muted">{` (on this screen: ${screen}; ? or Esc closes)${hidden > 0 ? ` +${hidden} more: enlarge the terminal` : ""}`}</R>
      </Text>
      <Box flexDirection="row">
        {cols.map((col, ci) => (
          <Box key={ci} flexDirection="column" width={colWidth} flexShrink={0} marginRight={ci < cols.length - 1 && two ? 2 : 0}>
            {col.map((r) => {
              const active = here.includes(r);
              return (
                <Text key={r.keys + r.description} wrap="truncate-end">
                  <Text {...(active ? t.roles.key : t.roles.muted)}>{padTo(fitWidth(r.keys, keyWidth - 1), keyWidth)}</Text>
                  <Text {...(active ? t.roles.text : t.roles.muted)}>{fitWidth(r.description + (active || r.scope === "everywhere" ? "" : ` (${r.scope})`), colWidth - keyWidth)}</Text>
                </Text>
              );
            })}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
