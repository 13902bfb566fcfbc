// Notices: what the status line says. A notice that points to a key names the *action*; the
// interface draws the key bound to it now, so a rebound key is never shown wrong.
import type { Action } from "./intents.js";

export type NoticeLevel = "info" | "error";
export type NoticePart = string | { action: Action };

export interface Notice {
  level: NoticeLevel;
  parts: NoticePart[];
}

/** A key in a notice: drawn as the key bound to the action. */
export const act = (action: Action): NoticePart => ({ action });

function build(level: NoticeLevel, strings: TemplateStringsArray, values: Array<string | number | NoticePart>): Notice {
  const parts: NoticePart[] = [];
  const push = (p: NoticePart) => {
    const last = parts[parts.length - 1];
    if (typeof p === "string" && typeof last === "string") parts[parts.length - 1] = last + p;
    else if (p !== "") parts.push(p);
  };
  strings.forEach((s, i) => {
    push(s);
    if (i < values.length) {
      const v = values[i];
      push(typeof v === "number" ? String(v) : v);
    }
  });
  return { level, parts };
}

/** info`the chain is finished (${act("undo")} undoes the last sentence)` */
export const info = (strings: TemplateStringsArray, ...values: Array<string | number | NoticePart>): Notice => build("info", strings, values);

/** An error notice; drawn with "error: " in front. */
export const failure = (strings: TemplateStringsArray, ...values: Array<string | number | NoticePart>): Notice => build("error", strings, values);

/** A plain line (no keys in it); "error: ..." lines are errors. */
export function plain(text: string): Notice {
  return text.startsWith("error: ") ? { level: "error", parts: [text.slice("error: ".length)] } : { level: "info", parts: [text] };
}

/** The notice as one line, with the key bound to each action it names. */
export function noticeText(n: Notice | undefined, keyFor: (action: Action) => string): string {
  if (!n) return "";
  const body = n.parts.map((p) => (typeof p === "string" ? p : keyFor(p.action))).join("");
  return n.level === "error" ? `error: ${body}` : body;
}
