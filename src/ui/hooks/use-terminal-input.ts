// What Ink's key events leave out, read from the raw input they are made of:
// - bracketed paste: the terminal wraps pasted text in ESC[200~ … ESC[201~, so a paste arrives as
//   text (line breaks included) and is never taken for keys — a pasted line break does not end a
//   prompt and the rest of a paste does not run as commands;
// - Delete (ESC[3~) apart from Backspace (DEL, 0x7f), which Ink reports alike.
import { useEffect, useRef } from "react";
import { useStdin, useStdout, type Key } from "ink";
import type { KeyUnit } from "../widgets/line-input.js";

export const PASTE_START = "\u001b[200~";
export const PASTE_END = "\u001b[201~";
const ENABLE_PASTE = "\u001b[?2004h";
const DISABLE_PASTE = "\u001b[?2004l";
const FORWARD_DELETE = /^\u001b\[3(;\d+)?~$/;

export interface RawInput {
  /** The raw sequence of the event being handled. */
  last: string;
  /** Inside a bracketed paste. */
  pasting: boolean;
}

/** Turn one Ink key event into the units the App handles, given the raw sequence it came from. */
export function unitsOf(raw: RawInput, input: string, key: Key): KeyUnit[] {
  if (raw.last === PASTE_START || raw.last === PASTE_END) return [];
  if (raw.pasting) return [{ input: raw.last || input, paste: true }];
  if (key.delete || key.backspace) {
    const forward = FORWARD_DELETE.test(raw.last);
    return [{ input, key: { ...key, delete: forward, backspace: !forward } }];
  }
  // Keys typed faster than the interface reads them arrive as one string ("jj", "j\r"):
  // each is handled in turn rather than the whole lost as an unknown key.
  const plain = !key.ctrl && !key.meta && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow && !key.escape;
  return plain && [...input].length > 1 ? [...input].map((ch) => ({ input: ch })) : [{ input, key }];
}

/** Follow the raw input (before Ink's handlers see it) and ask a real terminal for bracketed paste. */
export function useRawInput(): RawInput {
  const { internal_eventEmitter: events } = useStdin();
  const { stdout } = useStdout();
  const raw = useRef<RawInput>({ last: "", pasting: false });
  useEffect(() => {
    const onInput = (data: string) => {
      const r = raw.current;
      r.last = data;
      if (data === PASTE_START) r.pasting = true;
      else if (data === PASTE_END) r.pasting = false;
    };
    // First in line: the state is set before any key handler reads it.
    events.prependListener("input", onInput);
    return () => {
      events.off("input", onInput);
    };
  }, [events]);
  useEffect(() => {
    if (!stdout.isTTY) return;
    stdout.write(ENABLE_PASTE);
    return () => {
      stdout.write(DISABLE_PASTE);
    };
  }, [stdout]);
  return raw.current;
}
