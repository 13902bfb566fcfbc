// `npm run bench [-- name ...] [--quick] [--no-write] [--wait-load=2]`: runs the benchmarks
// (all, or the named ones), prints each result, and writes docs/BENCHMARKS.md. A partial run
// replaces only its own sections of that file and keeps the others. --wait-load=X waits
// before each section (up to 15 minutes) until the 1-minute load average is below X.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { machine, type Bench, type BenchOptions, type BenchResult, type Machine } from "./lib.js";
import { overlap } from "./overlap.js";
import { scoring } from "./scoring.js";
import { ui } from "./ui.js";
import { startup } from "./startup.js";
import { experiment } from "./experiment.js";
import { memory } from "./memory.js";
import { html } from "./html.js";
import { problemList } from "./problem-list.js";
import { bigResults } from "./big-results.js";
import { raceReasoning } from "./race-reasoning.js";
import { relay } from "./relay.js";
import { sessionTreeBench } from "./session-tree.js";
import { grid } from "./grid.js";

export const BENCHES: Bench[] = [
  overlap,
  scoring,
  ui,
  startup,
  experiment,
  memory,
  html,
  problemList,
  bigResults,
  raceReasoning,
  relay,
  sessionTreeBench,
  grid,
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DOC = join(root, "docs", "BENCHMARKS.md");

/** Sections are numbered by their place in BENCHES, so adding a benchmark never renumbers by hand. */
function numberedTitle(b: Bench): string {
  return `${BENCHES.indexOf(b) + 1}. ${b.title}`;
}

export async function runBench(b: Bench, opts: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const l0 = loadavg()[0]!;
  const end = () => ({ seconds: (performance.now() - t0) / 1000, load: [l0, loadavg()[0]!] as [number, number] });
  try {
    const r = await b.run(opts);
    return { name: b.name, title: numberedTitle(b), ...r, ...end() };
  } catch (err) {
    const msg = (err as Error).message?.split("\n")[0] ?? String(err);
    return { name: b.name, title: numberedTitle(b), body: [], checks: [], notes: [], skipped: `failed: ${msg}`, ...end() };
  }
}

export function sectionMarkdown(r: BenchResult, m: Machine): string {
  const load = r.load ? `; 1-minute load average ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)} on ${cpus().length} cores` : "";
  const out = [`<!-- bench:${r.name} -->`, `## ${r.title}`, "", `_Measured ${m.date}, ${r.seconds.toFixed(1)} s${load}._`, ""];
  if (r.skipped) out.push(`Not measured: ${r.skipped}`, "");
  for (const b of r.body) out.push(b, "");
  if (r.checks.length) {
    out.push("| target | measured | wanted | |", "| --- | --- | --- | --- |");
    for (const c of r.checks)
      out.push(`| ${c.what} | ${Number.isInteger(c.value) ? c.value : c.value.toFixed(2)} | ${c.target} | ${c.met ? "met" : "**missed**"} |`);
    out.push("");
  }
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.notes.length) out.push("");
  out.push(`<!-- /bench:${r.name} -->`);
  return out.join("\n");
}

const HEADER = (m: Machine) =>
  [
    "# Benchmarks",
    "",
    "Produced by `npm run bench` (bench/run.ts); `npm run bench -- scoring ui` reruns only those sections, and `--wait-load=2` waits before each section for the 1-minute load average to drop below 2. ",
    "The figures that matter are ratios of runs made side by side in one process, because absolute times drift on shared machines; absolute values are given for context. " +
      "Each section gives the machine's load average while it ran: above the core count, other work was competing for the CPU and latencies are inflated.",
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} memory; Node ${m.node}; ${m.os}. Last run: ${m.date}.`,
    "",
  ].join("\n");

/** The document with `results` replacing their sections; others kept as they were. */
export function mergeDocument(previous: string | undefined, results: BenchResult[], m: Machine): string {
  const sections = new Map<string, string>();
  if (previous) {
    for (const match of previous.matchAll(/<!-- bench:([a-z-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g)) sections.set(match[1]!, match[0]);
  }
  for (const r of results) sections.set(r.name, sectionMarkdown(r, m));
  const order = BENCHES.map((b) => b.name).filter((n) => sections.has(n));
  return HEADER(m) + "\n" + order.map((n) => sections.get(n)).join("\n\n") + "\n";
}

export function printResult(r: BenchResult): void {
  const line = (s: string) => process.stdout.write(s + "\n");
  line(`\n== ${r.title} (${r.seconds.toFixed(1)} s${r.load ? `, load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)}` : ""})`);
  if (r.skipped) line(`not measured: ${r.skipped}`);
  for (const b of r.body) line(b);
  for (const c of r.checks) line(`${c.met ? "met   " : "MISSED"} ${c.what}: ${Number.isInteger(c.value) ? c.value : c.value.toFixed(2)} (wanted ${c.target})`);
  for (const n of r.notes) line(`note: ${n}`);
}

/** Wait until the 1-minute load average is below `max` (or `limitMs` passed); returns the load then. */
export async function waitForLoad(max: number, limitMs: number, log?: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  let said = false;
  for (;;) {
    const l = loadavg()[0]!;
    if (l < max) return l;
    if (performance.now() - t0 >= limitMs) {
      log?.(`bench: load ${l.toFixed(1)} still >= ${max} after ${Math.round(limitMs / 60_000)} min; measuring anyway`);
      return l;
    }
    if (!said) log?.(`bench: waiting for the 1-minute load (${l.toFixed(1)}) to drop below ${max}`);
    said = true;
    await new Promise((r) => setTimeout(r, 5000));
  }
}

async function main(argv: string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const write = !argv.includes("--no-write") && !quick;
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(", ")} (known: ${BENCHES.map((b) => b.name).join(", ")})\n`);
    return 2;
  }
  const chosen = names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES;
  const m = machine();
  process.stdout.write(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memory}; Node ${m.node}; ${m.os}; ${m.date}\n`);
  const waitArg = argv.find((a) => a.startsWith("--wait-load="));
  const maxLoad = waitArg ? Number(waitArg.slice("--wait-load=".length)) : NaN;
  if (waitArg && !(maxLoad > 0)) {
    process.stderr.write(`bench: --wait-load needs a positive load average, e.g. --wait-load=2 (got "${waitArg}")\n`);
    return 2;
  }
  const results: BenchResult[] = [];
  for (const b of chosen) {
    if (maxLoad > 0) await waitForLoad(maxLoad, 15 * 60_000, (s) => process.stderr.write(s + "\n"));
    const r = await runBench(b, { quick, log: (s) => process.stderr.write(s + "\n") });
    printResult(r);
    results.push(r);
  }
  if (write) {
    writeFileSync(DOC, mergeDocument(existsSync(DOC) ? readFileSync(DOC, "utf8") : undefined, results, m));
    process.stdout.write(`\nwrote ${DOC}\n`);
  }
  return results.some((r) => r.skipped) ? 1 : 0;
}

if (process.argv[1] && /bench[\\/]run\.ts$/.test(process.argv[1])) {
  const code = await main(process.argv.slice(2));
  // Model pools and HTTP keep-alive sockets would hold the process open.
  process.exit(code);
}
