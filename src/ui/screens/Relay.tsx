// Relay view of the current chain: the generator's per-token log-probabilities as shading, and
// a cut point (early / mid / late or any sentence) where a continuer would take over.
import React, { useState } from "react";
import { Box, Text } from "ink";
import { useConcord } from "../../state/store.js";
import { useActions, useUi } from "../context.js";
import { keyFor } from "../keys.js";
import { fitWidth, sanitize } from "../sanitize.js";
import { nllStyle, useTheme } from "../theme.js";
import { Lines, R, wrapSegments, type Segment } from "../widgets/text.js";

export function RelayScreen() {
  const { store, width, height, bindings } = useUi();
  const theme = useTheme();
  const chain = useConcord(store, (s) => s.chain);
  const n = chain.sentences.length;
  const [cut, setCut] = useState<number | null>(null);
  const at = Math.max(0, Math.min(n, cut ?? Math.round(n / 2)));
  useActions((action) => {
    if (action === "cut-prev" || action === "up") return setCut(Math.max(0, at - 1)), true;
    if (action === "cut-next" || action === "down") return setCut(Math.min(n, at + 1)), true;
    return false;
  });
  if (!n) return <R role="muted">{`The chain is empty. Build one on the Race screen (${keyFor(bindings, "screen-race")}).`}</R>;
  const segs: Segment[] = [];
  chain.sentences.forEach((s, i) => {
    if (i === at) segs.push({ text: " ┃cut┃ ", role: "accent" });
    const acc = s.candidates.find((c) => c.id === s.acceptedId);
    if (acc?.tokens?.length && acc.text === s.text) for (const tk of acc.tokens) segs.push({ text: sanitize(tk.token), style: i >= at ? theme.roles.muted : nllStyle(theme, -tk.logprob) });
    else segs.push({ text: (i ? " " : "") + sanitize(s.text), role: i >= at ? "muted" : "text" });
  });
  if (at === n) segs.push({ text: " ┃cut┃", role: "accent" });
  const label = at === Math.round(n / 4) ? "early" : at === Math.round(n / 2) ? "mid" : at === Math.round((3 * n) / 4) ? "late" : "by hand";
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <R role="title">Relay</R>
        <R role="muted">{fitWidth(`  cut after sentence ${at} of ${n} (${label}) · ${keyFor(bindings, "cut-prev")}/${keyFor(bindings, "cut-next")} moves it · shading: generator NLL`, width - 6)}</R>
      </Text>
      <Lines lines={wrapSegments(segs, width)} rows={height - 2} from="start" />
      <R role="muted">{fitWidth("Continuers' completions from this cut: `concord relay` runs them headless.", width)}</R>
    </Box>
  );
}
