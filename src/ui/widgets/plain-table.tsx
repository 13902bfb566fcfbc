// Plain tables (no colour per cell) through ink-table, with every cell cut to its column's
// width so a long label never pushes the table past the terminal. Horizontal rules are left
// out: one row of text per row of data, so tables fold into small terminals. Tables whose
// cells carry meaning in colour (the agreement matrix) use widgets/table.tsx instead.
import React from "react";
import { Text } from "ink";
import { Table } from "ink-table";
import { useTheme } from "../theme.js";
import { fitWidth, sanitize } from "../sanitize.js";

export interface PlainColumn {
  header: string;
  /** Most columns the cell text may take. */
  width: number;
  align?: "left" | "right" | "center";
}

/** The cell text as the table draws it: one line, no controls, at most `width` columns. */
export function fitCell(text: string, width: number): string {
  return fitWidth(sanitize(text, { multiline: false }), Math.max(1, width));
}

const RULE = /^[─┌┐┬├┤┼└┘┴]*$/;

export function PlainTable({ columns, rows, marker }: { columns: PlainColumn[]; rows: string[][]; marker?: number }) {
  const t = useTheme();
  // ink-table names columns by their key and shows the key as the heading.
  const keys = columns.map((c) => fitCell(c.header, c.width) || " ");
  const lead = marker === undefined ? [] : ["\u2009"];
  const data = rows.map((row, r) => {
    const rec: Record<string, string> = {};
    if (marker !== undefined) rec[lead[0]] = r === marker ? "▸" : " ";
    columns.forEach((c, i) => (rec[keys[i]] = fitCell(row[i] ?? "", c.width)));
    return rec;
  });
  const Skeleton = ({ children }: { children?: React.ReactNode }) => {
    const s = String(children ?? "");
    return RULE.test(s) ? null : <Text {...t.roles.border}>{s === "│" ? "" : s}</Text>;
  };
  const Header = ({ children }: { children?: React.ReactNode }) => <Text {...t.roles.muted}>{children}</Text>;
  const Cell = ({ children }: { children?: React.ReactNode }) => <Text {...t.roles.text}>{children}</Text>;
  return (
    <Table
      data={data}
      columns={[...lead, ...keys.map((key, i) => ({ key, align: columns[i].align ?? "left" }))]}
      padding={1}
      skeleton={Skeleton}
      header={Header}
      cell={Cell}
    />
  );
}
