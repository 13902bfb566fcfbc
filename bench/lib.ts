// Shared pieces of the benchmark suite: result shapes, timing, statistics, the machine
// description and Markdown formatting. Figures that matter are ratios of runs made side by
// side in one process; absolute times are kept for context only.
import { cpus, totalmem, platform, release, arch } from "node:os";
import { readFileSync } from "node:fs";
import { seededRandom } from "../src/core/random.js";

/** One target from the issue, checked against a measured value. */
export interface Check {
  what: string;
  value: number;
  /** Human-readable target, e.g. "<= 1.10". */
  target: string;
  met: boolean;
}

export interface BenchResult {
  name: string;
  title: string;
  /** Markdown blocks (tables, short paragraphs) describing what was measured. */
  body: string[];
  checks: Check[];
  /** Caveats and causes, one line each. */
  notes: string[];
  /** Set when the benchmark could not run (missing code, model file...). */
  skipped?: string;
  seconds: number;
  /** 1-minute load average before and after (other work on the machine skews timings). */
  load?: [number, number];
}

export interface BenchOptions {
  /** Tiny inputs: the smoke test runs every benchmark this way in a few seconds. */
  quick?: boolean;
  log?: (line: string) => void;
}

export interface Bench {
  name: string;
  title: string;
  run(opts: BenchOptions): Promise<Omit<BenchResult, "name" | "title" | "seconds">>;
}

export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run `fn` and return its result with the elapsed milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Least-squares slope of log(y) on log(x): 1 = linear growth, 2 = quadratic. */
export function growthExponent(xs: number[], ys: number[]): number {
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  lx.forEach((x, i) => {
    num += (x - mx) * (ly[i]! - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? NaN : num / den;
}

/** A number with sensible precision for a report. */
export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return "n/a";
  if (Number.isInteger(x) && Math.abs(x) < 1000) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return x.toFixed(digits);
}

export function ms(x: number): string {
  return `${fmt(x, 1)} ms`;
}

export function mib(bytes: number): string {
  return `${fmt(bytes / 1024 / 1024, 1)} MiB`;
}

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cell = (v: string | number) => (typeof v === "number" ? fmt(v) : v).replace(/\|/g, "\\|");
  return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

export function check(what: string, value: number, target: string, met: boolean): Check {
  return { what, value, target, met };
}

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  os: string;
  date: string;
}

function osName(): string {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(text);
    if (m) return `${m[1]} (${platform()} ${release()}, ${arch()})`;
  } catch {
    // not Linux, or no os-release: the kernel line will do
  }
  return `${platform()} ${release()} (${arch()})`;
}

export function machine(at = new Date()): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    memory: `${fmt(totalmem() / 1024 ** 3, 1)} GiB`,
    node: process.version,
    os: osName(),
    date: at.toISOString().slice(0, 10),
  };
}

/** Seeded PRNG (mulberry32): benchmarks generate the same inputs on every run. */
export const rng = seededRandom;

/**
 * The environment for a child that draws the interface: Ink draws only a final frame when it
 * believes it runs in CI, so CI and CONTINUOUS_INTEGRATION are left out.
 */
export function interactiveEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  return env;
}
