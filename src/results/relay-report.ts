// The relay report (SCIENCE.md §2) from relay.jsonl: accuracy per stage x pair with 95%
// intervals and its difference to both baselines (the initiator alone, the continuer alone),
// same- versus cross-family pairs, where continuers depart (a histogram over the relative
// position in their part of the chain), and step-score aggregates of hybrid and baseline chains.
// Intervals are seeded bootstraps over problems (core/relay-stats.ts).
import { bootstrap, histogram, pairedDifference, rate, type Interval } from "../core/relay-stats.js";
import type { RelayRecord } from "./relay-store.js";

export const STAGE_ORDER = ["early", "mid", "late"] as const;
export const DEPARTURE_BINS = 10;

export interface RelayCell {
  initiator: string;
  continuer: string;
  stage: string;
  family: "same" | "cross";
  problems: number;
  hybrids: number;
  accuracy: Interval | null;
  initiatorAccuracy: number | null;
  continuerAloneAccuracy: number | null;
  /** Hybrid minus initiator alone, paired over problems. */
  vsInitiator: Interval | null;
  /** Hybrid minus continuer alone, paired over problems. */
  vsContinuerAlone: Interval | null;
  /** Share of hybrids whose answer agrees with the initiator's. */
  agreesWithInitiator: number | null;
  /** Hybrids where the initiator was right and the hybrid wrong. */
  broken: number;
}

export interface FamilyRow {
  family: "same" | "cross";
  stage: string;
  hybrids: number;
  accuracy: Interval | null;
  vsInitiator: Interval | null;
}

export interface AggregateRow {
  chains: "initiator" | "continuer-alone" | "hybrid";
  scored: number;
  min: Interval | null;
  mean: Interval | null;
  last: Interval | null;
}

export interface RelayReport {
  records: number;
  problems: number;
  cells: RelayCell[];
  families: FamilyRow[];
  departures: {
    bins: number;
    /** Counts per bin of relative position in the continuer's part, [i/bins, (i+1)/bins). */
    histogram: number[];
    /** Hybrids whose answer differs from the initiator's. */
    differing: number;
    /** ...of which a departing sentence was found. */
    located: number;
  };
  scores: { scorer: string | null; rows: AggregateRow[] };
}

const groupBy = <T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> => {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
};

const problemOf = (r: RelayRecord) => `${r.dataset}\u241f${r.problemId}`;
const familyOf = (r: RelayRecord): "same" | "cross" => ((r.initiatorFamily ?? r.initiator) === (r.continuerFamily ?? r.continuer) ? "same" : "cross");
const correctByProblem = (rs: readonly RelayRecord[]) => new Map([...groupBy(rs, problemOf)].map(([k, v]) => [k, v.map((r) => r.correct)]));
const accuracyOf = (rs: readonly RelayRecord[]) => bootstrap([...groupBy(rs, problemOf).values()], (xs) => rate(xs.map((r) => r.correct)));

export function buildRelayReport(records: readonly RelayRecord[]): RelayReport {
  const initiators = records.filter((r) => r.role === "initiator");
  const alone = records.filter((r) => r.role === "continuer-alone");
  const hybrids = records.filter((r) => r.role === "hybrid");
  const initBy = groupBy(initiators, (r) => r.initiator!);
  const aloneBy = groupBy(alone, (r) => r.continuer!);
  const stageRank = (s: string) => STAGE_ORDER.indexOf(s as (typeof STAGE_ORDER)[number]);

  const cells: RelayCell[] = [];
  for (const [, rs] of groupBy(hybrids, (r) => [r.initiator, r.continuer, r.stage].join("\u241f"))) {
    const first = rs[0]!;
    const problems = new Set(rs.map(problemOf));
    const initRs = (initBy.get(first.initiator!) ?? []).filter((r) => problems.has(problemOf(r)));
    const aloneRs = (aloneBy.get(first.continuer!) ?? []).filter((r) => problems.has(problemOf(r)));
    const initAnswer = new Map(initRs.map((r) => [problemOf(r), r]));
    cells.push({
      initiator: first.initiator!,
      continuer: first.continuer!,
      stage: first.stage!,
      family: familyOf(first),
      problems: problems.size,
      hybrids: rs.length,
      accuracy: accuracyOf(rs),
      initiatorAccuracy: rate(initRs.map((r) => r.correct)),
      continuerAloneAccuracy: rate(aloneRs.map((r) => r.correct)),
      vsInitiator: pairedDifference(correctByProblem(rs), correctByProblem(initRs)),
      vsContinuerAlone: pairedDifference(correctByProblem(rs), correctByProblem(aloneRs)),
      agreesWithInitiator: rate(rs.map((r) => r.comparison === "agrees")),
      broken: rs.filter((r) => !r.correct && initAnswer.get(problemOf(r))?.correct).length,
    });
  }
  cells.sort((a, b) => a.initiator.localeCompare(b.initiator) || a.continuer.localeCompare(b.continuer) || stageRank(a.stage) - stageRank(b.stage));

  const families: FamilyRow[] = [];
  for (const [, rs] of groupBy(hybrids, (r) => `${familyOf(r)}\u241f${r.stage}`)) {
    // Each hybrid against its own initiator's answer on the same problem.
    const initCorrect = new Map<string, boolean[]>();
    for (const r of rs) {
      const init = initBy.get(r.initiator!)?.find((x) => problemOf(x) === problemOf(r));
      if (!init) continue;
      const k = `${problemOf(r)}\u241f${r.initiator}\u241f${r.continuer}`;
      initCorrect.set(k, [init.correct]);
    }
    const hybridCorrect = new Map(
      [...groupBy(rs, (r) => `${problemOf(r)}\u241f${r.initiator}\u241f${r.continuer}`)].map(([k, v]) => [k, v.map((r) => r.correct)]),
    );
    families.push({
      family: familyOf(rs[0]!),
      stage: rs[0]!.stage!,
      hybrids: rs.length,
      accuracy: accuracyOf(rs),
      vsInitiator: pairedDifference(hybridCorrect, initCorrect),
    });
  }
  families.sort((a, b) => a.family.localeCompare(b.family) || stageRank(a.stage) - stageRank(b.stage));

  const differing = hybrids.filter((r) => r.comparison === "differs");
  const positions = differing.flatMap((r) => (r.departure ? [r.departure.position] : []));

  const aggregateRow = (chains: AggregateRow["chains"], rs: readonly RelayRecord[]): AggregateRow => {
    const scored = rs.filter((r) => r.scoreAggregate);
    const groups = [...groupBy(scored, problemOf).values()];
    const stat = (f: "min" | "mean" | "last") => bootstrap(groups, (xs) => (xs.length ? xs.reduce((s, r) => s + r.scoreAggregate![f], 0) / xs.length : null));
    return { chains, scored: scored.length, min: stat("min"), mean: stat("mean"), last: stat("last") };
  };
  const scorer = records.find((r) => r.scorer)?.scorer ?? null;

  return {
    records: records.length,
    problems: new Set(records.map(problemOf)).size,
    cells,
    families,
    departures: { bins: DEPARTURE_BINS, histogram: histogram(positions, DEPARTURE_BINS), differing: differing.length, located: positions.length },
    scores: { scorer, rows: [aggregateRow("initiator", initiators), aggregateRow("continuer-alone", alone), aggregateRow("hybrid", hybrids)] },
  };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);
const ci = (i: Interval | null) => (i ? `${pct(i.value)} [${pct(i.low)}, ${pct(i.high)}]` : "-");
const signed = (i: Interval | null) => {
  if (!i) return "-";
  const s = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`;
  return `${s(i.value)} [${s(i.low)}, ${s(i.high)}]`;
};
const num = (i: Interval | null) => (i ? `${i.value.toFixed(3)} [${i.low.toFixed(3)}, ${i.high.toFixed(3)}]` : "-");

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Names from the records are model text's neighbours: keep control characters out of the terminal. */
const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ");

export function renderRelayReport(r: RelayReport): string {
  const out: string[] = [];
  out.push(`Relay: ${r.records} records over ${r.problems} problems (95% bootstrap intervals over problems; differences in points)`);
  out.push("");
  out.push(
    table(
      [
        "initiator",
        "continuer",
        "stage",
        "family",
        "n",
        "hybrid accuracy",
        "initiator",
        "continuer alone",
        "vs initiator",
        "vs continuer alone",
        "agrees",
        "broken",
      ],
      r.cells.map((c) => [
        clean(c.initiator),
        clean(c.continuer),
        c.stage,
        c.family,
        String(c.hybrids),
        ci(c.accuracy),
        pct(c.initiatorAccuracy),
        pct(c.continuerAloneAccuracy),
        signed(c.vsInitiator),
        signed(c.vsContinuerAlone),
        pct(c.agreesWithInitiator),
        String(c.broken),
      ]),
    ),
  );
  out.push("");
  out.push("Same versus cross family");
  out.push(
    table(
      ["family", "stage", "n", "hybrid accuracy", "vs initiator"],
      r.families.map((f) => [f.family, f.stage, String(f.hybrids), ci(f.accuracy), signed(f.vsInitiator)]),
    ),
  );
  out.push("");
  const d = r.departures;
  out.push(`Where continuers depart (relative position in the continuer's part; ${d.located} located of ${d.differing} differing answers)`);
  const most = Math.max(1, ...d.histogram);
  d.histogram.forEach((n, i) => {
    const lo = (i / d.bins).toFixed(1);
    const hi = ((i + 1) / d.bins).toFixed(1);
    out.push(`  [${lo}, ${hi})  ${"#".repeat(Math.round((n / most) * 30)).padEnd(30)} ${n}`);
  });
  out.push("");
  if (r.scores.scorer) {
    out.push(`Step scores (${clean(r.scores.scorer)}): chain-level aggregates`);
    out.push(
      table(
        ["chains", "scored", "min", "mean", "last"],
        r.scores.rows.map((row) => [row.chains, String(row.scored), num(row.min), num(row.mean), num(row.last)]),
      ),
    );
  } else {
    out.push("Step scores: none (name a judge or prm in the relay condition)");
  }
  return out.join("\n") + "\n";
}
