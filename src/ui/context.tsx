// What every screen reads from the App: the store, the bindings, the terminal size, a way to
// ask for a line of text, and a slot for the screen's own key handler.
import { createContext, useContext, useLayoutEffect, useRef } from "react";
import type { ConcordStore } from "../state/store.js";
import type { Action, Binding } from "./keys.js";
import type { ScreenPorts } from "./ports.js";

export interface PromptSpec {
  label: string;
  initial?: string;
  onSubmit: (value: string) => void;
}

/** Returns true when the screen used the action. */
export type ActionHandler = (action: Action) => boolean;

/** Gets the keys that no binding claims on the screen (e.g. the y/n of a question). */
export type KeyHandler = (name: string) => boolean;

export interface UiContextValue {
  store: ConcordStore;
  bindings: Binding[];
  width: number;
  height: number;
  prompt: (p: PromptSpec) => void;
  handlerRef: { current: ActionHandler | null };
  keyRef: { current: KeyHandler | null };
}

export const UiContext = createContext<UiContextValue | null>(null);

/** The ports the entry supplies (files, sessions, results, settings); empty in a bare render. */
export const PortsContext = createContext<ScreenPorts>({});

export function usePorts(): ScreenPorts {
  return useContext(PortsContext);
}

export function useUi(): UiContextValue {
  const v = useContext(UiContext);
  if (!v) throw new Error("UiContext missing");
  return v;
}

/** Register the visible screen's key handler (the latest closure is always the one called).
 * A layout effect: it is in place as soon as the screen is drawn, so a key pressed right after
 * a screen change never reaches the screen that was left. */
export function useActions(handler: ActionHandler): void {
  const { handlerRef } = useUi();
  const latest = useRef(handler);
  latest.current = handler;
  useLayoutEffect(() => {
    const fn: ActionHandler = (a) => latest.current(a);
    handlerRef.current = fn;
    return () => {
      if (handlerRef.current === fn) handlerRef.current = null;
    };
  }, [handlerRef]);
}

/** Register the visible screen's handler of unbound keys (like useActions). */
export function useUnboundKeys(handler: KeyHandler): void {
  const { keyRef } = useUi();
  const latest = useRef(handler);
  latest.current = handler;
  useLayoutEffect(() => {
    const fn: KeyHandler = (k) => latest.current(k);
    keyRef.current = fn;
    return () => {
      if (keyRef.current === fn) keyRef.current = null;
    };
  }, [keyRef]);
}
