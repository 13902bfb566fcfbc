// Styled text by semantic role, and line wrapping of styled segments (so screens know exactly
// how many rows a text takes and can show the newest part of a long chain).
import React from "react";
import { Box, Text } from "ink";
import stringWidth from "string-width";
import { useTheme, type Role, type Style } from "../theme.js";
import { displayWidth, sanitize } from "../sanitize.js";

export function R({ role, children, wrap }: { role: Role; children?: React.ReactNode; wrap?: "truncate-end" | "wrap" }) {
  const t = useTheme();
  return (
    <Text {...t.roles[role]} wrap={wrap}>
      {children}
    </Text>
  );
}

export interface Segment {
  text: string;
  style?: Style;
  role?: Role;
}

/** Wrap styled segments into lines of at most `width` columns, breaking at spaces when it can.
 * A word split over several segments (a model's tokens, each styled) stays whole.
 * Segment text must already be sanitized; "\n" starts a new line. */
export function wrapSegments(segments: Segment[], width: number): Segment[][] {
  const lines: Segment[][] = [[]];
  let col = 0;
  const w = Math.max(1, width);
  const push = (text: string, seg: Segment) => {
    const line = lines[lines.length - 1];
    const last = line[line.length - 1];
    if (last && last.style === seg.style && last.role === seg.role) last.text += text;
    else line.push({ ...seg, text });
  };
  const newline = () => {
    lines.push([]);
    col = 0;
  };
  // A word: leading spaces, then the non-space pieces that follow without a space between,
  // whichever segments they come from.
  type Piece = { text: string; seg: Segment };
  let word: Piece[] = [];
  const wordWidth = (pieces: Piece[]) => pieces.reduce((n, p) => n + displayWidth(p.text), 0);
  const place = () => {
    if (!word.length) return;
    let pieces = word;
    word = [];
    let ww = wordWidth(pieces);
    if (col + ww > w && col > 0) {
      newline();
      // The spaces that led to the break are not carried to the new line.
      pieces = pieces.map((p, i) => (i === 0 ? { ...p, text: p.text.trimStart() } : p)).filter((p) => p.text);
      ww = wordWidth(pieces);
    }
    if (ww > w) {
      for (const p of pieces) pushLong(p.text, p.seg);
      return;
    }
    for (const p of pieces) push(p.text, p.seg);
    col += ww;
  };
  for (const seg of segments) {
    seg.text.split("\n").forEach((part, pi) => {
      if (pi > 0) {
        place();
        newline();
      }
      for (const run of part.match(/\s+|\S+/g) ?? []) {
        // Spaces start a new word (after the one before is placed); letters join the current one.
        if (/^\s/.test(run)) {
          place();
          word.push({ text: run, seg });
        } else word.push({ text: run, seg });
      }
    });
  }
  place();
  function pushLong(word: string, seg: Segment) {
    for (const ch of word) {
      const cw = stringWidth(ch);
      if (col + cw > w) newline();
      push(ch, seg);
      col += cw;
    }
  }
  return lines;
}

/** Render wrapped lines; with `rows`, only the last `rows` lines (the newest text). */
export function Lines({ lines, rows, from = "end" }: { lines: Segment[][]; rows?: number; from?: "start" | "end" }) {
  const t = useTheme();
  const shown = rows === undefined ? lines : from === "end" ? lines.slice(Math.max(0, lines.length - rows)) : lines.slice(0, rows);
  // Lines of one style are one text block: the same characters, but one node for Ink to lay out
  // and draw instead of one per line (a long note drawn on every keypress).
  const first = shown.find((l) => l.length)?.[0];
  if (shown.length > 1 && shown.every((l) => l.length <= 1 && (!l[0] || (l[0].role === first?.role && l[0].style === first?.style)))) {
    return (
      <Text wrap="truncate-end" {...(first?.role ? t.roles[first.role] : (first?.style ?? t.roles.text))}>
        {shown.map((l) => l[0]?.text || " ").join("\n")}
      </Text>
    );
  }
  return (
    <Box flexDirection="column">
      {shown.map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line.length === 0
            ? " "
            : line.map((seg, j) => (
                <Text key={j} {...(seg.role ? t.roles[seg.role] : (seg.style ?? t.roles.text))}>
                  {seg.text}
                </Text>
              ))}
        </Text>
      ))}
    </Box>
  );
}

/** Untrusted model text, sanitized, on one line or wrapped. */
export function ModelText({ text, role = "text", multiline = false }: { text: string; role?: Role; multiline?: boolean }) {
  return <R role={role}>{sanitize(text, { multiline })}</R>;
}
