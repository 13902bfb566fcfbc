// The interface: a tab bar, the visible screen, a status line (or a one-line prompt), and the
// one input handler that turns keys into actions through the binding table.
import React, { useEffect, useMemo, useRef, useState } from "react";
import { Box, Text, useApp, useInput, useStdout } from "ink";
import type { ConcordStore } from "../state/store.js";
import { useConcord } from "../state/store.js";
import { PortsContext, UiContext, type ActionHandler, type KeyHandler, type PromptSpec, type UiContextValue } from "./context.js";
import { DEFAULT_BINDINGS, keyName, noticeLine, resolveAction, type Binding, type Screen } from "./keys.js";
import { displayWidth, fitWidth, sanitize } from "./sanitize.js";
import { LineInput, type KeyUnit, type PromptFeed } from "./widgets/line-input.js";
import { unitsOf, useRawInput } from "./hooks/use-terminal-input.js";
import { ThemeContext, type Theme } from "./theme.js";
import { R, wrapSegments } from "./widgets/text.js";
import { RaceScreen } from "./screens/Race.js";
import { ProblemsScreen } from "./screens/Problems.js";
import { HelpOverlay } from "./screens/Help.js";
import { ResultsScreen } from "./screens/Results.js";
import { RelayScreen } from "./screens/Relay.js";
import { SettingsScreen } from "./screens/Settings.js";
import { TreeScreen } from "./screens/Tree.js";
import { TokensScreen } from "./screens/Tokens.js";
import type { ScreenPorts } from "./ports.js";

export interface AppProps {
  store: ConcordStore;
  theme: Theme;
  bindings?: Binding[];
  /** Problem sets, sessions, results and settings (src/app/ports builds them over the disk). */
  ports?: ScreenPorts;
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  size?: { columns: number; rows: number };
  onQuit?: () => void;
  /** One line kept under the tab bar (which models stand in for the defaults, and why). */
  notice?: string;
}

/** Names of the control characters that can come batched with other keys. */
const CHAR_NAMES: Record<string, string> = {
  // ctrl+a .. ctrl+z, as the binding table names them ("ctrl+c")
  ...Object.fromEntries(Array.from({ length: 26 }, (_, i) => [String.fromCharCode(i + 1), `ctrl+${String.fromCharCode(97 + i)}`])),
  "\r": "enter",
  "\n": "enter",
  "\t": "tab",
  "\u007f": "backspace",
  "\b": "backspace",
  " ": "space",
};

const TABS: Array<{ screen: Screen; label: string }> = [
  { screen: "problems", label: "Problems" },
  { screen: "race", label: "Race" },
  { screen: "relay", label: "Relay" },
  { screen: "results", label: "Results" },
  { screen: "settings", label: "Models" },
];

function useTerminalSize(fixed?: { columns: number; rows: number }) {
  const { stdout } = useStdout();
  const read = () => ({ columns: fixed?.columns ?? stdout.columns ?? 80, rows: fixed?.rows ?? stdout.rows ?? 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  }, [stdout, fixed]);
  return fixed ?? size;
}

function PromptLine({ spec, onDone, width, input }: { spec: PromptSpec; onDone: () => void; width: number; input: PromptFeed }) {
  const label = fitWidth(sanitize(`${spec.label}: `, { multiline: false }), Math.max(8, Math.floor(width / 2)));
  return (
    <Box width={width}>
      <R role="accent">{label}</R>
      <LineInput
        initial={spec.initial}
        width={Math.max(4, width - displayWidth(label) - 1)}
        onCancel={onDone}
        input={input}
        onSubmit={(v) => {
          onDone();
          spec.onSubmit(v);
        }}
      />
    </Box>
  );
}

export function App(props: AppProps) {
  const { store, theme } = props;
  const bindings = props.bindings ?? DEFAULT_BINDINGS;
  const ports = useMemo(() => props.ports ?? {}, [props.ports]);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize(props.size);
  const screen = useConcord(store, (s) => s.screen);
  const overlay = useConcord(store, (s) => s.overlay);
  const notice = useConcord(store, (s) => s.notices[s.screen]);
  const status = noticeLine(notice, bindings);
  const session = useConcord(store, (s) => s.session);
  const [promptSpec, setPromptSpec] = useState<PromptSpec | null>(null);
  // Every key goes through one queue, in order: a command key that opens a prompt may arrive
  // with the text meant for it ("wMy sentence.\r"), and that text must reach the prompt.
  const promptOpen = useRef(false);
  const promptInput = useRef<PromptFeed>({ feed: null });
  const promptSeq = useRef(0);
  const queue = useRef<KeyUnit[]>([]);
  const pumping = useRef(false);
  const closePrompt = () => {
    promptOpen.current = false;
    promptInput.current.feed = null;
    setPromptSpec(null);
  };
  const handlerRef = useRef<ActionHandler | null>(null);
  const keyRef = useRef<KeyHandler | null>(null);
  const width = Math.max(20, columns);
  // The start-up notice (e.g. offline: which model to set) is read whole: up to two lines.
  const noticeLines = useMemo(() => {
    if (!props.notice) return [];
    const lines = wrapSegments([{ text: sanitize(props.notice, { multiline: false }) }], width).map((l) => l.map((x) => x.text).join(""));
    return lines.length > 2 ? [lines[0]!, fitWidth(lines.slice(1).join(" "), width)] : lines;
  }, [props.notice, width]);
  const height = Math.max(6, rows - 3 - noticeLines.length);

  const ctx: UiContextValue = useMemo(
    () => ({
      store,
      bindings,
      width,
      height,
      prompt: (p) => {
        promptOpen.current = true;
        promptSeq.current++;
        setPromptSpec(p);
      },
      handlerRef,
      keyRef,
    }),
    [store, bindings, width, height],
  );

  /** Handle queued keys. Commands one at a time with a redraw in between (each sees what the
   * one before changed); prompt text as soon as the prompt is there. */
  function pump(waits = 0) {
    pumping.current = false;
    while (queue.current.length) {
      if (promptOpen.current) {
        const feed = promptInput.current.feed;
        if (!feed) {
          // The prompt is not drawn yet: its keys wait for it (a second at most).
          if (waits < 200) schedule(5, waits + 1);
          else queue.current = [];
          return;
        }
        feed(queue.current.shift()!);
        continue;
      }
      const u = queue.current.shift()!;
      // A paste is text: with no prompt open there is nothing to type it into.
      if (u.paste) {
        if (!queue.current.some((x) => x.paste)) store.getState().setStatus("paste ignored: no text field is open");
        continue;
      }
      handleKey(u.key ? keyName(u.input, u.key) : (CHAR_NAMES[u.input] ?? u.input));
      if (queue.current.length) return schedule(1, 0);
    }
  }
  function schedule(ms: number, waits: number) {
    if (pumping.current) return;
    pumping.current = true;
    setTimeout(() => pump(waits), ms);
  }

  const raw = useRawInput();
  useInput((input, key) => {
    const units = unitsOf(raw, input, key);
    if (!units.length) return;
    queue.current.push(...units);
    if (!pumping.current) pump();
  });

  function handleKey(name: string) {
    {
      const st = store.getState();
      if (st.overlay === "help") {
        const a = resolveAction(bindings, st.screen, name);
        if (a === "help" || name === "escape") st.toggleHelp();
        else if (a === "quit") quit();
        return;
      }
      const action = resolveAction(bindings, st.screen, name);
      if (!action) {
        keyRef.current?.(name);
        return;
      }
      if (action === "quit") return quit();
      if (action === "help") return st.toggleHelp();
      if (action.startsWith("screen-")) return st.setScreen(action.slice("screen-".length) as Screen);
      handlerRef.current?.(action);
    }
  }

  function quit() {
    props.onQuit?.();
    exit();
  }

  let body: React.ReactNode;
  if (overlay === "help") body = <HelpOverlay screen={screen} />;
  else if (screen === "race") body = <RaceScreen />;
  else if (screen === "problems") body = <ProblemsScreen />;
  else if (screen === "results") body = <ResultsScreen />;
  else if (screen === "relay") body = <RelayScreen />;
  else if (screen === "tree") body = <TreeScreen />;
  else if (screen === "tokens") body = <TokensScreen />;
  else body = <SettingsScreen />;

  const saved = session?.saveError ? "not saved" : session?.savedAt ? "saved" : "";
  return (
    <ThemeContext.Provider value={theme}>
      <PortsContext.Provider value={ports}>
        <UiContext.Provider value={ctx}>
          <Box flexDirection="column" width={width}>
            <Text wrap="truncate-end">
              <R role="title">Concord </R>
              {TABS.map((tab, i) => (
                <Text key={tab.screen} {...(tab.screen === screen ? theme.roles.selection : theme.roles.muted)}>
                  {` ${i + 1} ${tab.label} `}
                </Text>
              ))}
              <R role="muted"> ? help</R>
              {saved ? <R role={session?.saveError ? "error" : "success"}>{`  ${saved}`}</R> : null}
            </Text>
            {noticeLines.map((l, i) => (
              <Text key={i} wrap="truncate-end">
                <R role="warning">{fitWidth(l, width)}</R>
              </Text>
            ))}
            <Box height={height} flexDirection="column" overflowY="hidden">
              {body}
            </Box>
            <Box height={1} flexDirection="column">
              {promptSpec ? (
                <PromptLine key={promptSeq.current} spec={promptSpec} onDone={closePrompt} width={width} input={promptInput.current} />
              ) : (
                <Text wrap="truncate-end">
                  <R role={notice?.level === "error" ? "error" : "muted"}>{fitWidth(sanitize(status || " ", { multiline: false }), width)}</R>
                </Text>
              )}
            </Box>
          </Box>
        </UiContext.Provider>
      </PortsContext.Provider>
    </ThemeContext.Provider>
  );
}
