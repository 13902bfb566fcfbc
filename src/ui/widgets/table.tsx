// A small table with per-cell roles (agreement matrices, target answers, results).
import React from "react";
import { Box, Text } from "ink";
import stringWidth from "string-width";
import { useTheme, type Role, type Style } from "../theme.js";
import { fitWidth, sanitize } from "../sanitize.js";

export interface Cell {
  text: string;
  role?: Role;
  style?: Style;
}

export interface Column {
  header: string;
  width: number;
  align?: "left" | "right" | "center";
}

function pad(s: string, width: number, align: Column["align"] = "left"): string {
  const fitted = fitWidth(s, width);
  const gap = Math.max(0, width - stringWidth(fitted));
  if (align === "right") return " ".repeat(gap) + fitted;
  if (align === "center") return " ".repeat(Math.floor(gap / 2)) + fitted + " ".repeat(Math.ceil(gap / 2));
  return fitted + " ".repeat(gap);
}

export function Table({ columns, rows, header = true }: { columns: Column[]; rows: Array<Array<Cell | string>>; header?: boolean }) {
  const t = useTheme();
  return (
    <Box flexDirection="column">
      {header && (
        <Text wrap="truncate-end">
          {columns.map((c, i) => (
            <Text key={i} {...t.roles.muted}>
              {pad(c.header, c.width, c.align)}
              {i < columns.length - 1 ? " " : ""}
            </Text>
          ))}
        </Text>
      )}
      {rows.map((row, r) => (
        <Text key={r} wrap="truncate-end">
          {columns.map((c, i) => {
            const cell = row[i] ?? "";
            const cc: Cell = typeof cell === "string" ? { text: cell } : cell;
            const style = cc.style ?? t.roles[cc.role ?? "text"];
            return (
              <React.Fragment key={i}>
                <Text {...style}>{pad(sanitize(cc.text, { multiline: false }), c.width, c.align)}</Text>
                {i < columns.length - 1 ? " " : ""}
              </React.Fragment>
            );
          })}
        </Text>
      ))}
    </Box>
  );
}

const BARS = "▁▂▃▄▅▆▇█";

/** Values in [0, 1] as block characters; undefined/NaN shows as a gap. */
export function sparkline(values: Array<number | undefined>): string {
  return values
    .map((v) => (v === undefined || !Number.isFinite(v) ? " " : BARS[Math.max(0, Math.min(BARS.length - 1, Math.round(v * (BARS.length - 1))))]))
    .join("");
}
