// The page around the charts: escaping, the shell with its inline stylesheet, and one figure =
// chart + its numbers as a table. Every string from a results file or a session is untrusted
// (model text, model ids) and goes through escapeHtml.
import type { RenderedChart } from "./chart.js";

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML content and attribute values; control characters become U+FFFD. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, "\ufffd");
}

/** A cell: text (escaped) or a number (formatted). */
export type Cell = string | number | null | { html: string };

export interface Table {
  caption: string;
  head: string[];
  rows: Cell[][];
  /** Columns 0..rowHeaders-1 are row headers (<th scope="row">). */
  rowHeaders?: number;
}

export function fmtNum(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(digits);
}

function cellHtml(c: Cell): string {
  if (c === null) return "—";
  if (typeof c === "number") return escapeHtml(Number.isInteger(c) ? String(c) : c.toFixed(3));
  if (typeof c === "string") return escapeHtml(c);
  return c.html;
}

export function renderTable(t: Table): string {
  const rh = t.rowHeaders ?? 1;
  const head = t.head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((c, i) => (i < rh ? `<th scope="row">${cellHtml(c)}</th>` : `<td>${cellHtml(c)}</td>`)).join("")}</tr>`)
    .join("\n");
  return `<table><caption>${escapeHtml(t.caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export interface Figure {
  id: string;
  title: string;
  /** What the figure shows and how it was computed (plain text). */
  note?: string;
  chart: RenderedChart;
  table: Table;
}

export function renderFigure(f: Figure): string {
  const titleId = `${f.id}-title`;
  return `<figure class="fig" id="${escapeHtml(f.id)}" aria-labelledby="${titleId}" data-chart-width="${f.chart.width}" data-chart-height="${f.chart.height}">
<figcaption id="${titleId}"><strong>${escapeHtml(f.title)}</strong>${f.note ? `<span class="note">${escapeHtml(f.note)}</span>` : ""}</figcaption>
<div class="fig-body"><div class="chart">${f.chart.svg}</div>
<div class="numbers">${renderTable(f.table)}</div></div>
</figure>`;
}

const STYLE = `
:root{color-scheme:light;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#f9fafb}
main{max-width:1400px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
.meta{color:var(--muted);margin:0 0 16px}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;list-style:none;margin:8px 0 0}
a{color:var(--accent)}
.fig{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:16px;margin:16px 0}
.fig figcaption{margin-bottom:8px}.fig figcaption .note{display:block;color:var(--muted);font-size:13px}
.fig-body{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.chart{flex:0 0 auto;overflow-x:auto;max-width:100%}.chart svg{display:block}
.numbers{flex:1 1 480px;overflow-x:auto;max-height:520px;overflow-y:auto}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
caption{text-align:left;color:var(--muted);font-size:12px;padding-bottom:4px}
th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:right;vertical-align:top}
th[scope=row],thead th:first-child{text-align:left}th[scope=row]{white-space:nowrap}
thead th{position:sticky;top:0;background:var(--bg)}
.text-cell{text-align:left;max-width:560px;white-space:pre-wrap;overflow-wrap:anywhere}
.chain{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
.chain ol{margin:0;padding-left:3.2em}.chain li{margin:2px 0}
.who{display:inline-block;font-size:11px;color:#fff;border-radius:3px;padding:0 4px;margin-right:6px;vertical-align:1px}
.human{outline:1px dashed #111;outline-offset:1px}
details.race{background:var(--bg);border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:6px 10px}
details.race summary{cursor:pointer}
.race table{width:100%}.race .text-cell{max-width:none;width:60%}
.tok{border-radius:2px;white-space:pre-wrap}
.legend{display:flex;align-items:center;gap:6px;font-size:12px;color:var(--muted);margin:8px 0}
.legend .swatch{display:inline-block;width:28px;height:14px;border:1px solid var(--line)}
.pick{color:#b45309;font-weight:600}.accepted{color:#047857;font-weight:600}
.problem{white-space:pre-wrap;background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:12px 16px;max-height:320px;overflow:auto}
.empty{color:var(--muted);font-style:italic}
@media print{body{background:#fff}.fig{break-inside:avoid}}
`;

/** A whole page: no scripts, no external resources; a strict CSP says so to the browser too. */
export function renderPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="concord">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
