// `npm run bench [-- name ...] [--quick] [--no-write]`: runs the benchmarks (all, or the
// named ones), prints each result, and writes docs/BENCHMARKS.md. A partial run replaces
// only its own sections of that file and keeps the others.
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

export const BENCHES: Bench[] = [overlap, scoring, ui, startup, experiment, memory];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DOC = join(root, "docs", "BENCHMARKS.md");

export async function runBench(b: Bench, opts: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const l0 = loadavg()[0]!;
  const end = () => ({ seconds: (performance.now() - t0) / 1000, load: [l0, loadavg()[0]!] as [number, number] });
  try {
    const r = await b.run(opts);
    return { name: b.name, title: b.title, ...r, ...end() };
  } catch (err) {
    const msg = (err as Error).message?.split("\n")[0] ?? String(err);
    return { name: b.name, title: b.title, body: [], checks: [], notes: [], skipped: `failed: ${msg}`, ...end() };
  }
}

export function sectionMarkdown(r: BenchResult, m: Machine): string {
  const load = r.load ? `; 1-minute load average ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)} on ${cpus().length} cores` : "";
  const out = [`<!-- bench:${r.name} -->`, `## ${r.title}`, "", `_Measured ${m.date}, ${r.seconds.toFixed(1)} s${load}._`, ""];
  if (r.skipped) out.push(`Not measured: ${r.skipped}`, "");
  for (const b of r.body) out.push(b, "");
  if (r.checks.length) {
    out.push("| target | measured | wanted | |", "| --- | --- | --- | --- |");
    for (const c of r.checks) out.push(`| ${c.what} | ${Number.isInteger(c.value) ? c.value : c.value.toFixed(2)} | ${c.target} | ${c.met ? "met" : "**missed**"} |`);
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
    "Produced by `npm run bench` (bench/run.ts); `npm run bench -- scoring ui` reruns only those sections. ",
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
  const results: BenchResult[] = [];
  for (const b of chosen) {
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
