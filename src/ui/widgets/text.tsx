// Styled text by semantic role, and line wrapping of styled segments (so screens know exactly
// how many rows a text takes and can show the newest part of a long chain).
import React from "react";
import { Box, Text } from "ink";
import stringWidth from "string-width";
import { useTheme, type Role, type Style } from "../theme.js";
import { sanitize } from "../sanitize.js";

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
  for (const seg of segments) {
    const parts = seg.text.split("\n");
    parts.forEach((part, pi) => {
      if (pi > 0) newline();
      for (const word of part.match(/\s*\S+|\s+/g) ?? []) {
        let ww = stringWidth(word);
        if (col + ww > w && col > 0) {
          newline();
          const trimmed = word.trimStart();
          ww = stringWidth(trimmed);
          if (ww <= w) {
            push(trimmed, seg);
            col = ww;
            continue;
          }
          return pushLong(trimmed, seg);
        }
        if (ww > w) {
          pushLong(word, seg);
          continue;
        }
        push(word, seg);
        col += ww;
      }
    });
  }
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
  return (
    <Box flexDirection="column">
      {shown.map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line.length === 0 ? " " : line.map((seg, j) => (
            <Text key={j} {...(seg.role ? t.roles[seg.role] : seg.style ?? t.roles.text)}>
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
