// A candidate's tokens, one position a row, with the most likely tokens its generator saw there:
// where the sentence could have gone another way, and what a branch at a token would start with.
import { Box, Text } from "ink";
import { useConcord, type ConcordState } from "../../state/store.js";
import { branchPrefix, otherTokens, tokenPositions, type TokenPosition } from "../../core/token-alternatives.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { fitWidth, sanitize } from "../sanitize.js";
import { R } from "../widgets/text.js";
import { shortId } from "./race-lanes.js";

const sel = {
  view: (s: ConcordState) => s.tokensView,
  lanes: (s: ConcordState) => s.race.lanes,
};

/** A token as it can be shown on one line: escapes and control characters made visible. */
export function showToken(t: string): string {
  // Spaces are what tell " the" from "the": shown, as ␣.
  return JSON.stringify(sanitize(t, { multiline: true }))
    .slice(1, -1)
    .replace(/ /g, "␣");
}

const pct = (logprob: number) => {
  const p = Math.exp(logprob) * 100;
  return `${p >= 9.95 ? p.toFixed(0) : p.toFixed(1)}%`.padStart(5);
};

function PositionRow({ p, cursor, choice, width }: { p: TokenPosition; cursor: boolean; choice: number; width: number }) {
  const others = otherTokens(p);
  const head = `${cursor ? "▸" : " "}${String(p.index + 1).padStart(4)} ${fitWidth(showToken(p.token), 14).padEnd(14)} ${pct(p.logprob)} │ `;
  // The likelier tokens than the one written mark a place where the generator could easily have gone elsewhere.
  const likelier = p.alternatives.findIndex((a) => a.token === p.token);
  return (
    <Text wrap="truncate-end">
      <R role={cursor ? "selection" : likelier > 0 ? "accent" : "text"}>{head}</R>
      {others.length === 0 ? (
        <R role="muted">(no other token given)</R>
      ) : (
        others.map((a, i) => (
          <R key={i} role={cursor && i === choice ? "selection" : "muted"}>
            {`${showToken(a.token)} ${pct(a.logprob).trim()}${i < others.length - 1 ? "  " : ""}`}
          </R>
        ))
      )}
    </Text>
  );
}

export function TokensScreen() {
  const { store, width, height, bindings } = useUi();
  const view = useConcord(store, sel.view);
  const lanes = useConcord(store, sel.lanes);
  const lane = view && lanes.find((l) => l.id === view.candidateId);
  const c = lane?.candidate;
  useActions((action) => {
    const s = store.getState();
    switch (action) {
      case "why":
      case "cancel":
        s.setScreen("race");
        return true;
      case "up":
        s.moveTokenCursor("prev");
        return true;
      case "down":
        s.moveTokenCursor("next");
        return true;
      case "page-up":
        s.moveTokenCursor("page-prev");
        return true;
      case "page-down":
        s.moveTokenCursor("page-next");
        return true;
      case "focus-next":
        s.moveTokenCursor("alt-next");
        return true;
      case "open":
        void s.branchAtToken();
        return true;
      default:
        return false;
    }
  });
  if (!view || !c?.tokens?.length)
    return (
      <Box flexDirection="column" height={height}>
        <R role="muted">{fitWidth(`no candidate on view: on the Race, select a finished candidate and press ${keyFor(bindings, "why")} twice`, width)}</R>
      </Box>
    );
  const positions = tokenPositions(c);
  const at = Math.min(view.position, positions.length - 1);
  const here = positions[at]!;
  const other = otherTokens(here)[view.choice];
  const listRows = Math.max(1, height - 5);
  const first = Math.max(0, Math.min(at - Math.floor(listRows / 3), positions.length - listRows));
  const shown = positions.slice(first, first + listRows);
  const line = (s: string) => sanitize(s, { multiline: false });
  const before = line(branchPrefix(c, at, ""));
  const room = Math.max(10, width - 60);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="border">{fitWidth(`── tokens of ${shortId(c.id)} (${c.generator}): ${positions.length} positions, the likeliest tokens at each `, width)}</R>
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">
          {fitWidth(
            `${"   #".padEnd(5)} ${"token".padEnd(14)} ${"p".padStart(5)} │ other likely tokens (${first + 1}-${first + shown.length} of ${positions.length})`,
            width,
          )}
        </R>
      </Text>
      <Box flexDirection="column" height={listRows} flexShrink={0}>
        {shown.map((p) => (
          <PositionRow key={p.index} p={p} cursor={p.index === at} choice={view.choice} width={width} />
        ))}
      </Box>
      <Text wrap="truncate-end">
        <R role="accent">{fitWidth(`at ${at + 1}: `, width)}</R>
        {other ? (
          <>
            <R role="muted">{before.length > room ? `…${before.slice(-room)}` : before}</R>
            <R role="selection">{showToken(other.token)}</R>
            <R role="muted">{` … ${keyFor(bindings, "open")}: ${view.generator ?? c.generator} goes on from here (${keyFor(bindings, "focus-next")}: the next alternative, then the next generator)`}</R>
          </>
        ) : (
          <R role="muted">the generator gave no other token here</R>
        )}
      </Text>
      <Text wrap="truncate-end">
        <R role="muted">
          {fitWidth(
            `${keyFor(bindings, "up")}/${keyFor(bindings, "down")} position · ${keyFor(bindings, "focus-next")} next alternative · highlighted: a likelier token was there · ${keyFor(bindings, "why")} back`,
            width,
          )}
        </R>
      </Text>
    </Box>
  );
}
