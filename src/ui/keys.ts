// The one key-binding table. Input handling and the help overlay both read it, so the help
// can never disagree with what the keys do. Settings may override the keys of any action.
import type { Key } from "ink";
import { UserError } from "../errors.js";
import { noticeText, type Notice } from "../state/notices.js";
import type { Action, Screen } from "../state/intents.js";

export type { Action, Screen };

export const SCREENS: Screen[] = ["problems", "race", "relay", "results", "settings"];

export interface Binding {
  action: Action;
  /** Key names as produced by `keyName`: "a", "A", "enter", "escape", "up", "ctrl+c", "space"... */
  keys: string[];
  description: string;
  /** Screens where the binding applies; "all" for global ones. */
  screens: Screen[] | "all";
}

// Descriptions stay short (about 26 columns) so that help fits two columns at 80x24.
export const DEFAULT_BINDINGS: Binding[] = [
  { action: "help", keys: ["?"], description: "show or hide this help", screens: "all" },
  { action: "quit", keys: ["q", "ctrl+c"], description: "quit (session is saved)", screens: "all" },
  { action: "screen-problems", keys: ["1"], description: "Problems screen", screens: "all" },
  { action: "screen-race", keys: ["2"], description: "Race screen", screens: "all" },
  { action: "screen-relay", keys: ["3"], description: "Relay screen", screens: "all" },
  { action: "screen-results", keys: ["4"], description: "Results screen", screens: "all" },
  { action: "screen-settings", keys: ["5"], description: "Models & settings screen", screens: "all" },
  { action: "up", keys: ["up", "k"], description: "move up", screens: ["problems", "race", "relay", "results", "settings", "tree", "tokens"] },
  { action: "down", keys: ["down", "j"], description: "move down", screens: ["problems", "race", "relay", "results", "settings", "tree", "tokens"] },
  { action: "top", keys: ["g", "home"], description: "first item", screens: ["problems", "results", "settings"] },
  { action: "bottom", keys: ["G", "end"], description: "last item", screens: ["problems", "results", "settings"] },
  { action: "page-up", keys: ["pageup"], description: "page up", screens: ["problems", "results", "settings", "tree", "tokens"] },
  { action: "page-down", keys: ["pagedown"], description: "page down", screens: ["problems", "results", "settings", "tree", "tokens"] },
  { action: "focus-next", keys: ["tab"], description: "next column / named cut", screens: ["problems", "relay", "results", "settings", "tokens"] },
  { action: "open", keys: ["enter"], description: "open the selected item", screens: ["problems", "results", "tree", "tokens"] },
  { action: "filter", keys: ["/"], description: "filter the list", screens: ["problems"] },
  { action: "reveal", keys: ["v"], description: "show or hide the reference", screens: ["problems", "race"] },
  { action: "accept-pick", keys: ["a"], description: "accept evaluator's pick", screens: ["race"] },
  { action: "choose", keys: ["enter", "o"], description: "accept selected candidate", screens: ["race"] },
  { action: "edit", keys: ["e"], description: "edit selected, then accept", screens: ["race"] },
  { action: "write", keys: ["w"], description: "write your own sentence", screens: ["race"] },
  { action: "regenerate", keys: ["r"], description: "regenerate this step", screens: ["race"] },
  { action: "undo", keys: ["u", "backspace"], description: "undo the last sentence", screens: ["race"] },
  { action: "run-n", keys: ["n"], description: "auto-run N steps (asks N)", screens: ["race"] },
  { action: "run-end", keys: ["G"], description: "auto-run to the end", screens: ["race"] },
  { action: "pause", keys: ["p", "space"], description: "pause auto-run after step", screens: ["race"] },
  { action: "cancel", keys: ["escape"], description: "cancel what is running", screens: ["race", "relay", "results", "settings"] },
  { action: "why", keys: ["y"], description: "why: NLL shading / tokens", screens: ["race", "relay", "tokens"] },
  { action: "toggle-targets", keys: ["t"], description: "targets panel", screens: ["race"] },
  { action: "importance", keys: ["i"], description: "importance", screens: ["race"] },
  { action: "next-step", keys: ["s"], description: "start the next step", screens: ["race"] },
  { action: "export", keys: ["x"], description: "export chain .txt + .md", screens: ["race"] },
  { action: "go-live", keys: ["L"], description: "replay: go on live here", screens: ["race"] },
  { action: "page-up", keys: ["pageup"], description: "chain back", screens: ["race"] },
  { action: "page-down", keys: ["pagedown"], description: "chain forward", screens: ["race"] },
  // The Tree screen also moves with up/down (siblings), page up/down (branches) and open (go there).
  { action: "tree", keys: ["b"], description: "session tree / back", screens: ["race", "tree"] },
  { action: "tree-parent", keys: ["left", "h"], description: "parent", screens: ["tree"] },
  { action: "tree-child", keys: ["right", "l"], description: "child", screens: ["tree"] },
  { action: "tree-compare", keys: ["c"], description: "compare", screens: ["tree"] },
  { action: "cut-prev", keys: ["left", "h"], description: "move the cut earlier", screens: ["relay"] },
  { action: "cut-next", keys: ["right", "l"], description: "move the cut later", screens: ["relay"] },
  { action: "run-relay", keys: ["enter", "r"], description: "run relay", screens: ["relay"] },
  { action: "relay-results", keys: ["f"], description: "saved relays", screens: ["relay"] },
  { action: "probe", keys: ["P"], description: "probe model capabilities", screens: ["settings"] },
  { action: "assign-role", keys: ["enter", "space"], description: "toggle role / form: edit", screens: ["settings"] },
  { action: "theme", keys: ["T"], description: "next theme", screens: ["settings"] },
  { action: "add-profile", keys: ["a"], description: "add a model profile", screens: ["settings"] },
  { action: "edit-profile", keys: ["e"], description: "edit the selected profile", screens: ["settings"] },
  { action: "remove-profile", keys: ["d"], description: "remove it (asks y/n)", screens: ["settings"] },
];

/** Ink's (input, key) as one name: the vocabulary of the binding table. */
export function keyName(input: string, key: Key): string {
  if (key.upArrow) return "up";
  if (key.downArrow) return "down";
  if (key.leftArrow) return "left";
  if (key.rightArrow) return "right";
  if (key.pageUp) return "pageup";
  if (key.pageDown) return "pagedown";
  if (key.home) return "home";
  if (key.end) return "end";
  if (key.return) return "enter";
  if (key.escape) return "escape";
  if (key.tab) return key.shift ? "shift+tab" : "tab";
  if (key.backspace || key.delete) return "backspace";
  if (input === " ") return "space";
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
  if (key.meta && input) return `meta+${input}`;
  return input;
}

/** The binding table with the keys of some actions replaced (from settings). */
export function withOverrides(overrides: Partial<Record<string, string | string[]>> = {}, base = DEFAULT_BINDINGS): Binding[] {
  const known = new Set(base.map((b) => b.action as string));
  const lists: Record<string, string[]> = {};
  for (const [action, value] of Object.entries(overrides)) {
    const keys = typeof value === "string" ? [value] : value;
    lists[action] = keys as string[];
    if (!known.has(action)) throw new UserError(`key override "${action}": no such action (expected one of ${[...known].join(", ")})`);
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== "string" || !k))
      throw new UserError(`key override "${action}": expected a non-empty list of key names`);
  }
  return base.map((b) => (lists[b.action] ? { ...b, keys: [...lists[b.action]] } : b));
}

function applies(b: Binding, screen: Screen): boolean {
  return b.screens === "all" || b.screens.includes(screen);
}

/** The action a key triggers on a screen. Screen bindings win over global ones. */
export function resolveAction(bindings: Binding[], screen: Screen, name: string): Action | undefined {
  let global: Action | undefined;
  for (const b of bindings) {
    if (!b.keys.includes(name) || !applies(b, screen)) continue;
    if (b.screens !== "all") return b.action;
    global ??= b.action;
  }
  return global;
}

/** Screen names as the tab bar shows them. */
export const SCREEN_NAMES: Record<Screen, string> = {
  problems: "Problems",
  race: "Race",
  relay: "Relay",
  results: "Results",
  settings: "Models",
  tree: "Tree",
  tokens: "Tokens",
};

/** Bindings to show in help, global first, then the given screen's. `where` names the screens a key belongs to. */
export function helpRows(bindings: Binding[], screen?: Screen): Array<{ keys: string; description: string; scope: string; where: string }> {
  const rows = bindings
    .filter((b) => !screen || applies(b, screen))
    .map((b) => ({
      keys: b.keys.join(" / "),
      description: b.description,
      scope: b.screens === "all" ? "everywhere" : b.screens.join(", "),
      where: b.screens === "all" ? "everywhere" : b.screens.map((x) => SCREEN_NAMES[x]).join(", "),
    }));
  return rows;
}

/** The first key of an action, for hints in status lines. */
export function keyFor(bindings: Binding[], action: Action): string {
  return bindings.find((b) => b.action === action)?.keys[0] ?? "?";
}

/** A notice as the status line shows it: each action it names drawn with the key bound to it. */
export function noticeLine(n: Notice | undefined, bindings: Binding[] = DEFAULT_BINDINGS): string {
  return noticeText(n, (a) => keyFor(bindings, a));
}

/** The status line of the screen on view. */
export function statusLine(s: { notices: Partial<Record<Screen, Notice>>; screen: Screen }, bindings: Binding[] = DEFAULT_BINDINGS): string {
  return noticeLine(s.notices[s.screen], bindings);
}
