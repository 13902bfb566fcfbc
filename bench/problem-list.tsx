// 7. The Problems screen on a large set: a 10,000-row MedCalc-Bench file streamed into the real
// Ink App (fileCatalog, as `concord --set` reads it) on a TTY-like stream. Measured: how soon
// the list appears (first rows on screen) and is complete, against reading the file alone; and
// keypress-to-frame latency of moving in the list (j/k, PageUp/PageDown, g/G, Home/End), timed
// to the first frame whose "problems N/10000" heading shows the new position. Run in a fresh
// process with NODE_ENV=production, as bin/concord.js runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { render } from "ink";
import stripAnsi from "strip-ansi";
import { App } from "../src/ui/App.js";
import { RENDER_OPTIONS } from "../src/app/interactive.js";
import { createConcordStore } from "../src/state/store.js";
import { fileCatalog } from "../src/state/catalog.js";
import { screenPorts } from "../src/app/ports/screen-ports.js";
import { loadProblems } from "../src/problems/index.js";
import { loadTheme } from "../src/ui/theme.js";
import { BenchStdin, BenchStdout, isFrame } from "./terminal.js";
import { check, interactiveEnv, ms, percentile, sleep, table, type Bench } from "./lib.js";

export interface ListParams {
  problems: number;
  columns?: number;
  rows?: number;
}

export interface ListResult {
  parseMs: number;
  firstRowsMs: number;
  completeMs: number;
  keyLatencies: Record<string, number[]>;
  /** CPU milliseconds of this process from each keypress to its frame (less swayed by other work on the machine). */
  keyCpu: number[];
  load: number;
}

const HEADER = [
  "Row Number",
  "Calculator ID",
  "Calculator Name",
  "Category",
  "Output Type",
  "Note ID",
  "Note Type",
  "Patient Note",
  "Question",
  "Ground Truth Answer",
  "Lower Limit",
  "Upper Limit",
];
const csv = (fields: string[]) => fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(",");

/** A MedCalc-Bench CSV of `n` rows with notes of realistic length (about 2,500 characters). */
export function writeMedcalcCsv(n: number): string {
  const file = join(mkdtempSync(join(tmpdir(), "concord-bench-list-")), "medcalc-large.csv");
  const note = (i: number) => `A ${40 + (i % 50)}-year-old patient presented with fatigue. `.repeat(45);
  const lines = [csv(HEADER)];
  for (let i = 1; i <= n; i++)
    lines.push(
      csv([
        String(i),
        "2",
        "Creatinine Clearance (Cockcroft-Gault Equation)",
        "lab",
        "decimal",
        `pmc-${i}`,
        "extracted",
        note(i),
        "What is the patient's Creatinine Clearance?",
        "41.2",
        "39.1",
        "43.3",
      ]),
    );
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

export async function measureProblemList(p: ListParams): Promise<ListResult> {
  const file = writeMedcalcCsv(p.problems);
  const t0 = performance.now();
  for await (const _ of loadProblems(file)) void _;
  const parseMs = performance.now() - t0;

  const stdout = new BenchStdout(p.columns ?? 120, p.rows ?? 40);
  const stdin = new BenchStdin();
  const store = createConcordStore({ initial: { screen: "problems" } });
  const ports = screenPorts({ catalog: fileCatalog({ files: [{ name: "medcalc-large", path: file }] }) });
  let position = -1;
  let onPosition: ((n: number) => void) | undefined;
  let firstRowsAt = 0;
  let completeAt = 0;
  stdout.onWrite = (w) => {
    if (!isFrame(w.data)) return;
    const text = stripAnsi(w.data);
    const m = /problems (\d+)\/(\d+)(… loading)?/.exec(text);
    if (!m) return;
    if (!firstRowsAt && /Creatinine Clea/.test(text)) firstRowsAt = w.at;
    if (!completeAt && Number(m[2]) === p.problems && !m[3]) completeAt = w.at;
    const n = Number(m[1]);
    if (n !== position) {
      position = n;
      onPosition?.(n);
    }
  };
  const start = performance.now();
  const ink = render(<App store={store} theme={loadTheme({ theme: "dark", env: {} })} ports={ports} />, {
    ...RENDER_OPTIONS,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new BenchStdout(80, 24) as unknown as NodeJS.WriteStream,
    patchConsole: false,
  });
  try {
    while (!completeAt && performance.now() - start < 120_000) await sleep(20);
    if (!completeAt) throw new Error("the list did not complete within 120 s");
    stdin.press("\t"); // focus the problems column
    await sleep(100);
    const keys: Array<[string, string]> = [
      ...Array.from({ length: 30 }, (): [string, string] => ["j", "j"]),
      ...Array.from({ length: 10 }, (): [string, string] => ["PageDown", "\u001b[6~"]),
      ...Array.from({ length: 10 }, (): [string, string] => ["k", "k"]),
      ["G", "G"],
      ...Array.from({ length: 5 }, (): [string, string] => ["PageUp", "\u001b[5~"]),
      ["g", "g"],
      ["End", "\u001b[F"],
      ["Home", "\u001b[H"],
      ["G", "G"],
      ["g", "g"],
    ];
    const keyLatencies: Record<string, number[]> = {};
    const keyCpu: number[] = [];
    for (const [name, seq] of keys) {
      const before = position;
      const moved = new Promise<number>((resolve) => (onPosition = (n) => n !== before && resolve(performance.now())));
      const at = performance.now();
      const cpu = process.cpuUsage();
      stdin.press(seq);
      const t = await Promise.race([moved, sleep(3000).then(() => NaN)]);
      const used = process.cpuUsage(cpu);
      onPosition = undefined;
      if (Number.isFinite(t)) {
        (keyLatencies[name] ??= []).push(t - at);
        keyCpu.push((used.user + used.system) / 1000);
      }
      await sleep(30);
    }
    return { parseMs, firstRowsMs: firstRowsAt - start, completeMs: completeAt - start, keyLatencies, keyCpu, load: loadavg()[0] };
  } finally {
    ink.unmount();
  }
}

export function measureProblemListIn(p: ListParams): ListResult {
  const env = { ...interactiveEnv(), NODE_ENV: "production" };
  const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), JSON.stringify(p)], { encoding: "utf8", env, timeout: 300_000 });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`list benchmark process failed (${r.status}): ${r.stderr.trim().split("\n").slice(-2).join(" / ")}`);
  return JSON.parse(line) as ListResult;
}

export const problemList: Bench = {
  name: "problem-list",
  title: "A 10,000-problem list",
  async run({ quick, log }) {
    const p: ListParams = { problems: quick ? 300 : 10_000 };
    log?.(`problem-list: ${p.problems} MedCalc-Bench rows`);
    const r = measureProblemListIn(p);
    const all = Object.values(r.keyLatencies).flat();
    const p95 = percentile(all, 95);
    return {
      body: [
        table(
          ["", "ms"],
          [
            ["reading the file alone (loadProblems)", ms(r.parseMs)],
            ["first rows on screen", ms(r.firstRowsMs)],
            ["whole list loaded and drawn", ms(r.completeMs)],
            ["CPU per keypress, p50 / p95", `${ms(percentile(r.keyCpu, 50))} / ${ms(percentile(r.keyCpu, 95))}`],
          ],
        ),
        table(
          ["key", "presses", "keypress -> frame p50", "p95"],
          Object.entries(r.keyLatencies).map(([k, v]) => [k, v.length, ms(percentile(v, 50)), ms(percentile(v, 95))]),
        ),
        `${p.problems} rows of a MedCalc-Bench CSV (notes of about 2,500 characters) streamed into the Problems screen at 120x40; keypresses timed to the first frame showing the new position.`,
      ],
      checks: [
        check("keypress -> frame p95 in the list (ms)", p95, "< 50", p95 < 50),
        check("first rows on screen (ms)", r.firstRowsMs, "< 1000", r.firstRowsMs < 1000),
      ],
      notes: [`1-minute load average at the end: ${r.load.toFixed(1)} (other work on the machine lengthens wall times; CPU per keypress is less affected)`],
    };
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) {
  const r = await measureProblemList(JSON.parse(process.argv[2]) as ListParams);
  process.stdout.write("\n" + JSON.stringify(r) + "\n");
  process.exit(0);
}
