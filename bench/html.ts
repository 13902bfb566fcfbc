// The HTML pages: how big they are and how long they take to write, for the paper's 25 shared
// output files (report --html, with the ensemble traces) and for a 200-sentence session built by
// the engine (export --html).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadGenexTrace } from "../src/backends/genex-trace.js";
import { writeHtmlFile } from "../src/commands/report-html.js";
import { renderResultsHtml, renderSessionHtml } from "../src/report-html/index.js";
import { buildReport, readResults } from "../src/results/index.js";
import { engineSession } from "./html-session.js";
import { median, timed, type Bench } from "./lib.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUTS = join(ROOT, "../shared/data/genex/medcalc/outputs");
const TRACES = join(ROOT, "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss");
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

export const html: Bench = {
  name: "html",
  title: "HTML report and session pages: size and time to write",
  async run(opts) {
    if (!existsSync(OUTPUTS)) return { body: [], checks: [], notes: [], skipped: `${OUTPUTS} is not there` };
    const runs = opts.quick ? 1 : 3;
    const dir = mkdtempSync(join(tmpdir(), "concord-bench-html-"));
    const imp = spawnSync(process.execPath, ["bin/concord.js", "import", "genex", OUTPUTS, "--out", join(dir, "genex")], { cwd: ROOT, encoding: "utf8" });
    if (imp.status !== 0) throw new Error(`import genex failed: ${imp.stderr.trim()}`);

    // Results page, in process: read + report, traces, figures (bootstrap and charts), write.
    const page = join(dir, "genex.html");
    const stages: Record<string, number[]> = { read: [], traces: [], render: [], write: [] };
    const cpu: number[] = [];
    let size = 0;
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const read = await timed(async () => {
        const { records } = await readResults(join(dir, "genex"));
        return { records, report: buildReport(records) };
      });
      const traces = await timed(() => loadGenexTrace(TRACES));
      const render = await timed(() =>
        renderResultsHtml({ source: "genex", records: read.value.records, report: read.value.report, reading: "paper", traces: [traces.value] }),
      );
      const write = await timed(() => writeHtmlFile(page, render.value));
      stages.read!.push(read.ms);
      stages.traces!.push(traces.ms);
      stages.render!.push(render.ms);
      stages.write!.push(write.ms);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      size = statSync(page).size;
    }
    const total = median(stages.read!.map((_, i) => stages.read![i]! + stages.traces![i]! + stages.render![i]! + stages.write![i]!));
    // The command as a user runs it (process start included).
    const cli = await timed(async () =>
      spawnSync(process.execPath, ["bin/concord.js", "report", join(dir, "genex"), "--html", join(dir, "cli.html"), "--traces", TRACES], {
        cwd: ROOT,
        encoding: "utf8",
      }),
    );

    // Session page: a 200-sentence chain raced by the engine, targets asked every 10 sentences.
    const n = opts.quick ? 20 : 200;
    const session = await engineSession(n, 10);
    const sessionFile = join(dir, "session.json");
    writeFileSync(sessionFile, JSON.stringify(session));
    const sPage = join(dir, "session.html");
    const sTimes: number[] = [];
    const sCpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      sTimes.push((await timed(async () => writeHtmlFile(sPage, await renderSessionHtml(session)))).ms);
      const c = process.cpuUsage(c0);
      sCpu.push((c.user + c.system) / 1000);
    }
    const sSize = statSync(sPage).size;
    const candidates = session.chain.sentences.reduce((s, x) => s + x.candidates.length, 0);
    const sCli = await timed(async () =>
      spawnSync(process.execPath, ["bin/concord.js", "export", sessionFile, "--html", join(dir, "cli-session.html")], { cwd: ROOT, encoding: "utf8" }),
    );

    const ms = (x: number) => `${Math.round(x)} ms`;
    return {
      body: [
        [
          "| page | size | write, wall (median, in process) | write, CPU | `concord` command, wall |",
          "|---|---|---|---|---|",
          `| report of the 25 shared output files (2,500 answers, 5 conditions, 100 traces) | ${kb(size)} | ${ms(total)} (read+report ${ms(median(stages.read!))}, traces ${ms(median(stages.traces!))}, figures ${ms(median(stages.render!))}, write ${ms(median(stages.write!))}) | ${ms(median(cpu))} | ${ms(cli.ms)} |`,
          `| session of ${session.chain.sentences.length} sentences (${candidates} candidates, ${session.targets.answers.length} target answers; session file ${kb(statSync(sessionFile).size)}) | ${kb(sSize)} | ${ms(median(sTimes))} | ${ms(median(sCpu))} | ${ms(sCli.ms)} |`,
        ].join("\n"),
        `Figures: consistency and accuracy with 2,000-resample bootstrap intervals, accuracy per target, the agreement split, 5 heatmaps, chain-length bins, ensemble winners; the session page has 4 figures and every race with token shading.`,
      ],
      checks: [
        { what: "results page size (MB)", value: size / 1e6, target: "<= 2", met: size <= 2e6 },
        { what: "results page write (s)", value: total / 1000, target: "<= 10", met: total <= 10_000 },
        { what: `session page size, ${n} sentences (MB)`, value: sSize / 1e6, target: "<= 5", met: sSize <= 5e6 },
        { what: `session page write, ${n} sentences (s)`, value: median(sTimes) / 1000, target: "<= 5", met: median(sTimes) <= 5_000 },
      ],
      notes: [
        "The session is built by the engine over seeded scripted models (bench/html-session.ts): the 1 MB stories260K model's 512-token context cannot hold a 200-sentence chain.",
        "CPU is this process's user+system time for the same work: on a loaded machine it is the steadier figure.",
        "The command's wall time includes starting Node and loading the program (from source through tsx when dist/ is older than src/).",
      ],
    };
  },
};
