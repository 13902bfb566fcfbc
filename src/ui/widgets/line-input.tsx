// A one-line text input, fed its keys by the App's one input queue (so text typed right after
// the key that opened it is neither lost nor taken as commands). The value lives in a ref, not
// only in React state: keys that come faster than redraws each see what the key before left.
// A prefilled value starts selected: typing replaces it, Backspace or Delete clears it, a
// movement key keeps it. A paste is inserted as text (its line breaks as spaces).
import { useLayoutEffect, useReducer, useRef } from "react";
import { Text, type Key } from "ink";
import { displayWidth, fitWidth, sanitize, tailWidth } from "../sanitize.js";

/** One key as Ink reported it, or (no `key`) one character of a burst typed at once, or a paste. */
export interface KeyUnit {
  input: string;
  key?: Key;
  /** Pasted text (a bracketed paste): never keys. */
  paste?: boolean;
}

/** Where the App hands keys to the prompt; `feed` is set while one is shown. */
export interface PromptFeed {
  feed: ((unit: KeyUnit) => void) | null;
}

export interface LineInputProps {
  initial?: string;
  /** Columns available for the value and the cursor. */
  width: number;
  input: PromptFeed;
  onSubmit: (value: string) => void;
  onCancel: () => void;
}

/** Controls and escapes never enter the value: pasted text is untrusted too. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function LineInput({ initial = "", width, input, onSubmit, onCancel }: LineInputProps) {
  const st = useRef<{ chars: string[]; cursor: number; done: boolean; selected: boolean }>({
    chars: Array.from(initial),
    cursor: Array.from(initial).length,
    done: false,
    selected: initial.length > 0,
  });
  const [, redraw] = useReducer((n: number) => n + 1, 0);

  const handle = ({ input: text, key, paste }: KeyUnit) => {
    const s = st.current;
    if (s.done) return;
    /** Drop the selected text (the prefilled value), when there is one. */
    const dropSelection = () => {
      if (!s.selected) return false;
      s.selected = false;
      s.chars = [];
      s.cursor = 0;
      return true;
    };
    if (paste) {
      dropSelection();
      for (const ch of text.replace(/\r\n?|\n/g, " ")) if (!CONTROL.test(ch)) s.chars.splice(s.cursor++, 0, ch);
      return redraw();
    }
    const finish = (submit: boolean) => {
      s.done = true;
      if (submit) onSubmit(s.chars.join(""));
      else onCancel();
    };
    const erase = () => {
      if (!dropSelection() && s.cursor > 0) s.chars.splice(--s.cursor, 1);
    };
    const clear = () => {
      s.chars = s.chars.slice(s.cursor);
      s.cursor = 0;
    };
    const killToEnd = () => {
      s.chars = s.chars.slice(0, s.cursor);
    };
    const eraseForward = () => {
      if (!dropSelection() && s.cursor < s.chars.length) s.chars.splice(s.cursor, 1);
    };
    /** ctrl+w: the spaces before the cursor and the word before them. */
    const eraseWord = () => {
      let i = s.cursor;
      while (i > 0 && /\s/.test(s.chars[i - 1])) i--;
      while (i > 0 && !/\s/.test(s.chars[i - 1])) i--;
      s.chars.splice(i, s.cursor - i);
      s.cursor = i;
    };
    const left = () => (s.cursor = Math.max(0, s.cursor - 1));
    const right = () => (s.cursor = Math.min(s.chars.length, s.cursor + 1));
    // The editing keys as control characters: how they come when typed in one burst with other keys.
    const EDIT: Record<string, () => unknown> = {
      "\u007f": erase,
      "\b": erase,
      "\u0015": clear,
      "\u000b": killToEnd,
      "\u0017": eraseWord,
      "\u0004": eraseForward,
      "\u0001": () => (s.cursor = 0),
      "\u0005": () => (s.cursor = s.chars.length),
      "\u0002": left,
      "\u0006": right,
    };
    if (key) {
      if (key.escape || (key.ctrl && text === "c")) return finish(false);
      if (key.return) return finish(true);
      // A movement or line-editing key works on the value as it stands (typed text replaces it).
      if (key.leftArrow || key.rightArrow || key.home || key.end || (key.ctrl && "abefkuw".includes(text))) s.selected = false;
      if (key.leftArrow || (key.ctrl && text === "b")) left();
      else if (key.rightArrow || (key.ctrl && text === "f")) right();
      else if (key.home || (key.ctrl && text === "a")) s.cursor = 0;
      else if (key.end || (key.ctrl && text === "e")) s.cursor = s.chars.length;
      else if (key.ctrl && text === "u") clear();
      else if (key.ctrl && text === "k") killToEnd();
      else if (key.ctrl && text === "w") eraseWord();
      else if (key.ctrl && text === "d") eraseForward();
      else if (key.delete) eraseForward();
      else if (key.backspace) erase();
      else if (key.upArrow || key.downArrow || key.tab || key.ctrl || key.meta || key.pageUp || key.pageDown) return;
      else return type(text);
      return redraw();
    }
    type(text);

    /** Typed (or pasted) text; a line break in it is the Enter typed with it. */
    function type(chunk: string) {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish(true);
        if (ch === "\u0003") return finish(false);
        const edit = EDIT[ch];
        if (edit) {
          if (edit !== erase && edit !== eraseForward) s.selected = false;
          edit();
        } else if (!CONTROL.test(ch)) {
          dropSelection();
          s.chars.splice(s.cursor++, 0, ch);
        }
      }
      redraw();
    }
  };
  const latest = useRef(handle);
  latest.current = handle;
  // A layout effect: keys queued while the prompt opened are handed over as soon as it is drawn.
  useLayoutEffect(() => {
    const feed = (u: KeyUnit) => latest.current(u);
    input.feed = feed;
    return () => {
      if (input.feed === feed) input.feed = null;
    };
  }, [input]);

  const { chars, cursor, selected } = st.current;
  const clean = (x: string[]) => sanitize(x.join(""), { multiline: false });
  const at = clean(chars.slice(cursor, cursor + 1)) || " ";
  const before = tailWidth(clean(chars.slice(0, cursor)), Math.max(1, width - displayWidth(at)));
  const after = fitWidth(clean(chars.slice(cursor + 1)), Math.max(0, width - displayWidth(before) - displayWidth(at)));
  if (selected)
    return (
      <Text wrap="truncate-end">
        <Text inverse>{fitWidth(clean(chars), Math.max(1, width - 1))}</Text>
        <Text> </Text>
      </Text>
    );
  return (
    <Text wrap="truncate-end">
      {before}
      <Text inverse>{at}</Text>
      {after}
    </Text>
  );
}
